import type { Checkpoint } from '../checkpoint/open-checkpoint.ts';
import { StudioError } from '../errors.ts';
import type { SupportedDtype } from '../safetensors/dtypes.ts';
import { configJsonFor, mergekitRecipe, MERGEKIT_FILE, tokenizerFilesOf, vectorReportJson } from './export-files.ts';
import { planMerge, type MergePlan, type VocabPolicy } from './merge-plan.ts';
import type { OutputFolder } from './output/output-folder.ts';
import { runMerge, type MergeProgress, type MergeReport, type VectorStats } from './stream-merge.ts';
import type { TensorMerger } from './tensor-merger.ts';

/** The two things a user saves: a merged model folder and the vector folder. One call each. */

export const VECTOR_REPORT_FILE = 'reasoning_vector.json';

export interface SaveOptions {
  merger: TensorMerger;
  out: OutputFolder;
  outDtype?: SupportedDtype;
  vocabPolicy?: VocabPolicy;
  maxShardBytes?: number;
  signal?: AbortSignal;
  onProgress?: (p: MergeProgress) => void;
  /** Called once the plan is made, before any weights are read (notes, sizes). */
  onPlan?: (plan: MergePlan) => void;
  /**
   * The plan the caller already made (the CLI and the page plan before they create the output
   * folder, to refuse bad input first): it is run as it is, not made again, so `outDtype`,
   * `vocabPolicy` and `maxShardBytes` are then those it was made with.
   */
  plan?: MergePlan;
}

export function checkAlpha(alpha: number): number {
  if (typeof alpha !== 'number' || !Number.isFinite(alpha)) throw new StudioError(`α must be a finite number, got ${String(alpha)}.`);
  return alpha;
}

/** θ(α) = θ_target + α·(θ_RL − θ_SFT), written as a loadable Hugging Face folder plus a mergekit recipe. */
export async function saveMergedModel(
  trio: { sft: Checkpoint; rl: Checkpoint; target: Checkpoint },
  refs: { sft: string; rl: string; target: string },
  alpha: number,
  o: SaveOptions,
): Promise<{ plan: MergePlan; report: MergeReport }> {
  const plan = await beforeRun(o.out, () => {
    checkAlpha(alpha);
    const p = o.plan ?? planMerge(trio, { mode: 'merge', outDtype: o.outDtype, vocabPolicy: o.vocabPolicy, maxShardBytes: o.maxShardBytes });
    if (p.mode !== 'merge') throw new Error('saveMergedModel needs a plan made with mode "merge"');
    o.onPlan?.(p);
    return p;
  });
  const recipeDtype = o.outDtype ?? dominantDtype(plan);
  const report = await runMerge({
    plan,
    merger: o.merger,
    alpha,
    out: o.out,
    signal: o.signal,
    onProgress: o.onProgress,
    extraFiles: async () => [
      { name: 'config.json', bytes: await configJsonFor(trio.target, o.outDtype) },
      ...(await tokenizerFilesOf(trio.target)),
      { name: MERGEKIT_FILE, bytes: new TextEncoder().encode(mergekitRecipe(refs, alpha, recipeDtype)) },
    ],
  });
  return { plan, report };
}

/** v = θ_RL − θ_SFT as safetensors (F32 unless asked otherwise), with its statistics. */
export async function saveVector(
  pair: { sft: Checkpoint; rl: Checkpoint },
  refs: { sft: string; rl: string },
  o: SaveOptions,
): Promise<{ plan: MergePlan; report: MergeReport }> {
  const outDtype = o.outDtype ?? 'F32';
  const plan = await beforeRun(o.out, () => {
    const p = o.plan ?? planMerge(pair, { mode: 'vector', outDtype, vocabPolicy: o.vocabPolicy, maxShardBytes: o.maxShardBytes });
    if (p.mode !== 'vector') throw new Error('saveVector needs a plan made with mode "vector"');
    o.onPlan?.(p);
    return p;
  });
  const report = await runMerge({
    plan,
    merger: o.merger,
    alpha: 1,
    out: o.out,
    stats: true,
    metadata: { studio_kind: 'reasoning-vector', studio_sft: refs.sft, studio_rl: refs.rl },
    signal: o.signal,
    onProgress: o.onProgress,
    extraFiles: async (r) => [
      // config.json lets `studio inspect` (and transformers' tooling) read the folder's shapes.
      { name: 'config.json', bytes: await configJsonFor(pair.sft, outDtype) },
      { name: VECTOR_REPORT_FILE, bytes: vectorReportJson(refs, withoutTarget(r), outDtype) },
    ],
  });
  return { plan, report: withoutTarget(report) };
}

/**
 * A vector has no target: its ‖θ_target‖ is absent (null, as ratio and cosine already are), not
 * the 0 the executor's sums give — "normTarget": 0 read as a target of all zeros.
 */
function withoutTarget(r: MergeReport): MergeReport {
  const strip = (s: VectorStats | undefined) => (s ? { ...s, normTarget: null } : undefined);
  return { ...r, total: strip(r.total), tensors: r.tensors.map((t) => (t.stats ? { ...t, stats: strip(t.stats) } : t)) };
}

/** Validation before runMerge owns the folder: a refusal there removes the (empty) folder too. */
async function beforeRun<T>(out: OutputFolder, fn: () => T): Promise<T> {
  try {
    return fn();
  } catch (e) {
    await out.abort().catch(() => {});
    throw e;
  }
}

/** The dtype most of the output's bytes have (what mergekit's out_dtype should say). */
function dominantDtype(plan: MergePlan): SupportedDtype {
  const bytes = new Map<SupportedDtype, number>();
  for (const t of plan.tensors) bytes.set(t.dtype, (bytes.get(t.dtype) ?? 0) + t.byteLength);
  return [...bytes].sort((a, b) => b[1] - a[1])[0][0];
}
