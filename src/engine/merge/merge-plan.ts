import type { Checkpoint, TensorInfo } from '../checkpoint/open-checkpoint.ts';
import { StudioError } from '../errors.ts';
import { dtypeByteSize, type SupportedDtype } from '../safetensors/dtypes.ts';
import { INDEX_FILE, SINGLE_FILE } from '../safetensors/sharded-index.ts';
import { decideMerge, refusalMessage, type CheckpointHeaders, type DecideOptions, type MergeMode, type Verdict, type VerdictItem } from './decide-merge.ts';

/**
 * What a merge will write, decided from headers alone before a byte of weights is read: every
 * output tensor with where its inputs come from, the output dtype, and the shard it lands in.
 * Whether the trio may merge at all, and what happens to each tensor, is decided by
 * decideMerge (decide-merge.ts), the same rules the page's verdict shows; this file binds that
 * decision to the opened checkpoints and lays out the output files. Everything that would stop
 * the merge is found here, so nothing is half-written when it is refused.
 */

export { VOCAB_POLICIES, type MergeMode, type VocabPolicy } from './decide-merge.ts';

/** Hugging Face's default max_shard_size ("5GB"). */
export const MAX_SHARD_BYTES = 5_000_000_000;

export interface PlanOptions extends DecideOptions {
  /** Shard size when the target is not sharded (tests use small values). */
  maxShardBytes?: number;
}

export interface TensorRef {
  ckpt: Checkpoint;
  /** Stored name (a tied head reads `model.embed_tokens.weight`). */
  name: string;
  dtype: SupportedDtype;
  shape: number[];
  /** Elements of the stored tensor before this ref's first one: a row block of a split tensor (resident-merge.ts). */
  offset?: number;
}

/** Elements [start, start + count) of a planned input tensor: one ranged read. */
export async function readElements(r: TensorRef, start: number, count: number): Promise<Uint8Array> {
  const size = dtypeByteSize(r.dtype)!;
  const bytes = await r.ckpt.readTensorBytes(r.name, ((r.offset ?? 0) + start) * size, count * size);
  // Every sink trusts this length (a GPU upload of fewer bytes keeps the previous chunk's): a short
  // answer must stop the merge, never become weights.
  if (bytes.length !== count * size) {
    throw new StudioError(`${r.ckpt.source.label}: reading ${count * size} bytes of tensor "${r.name}" gave ${bytes.length}; the source answered short (a dropped connection or a failing server or disk). Try again.`);
  }
  return bytes;
}

export interface PlannedTensor {
  name: string;
  shape: number[];
  dtype: SupportedDtype;
  elements: number;
  byteLength: number;
  target?: TensorRef;
  sft?: TensorRef;
  rl?: TensorRef;
  /** Leading elements that receive α·v (merge) or are the vector; the rest are copied from the target. */
  mergedElements: number;
}

export interface PlannedFile {
  name: string;
  tensors: PlannedTensor[];
  /** Tensor data bytes (header excluded). */
  dataBytes: number;
}

export interface MergePlan {
  mode: MergeMode;
  files: PlannedFile[];
  /** Whether an index (model.safetensors.index.json) is written. */
  sharded: boolean;
  tensors: PlannedTensor[];
  totalBytes: number;
  /** The largest input or output tensor in bytes: memory is bounded by chunks, this is the yardstick. */
  largestTensorBytes: number;
  /** Things the user should know (ignored or kept tensors, vocab policy applied, head tying): the verdict's warnings. */
  notes: string[];
}

/** The trio cannot merge as asked; `verdict` says why and which vocab policy, if any, would allow it. */
export class MergePlanError extends StudioError {
  constructor(
    message: string,
    readonly verdict?: Verdict,
  ) {
    super(message);
  }
}

/** What the rules read from an opened checkpoint. */
export function headersOf(ckpt: Checkpoint): CheckpointHeaders {
  return {
    label: ckpt.source.label,
    architecture: ckpt.config.architecture,
    tiedHead: ckpt.tiedHead,
    config: ckpt.config,
    tensors: [...ckpt.tensors.values()],
  };
}

const count = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

export function planMerge(trio: { sft: Checkpoint; rl: Checkpoint; target?: Checkpoint }, options: PlanOptions): MergePlan {
  const { sft, rl, target } = trio;
  const { tensors: decided, verdict } = decideMerge(
    { sft: headersOf(sft), rl: headersOf(rl), target: target ? headersOf(target) : undefined },
    { mode: options.mode, outDtype: options.outDtype, vocabPolicy: options.vocabPolicy },
  );
  // The CLI is the door that reaches this message (the page disables its buttons first).
  if (!verdict.ok) {
    const labels = { sft: sft.source.label, rl: rl.source.label, target: target?.source.label };
    throw new MergePlanError(refusalMessage(verdict, (p) => `the vocab policy "${p}" (CLI: --vocab-policy ${p})`, labels), verdict);
  }

  const ckpts = { sft, rl, target };
  const ref = (role: 'sft' | 'rl' | 'target', name: string | undefined): TensorRef | undefined => {
    if (name === undefined) return undefined;
    const ckpt = ckpts[role]!;
    const t: TensorInfo = ckpt.tensors.get(name)!;
    return { ckpt, name, dtype: t.dtype as SupportedDtype, shape: t.shape };
  };
  const tensors = decided.map((d) =>
    planned(d.name, d.shape, d.dtype, { target: ref('target', d.from.target), sft: ref('sft', d.from.sft), rl: ref('rl', d.from.rl) }, d.mergedElements),
  );

  const files = assignFiles(tensors, target, options.maxShardBytes ?? MAX_SHARD_BYTES);
  const totalBytes = files.reduce((a, f) => a + f.dataBytes, 0);
  let largest = 0;
  for (const t of tensors) {
    for (const x of [t.target, t.sft, t.rl]) if (x) largest = Math.max(largest, count(x.shape) * dtypeByteSize(x.dtype)!);
    largest = Math.max(largest, t.byteLength);
  }
  return {
    mode: options.mode,
    files,
    sharded: files.length > 1 || files[0].name !== SINGLE_FILE,
    tensors,
    totalBytes,
    largestTensorBytes: largest,
    notes: notesOf(verdict.items, new Set(decided.filter((d) => d.action === 'keep').map((d) => d.name))),
  };
}

/** The verdict's warnings as notes, tensors kept or ignored summed up (a real model may list hundreds). */
function notesOf(items: VerdictItem[], keptNames: Set<string>): string[] {
  const notes: string[] = [];
  const ignored: string[] = [];
  for (const i of items) {
    if (i.severity !== 'warning') continue;
    const missing = i.code === 'missing-in-target' || i.code === 'missing-in-pair' || i.code === 'missing-in-donors';
    if (missing && !keptNames.has(i.tensor!)) ignored.push(i.tensor!);
    else if (!missing) notes.push(i.message);
  }
  const kept = [...keptNames];
  const some = (names: string[]) => `${names.slice(0, 5).join(', ')}${names.length > 5 ? ', …' : ''}`;
  if (kept.length) notes.push(`${kept.length} tensor(s) not in both donors, kept from the target unchanged: ${some(kept)}.`);
  if (ignored.length) notes.push(`${ignored.length} donor tensor(s) with nothing to apply to, ignored: ${some(ignored)}.`);
  return notes;
}

function planned(name: string, shape: number[], dtype: SupportedDtype, refs: Pick<PlannedTensor, 'target' | 'sft' | 'rl'>, mergedElements: number): PlannedTensor {
  const elements = count(shape);
  return { name, shape, dtype, elements, byteLength: elements * dtypeByteSize(dtype)!, ...refs, mergedElements };
}

/** Output shards: the target's own layout when it is sharded, else one file up to `maxShard` bytes. */
function assignFiles(tensors: PlannedTensor[], target: Checkpoint | undefined, maxShard: number): PlannedFile[] {
  if (target?.sharded) {
    const byFile = new Map<string, PlannedFile>();
    for (const t of tensors) {
      const file = target.tensors.get(t.target!.name)!.file;
      let f = byFile.get(file);
      if (!f) byFile.set(file, (f = { name: file, tensors: [], dataBytes: 0 }));
      f.tensors.push(t);
      f.dataBytes += t.byteLength;
    }
    return [...byFile.values()];
  }
  const groups: PlannedTensor[][] = [[]];
  let size = 0;
  for (const t of tensors) {
    if (size > 0 && size + t.byteLength > maxShard) {
      groups.push([]);
      size = 0;
    }
    groups[groups.length - 1].push(t);
    size += t.byteLength;
  }
  const n = groups.length;
  const pad = (k: number) => String(k).padStart(5, '0');
  return groups.map((g, i) => ({
    name: n === 1 ? SINGLE_FILE : `model-${pad(i + 1)}-of-${pad(n)}.safetensors`,
    tensors: g,
    dataBytes: g.reduce((a, t) => a + t.byteLength, 0),
  }));
}

/** The index Hugging Face writes next to sharded weights. */
export function shardIndexJson(plan: MergePlan): string {
  const weightMap: Record<string, string> = {};
  for (const f of plan.files) for (const t of f.tensors) weightMap[t.name] = f.name;
  const sorted = Object.fromEntries(Object.entries(weightMap).sort(([a], [b]) => (a < b ? -1 : 1)));
  return JSON.stringify({ metadata: { total_size: plan.totalBytes }, weight_map: sorted }, null, 2) + '\n';
}

export { INDEX_FILE };
