import { StudioError } from '../errors.ts';
import { dtypeByteSize, type SupportedDtype } from '../safetensors/dtypes.ts';
import { safetensorsHeaderBytes, type HeaderEntry } from '../safetensors/serialize-safetensors.ts';
import { convertDtype } from './half-float.ts';
import { INDEX_FILE, readElements, shardIndexJson, type MergePlan, type PlannedTensor } from './merge-plan.ts';
import type { OutputFolder } from './output/output-folder.ts';
import { addStats, emptyStats, type ChunkResult, type ChunkStats, type TensorMerger } from './tensor-merger.ts';

/**
 * Runs a MergePlan tensor by tensor and chunk by chunk: ranged reads of the three inputs
 * (prefetched a few chunks ahead, so reads overlap the merge), one merger call per chunk (two
 * in flight on the GPU, so uploads overlap compute), and the output bytes streamed straight into
 * safetensors files. Host memory holds a few chunks of inputs and outputs, whatever the model size.
 */

export interface VectorStats {
  elements: number;
  /** ‖v‖₂ */
  normV: number;
  /** ‖θ_target‖₂ over the same elements (0 without a target). */
  normTarget: number;
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

export interface MergeRunOptions {
  plan: MergePlan;
  merger: TensorMerger;
  /** Ignored for a vector. */
  alpha: number;
  /** Absent: a statistics-only pass, nothing written. */
  out?: OutputFolder;
  /** config.json, tokenizer files, recipe …: written after the weights, before the commit. */
  extraFiles?: (report: MergeReport) => Promise<{ name: string; bytes: Uint8Array }[]>;
  stats?: boolean;
  /** Safetensors `__metadata__` besides `{"format": "pt"}`. */
  metadata?: Record<string, string>;
  signal?: AbortSignal;
  onProgress?: (p: MergeProgress) => void;
  /** Chunks whose reads are in flight ahead of the one being merged (default 2). */
  prefetch?: number;
}

export interface MergeReport {
  tensors: TensorReport[];
  /** Over every merged element of the model. */
  total?: VectorStats;
  files: string[];
  bytesWritten: number;
  bytesRead: number;
  seconds: number;
  /** Largest number of input+output bytes held by the pipeline at once. */
  peakBufferedBytes: number;
}

interface Job {
  tensor: PlannedTensor;
  index: number;
  start: number;
  count: number;
  /** merge: α·v; copy: the target's elements (cast to the output dtype). */
  kind: 'merge' | 'copy';
  last: boolean;
}

interface Inputs {
  target?: Uint8Array;
  sft?: Uint8Array;
  rl?: Uint8Array;
  bytes: number;
}

/**
 * The chunks of the plan in output order. Without copies (a statistics-only pass) only merged
 * parts are produced, and `last` marks each tensor's last *produced* part.
 */
function* jobsOf(plan: MergePlan, chunk: number, copies: boolean): Generator<Job> {
  let index = 0;
  for (const file of plan.files) {
    for (const t of file.tensors) {
      const parts: Array<Omit<Job, 'last'>> = [];
      for (let s = 0; s < t.mergedElements; s += chunk) parts.push({ tensor: t, index, start: s, count: Math.min(chunk, t.mergedElements - s), kind: 'merge' });
      if (copies) {
        for (let s = t.mergedElements; s < t.elements; s += chunk) parts.push({ tensor: t, index, start: s, count: Math.min(chunk, t.elements - s), kind: 'copy' });
        if (parts.length === 0) parts.push({ tensor: t, index, start: 0, count: 0, kind: 'copy' });
      }
      for (let i = 0; i < parts.length; i++) yield { ...parts[i], last: i === parts.length - 1 };
      index++;
    }
  }
}

const sizeOf = (d: SupportedDtype) => dtypeByteSize(d)!;

async function readInputs(job: Job, needTarget: boolean): Promise<Inputs> {
  const t = job.tensor;
  if (job.kind === 'copy') {
    const target = job.count && t.target ? await readElements(t.target, job.start, job.count) : new Uint8Array(0);
    return { target, bytes: target.length };
  }
  const [target, sft, rl] = await Promise.all([
    needTarget && t.target ? readElements(t.target, job.start, job.count) : undefined,
    readElements(t.sft!, job.start, job.count),
    readElements(t.rl!, job.start, job.count),
  ]);
  return { target, sft, rl, bytes: (target?.length ?? 0) + sft.length + rl.length };
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

export async function runMerge(o: MergeRunOptions): Promise<MergeReport> {
  const { plan, merger, out } = o;
  const started = performance.now();
  const prefetch = Math.max(1, o.prefetch ?? 2);
  const writing = out !== undefined;
  const needTarget = plan.mode === 'merge';
  const reports: TensorReport[] = plan.tensors.map((t) => ({ name: t.name, nan: 0, inf: 0 }));
  const tensorStats = plan.tensors.map(() => emptyStats());
  const total = emptyStats();
  const bytesTotal = plan.tensors.reduce((a, t) => a + t.byteLength, 0);
  let bytesDone = 0;
  let bytesRead = 0;
  let bytesWritten = 0;
  let inFlight = 0;
  let peak = 0;
  let tensorsDone = 0;

  const jobs = jobsOf(plan, merger.chunkElements, writing);
  // A statistics-only pass visits only the tensors that receive α·v.
  const tensorsTotal = writing ? plan.tensors.length : plan.tensors.filter((t) => t.mergedElements > 0).length;
  const queue: Array<{ job: Job; inputs: Promise<Inputs> }> = [];
  const refill = () => {
    while (queue.length < prefetch) {
      const next = jobs.next();
      if (next.done) return;
      const job = next.value;
      const inputs = readInputs(job, needTarget).then((i) => {
        inFlight += i.bytes;
        peak = Math.max(peak, inFlight);
        return i;
      });
      inputs.catch(() => {}); // surfaced when awaited below
      queue.push({ job, inputs });
    }
  };

  const files: string[] = [];
  let current: { name: string; file: Awaited<ReturnType<OutputFolder['create']>> } | undefined;
  const fileOf = new Map<PlannedTensor, string>();
  for (const f of plan.files) for (const t of f.tensors) fileOf.set(t, f.name);
  const headerFor = (name: string) => {
    const f = plan.files.find((x) => x.name === name)!;
    let offset = 0;
    const entries: HeaderEntry[] = f.tensors.map((t) => {
      const e: HeaderEntry = { name: t.name, dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.byteLength] };
      offset += t.byteLength;
      return e;
    });
    return safetensorsHeaderBytes(entries, { format: 'pt', ...o.metadata });
  };

  try {
    refill();
    // Chunks being merged: two at once on the GPU (upload and dispatch of one overlap the
    // compute and readback of the other), one on the CPU. Results are written in order.
    const computeDepth = merger.kind === 'gpu' ? 2 : 1;
    const computing: Array<{ job: Job; inputs: Inputs; result: Promise<ChunkResult | Uint8Array> }> = [];
    const start = async () => {
      const { job, inputs: pending } = queue.shift()!;
      refill();
      const inputs = await pending;
      bytesRead += inputs.bytes;
      const t = job.tensor;
      const result: Promise<ChunkResult | Uint8Array> =
        job.count === 0
          ? Promise.resolve(new Uint8Array(0))
          : job.kind === 'copy'
          ? Promise.resolve(convertDtype(inputs.target!, t.target!.dtype, t.dtype, job.count))
          : merger.mergeChunk({
              target: needTarget && inputs.target ? { dtype: t.target!.dtype, bytes: inputs.target } : undefined,
              sft: { dtype: t.sft!.dtype, bytes: inputs.sft! },
              rl: { dtype: t.rl!.dtype, bytes: inputs.rl! },
              count: job.count,
              alpha: o.alpha,
              outDtype: t.dtype,
              label: job.start === 0 && job.count === t.mergedElements ? t.name : `${t.name} [${job.start}, ${job.start + job.count})`,
              stats: o.stats,
              output: writing,
            });
      result.catch(() => {}); // surfaced when awaited in order below
      computing.push({ job, inputs, result });
    };
    while (queue.length || computing.length) {
      if (o.signal?.aborted) throw new StudioError('The merge was cancelled; nothing was saved.');
      if (queue.length && computing.length < computeDepth) {
        await start();
        continue;
      }
      const { job, inputs, result } = computing.shift()!;
      const t = job.tensor;
      const res = await result;
      let bytes: Uint8Array;
      if (res instanceof Uint8Array) {
        bytes = res;
      } else {
        bytes = res.bytes;
        reports[job.index].nan += res.nan;
        reports[job.index].inf += res.inf;
        if (res.stats) addStats(tensorStats[job.index], res.stats);
      }
      peak = Math.max(peak, inFlight + bytes.length);
      if (writing) {
        const fileName = fileOf.get(t)!;
        if (current?.name !== fileName) {
          await current?.file.close();
          current = { name: fileName, file: await out.create(fileName) };
          files.push(fileName);
          const header = headerFor(fileName);
          await current.file.write(header);
          bytesWritten += header.length;
        }
        await current.file.write(bytes);
        bytesWritten += bytes.length;
      }
      inFlight -= inputs.bytes;
      bytesDone += job.count * sizeOf(t.dtype);
      if (job.last) {
        tensorsDone++;
        if (o.stats && t.mergedElements > 0) {
          reports[job.index].stats = finishStats(tensorStats[job.index]);
          addStats(total, tensorStats[job.index]);
        }
      }
      o.onProgress?.({ tensor: t.name, tensorsDone, tensorsTotal, bytesDone, bytesTotal });
    }
    if (writing) {
      await current?.file.close();
      current = undefined;
      const extra = [
        ...(plan.sharded ? [{ name: INDEX_FILE, bytes: new TextEncoder().encode(shardIndexJson(plan)) }] : []),
        ...((await o.extraFiles?.(report())) ?? []),
      ];
      for (const x of extra) {
        const f = await out.create(x.name);
        await f.write(x.bytes);
        await f.close();
        files.push(x.name);
      }
      await out.commit();
    }
  } catch (e) {
    if (writing) await out.abort().catch(() => {});
    throw e;
  }
  return report();

  function report(): MergeReport {
    return {
    tensors: reports,
    total: o.stats ? finishStats(total) : undefined,
    files,
    bytesWritten,
    bytesRead,
    seconds: (performance.now() - started) / 1000,
    peakBufferedBytes: peak,
    };
  }
}
