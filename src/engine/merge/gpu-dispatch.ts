import { StudioError } from '../errors.ts';

/**
 * The one way merge work reaches the GPU: every submission (a chunk of the streaming merge, a
 * resident θ(α) pass, a readback) is recorded inside validation and out-of-memory error scopes
 * and every failure, device loss included, leaves here as a typed StudioError naming what was
 * being merged. Before this existed only one of three chunk loops knew that a lost device
 * rejects `mapAsync`; the others reported a bare DOMException.
 */

/** The GPU device went away (driver reset, GPU process crash, `device.destroy()`): not retryable in place. */
export class GpuDeviceLostError extends StudioError {
  constructor(
    readonly label: string,
    readonly reason: string,
  ) {
    super(`The GPU device was lost while merging ${label} (${reason}). Nothing was saved; reload the page (or restart the command) and try again.`);
  }
}

/** The GPU refused a submission: out of memory (the user can free some), or a validation error (a bug of ours, named). */
export class GpuMergeError extends StudioError {
  constructor(
    readonly label: string,
    readonly kind: 'out-of-memory' | 'validation',
    detail: string,
  ) {
    super(
      kind === 'out-of-memory'
        ? `GPU out of memory while merging ${label}: ${detail}. Close other GPU-heavy tabs or programs, lower the GPU memory budget, or merge on the CPU.`
        : `GPU validation error while merging ${label}: ${detail}. This is a bug in the studio; please report it with this message.`,
    );
  }
}

/** device.lost settles once per device; its info is remembered here, not per merger. */
const losses = new WeakMap<GPUDevice, { info?: GPUDeviceLostInfo }>();

function lossOf(device: GPUDevice): { info?: GPUDeviceLostInfo } {
  let l = losses.get(device);
  if (!l) {
    const entry: { info?: GPUDeviceLostInfo } = {};
    losses.set(device, (l = entry));
    void device.lost.then((info) => (entry.info = info));
  }
  return l;
}

/** Starts watching `device` for loss; a merger calls it at construction so a loss is never missed. */
export function watchDevice(device: GPUDevice): void {
  lossOf(device);
}

const describeLoss = (info: GPUDeviceLostInfo) => `${info.reason}: ${info.message}`;

/** What a lost device looks like from a pending promise: mapAsync rejects with these names. */
function looksLikeLoss(e: unknown): e is Error {
  return typeof DOMException !== 'undefined' && e instanceof DOMException && (e.name === 'OperationError' || e.name === 'AbortError');
}

/**
 * Records `record` into one command buffer and submits it, then runs `collect` (map readbacks).
 * `record` is synchronous on purpose: both error scopes are pushed and popped with no await in
 * between, so two chunks in flight cannot catch each other's errors. Buffer allocations made in
 * `record` are covered by the out-of-memory scope.
 */
export async function submitGpu<T>(device: GPUDevice, label: string, record: (encoder: GPUCommandEncoder) => void, collect: () => Promise<T>): Promise<T> {
  const loss = lossOf(device);
  try {
    if (loss.info) throw new GpuDeviceLostError(label, describeLoss(loss.info));
    device.pushErrorScope('validation');
    device.pushErrorScope('out-of-memory');
    let scopes: [Promise<GPUError | null>, Promise<GPUError | null>];
    try {
      const encoder = device.createCommandEncoder({ label: `merge ${label}` });
      record(encoder);
      device.queue.submit([encoder.finish()]);
    } finally {
      scopes = [device.popErrorScope(), device.popErrorScope()];
      for (const s of scopes) s.catch(() => {}); // awaited below unless `record` threw
    }
    const [oom, invalid] = await Promise.all(scopes);
    if (oom) throw new GpuMergeError(label, 'out-of-memory', oom.message);
    if (invalid) throw new GpuMergeError(label, 'validation', invalid.message);
    return await collect();
  } catch (e) {
    throw await asGpuError(device, loss, e, label);
  }
}

/**
 * A failure seen while the device was being lost becomes GpuDeviceLostError, whatever the
 * promise rejected with: the rejection can arrive a moment before device.lost settles, so that
 * moment is waited for (on the error path only).
 */
async function asGpuError(device: GPUDevice, loss: { info?: GPUDeviceLostInfo }, e: unknown, label: string): Promise<unknown> {
  if (e instanceof GpuDeviceLostError) return e;
  if (!loss.info) await Promise.race([device.lost, new Promise((r) => setTimeout(r, LOSS_SETTLE_MS))]);
  if (loss.info) return new GpuDeviceLostError(label, describeLoss(loss.info));
  if (looksLikeLoss(e)) return new GpuDeviceLostError(label, e.message);
  return e;
}

/** How long a failed submission waits for device.lost to settle before judging the failure on its own. */
const LOSS_SETTLE_MS = 50;
