import { useStudio } from '../store.ts';
import { formatBytes } from '../format.ts';

export function GpuStatus() {
  const gpu = useStudio((s) => s.gpu);
  if (gpu.status === 'pending') return <p className="gpu muted">Looking for a WebGPU adapter…</p>;
  if (gpu.status === 'unavailable') {
    return (
      <p className="gpu error" data-testid="gpu-status">
        No WebGPU: {gpu.error} Inspection works; merging needs WebGPU.
      </p>
    );
  }
  return (
    <p className="gpu" data-testid="gpu-status">
      WebGPU adapter: <span className="mono">{gpu.adapter}</span> · shader-f16 {gpu.shaderF16 ? 'yes' : 'no (f16/bf16 via u32 packing)'} · max
      storage binding {formatBytes(gpu.maxStorageBufferBindingSize ?? 0)}
    </p>
  );
}
