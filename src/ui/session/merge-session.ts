import { ROLES, type Role } from '../../engine/checkpoint/compatibility.ts';
import type { Checkpoint } from '../../engine/checkpoint/open-checkpoint.ts';
import { StudioError } from '../../engine/errors.ts';
import { CpuTensorMerger } from '../../engine/merge/cpu-tensor-merger.ts';
import { modelReference } from '../../engine/merge/export-files.ts';
import { GpuTensorMerger } from '../../engine/merge/gpu-tensor-merger.ts';
import { checkAlpha, saveMergedModel, saveVector } from '../../engine/merge/merge-checkpoints.ts';
import { planMerge } from '../../engine/merge/merge-plan.ts';
import { fsAccessOutputFolder } from '../../engine/merge/output/fs-access-output-folder.ts';
import { runMerge, type MergeProgress } from '../../engine/merge/stream-merge.ts';
import type { TensorMerger } from '../../engine/merge/tensor-merger.ts';
import { useStudio, type MergeJob } from '../store.ts';
import { fileHandleAt, saveArchive, type ArchiveProgress, type ArchiveResult } from './archive-export.ts';
import { gpuContext, pageGpuMessage } from './gpu.ts';
import { checkpointFor, onCheckpointChange } from './slot-loader.ts';

/**
 * The page's merge actions: vector statistics, saving the merged model, saving the vector.
 * One job at a time; the GPU path on the page's shared device, the CPU path (same bits) when
 * there is no WebGPU, said in the UI.
 */

let running: AbortController | undefined;
/** Download links of the last OPFS export, revoked when the next job starts. */
let links: string[] = [];
/** The last OPFS export, for "Download all (.zip)"; gone when the next job starts. */
let lastExport: { dir: FileSystemDirectoryHandle; parent: FileSystemDirectoryHandle; names: string[]; label: string } | undefined;
/** An archive being written from lastExport: the next job removes those files, so it stops the archive first. */
let archiving: AbortController | undefined;

// Another checkpoint in a slot: statistics and saved-file results of the old trio no longer apply.
onCheckpointChange(() => {
  if (!running) useStudio.getState().patchMerge({ stats: undefined, job: undefined });
});

const state = () => useStudio.getState();
const patchJob = (p: Partial<MergeJob>) => {
  const job = state().merge.job;
  if (job) state().patchMerge({ job: { ...job, ...p } });
};

export function trio(): Record<Role, Checkpoint> {
  const out = {} as Record<Role, Checkpoint>;
  for (const r of ROLES) {
    const c = checkpointFor(r);
    if (!c) throw new StudioError(`Load all three checkpoints first (the ${r === 'target' ? 'target' : r.toUpperCase() + ' donor'} is missing).`);
    out[r] = c;
  }
  return out;
}

async function pageMerger(): Promise<TensorMerger> {
  if (state().gpu.status === 'ready') {
    try {
      return new GpuTensorMerger((await gpuContext()).device);
    } catch {
      /* fall through to the CPU path */
    }
  }
  return new CpuTensorMerger();
}

export const onProgress = (p: MergeProgress) =>
  patchJob({ bytesDone: p.bytesDone, bytesTotal: p.bytesTotal, tensorsDone: p.tensorsDone, tensorsTotal: p.tensorsTotal });

export async function runJob(kind: MergeJob['kind'], body: (merger: TensorMerger, signal: AbortSignal) => Promise<Partial<MergeJob> | void>) {
  if (running) return;
  for (const url of links) URL.revokeObjectURL(url);
  links = [];
  lastExport = undefined;
  archiving?.abort();
  const ac = new AbortController();
  running = ac;
  state().patchMerge({ job: { kind, status: 'running', bytesDone: 0, bytesTotal: 0, tensorsDone: 0, tensorsTotal: 0 } });
  let merger: TensorMerger | undefined;
  try {
    merger = await pageMerger();
    patchJob({ merger: merger.kind });
    const extra = await body(merger, ac.signal);
    patchJob({ status: 'done', ...extra });
  } catch (e) {
    const noFolder = e instanceof DOMException && e.name === 'AbortError';
    if (ac.signal.aborted || noFolder) patchJob({ status: 'cancelled', message: noFolder ? 'No folder was chosen; nothing was saved.' : 'Cancelled; nothing was saved.' });
    else {
      if (!(e instanceof StudioError)) console.error(e);
      patchJob({ status: 'error', error: pageGpuMessage(e) ?? (e as Error).message });
    }
  } finally {
    merger?.destroy();
    running = undefined;
  }
}

export function cancelMergeJob(): void {
  running?.abort();
}

const outDtype = () => (state().merge.outDtype === 'target' ? undefined : (state().merge.outDtype as Exclude<ReturnType<typeof state>['merge']['outDtype'], 'target'>));

/** ‖v‖, ‖θ_target‖, their ratio, cos(v, θ_target − θ_SFT) and the near-zero fraction, per tensor. */
export function computeVectorStats(): Promise<void> {
  return runJob('stats', async (merger, signal) => {
    const t = trio();
    const plan = planMerge(t, { mode: 'merge', vocabPolicy: state().merge.vocabPolicy });
    const report = await runMerge({ plan, merger, alpha: 0, stats: true, signal, onProgress });
    state().patchMerge({ stats: { tensors: report.tensors, total: report.total, merger: merger.kind, seconds: report.seconds } });
    return { message: `Statistics of ${report.tensors.filter((x) => x.stats).length} tensors in ${report.seconds.toFixed(2)} s.`, notes: plan.notes };
  });
}

interface PickerWindow {
  showDirectoryPicker?: (o?: { mode?: 'read' | 'readwrite'; id?: string }) => Promise<FileSystemDirectoryHandle>;
}

/**
 * Where to save: a folder the user picks (File System Access API), else the origin-private file
 * system, from which each finished file is offered as a disk-backed download link.
 */
export async function destination(name: string) {
  const picker = (window as unknown as PickerWindow).showDirectoryPicker;
  if (picker) {
    const parent = await picker({ mode: 'readwrite', id: 'studio-export' });
    return { out: await fsAccessOutputFolder(parent, name), links: false };
  }
  // The origin's storage keeps one export at a time: the previous one (and its links) goes.
  const root = await navigator.storage.getDirectory();
  await root.removeEntry(EXPORTS_DIR, { recursive: true }).catch(() => {});
  const exports = await root.getDirectoryHandle(EXPORTS_DIR, { create: true });
  return { out: await fsAccessOutputFolder(exports, name), links: true, parent: exports };
}

export async function listing(dir: FileSystemDirectoryHandle, names: string[], withLinks: boolean, parent?: FileSystemDirectoryHandle, label = 'export') {
  if (withLinks && parent) lastExport = { dir, parent, names, label };
  const files = [];
  for (const name of names) {
    const file = await (await fileHandleAt(dir, name)).getFile();
    const url = withLinks ? URL.createObjectURL(file) : undefined;
    if (url) links.push(url);
    files.push({ name, size: file.size, url });
  }
  return files;
}

/** Where exports go in the origin-private file system when the browser has no folder picker. */
export const EXPORTS_DIR = 'exports';

export const alphaName = (a: number) => String(a).replace('-', 'minus').replace('.', 'p');

export function saveMergedModelFolder(): Promise<void> {
  return runJob('model', async (merger, signal) => {
    const alpha = checkAlpha(state().merge.alpha);
    const t = trio();
    const opts = { outDtype: outDtype(), vocabPolicy: state().merge.vocabPolicy };
    const plan = planMerge(t, { mode: 'merge', ...opts }); // refuse bad input before asking for a folder
    const { out, links, parent } = await destination(`merged-alpha-${alphaName(alpha)}`);
    const refs = { sft: modelReference(t.sft), rl: modelReference(t.rl), target: modelReference(t.target) };
    const { report } = await saveMergedModel(t, refs, alpha, { plan, merger, out, outDtype: opts.outDtype, signal, onProgress });
    return {
      message: `Saved the merged model (α = ${alpha}) to "${out.label}": ${report.files.length} files in ${report.seconds.toFixed(2)} s.`,
      notes: [...plan.notes, ...nonFinite(report.tensors)],
      files: await listing(out.dir, report.files, links, parent, out.label),
    };
  });
}

export function saveVectorFolder(): Promise<void> {
  return runJob('vector', async (merger, signal) => {
    const t = trio();
    const opts = { outDtype: outDtype(), vocabPolicy: state().merge.vocabPolicy };
    const plan = planMerge({ sft: t.sft, rl: t.rl }, { mode: 'vector', ...opts });
    const { out, links, parent } = await destination('reasoning-vector');
    const { report } = await saveVector({ sft: t.sft, rl: t.rl }, { sft: modelReference(t.sft), rl: modelReference(t.rl) }, { plan, merger, out, outDtype: opts.outDtype, signal, onProgress });
    return {
      message: `Saved the reasoning vector to "${out.label}": ${report.files.length} files in ${report.seconds.toFixed(2)} s.`,
      notes: [...plan.notes, ...nonFinite(report.tensors)],
      files: await listing(out.dir, report.files, links, parent, out.label),
    };
  });
}

/**
 * The last OPFS export as one ZIP archive (see archive-export.ts for the routes), streamed from
 * its files. Refused while a merge runs: the next job removes the folder it reads.
 */
export async function downloadExportArchive(onProgress?: (p: ArchiveProgress) => void): Promise<ArchiveResult> {
  const exp = lastExport;
  if (!exp || running) throw new StudioError('There is no finished export to archive; save the merged model or the vector first.');
  const ac = new AbortController();
  archiving = ac;
  try {
    const result = await saveArchive(exp.dir, exp.names, exp.label, exp.parent, { onProgress, signal: ac.signal });
    if (result.url) links.push(result.url);
    return result;
  } finally {
    if (archiving === ac) archiving = undefined;
  }
}

/**
 * Settings → "Clear downloads and exports" removed the exports folder: the last export's links,
 * its "Download all (.zip)" and an archive being written from it point at nothing now. Returns
 * whether a finished export was forgotten (the caller says so on its file list).
 */
export function forgetStoredExport(): boolean {
  const had = lastExport !== undefined;
  archiving?.abort();
  for (const url of links) URL.revokeObjectURL(url);
  links = [];
  lastExport = undefined;
  return had;
}

/** Whether a merge job (which may be writing into the exports folder) is running. */
export const mergeJobRunning = () => running !== undefined;

function nonFinite(tensors: { name: string; nan: number; inf: number }[]): string[] {
  return tensors.filter((t) => t.nan || t.inf).map((t) => `${t.name}: ${t.nan} NaN and ${t.inf} Inf values in the output.`);
}
