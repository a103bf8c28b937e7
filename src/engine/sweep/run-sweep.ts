import { StudioError } from '../errors.ts';
import type { AnyTask, EvalCondition, RunProgram } from '../eval/index.ts';
import { EvalCancelledError, runTask, type EvalSample } from '../eval/run/run-task.ts';
import type { SweepBackend } from './host-sweep-backend.ts';
import {
  RESULTS_FORMAT,
  RESULTS_VERSION,
  encodeVerdicts,
  type ConditionLabel,
  type Series,
  type SourceRecord,
  type SweepPoint,
  type SweepResultsDocument,
  type SweepSample,
  type SweepTaskRecord,
} from './results-document.ts';
import { conditionLabelOf } from './sweep-config.ts';

/**
 * The α sweep: for each point of the grid θ(α) = θ_target + α·v is set on one model (the
 * backend re-merges; the model is never reloaded) and every task × condition's items run through
 * runTask (batched, contexts shared). Beside it: the control vector over the same grid, and the
 * donors alone. The target alone is v at α = 0 (the same weights), and so is the control at
 * α = 0: those points are copied from v's, not recomputed, and their samples are v's at α = 0.
 *
 * Every finished item is reported (`onItem`, e.g. to IndexedDB) and a sweep can resume: items in
 * `resume` are not recomputed — a (series, α) whose items are all there is not even re-merged.
 */

export interface SweepTaskInput {
  task: AnyTask;
  /** The chosen rows, in selection order (the order of the verdict bits). */
  items: { index: number; doc: unknown }[];
  conditions: EvalCondition[];
  selection: SweepTaskRecord['selection'];
  data: SweepTaskRecord['data'];
}

export interface SweepInput {
  sources: { sft: SourceRecord; rl: SourceRecord; target: SourceRecord };
  alphas: number[];
  tasks: SweepTaskInput[];
  generation: { batchSize: number; maxNewTokens: number | null };
  controls: { donors: boolean; randomVectorSeed: number | null };
}

/** The series a backend computes (the target's points are v's at α = 0). */
export type ComputedSeries = Exclude<Series, 'target'>;

/** One item's outcome at one point: what `onItem` reports and `resume` gives back. */
export interface FinishedItem {
  series: ComputedSeries;
  alpha: number | null;
  task: string;
  condition: ConditionLabel;
  /** The dataset row. */
  index: number;
  metrics: Record<string, 0 | 1>;
  /** The prompt, output and verdicts (kept when the run keeps samples). */
  sample?: SweepSample;
}

export interface SweepProgress {
  /** Items finished, resumed ones included. */
  done: number;
  total: number;
  /** Items computed by this run (not resumed). */
  computed: number;
  itemsPerSecond: number;
  /** Seconds left at the current rate; null before the first item. */
  etaSeconds: number | null;
  /** What is running now. */
  series: ComputedSeries;
  alpha: number | null;
  task: string;
  condition: ConditionLabel;
}

export interface RunSweepOptions {
  runProgram?: RunProgram;
  signal?: AbortSignal;
  onProgress?: (p: SweepProgress) => void;
  /** Each finished item, as it finishes (awaited, so a store can keep up). */
  onItem?: (item: FinishedItem) => void | Promise<void>;
  /** Items already finished (a resumed sweep): they are not recomputed. */
  resume?: Iterable<FinishedItem>;
  /** Keep each item's sample in the document's `samples` (default false). */
  samples?: boolean;
  /** Store per-item verdict bits in the points (default true). */
  verdicts?: boolean;
  /** Recorded as `runtime.provider` (default the backend's description). */
  provider?: string;
}

export class SweepCancelledError extends StudioError {
  constructor() {
    super('the sweep was cancelled.');
  }
}

/** The identity of one item at one point, for resume maps and IndexedDB keys. */
export function itemKey(i: Pick<FinishedItem, 'series' | 'alpha' | 'task' | 'condition' | 'index'>): string {
  return `${i.series}|${i.alpha ?? ''}|${i.task}|${i.condition}|${i.index}`;
}

/**
 * A stable key for a sweep's configuration (same config = same key): the page stores finished
 * items under it, so a reload or crash resumes the same sweep and a changed config starts afresh.
 */
export function sweepConfigKey(input: SweepInput): string {
  return JSON.stringify({
    v: RESULTS_VERSION,
    sources: input.sources,
    alphas: input.alphas,
    tasks: input.tasks.map((t) => ({ task: t.task.name, conditions: t.conditions.map(conditionLabelOf), selection: t.selection, data: t.data, items: t.items.map((i) => i.index) })),
    generation: input.generation,
    controls: input.controls,
  });
}

interface Unit {
  series: ComputedSeries;
  alpha: number | null;
}

/** The (series, α) pairs a backend computes, in the order they run. */
export function sweepUnits(input: SweepInput): Unit[] {
  const units: Unit[] = input.alphas.map((alpha) => ({ series: 'v' as const, alpha }));
  if (input.controls.randomVectorSeed !== null) {
    // At α = 0 the control's θ is the target's: v's α = 0 points stand for it.
    for (const alpha of input.alphas) if (alpha !== 0) units.push({ series: 'control', alpha });
  }
  if (input.controls.donors) units.push({ series: 'sft', alpha: null }, { series: 'rl', alpha: null });
  return units;
}

export async function runSweep(backend: SweepBackend, input: SweepInput, o: RunSweepOptions = {}): Promise<SweepResultsDocument> {
  if (!input.alphas.includes(0)) throw new StudioError('the α grid must include 0 (the target alone).');
  const started = performance.now();
  const units = sweepUnits(input);
  const finished = new Map<string, FinishedItem>();
  for (const r of o.resume ?? []) finished.set(itemKey(r), r);

  const work = (u: Unit, t: SweepTaskInput, c: EvalCondition) => t.items.filter((it) => !finished.has(itemKey({ ...u, task: t.task.name, condition: conditionLabelOf(c), index: it.index })));
  let total = 0;
  let remaining = 0;
  for (const u of units) {
    for (const t of input.tasks) {
      for (const c of t.conditions) {
        total += t.items.length;
        remaining += work(u, t, c).length;
      }
    }
  }
  let done = total - remaining;
  let computed = 0;
  let computeStarted: number | undefined;

  for (const u of units) {
    const pending = input.tasks.flatMap((t) => t.conditions.map((c) => ({ t, c, items: work(u, t, c) }))).filter((p) => p.items.length > 0);
    if (pending.length === 0) continue;
    if (o.signal?.aborted) throw new SweepCancelledError();
    await backend.use(u.series, u.alpha, o.signal);
    for (const { t, c, items } of pending) {
      const condition = conditionLabelOf(c);
      computeStarted ??= performance.now();
      // onItem runs as each item finishes (so a cancel it triggers stops the next batch); a store's
      // asynchronous writes are awaited before the next task, and a failed write fails the sweep.
      const writes: Promise<void>[] = [];
      const onSample = (s: EvalSample) => {
        const sample: SweepSample = { series: u.series, ...s, condition };
        const item: FinishedItem = { series: u.series, alpha: u.alpha, task: t.task.name, condition, index: s.index, metrics: s.metrics, ...(o.samples ? { sample } : {}) };
        finished.set(itemKey(item), item);
        done++;
        computed++;
        const written = o.onItem?.(item);
        if (written) {
          const w = Promise.resolve(written);
          w.catch(() => {}); // surfaced by Promise.all below, not as an unhandled rejection
          writes.push(w);
        }
        const seconds = (performance.now() - computeStarted!) / 1000;
        const rate = seconds > 0 ? computed / seconds : 0;
        o.onProgress?.({ done, total, computed, itemsPerSecond: rate, etaSeconds: rate > 0 ? (total - done) / rate : null, series: u.series, alpha: u.alpha, task: t.task.name, condition });
      };
      try {
        await runTask(
          { model: backend.model, tokenizer: backend.tokenizer },
          {
            task: t.task,
            items,
            condition: c,
            batchSize: input.generation.batchSize,
            maxNewTokens: input.generation.maxNewTokens ?? undefined,
            runProgram: o.runProgram,
            alpha: u.alpha,
            signal: o.signal,
            onSample,
          },
        );
      } catch (e) {
        await Promise.allSettled(writes);
        if (e instanceof EvalCancelledError) throw new SweepCancelledError();
        throw e;
      }
      await Promise.all(writes);
    }
  }
  return buildSweepDocument(input, finished, {
    samples: o.samples ?? false,
    verdicts: o.verdicts ?? true,
    runtime: { provider: o.provider ?? backend.description, seconds: Math.round((performance.now() - started) / 10) / 100 },
  });
}

/**
 * The results document from finished items (all of them: a sweep's own, or those a page
 * restored). Points whose items are not all finished are left out.
 */
export function buildSweepDocument(
  input: SweepInput,
  finished: ReadonlyMap<string, FinishedItem>,
  o: { samples: boolean; verdicts: boolean; runtime?: { provider: string; seconds: number } },
): SweepResultsDocument {
  const points: SweepPoint[] = [];
  const samples: SweepSample[] = [];
  const add = (series: Series, alpha: number | null, from: Unit) => {
    for (const t of input.tasks) {
      for (const c of t.conditions) {
        const condition = conditionLabelOf(c);
        const items = t.items.map((it) => finished.get(itemKey({ ...from, task: t.task.name, condition, index: it.index })));
        if (items.some((i) => i === undefined)) continue;
        for (const metric of t.task.metricKeys) {
          const bits = items.map((i) => i!.metrics[metric] ?? 0);
          const correct = bits.reduce<number>((a, b) => a + b, 0);
          points.push({ series, alpha, task: t.task.name, condition, metric, correct, total: bits.length, ...(o.verdicts ? { verdicts: encodeVerdicts(bits) } : {}) });
        }
        if (o.samples && series === from.series) for (const i of items) if (i!.sample) samples.push(i!.sample);
      }
    }
  };
  for (const alpha of input.alphas) add('v', alpha, { series: 'v', alpha });
  if (input.controls.randomVectorSeed !== null) for (const alpha of input.alphas) add('control', alpha, alpha === 0 ? { series: 'v', alpha: 0 } : { series: 'control', alpha });
  if (input.controls.donors) {
    add('sft', null, { series: 'sft', alpha: null });
    add('rl', null, { series: 'rl', alpha: null });
  }
  add('target', null, { series: 'v', alpha: 0 });
  const doc: SweepResultsDocument = {
    format: RESULTS_FORMAT,
    version: RESULTS_VERSION,
    sources: input.sources,
    alphas: input.alphas,
    tasks: input.tasks.map((t) => ({ task: t.task.name, conditions: t.conditions.map(conditionLabelOf), selection: t.selection, data: t.data })),
    generation: { batch_size: input.generation.batchSize, max_new_tokens: input.generation.maxNewTokens, greedy: true },
    controls: { donors: input.controls.donors, random_vector_seed: input.controls.randomVectorSeed },
    points,
    ...(o.runtime ? { runtime: o.runtime } : {}),
  };
  if (o.samples) doc.samples = samples;
  return doc;
}
