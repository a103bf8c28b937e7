import { useStudio } from '../store.ts';
import { formatBytes } from '../format.ts';

export function GpuStatus() {
  const gpu = useStudio((s) => s.gpu);
  if (gpu.status === 'pending') return <p className="gpu muted">Looking for a WebGPU adapter…</p>;
  if (gpu.status === 'unavailable') {
    return (
      // A notice, not an error: every feature has a CPU path (merge-session: the CPU merger,
      // model-session: onnxruntime's WASM provider), and both take it while the status is not 'ready'.
      <p className="gpu notice" data-testid="gpu-status">
        <strong>No WebGPU:</strong> merges run on the CPU (same bytes, slower) and the model runs on WASM.{' '}
        <span className="muted">{gpu.error}</span>
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
