import { StudioError } from '../errors.ts';
import { dtypeByteSize, type SupportedDtype } from '../safetensors/dtypes.ts';
import { chunkLabel, chunksOf, type Chunk, type ChunkSelection } from './chunks.ts';
import { convertDtype } from './half-float.ts';
import { readElements, type PlannedTensor } from './merge-plan.ts';
import { addStats, emptyStats, type ChunkStats, type TensorMerger } from './tensor-merger.ts';

/**
 * The merge executor: one loop that runs planned tensors chunk by chunk — ranged reads of the
 * inputs (prefetched a few chunks ahead, so reads overlap the merge), one merger call per merged
 * chunk (two in flight on the GPU, so uploads overlap compute), a cast for kept chunks — and
 * hands each result, in order, to a sink: the safetensors writer (stream-merge.ts), the GPU
 * buffers onnxruntime reads (resident-merge.ts) or host arrays (model/weights.ts).
 * Failures and cancellation are handled here once for every sink: in-flight work is drained,
 * the sink is told to `abort()`, and the error propagates (GPU failures arrive already typed
 * from gpu-dispatch.ts). Host memory holds a few chunks, whatever the model size.
 */

export interface VectorStats {
  elements: number;
  /** ‖v‖₂ */
  normV: number;
  /** ‖θ_target‖₂ over the same elements (null for a vector: there is no target). */
  normTarget: number | null;
  /** ‖v‖₂ / ‖θ_target‖₂ */
  ratio: number | null;
  /** cos(v, θ_target − θ_SFT): does the target already point where RL moved the SFT model? */
  cosine: number | null;
  /** Fraction of |v_i| ≤ NEAR_ZERO_THRESHOLD. */
  nearZeroFraction: number;
}

export interface TensorReport {
  name: string;
  nan: number;
  inf: number;
  stats?: VectorStats;
}

export interface MergeProgress {
  tensor: string;
  tensorsDone: number;
  tensorsTotal: number;
  bytesDone: number;
  bytesTotal: number;
}

/** The inputs read for one chunk (raw bytes in their stored dtypes). */
export interface ChunkInputs {
  target?: Uint8Array;
  sft?: Uint8Array;
  rl?: Uint8Array;
}

export interface MergeSink {
  /**
   * A GPU range to merge chunk `c` straight into (resident buffers): the merger then returns no
   * bytes. Needs a GPU merger on the same device. Absent: the output bytes come to `write`.
   */
  destination?(c: Chunk): GPUBufferBinding;
  /** Each chunk's output in tensor and element order; `inputs` are the bytes the chunk was made from. */
  write(c: Chunk, bytes: Uint8Array, inputs: ChunkInputs): Promise<void> | void;
  /** Every chunk written: publish (commit files, …). A failure here still aborts the sink. */
  finish?(report: ExecutionReport): Promise<void>;
  /** The run failed or was cancelled: remove whatever was written. Called at most once. */
  abort?(): Promise<void>;
}

export interface ExecuteOptions {
  tensors: readonly PlannedTensor[];
  /** Computes merged chunks; not needed when only kept parts are run. */
  merger?: TensorMerger;
  /** Default: the merger's chunk size. */
  chunkElements?: number;
  /** merge: θ_target + α·v; vector: v = θ_RL − θ_SFT (α ignored). */
  compute: 'merge' | 'vector';
  alpha: number;
  /** Which parts of each tensor are produced. */
  parts: ChunkSelection;
  /** Also read the target of merged chunks in vector mode (the resident sink keeps it). Default: compute === 'merge'. */
  readTarget?: boolean;
  /** Output dtype of a chunk; default the planned dtype. */
  outDtype?: (c: Chunk) => SupportedDtype;
  /**
   * false: kept chunks reach the sink as the target's stored bytes, uncast (the host-array sink
   * decodes them straight into its float32 arrays, NaN payloads and all). Default true.
   */
  castKept?: boolean;
  /** Accumulate vector statistics of merged chunks. */
  stats?: boolean;
  /** false: a statistics-only pass, the merger produces no bytes. Default true. */
  output?: boolean;
  sink: MergeSink;
  signal?: AbortSignal;
  onProgress?: (p: MergeProgress) => void;
  /** Chunks whose reads are in flight ahead of the one being merged (default 2). */
  prefetch?: number;
}

export interface ExecutionReport {
  tensors: TensorReport[];
  /** Over every merged element of the run (with `stats`). */
  total?: VectorStats;
  bytesRead: number;
  seconds: number;
  /** Largest number of input+output bytes held by the pipeline at once. */
  peakBufferedBytes: number;
}

export class MergeCancelledError extends StudioError {
  constructor() {
    super('The merge was cancelled; nothing was saved.');
  }
}

export function finishStats(s: ChunkStats): VectorStats {
  const normV = Math.sqrt(s.sumV2);
  const normTarget = Math.sqrt(s.sumT2);
  return {
    elements: s.count,
    normV,
    normTarget,
    ratio: normTarget > 0 ? normV / normTarget : null,
    cosine: s.sumV2 > 0 && s.sumD2 > 0 ? s.sumVD / Math.sqrt(s.sumV2 * s.sumD2) : null,
    nearZeroFraction: s.count ? s.nearZero / s.count : 0,
  };
}

/**
 * Promise.all that settles only when every promise has: a failed read must not leave its sibling
 * reads running after the executor has reported the failure (and the caller torn things down).
 */
async function allOrFirstError<T extends readonly unknown[]>(ps: T): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  const settled = await Promise.allSettled(ps);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value) as { -readonly [K in keyof T]: Awaited<T[K]> };
}

/** Exponent bits all ones: NaN (mantissa ≠ 0) or ±Inf (mantissa 0), per dtype's bit layout. */
const NON_FINITE_BITS: Record<SupportedDtype, { exponent: number; mantissa: number }> = {
  F32: { exponent: 0x7f800000, mantissa: 0x007fffff },
  F16: { exponent: 0x7c00, mantissa: 0x03ff },
  BF16: { exponent: 0x7f80, mantissa: 0x007f },
};

/** NaN and ±Inf among `count` little-endian values of `dtype` in `bytes`, from their bits (no decode). */
export function countNonFinite(bytes: Uint8Array, dtype: SupportedDtype, count: number): { nan: number; inf: number } {
  const size = dtypeByteSize(dtype)!;
  // A typed view needs an aligned offset; a chunk sliced from a read may not have one.
  const aligned = bytes.byteOffset % size === 0 ? bytes : bytes.slice(0, count * size);
  const words = size === 4 ? new Uint32Array(aligned.buffer, aligned.byteOffset, count) : new Uint16Array(aligned.buffer, aligned.byteOffset, count);
  const { exponent, mantissa } = NON_FINITE_BITS[dtype];
  let nan = 0;
  let inf = 0;
  for (let i = 0; i < count; i++) {
    const w = words[i];
    if ((w & exponent) !== exponent) continue;
    if (w & mantissa) nan++;
    else inf++;
  }
  return { nan, inf };
}

const inputBytes = (i: ChunkInputs) => (i.target?.length ?? 0) + (i.sft?.length ?? 0) + (i.rl?.length ?? 0);

interface Computed {
  bytes: Uint8Array;
  nan: number;
  inf: number;
  stats?: ChunkStats;
}

export async function executeMerge(o: ExecuteOptions): Promise<ExecutionReport> {
  const started = performance.now();
  const { merger, sink } = o;
  const chunk = o.chunkElements ?? merger?.chunkElements;
  if (chunk === undefined) throw new Error('executeMerge: give a merger or chunkElements');
  if (o.parts.merged && !merger) throw new Error('executeMerge: merged chunks need a merger');
  if (sink.destination && merger && merger.kind !== 'gpu') throw new Error('executeMerge: a GPU-resident sink needs a GPU merger');
  const prefetch = Math.max(1, o.prefetch ?? 2);
  const readTarget = o.readTarget ?? o.compute === 'merge';
  const output = o.output !== false;
  const outDtype = o.outDtype ?? ((c: Chunk) => c.tensor.dtype);

  const reports: TensorReport[] = o.tensors.map((t) => ({ name: t.name, nan: 0, inf: 0 }));
  const tensorStats = o.tensors.map(() => emptyStats());
  const total = emptyStats();
  // Totals over the chunks this run produces (a statistics-only pass visits merged parts only).
  let tensorsTotal = 0;
  let bytesTotal = 0;
  for (const c of chunksOf(o.tensors, chunk, o.parts)) {
    if (c.last) tensorsTotal++;
    bytesTotal += c.count * dtypeByteSize(outDtype(c))!;
  }
  let bytesDone = 0;
  let bytesRead = 0;
  let inFlight = 0;
  let peak = 0;
  let tensorsDone = 0;

  const read = async (c: Chunk): Promise<ChunkInputs> => {
    const t = c.tensor;
    if (c.count === 0) return {};
    if (c.kind === 'kept') return { target: await readElements(t.target!, c.start, c.count) };
    const [target, sft, rl] = await allOrFirstError([
      readTarget && t.target ? readElements(t.target, c.start, c.count) : undefined,
      readElements(t.sft!, c.start, c.count),
      readElements(t.rl!, c.start, c.count),
    ]);
    return { target, sft, rl };
  };

  const compute = (c: Chunk, inputs: ChunkInputs): Promise<Computed> => {
    const t = c.tensor;
    if (c.count === 0) return Promise.resolve({ bytes: new Uint8Array(0), nan: 0, inf: 0 });
    if (c.kind === 'kept') {
      if (o.castKept === false) return Promise.resolve({ bytes: inputs.target!, nan: 0, inf: 0 });
      // A kept tensor is written as it is, NaN and all: counted here, once over the bytes written
      // (a cast to f16 can also turn a large value into Inf), so the summary's nonFinite is whole.
      const dtype = outDtype(c);
      const bytes = convertDtype(inputs.target!, t.target!.dtype, dtype, c.count);
      return Promise.resolve({ bytes, ...countNonFinite(bytes, dtype, c.count) });
    }
    return merger!.mergeChunk({
      target: o.compute === 'merge' && inputs.target ? { dtype: t.target!.dtype, bytes: inputs.target } : undefined,
      sft: { dtype: t.sft!.dtype, bytes: inputs.sft! },
      rl: { dtype: t.rl!.dtype, bytes: inputs.rl! },
      count: c.count,
      alpha: o.alpha,
      outDtype: outDtype(c),
      label: chunkLabel(c),
      stats: o.stats,
      output,
      into: sink.destination?.(c),
    });
  };

  const chunks = chunksOf(o.tensors, chunk, o.parts);
  const reading: Array<{ chunk: Chunk; inputs: Promise<ChunkInputs> }> = [];
  const refill = () => {
    while (reading.length < prefetch) {
      const next = chunks.next();
      if (next.done) return;
      const inputs = read(next.value).then((i) => {
        inFlight += inputBytes(i);
        peak = Math.max(peak, inFlight);
        return i;
      });
      inputs.catch(() => {}); // surfaced when awaited below
      reading.push({ chunk: next.value, inputs });
    }
  };
  // Chunks being merged: two at once on the GPU (upload and dispatch of one overlap the compute
  // and readback of the other), one on the CPU. Results reach the sink in order.
  const computeDepth = merger?.kind === 'gpu' ? 2 : 1;
  const computing: Array<{ chunk: Chunk; inputs: ChunkInputs; result: Promise<Computed> }> = [];
  const startNext = async () => {
    const { chunk: c, inputs: pending } = reading.shift()!;
    refill();
    const inputs = await pending;
    bytesRead += inputBytes(inputs);
    const result = compute(c, inputs);
    result.catch(() => {}); // surfaced when awaited in order below
    computing.push({ chunk: c, inputs, result });
  };

  const report = (): ExecutionReport => ({
    tensors: reports,
    total: o.stats ? finishStats(total) : undefined,
    bytesRead,
    seconds: (performance.now() - started) / 1000,
    peakBufferedBytes: peak,
  });

  try {
    refill();
    while (reading.length || computing.length) {
      if (o.signal?.aborted) throw new MergeCancelledError();
      if (reading.length && computing.length < computeDepth) {
        await startNext();
        continue;
      }
      const { chunk: c, inputs, result } = computing.shift()!;
      const res = await result;
      const r = reports[c.index];
      r.nan += res.nan;
      r.inf += res.inf;
      if (res.stats) addStats(tensorStats[c.index], res.stats);
      peak = Math.max(peak, inFlight + res.bytes.length);
      await sink.write(c, res.bytes, inputs);
      inFlight -= inputBytes(inputs);
      bytesDone += c.count * dtypeByteSize(outDtype(c))!;
      if (c.last) {
        tensorsDone++;
        if (o.stats && c.tensor.mergedElements > 0) {
          r.stats = finishStats(tensorStats[c.index]);
          addStats(total, tensorStats[c.index]);
        }
      }
      o.onProgress?.({ tensor: c.tensor.name, tensorsDone, tensorsTotal, bytesDone, bytesTotal });
    }
    if (o.signal?.aborted) throw new MergeCancelledError();
    await sink.finish?.(report());
  } catch (e) {
    // Nothing may touch the sink after abort(): let reads and merges in flight settle first.
    await Promise.allSettled([...reading.map((x) => x.inputs), ...computing.map((x) => x.result)]);
    await sink.abort?.().catch(() => {});
    throw e;
  }
  return report();
}
