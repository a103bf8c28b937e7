// Device check: what Dawn's requestAdapter returns here.
import { create, globals } from 'webgpu';
Object.assign(globalThis, globals);
const gpu = create([]);
for (const opts of [{ powerPreference: 'high-performance' }, { forceFallbackAdapter: true }]) {
  const a = await gpu.requestAdapter(opts);
  console.log('PROBE', JSON.stringify(opts), a ? JSON.stringify({ vendor: a.info.vendor, architecture: a.info.architecture, device: a.info.device, description: a.info.description, isFallbackAdapter: a.info.isFallbackAdapter, maxStorageBufferBindingSize: a.limits.maxStorageBufferBindingSize, maxBufferSize: a.limits.maxBufferSize }) : 'null');
}
process.exit(0);
