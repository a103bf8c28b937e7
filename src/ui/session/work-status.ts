import { describeBuildPhase } from '../../engine/model/live-model.ts';
import type { ExplorerState } from '../explorer-store.ts';
import type { StudioState } from '../store.ts';

/**
 * The GPU work running now, read from the store's plain state (each session reports its own
 * status there): one line per job for the workspace's status bar. No session is imported here,
 * so gpu.ts can name what a device loss interrupted without an import cycle; the bar maps each
 * kind to its session's cancel.
 */

export type WorkKind = 'merge' | 'build' | 'generate' | 'compare' | 'benchmark' | 'sweep';

export interface WorkItem {
  kind: WorkKind;
  /** What is running, in words ("sweeping", "building the model"). */
  label: string;
  /** The session's own phase text, when it gives one. */
  phase?: string;
  done?: number;
  total?: number;
  unit?: 'bytes' | 'items';
}

const MERGE_LABEL = { stats: 'merging: vector statistics', model: 'merging: saving the merged model', vector: 'merging: saving the vector', onnx: 'merging: exporting ONNX' } as const;

/** `explorer`: the α explorer's store (explorer-store.ts), whose comparison and model build are GPU work too. */
export function runningWork(s: Pick<StudioState, 'merge' | 'playground' | 'benchmarks' | 'sweep'>, explorer?: Pick<ExplorerState, 'status' | 'build' | 'columns' | 'results'>): WorkItem[] {
  const out: WorkItem[] = [];
  const job = s.merge.job;
  if (job?.status === 'running') out.push({ kind: 'merge', label: MERGE_LABEL[job.kind], done: job.bytesDone, total: job.bytesTotal, unit: 'bytes' });
  const build = explorer?.build?.status === 'running' ? explorer.build.progress : undefined;
  if (build || s.playground.status === 'loading') {
    const weights = build?.phase === 'weights' ? build : undefined;
    out.push({ kind: 'build', label: 'building the model', phase: build ? describeBuildPhase(build) : undefined, done: weights?.done, total: weights?.total, unit: 'items' });
  }
  if (s.playground.status === 'generating') out.push({ kind: 'generate', label: `generating at α = ${s.playground.runningAlpha ?? s.merge.alpha}` });
  if (explorer && explorer.status !== 'idle') {
    const done = explorer.columns.filter((c) => ['done', 'cancelled', 'error'].includes(explorer.results[c.id]?.status ?? '')).length;
    out.push({ kind: 'compare', label: explorer.status === 'cancelling' ? 'comparing α side by side (stopping)' : 'comparing α side by side', done, total: explorer.columns.length, unit: 'items' });
  }
  const b = s.benchmarks.run;
  if (b && (b.status === 'loading' || b.status === 'running')) out.push({ kind: 'benchmark', label: `benchmark at α = ${b.alpha}`, phase: b.phase, done: b.itemsDone, total: b.itemsTotal, unit: 'items' });
  const w = s.sweep.run;
  if (w && (w.status === 'loading' || w.status === 'running')) out.push({ kind: 'sweep', label: 'sweeping α', phase: w.phase, done: w.itemsDone, total: w.itemsTotal, unit: 'items' });
  return out;
}
