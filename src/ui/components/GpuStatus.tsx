import { useState } from 'react';
import { recreateGpu } from '../session/gpu.ts';
import { runBenchmarks } from '../session/benchmark-session.ts';
import { runCompare } from '../session/compare-session.ts';
import { runPlayground } from '../session/model-session.ts';
import { runSweep } from '../session/sweep-session.ts';
import { useStudio } from '../store.ts';
import { formatBytes } from '../format.ts';

export function GpuStatus() {
  const gpu = useStudio((s) => s.gpu);
  if (gpu.status === 'pending') return <p className="gpu muted">Looking for a WebGPU adapter…</p>;
  if (gpu.status === 'lost') return <GpuLost />;
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

/**
 * After a device loss: what stopped, one button to get a new device, then Resume for what was
 * running (a sweep continues from the items IndexedDB kept; a benchmark or a generation starts
 * again). Until then the page's paths treat the GPU as absent.
 */
function GpuLost() {
  const gpu = useStudio((s) => s.gpu);
  const [busy, setBusy] = useState(false);
  return (
    <div className="gpu notice gpu-lost" role="alert" data-testid="gpu-status" data-status="lost">
      <p>
        <strong>{gpu.error ?? 'The GPU device was lost.'}</strong> Its buffers and the model built on it are gone; the loaded checkpoints, settings and
        stored sweep items are kept.
        {gpu.interrupted && gpu.interrupted.length > 0 && <> Stopped with it: {gpu.interrupted.map((w) => w.label).join('; ')}.</>}
      </p>
      <button
        data-testid="gpu-recreate"
        disabled={busy}
        onClick={() => {
          setBusy(true);
          void recreateGpu().finally(() => setBusy(false));
        }}
      >
        Re-create the GPU device
      </button>
    </div>
  );
}

/** Shown once the device is back, for the work the loss stopped; gone after Resume. */
export function ResumeAfterLoss() {
  const gpu = useStudio((s) => s.gpu);
  const interrupted = gpu.status === 'ready' ? gpu.interrupted : undefined;
  if (!interrupted || interrupted.length === 0) return null;
  const kinds = new Set(interrupted.map((w) => w.kind));
  const resume = () => {
    useStudio.getState().setGpu({ ...useStudio.getState().gpu, interrupted: undefined });
    // One thing at a time uses the model: the sweep first (it resumes from its stored items), else the benchmark, else the generation.
    if (kinds.has('sweep')) void runSweep();
    else if (kinds.has('benchmark')) void runBenchmarks();
    else if (kinds.has('compare')) void runCompare();
    else if (kinds.has('generate') || kinds.has('build')) void runPlayground();
  };
  const what = interrupted.filter((w) => w.kind !== 'merge').map((w) => w.label).join('; ');
  return (
    <p className="notice gpu-resume" data-testid="gpu-resume">
      A new GPU device is ready.{' '}
      {what ? (
        <>
          <button data-testid="gpu-resume-button" onClick={resume}>
            Resume
          </button>{' '}
          <span className="muted">{what}</span>
        </>
      ) : null}
      {kinds.has('merge') && <span> The merge job stopped: start it again from the merge panel (a save asks for its folder again).</span>}{' '}
      <button className="secondary" onClick={() => useStudio.getState().setGpu({ ...useStudio.getState().gpu, interrupted: undefined })}>
        Dismiss
      </button>
    </p>
  );
}
