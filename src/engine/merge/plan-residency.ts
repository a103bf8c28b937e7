import { StudioError, formatBytes } from '../errors.ts';
import { maxWeightBufferBytes, rowBlocks, type BufferLimits, type RowBlock } from '../gpu/buffer-limits.ts';
import { dtypeByteSize, type SupportedDtype } from '../safetensors/dtypes.ts';

/**
 * What θ(α) exploration keeps on the GPU, decided from tensor shapes alone (no device, no file):
 * resident-merge.ts allocates what this plans, and memory-plan.ts shows it before a download.
 */

export type ResidencyStrategy = 'resident' | 'streaming';
/** What v = θ_RL − θ_SFT is kept in on the GPU: F32 exact; F16 or BF16 half the memory, within their rounding of v. */
export type VectorDtype = 'F32' | 'F16' | 'BF16';

export interface ResidencyOptions {
  /** Output dtype of the resident weights: F32 (default), or F16 where the ORT graph computes in f16. */
  outDtype?: 'F32' | 'F16';
  /**
   * v's dtype (default F32, exact), or several in order of preference: the first with which
   * target + v + θ(α) fit the budget is used, else the streaming strategy (exact, slow α).
   */
  vectorDtype?: VectorDtype | readonly VectorDtype[];
  /** GPU memory the studio may use for weights. WebGPU cannot report free memory, so the user sets it. */
  budgetBytes?: number;
  /** A per-buffer limit below the device's: weights above it are split into row blocks (tests force small blocks with it). */
  maxBufferBytes?: number;
}

export const DEFAULT_RESIDENT_BUDGET = 4 * 1024 ** 3;

/** What planning needs of a tensor: a PlannedTensor, or a tensor described from config.json alone (memory-plan.ts). */
export interface ResidencyTensor {
  name: string;
  shape: number[];
  elements: number;
  mergedElements: number;
  target?: { dtype: SupportedDtype };
}

export interface ResidencyPlan {
  strategy: ResidencyStrategy;
  outDtype: 'F32' | 'F16';
  /** v's dtype on the GPU (resident); null when streaming (v is never held). */
  vectorDtype: VectorDtype | null;
  /** Bytes of GPU buffers the strategy allocates (excluding small fixed ones; staging included). */
  bytes: number;
  /** What the resident strategy with v in F32 would need (for the message). */
  residentBytes: number;
  /** θ(α) alone plus staging: the streaming strategy's bytes. */
  outputBytes: number;
  /** The per-buffer limit used, and the largest buffer the plan makes. */
  maxBufferBytes: number;
  largestBufferBytes: number;
  /** Weights held as several buffers because one would exceed the per-buffer limit. */
  split: { name: string; blocks: RowBlock[] }[];
  /**
   * Bytes moved for one new α: the resident pass reads target and v and writes θ(α) on the GPU;
   * streaming reads the three checkpoints' merged elements (from the download cache) and writes θ(α).
   */
  alphaGpuBytes: number;
  alphaReadBytes: number;
  /** A sentence for the UI / CLI. */
  explanation: string;
}

const pad4 = (n: number) => Math.ceil(n / 4) * 4;
const size = (d: SupportedDtype) => dtypeByteSize(d)!;

/** One candidate layout: every buffer it would allocate, and the blocks of split tensors. */
interface Layout {
  bytes: number;
  largest: number;
  split: { name: string; blocks: RowBlock[] }[];
  alphaGpuBytes: number;
  alphaReadBytes: number;
}

/**
 * The buffers of one strategy: per tensor (or per row block of a tensor too big for one buffer)
 * θ(α) in `out`, and for `resident` the target's merged elements and v. Blocks are cut for the
 * widest of the tensor's buffers, so target, v and θ(α) of a block share its rows.
 */
function layout(tensors: readonly ResidencyTensor[], out: 'F32' | 'F16', vec: VectorDtype | null, maxBuffer: number): Layout {
  let bytes = 0;
  let largest = 0;
  let largestElements = 0;
  let alphaGpuBytes = 0;
  let alphaReadBytes = 0;
  const split: Layout['split'] = [];
  for (const t of tensors) {
    const tDtype = t.target?.dtype ?? 'F32';
    const widest = Math.max(size(out), vec && t.mergedElements ? Math.max(size(vec), size(tDtype)) : 0);
    const blocks = rowBlocks(t.name, t.shape, widest, maxBuffer);
    if (blocks.length > 1) split.push({ name: t.name, blocks });
    const rowElements = t.shape.slice(1).reduce((a, b) => a * b, 1);
    for (const b of blocks) {
      const elements = b.rows * rowElements;
      const merged = Math.max(0, Math.min(elements, t.mergedElements - b.start * rowElements));
      const outBytes = pad4(elements * size(out));
      bytes += outBytes;
      largest = Math.max(largest, outBytes);
      largestElements = Math.max(largestElements, elements);
      if (vec && merged) {
        const kept = pad4(merged * size(tDtype));
        const v = pad4(merged * size(vec));
        bytes += kept + v;
        largest = Math.max(largest, kept, v);
      }
    }
    alphaGpuBytes += t.mergedElements * (size(out) + (vec ? size(vec) + size(tDtype) : 0));
    // Streaming reads target, SFT and RL of every merged element (donors assumed in the target's dtype).
    alphaReadBytes += t.mergedElements * 3 * size(tDtype);
  }
  // Three staging buffers of one chunk each (f32-sized: the merger's target, sft and rl inputs), in both strategies.
  bytes += 3 * 4 * stagingChunk({ maxBufferSize: maxBuffer }, largestElements);
  return { bytes, largest, split, alphaGpuBytes, alphaReadBytes: vec ? 0 : alphaReadBytes };
}

/**
 * Decides what stays on the GPU: target + v + θ(α) (`resident`, v in the first of the preferred
 * dtypes that fits the budget), else θ(α) alone (`streaming`); throws when even θ(α) cannot be
 * held. Weights larger than one buffer may be are split into row blocks, never refused.
 */
export function planResidency(plan: { tensors: readonly ResidencyTensor[] }, limits: BufferLimits, o: ResidencyOptions = {}): ResidencyPlan {
  const out = o.outDtype ?? 'F32';
  const prefs: readonly VectorDtype[] = typeof o.vectorDtype === 'string' ? [o.vectorDtype] : (o.vectorDtype ?? ['F32']);
  const budget = o.budgetBytes ?? DEFAULT_RESIDENT_BUDGET;
  const maxBuffer = maxWeightBufferBytes(limits, o.maxBufferBytes);
  const exact = layout(plan.tensors, out, 'F32', maxBuffer);
  const streaming = layout(plan.tensors, out, null, maxBuffer);
  const common = { outDtype: out, residentBytes: exact.bytes, outputBytes: streaming.bytes, maxBufferBytes: maxBuffer };
  const blocksNote = (l: Layout) => {
    if (!l.split.length) return '';
    const named = l.split.slice(0, 3).map((s) => `${s.name} ×${s.blocks.length}`);
    const more = l.split.length > 3 ? `, and ${l.split.length - 3} more` : '';
    return ` ${l.split.length} weight${l.split.length === 1 ? ' is' : 's are'} larger than one GPU buffer may be here (${formatBytes(maxBuffer)}) and held as row blocks (${named.join(', ')}${more}).`;
  };
  for (const vec of prefs) {
    const l = vec === 'F32' ? exact : layout(plan.tensors, out, vec, maxBuffer);
    if (l.bytes > budget) continue;
    const v = vec === 'F32' ? 'v in f32 (exact)' : `v in ${vec.toLowerCase()} (θ(α) within ${vec.toLowerCase()} rounding of α·v)`;
    return {
      ...common,
      strategy: 'resident',
      vectorDtype: vec,
      bytes: l.bytes,
      largestBufferBytes: l.largest,
      split: l.split,
      alphaGpuBytes: l.alphaGpuBytes,
      alphaReadBytes: 0,
      explanation: `target, ${v} and θ(α) in ${out.toLowerCase()} stay on the GPU (${formatBytes(l.bytes)}): a new α is one kernel pass.${blocksNote(l)}`,
    };
  }
  if (streaming.bytes <= budget) {
    const smallest = Math.min(...prefs.map((vec) => (vec === 'F32' ? exact : layout(plan.tensors, out, vec, maxBuffer)).bytes));
    return {
      ...common,
      strategy: 'streaming',
      vectorDtype: null,
      bytes: streaming.bytes,
      largestBufferBytes: streaming.largest,
      split: streaming.split,
      alphaGpuBytes: streaming.alphaGpuBytes,
      alphaReadBytes: streaming.alphaReadBytes,
      explanation: `target + v + θ(α) need ${formatBytes(smallest)}, more than the ${formatBytes(budget)} GPU budget: only θ(α) (${formatBytes(streaming.bytes)}) stays on the GPU and each new α re-reads the checkpoints (from the download cache once the weights are downloaded, else over the network).${blocksNote(streaming)}`,
    };
  }
  throw new StudioError(`The merged model needs ${formatBytes(streaming.bytes)} of GPU memory as ${out}, more than the ${formatBytes(budget)} budget; raise the budget if the GPU has the memory, or use a smaller model.`);
}

/**
 * Chunk length in elements: within the binding and buffer limits, at most 16M, no longer than the
 * largest tensor needs, and a multiple of 128 so every chunk of a 16-bit range starts 256-byte
 * aligned (storage-binding offsets must be).
 */
export function stagingChunk(limits: BufferLimits, largestElements: number): number {
  const bytes = maxWeightBufferBytes(limits);
  const cap = Math.min(16 * 1024 * 1024, Math.floor(bytes / 4), Math.ceil(largestElements / 128) * 128);
  return Math.max(128, cap - (cap % 128));
}
