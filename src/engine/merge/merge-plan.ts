import type { Checkpoint, TensorInfo } from '../checkpoint/open-checkpoint.ts';
import { StudioError } from '../errors.ts';
import { dtypeByteSize, isSupportedDtype, type SupportedDtype } from '../safetensors/dtypes.ts';
import { INDEX_FILE, SINGLE_FILE } from '../safetensors/sharded-index.ts';

/**
 * What a merge will write, decided from headers alone before a byte of weights is read: every
 * output tensor with where its inputs come from, the output dtype, and the shard it lands in.
 * Everything that would stop the merge (shape mismatches, a vector with nothing to apply to)
 * is found here, so nothing is half-written when it is refused.
 */

export type MergeMode = 'merge' | 'vector';

/**
 * What to do when the donors' and the target's vocabularies differ in size (embed_tokens and
 * lm_head have different row counts, every other shape equal):
 * - `refuse` (default): stop, naming the tensor and the three shapes;
 * - `overlap`: merge the rows all three have (token ids 0 … min−1) and copy the target's other
 *   rows unchanged; the output keeps the target's shape. Right when the extra rows are padding
 *   or added special tokens, as with Qwen2.5 checkpoints resized from 151,665 to 151,936 rows.
 */
export type VocabPolicy = 'refuse' | 'overlap';
export const VOCAB_POLICIES: readonly VocabPolicy[] = ['refuse', 'overlap'];

/** Hugging Face's default max_shard_size ("5GB"). */
export const MAX_SHARD_BYTES = 5_000_000_000;

export interface PlanOptions {
  mode: MergeMode;
  /** Output dtype; default the target's dtype per tensor (merge) or F32 (vector: exact differences). */
  outDtype?: SupportedDtype;
  vocabPolicy?: VocabPolicy;
  /** Shard size when the target is not sharded (tests use small values). */
  maxShardBytes?: number;
}

export interface TensorRef {
  ckpt: Checkpoint;
  /** Stored name (a tied head reads `model.embed_tokens.weight`). */
  name: string;
  dtype: SupportedDtype;
  shape: number[];
}

/** Elements [start, start + count) of a planned input tensor: one ranged read. */
export function readElements(r: TensorRef, start: number, count: number): Promise<Uint8Array> {
  const size = dtypeByteSize(r.dtype)!;
  return r.ckpt.readTensorBytes(r.name, start * size, count * size);
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
  /** Things the user should know (ignored or kept tensors, vocab policy applied, head tying). */
  notes: string[];
}

export class MergePlanError extends StudioError {}

const EMBED = 'model.embed_tokens.weight';
const HEAD = 'lm_head.weight';

/** Tensor name → stored tensor, with a tied head exposed as lm_head.weight → embed_tokens. */
function logical(ckpt: Checkpoint): Map<string, TensorInfo> {
  const m = new Map(ckpt.tensors);
  const embed = m.get(EMBED);
  if (ckpt.tiedHead && embed && !m.has(HEAD)) m.set(HEAD, embed);
  return m;
}

function ref(ckpt: Checkpoint, t: TensorInfo): TensorRef {
  if (!isSupportedDtype(t.dtype)) throw new MergePlanError(`${ckpt.source.label}: tensor "${t.name}" has dtype ${t.dtype}; the studio merges BF16, F16 and F32 only.`);
  return { ckpt, name: t.name, dtype: t.dtype, shape: t.shape };
}

const count = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
const fmt = (s: number[]) => `[${s.join(', ')}]`;

export function planMerge(trio: { sft: Checkpoint; rl: Checkpoint; target?: Checkpoint }, options: PlanOptions): MergePlan {
  const { sft, rl, target } = trio;
  const policy = options.vocabPolicy ?? 'refuse';
  const notes: string[] = [];
  if (options.mode === 'merge' && !target) throw new MergePlanError('a merge needs a target checkpoint.');
  const archOf = (c: Checkpoint) => c.config.architecture;
  const present = [sft, rl, ...(target ? [target] : [])];
  if (new Set(present.map(archOf)).size > 1) {
    throw new MergePlanError(`architectures differ (${present.map((c) => `${c.source.label}: ${archOf(c)}`).join(', ')}); task arithmetic needs one architecture.`);
  }
  const maps = { sft: logical(sft), rl: logical(rl), target: target ? logical(target) : undefined };

  // Output tensors: the target's stored tensors in file order (merge), or the SFT donor's (vector).
  const base = target ?? sft;
  const order = [...base.tensors.values()].sort((a, b) => (a.file === b.file ? a.byteOffset - b.byteOffset : a.file < b.file ? -1 : 1));
  if (!target && sft.tiedHead !== rl.tiedHead && !sft.tensors.has(HEAD)) {
    // An untied RL donor has a head the tied SFT donor only has as its embedding: the vector keeps it.
    const head = maps.sft.get(HEAD);
    if (head) order.push({ ...head, name: HEAD });
  }

  const tensors: PlannedTensor[] = [];
  const ignored: string[] = [];
  const kept: string[] = [];
  for (const stored of order) {
    const name = stored.name;
    const t = maps.target?.get(name);
    const s = maps.sft.get(name);
    const r = maps.rl.get(name);
    if (!s || !r) {
      if (target) {
        kept.push(name);
        const tr = ref(target, t!);
        const dtype = options.outDtype ?? tr.dtype;
        tensors.push(planned(name, tr.shape, dtype, { target: tr }, 0));
      } else {
        ignored.push(name);
      }
      continue;
    }
    const shapes = { sft: s.shape, rl: r.shape, target: t?.shape };
    const all = [s.shape, r.shape, ...(t ? [t.shape] : [])];
    let merged: number;
    const outShape = [...(t?.shape ?? s.shape)];
    if (new Set(all.map((x) => JSON.stringify(x))).size === 1) {
      merged = count(outShape);
    } else {
      const isVocab = (name === EMBED || name === HEAD) && all.every((x) => x.length === 2 && x[1] === all[0][1]);
      const desc = `SFT ${fmt(shapes.sft)}, RL ${fmt(shapes.rl)}${t ? `, target ${fmt(t.shape)}` : ''}`;
      if (!isVocab) throw new MergePlanError(`tensor "${name}" shapes differ: ${desc}. The checkpoints are not the same architecture size.`);
      if (policy === 'refuse') {
        throw new MergePlanError(
          `tensor "${name}" shapes differ: ${desc} (vocabularies of different sizes). ` +
            `Pick the vocab policy "overlap" (CLI: --vocab-policy overlap) to merge the rows all three share and keep the target's other rows.`,
        );
      }
      const rows = Math.min(...all.map((x) => x[0]));
      merged = rows * all[0][1];
      notes.push(`${name}: vocab policy "overlap": rows 0…${rows - 1} merged, ${outShape[0] - rows} row(s) of the ${t ? 'target' : 'SFT donor'} kept (${desc}).`);
      if (!t) outShape.splice(0, 1, rows);
    }
    const tr = target && t ? ref(target, t) : undefined;
    const dtype = options.outDtype ?? (tr ? tr.dtype : 'F32');
    tensors.push(planned(name, outShape, dtype, { target: tr, sft: ref(sft, s), rl: ref(rl, r) }, merged));
  }
  if (target) {
    for (const name of maps.sft.keys()) {
      if (!maps.target!.has(name) && maps.rl.has(name)) ignored.push(name);
    }
  }
  if (kept.length) notes.push(`${kept.length} tensor(s) not in both donors, kept from the target unchanged: ${kept.slice(0, 5).join(', ')}${kept.length > 5 ? ', …' : ''}.`);
  if (ignored.length) notes.push(`${ignored.length} donor tensor(s) with nothing to apply to, ignored: ${ignored.slice(0, 5).join(', ')}${ignored.length > 5 ? ', …' : ''}.`);
  if (target && target.tiedHead && (!sft.tiedHead || !rl.tiedHead)) {
    notes.push(`The target ties lm_head to embed_tokens: the merged head follows embed_tokens' vector; the donors' own lm_head is not used.`);
  }
  if (!tensors.some((t) => t.mergedElements > 0)) {
    throw new MergePlanError(`no tensor is shared by ${target ? 'the donors and the target' : 'both donors'}; check that the checkpoints belong together.`);
  }

  const files = assignFiles(tensors, target, options.maxShardBytes ?? MAX_SHARD_BYTES);
  const totalBytes = files.reduce((a, f) => a + f.dataBytes, 0);
  let largest = 0;
  for (const t of tensors) {
    for (const x of [t.target, t.sft, t.rl]) if (x) largest = Math.max(largest, count(x.shape) * dtypeByteSize(x.dtype)!);
    largest = Math.max(largest, t.byteLength);
  }
  return { mode: options.mode, files, sharded: files.length > 1 || files[0].name !== SINGLE_FILE, tensors, totalBytes, largestTensorBytes: largest, notes };
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
