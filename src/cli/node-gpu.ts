// Node only: WebGPU through Dawn (the optional `webgpu` package). The CLI loads it only inside
// the GPU child process (gpu-child/), never in the process that writes the user's files.
import { adapterName, describeAdapter, deviceFor, GpuUnavailableError, type AdapterDescription, type GpuContext } from '../engine/gpu/request-device.ts';

export const WEBGPU_MISSING = 'the GPU path needs the optional `webgpu` package: npm install webgpu, or use --device cpu';

/**
 * Every GPU object `create()` returned, held for the life of the process. dawn.node frees its
 * Dawn instance when the JS `GPU` object is garbage-collected, even while adapters and devices
 * made from it live on; the next event poll then locks a freed mutex. That was the "futex
 * facility returned an unexpected error code" / `std::system_error: Invalid argument` abort and
 * the segfaults of every CLI merge on Dawn (0.6.2): a merge allocates enough to trigger a GC once
 * the pipeline exists, a tiny test kernel usually did not. With the object held, 20 of 20 merges
 * on SwiftShader passed that had failed 8 of 10 before (and 10 of 10 with a forced GC every 2 ms).
 */
const instances: GPU[] = [];

type WebgpuModule = { create(flags: string[]): GPU; globals: Record<string, unknown> };

/**
 * Imports `webgpu` and installs its globals (GPUBufferUsage, GPUMapMode …). `importer` exists
 * for the test of a missing package.
 */
export async function loadDawn(importer: () => Promise<unknown> = () => import('webgpu')): Promise<GPU> {
  let mod: WebgpuModule;
  try {
    mod = (await importer()) as WebgpuModule;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err?.code === 'ERR_MODULE_NOT_FOUND' || err?.code === 'MODULE_NOT_FOUND') throw new GpuUnavailableError(WEBGPU_MISSING);
    // Installed but unloadable: no prebuilt dawn.node for this platform, a missing system library …
    throw new GpuUnavailableError(`the \`webgpu\` package is installed but Dawn did not load (${oneLine(err?.message ?? String(e))}); use --device cpu`);
  }
  Object.assign(globalThis, mod.globals);
  const gpu = mod.create([]);
  instances.push(gpu);
  return gpu;
}

/**
 * Dawn's answer to `requestAdapter`: the adapter, or null when it has none (no Vulkan/Metal/D3D12
 * driver for any GPU). This, not a look for /dev/nvidia0 or /dev/dri, is how the CLI finds a GPU:
 * it works wherever Dawn does (macOS, Windows, containers with odd device paths).
 */
export async function requestDawnAdapter(gpu: GPU): Promise<{ adapter: GPUAdapter; description: AdapterDescription } | null> {
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  return adapter ? { adapter, description: describeAdapter(adapter) } : null;
}

/** Why an adapter cannot be used, or undefined when it can. A software adapter only when allowed. */
export function adapterRefusal(description: AdapterDescription | null, allowFallback: boolean): string | undefined {
  if (!description) return 'Dawn (the `webgpu` package) found no GPU adapter on this machine';
  if (description.isFallbackAdapter && !allowFallback) {
    return `the only adapter Dawn found is a software (CPU) one, ${adapterName(description)}, which is slower than the CPU path`;
  }
  return undefined;
}

/** A device on Dawn's adapter, refusing a missing one (and a software one unless allowed). */
export async function nodeGpu(options: { allowFallback?: boolean } = {}): Promise<GpuContext> {
  const found = await requestDawnAdapter(await loadDawn());
  const refusal = adapterRefusal(found?.description ?? null, options.allowFallback ?? false);
  if (refusal || !found) throw new GpuUnavailableError(`${refusal}; use --device cpu (bit-identical) or auto.`);
  return deviceFor(found.adapter);
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}
