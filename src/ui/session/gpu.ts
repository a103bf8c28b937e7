import { StudioError } from '../../engine/errors.ts';
import { adapterName, requestGpu, type GpuContext } from '../../engine/gpu/request-device.ts';
import { GpuDeviceLostError } from '../../engine/merge/gpu-dispatch.ts';
import { useExplorer, type ExplorerState } from '../explorer-store.ts';
import { useStudio, type StudioState } from '../store.ts';
import { runningWork, type WorkItem, type WorkKind } from './work-status.ts';

/**
 * The page's one GPU context; the WGSL kernels and the ORT sessions share this device. After a
 * device loss it is re-created on request (`recreateGpu`): the owners of objects on the old
 * device (model-session's LiveModel) hear it through `onGpuReset` and drop them, so the next run
 * builds on the new device.
 */
let context: Promise<GpuContext> | undefined;
/** Which context is current: a loss reported by an older device (one we replaced) is not news. */
let generation = 0;
const resetListeners = new Set<() => void>();

/**
 * A loss fails the work in flight (its mapAsync or session run rejects, its status turns 'error')
 * before `device.lost` resolves — the order is not specified — so work that stopped just before
 * the loss is reported counts as interrupted too. Seconds, not a frame: a stopped run's catch and
 * the lost promise may be a few event-loop turns apart on a loaded machine.
 */
const LOSS_WINDOW_MS = 5_000;
/**
 * Whether work of `kind` that just stopped ended in an error. Only such work can have been
 * stopped by the loss: a generation that finished normally a second before a loss was not
 * interrupted, and naming it ("Stopped with it: generating at α = 1") was wrong.
 */
export function stoppedByError(kind: WorkKind, s: Pick<StudioState, 'merge' | 'playground' | 'benchmarks' | 'sweep'>, e: Pick<ExplorerState, 'build' | 'results' | 'error'>): boolean {
  switch (kind) {
    case 'merge':
      return s.merge.job?.status === 'error';
    case 'build':
      return e.build?.status === 'error' || s.playground.status === 'error';
    case 'generate':
      return s.playground.status === 'error';
    case 'compare':
      return e.error !== undefined || Object.values(e.results).some((r) => r.status === 'error');
    case 'benchmark':
      return s.benchmarks.run?.status === 'error';
    case 'sweep':
      return s.sweep.run?.status === 'error';
  }
}

/** Work that stopped running with an error, by kind, and when: read when the device is lost. */
const stoppedAt = new Map<WorkKind, { item: WorkItem; at: number }>();
let runningNow: WorkItem[] = [];
function watchWork(): void {
  const studio = useStudio.getState();
  const explorer = useExplorer.getState();
  const now = runningWork(studio, explorer);
  for (const w of runningNow) {
    if (now.some((n) => n.kind === w.kind)) continue;
    if (stoppedByError(w.kind, studio, explorer)) stoppedAt.set(w.kind, { item: w, at: performance.now() });
    else stoppedAt.delete(w.kind);
  }
  runningNow = now;
}
useStudio.subscribe(watchWork);
useExplorer.subscribe(watchWork);

function interruptedWork(): { kind: string; label: string }[] {
  const recent = [...stoppedAt.values()].filter((s) => performance.now() - s.at < LOSS_WINDOW_MS).map((s) => s.item);
  const all = [...runningWork(useStudio.getState(), useExplorer.getState()), ...recent];
  return all.filter((w, i) => all.findIndex((x) => x.kind === w.kind) === i).map(({ kind, label }) => ({ kind, label }));
}

const RECREATE = 'Press "Re-create the GPU device" at the top of the page, then try again; the loaded checkpoints and settings are kept.';

/**
 * The page's wording for an error of GPU work. The engine's GpuDeviceLostError is shared with the
 * CLI ("reload the page (or restart the command)"); on the page the loss banner offers a new
 * device, so the message points there. An unexpected error while the device is lost (an ORT
 * session on the dead device) is the loss too. Undefined: not a loss; use the error's own text.
 */
export function pageGpuMessage(e: unknown): string | undefined {
  if (e instanceof GpuDeviceLostError) return `The GPU device was lost while merging ${e.label} (${e.reason}); nothing was saved. ${RECREATE}`;
  if (useStudio.getState().gpu.status === 'lost' && !(e instanceof StudioError)) {
    return `The GPU device was lost (${(e as Error)?.message ?? String(e)}). ${RECREATE}`;
  }
  return undefined;
}

export function gpuContext(): Promise<GpuContext> {
  return (context ??= requestGpu());
}

/** Called after the device is replaced; returns an unsubscribe. */
export function onGpuReset(fn: () => void): () => void {
  resetListeners.add(fn);
  return () => resetListeners.delete(fn);
}

export async function startGpu(): Promise<void> {
  const set = useStudio.getState().setGpu;
  const mine = generation;
  try {
    const ctx = await gpuContext();
    if (mine !== generation) return;
    const adapter = adapterName(ctx.adapterInfo);
    set({
      status: 'ready',
      adapter,
      shaderF16: ctx.hasShaderF16,
      maxStorageBufferBindingSize: ctx.limits.maxStorageBufferBindingSize,
      maxBufferSize: ctx.limits.maxBufferSize,
      isFallbackAdapter: ctx.adapterInfo.isFallbackAdapter,
      // After a re-creation: what the loss stopped stays named until it is resumed.
      interrupted: useStudio.getState().gpu.interrupted,
    });
    console.info(`[studio] WebGPU adapter: ${adapter}`);
    void ctx.device.lost.then((info) => {
      if (mine !== generation) return; // the device we replaced on purpose
      // What was running when the device went: named in the lost state, so "Resume" knows what to restart.
      const interrupted = interruptedWork();
      console.error(`[studio] WebGPU device lost (${info.reason}): ${info.message}`);
      set({
        ...useStudio.getState().gpu,
        status: 'lost',
        interrupted,
        error: `The GPU device was lost (${info.reason || 'unknown'}${info.message ? `: ${info.message}` : ''}).`,
      });
    });
    ctx.device.addEventListener('uncapturederror', (e) => console.error(`[studio] WebGPU error: ${(e as GPUUncapturedErrorEvent).error.message}`));
  } catch (e) {
    if (mine === generation) set({ status: 'unavailable', error: (e as Error).message });
  }
}

/**
 * A fresh device after a loss: the old context is forgotten, the owners of GPU objects drop
 * theirs, and the adapter is asked again. Work resumes from what the page kept (the sweep's
 * items in IndexedDB, the slots' checkpoints in memory); nothing is re-downloaded.
 */
export async function recreateGpu(): Promise<void> {
  generation++;
  const old = context;
  context = undefined;
  for (const fn of resetListeners) fn();
  old?.then((c) => c.device.destroy()).catch(() => undefined);
  useStudio.getState().setGpu({ status: 'pending', interrupted: useStudio.getState().gpu.interrupted });
  await startGpu();
}

/** Test hook (dev server only): loses the device as a driver reset would, through `device.destroy()`. */
export async function loseGpuDeviceForTest(): Promise<void> {
  const ctx = await context;
  ctx?.device.destroy();
}

if (import.meta.env.DEV) (globalThis as { __studioTest?: object }).__studioTest = { loseGpuDevice: loseGpuDeviceForTest };
