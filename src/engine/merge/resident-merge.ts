import { StudioError, formatBytes } from '../errors.ts';
import { dtypeByteSize, type SupportedDtype } from '../safetensors/dtypes.ts';
import { readElements, type MergePlan, type PlannedTensor, type TensorRef } from './merge-plan.ts';
import { writeBufferPadded } from '../gpu/write-buffer.ts';
import { convertDtype } from './half-float.ts';
import { encodeMerge, MERGE_PARAMS_BYTES } from './task-vector-kernel.ts';

/**
 * θ(α) kept on the GPU for α exploration: one output buffer per tensor (what onnxruntime-web
 * takes as a weight input), refreshed for a new α by kernel passes only.
 *
 * Two strategies, picked by `planResidency` from what fits:
 * - `resident`: the target and v = θ_RL − θ_SFT stay in GPU buffers next to the output; a new α
 *   is one pass of shaders/task-vector-merge.wgsl (mode 2) over them — no reads at all.
 * - `streaming` (the fallback when target + v do not fit the budget): only the output stays;
 *   a new α re-reads the three checkpoints chunk by chunk (from the local cache) and re-merges
 *   into the output buffers. Correct, bounded in memory, and as slow as reading the inputs.
 * Either way the output bits equal the streaming merge with the same output dtype.
 */

export type ResidencyStrategy = 'resident' | 'streaming';

export interface ResidencyOptions {
  /** Output dtype of the resident weights: F32 (default), or F16 where the ORT graph computes in f16. */
  outDtype?: 'F32' | 'F16';
  /** v is kept in F32 (exact, default) or F16 (half the memory; merges within f16 rounding of v). */
  vectorDtype?: 'F32' | 'F16';
  /** GPU memory the studio may use for weights. WebGPU cannot report free memory, so the user sets it. */
  budgetBytes?: number;
}

export const DEFAULT_RESIDENT_BUDGET = 4 * 1024 ** 3;

export interface ResidencyPlan {
  strategy: ResidencyStrategy;
  /** Bytes of GPU buffers the strategy allocates (excluding small staging). */
  bytes: number;
  /** What the resident strategy would need (for the message). */
  residentBytes: number;
  outputBytes: number;
  /** A sentence for the UI / CLI. */
  explanation: string;
}

const pad4 = (n: number) => Math.ceil(n / 4) * 4;
const size = (d: SupportedDtype) => dtypeByteSize(d)!;

/** Decides resident vs streaming; throws when even the outputs alone cannot be held. */
export function planResidency(plan: MergePlan, limits: { maxBufferSize: number; maxStorageBufferBindingSize?: number }, o: ResidencyOptions = {}): ResidencyPlan {
  const out = o.outDtype ?? 'F32';
  const vec = o.vectorDtype ?? 'F32';
  const budget = o.budgetBytes ?? DEFAULT_RESIDENT_BUDGET;
  let outputBytes = 0;
  let residentBytes = 0;
  let biggest: PlannedTensor | undefined;
  for (const t of plan.tensors) {
    const ob = pad4(t.elements * size(out));
    outputBytes += ob;
    residentBytes += ob + (t.mergedElements ? pad4(t.elements * size(t.target!.dtype)) + pad4(t.mergedElements * size(vec)) : 0);
    if (!biggest || t.elements > biggest.elements) biggest = t;
  }
  // Three staging buffers of one chunk each (f32-sized) come on top, in both strategies.
  const staging = 3 * 4 * stagingChunk(limits.maxStorageBufferBindingSize ?? 1024 ** 3, biggest?.elements ?? 0);
  outputBytes += staging;
  residentBytes += staging;
  const biggestBytes = biggest ? biggest.elements * 4 : 0;
  if (biggest && biggestBytes > limits.maxBufferSize) {
    throw new StudioError(
      `${biggest.name} needs a ${formatBytes(biggestBytes)} GPU buffer but this device allows at most ${formatBytes(limits.maxBufferSize)} per buffer; the merged model cannot be held on this GPU.`,
    );
  }
  if (residentBytes <= budget) {
    return { strategy: 'resident', bytes: residentBytes, residentBytes, outputBytes, explanation: `target, v and θ(α) stay on the GPU (${formatBytes(residentBytes)}): a new α is one kernel pass.` };
  }
  if (outputBytes <= budget) {
    return {
      strategy: 'streaming',
      bytes: outputBytes,
      residentBytes,
      outputBytes,
      explanation: `target + v + θ(α) need ${formatBytes(residentBytes)}, more than the ${formatBytes(budget)} GPU budget: only θ(α) (${formatBytes(outputBytes)}) stays on the GPU and each new α re-reads the checkpoints (from the download cache once the weights are downloaded, else over the network).`,
    };
  }
  throw new StudioError(`The merged model needs ${formatBytes(outputBytes)} of GPU memory as ${out}, more than the ${formatBytes(budget)} budget; raise the budget if the GPU has the memory, or use a smaller model.`);
}

/**
 * Chunk length in elements: within the binding limit, at most 16M, no longer than the largest
 * tensor needs, and a multiple of 128 so 16-bit ranges stay 256-byte aligned (storage offsets).
 */
function stagingChunk(maxStorageBufferBindingSize: number, largestElements: number): number {
  const cap = Math.min(16 * 1024 * 1024, Math.floor(maxStorageBufferBindingSize / 4), Math.ceil(largestElements / 128) * 128);
  return Math.max(128, cap - (cap % 128));
}

interface Slot {
  tensor: PlannedTensor;
  out: GPUBuffer;
  target?: GPUBuffer;
  v?: GPUBuffer;
}

export class ResidentMerge {
  alpha: number | undefined;
  private constructor(
    private readonly device: GPUDevice,
    readonly plan: MergePlan,
    readonly residency: ResidencyPlan,
    private readonly slots: Slot[],
    private readonly outDtype: 'F32' | 'F16',
    private readonly vectorDtype: 'F32' | 'F16',
    private readonly chunk: number,
    private readonly staging: { a: GPUBuffer; b: GPUBuffer; c: GPUBuffer; counters: GPUBuffer; counts: GPUBuffer },
  ) {}

  /** Allocates the buffers and, for `resident`, fills target and v (one pass over the inputs). */
  static async create(device: GPUDevice, plan: MergePlan, o: ResidencyOptions = {}, onProgress?: (done: number, total: number) => void): Promise<ResidentMerge> {
    const residency = planResidency(plan, device.limits, o);
    const outDtype = o.outDtype ?? 'F32';
    const odd = plan.tensors.find((t) => t.mergedElements % 2 === 1 && t.mergedElements < t.elements);
    if (odd && (outDtype === 'F16' || o.vectorDtype === 'F16')) {
      // A 16-bit word would straddle merged and kept elements; never seen in real models (even hidden sizes).
      throw new StudioError(`${odd.name}: an odd number of merged elements (${odd.mergedElements}) cannot be kept resident in a 16-bit dtype; use F32.`);
    }
    const vectorDtype = o.vectorDtype ?? 'F32';
    const chunk = stagingChunk(device.limits.maxStorageBufferBindingSize, Math.max(0, ...plan.tensors.map((t) => t.elements)));
    const S = GPUBufferUsage;
    const mk = (label: string, bytes: number, usage: number) => device.createBuffer({ label, size: Math.max(4, pad4(bytes)), usage });
    device.pushErrorScope('out-of-memory');
    const staging = {
      a: mk('resident staging a', chunk * 4, S.STORAGE | S.COPY_DST),
      b: mk('resident staging b', chunk * 4, S.STORAGE | S.COPY_DST),
      c: mk('resident staging c', chunk * 4, S.STORAGE | S.COPY_DST),
      counters: mk('resident non-finite', 16, S.STORAGE | S.COPY_SRC | S.COPY_DST),
      counts: mk('resident non-finite readback', 16, S.MAP_READ | S.COPY_DST),
    };
    const slots: Slot[] = plan.tensors.map((t) => ({
      tensor: t,
      out: mk(`θ(α) ${t.name}`, t.elements * size(outDtype), S.STORAGE | S.COPY_SRC | S.COPY_DST),
      ...(residency.strategy === 'resident' && t.mergedElements
        ? {
            target: mk(`target ${t.name}`, t.elements * size(t.target!.dtype), S.STORAGE | S.COPY_DST),
            v: mk(`v ${t.name}`, t.mergedElements * size(vectorDtype), S.STORAGE | S.COPY_DST),
          }
        : {}),
    }));
    const rm = new ResidentMerge(device, plan, residency, slots, outDtype, vectorDtype, chunk, staging);
    const oom = await device.popErrorScope();
    if (oom) {
      rm.destroy();
      throw new StudioError(
        `The GPU ran out of memory allocating ${formatBytes(residency.bytes)} for the merged model (${oom.message}); lower the GPU memory budget in Settings so each α streams from the checkpoints, or use a smaller model.`,
      );
    }
    try {
      await rm.fill(onProgress);
    } catch (e) {
      rm.destroy();
      throw e;
    }
    return rm;
  }

  /** The weight buffers, by tensor name, for onnxruntime-web (`Tensor.fromGpuBuffer`). */
  get outputs(): Map<string, { buffer: GPUBuffer; dtype: 'F32' | 'F16'; shape: number[] }> {
    return new Map(this.slots.map((s) => [s.tensor.name, { buffer: s.out, dtype: this.outDtype, shape: s.tensor.shape }]));
  }

  private read(r: TensorRef, start: number, count: number): Promise<Uint8Array> {
    return readElements(r, start, count);
  }

  private upload(buf: GPUBuffer, offset: number, bytes: Uint8Array) {
    writeBufferPadded(this.device.queue, buf, offset, bytes);
  }

  /** Kept (non-merged) elements are written once, cast to the output dtype on the CPU. */
  private async fill(onProgress?: (done: number, total: number) => void) {
    const total = this.slots.length;
    let done = 0;
    for (const s of this.slots) {
      const t = s.tensor;
      for (let start = t.mergedElements; start < t.elements; start += this.chunk) {
        const count = Math.min(this.chunk, t.elements - start);
        const raw = await this.read(t.target!, start, count);
        this.upload(s.out, start * size(this.outDtype), convertDtype(raw, t.target!.dtype, this.outDtype, count));
      }
      if (s.target && s.v) {
        for (let start = 0; start < t.elements; start += this.chunk) {
          const count = Math.min(this.chunk, t.elements - start);
          this.upload(s.target, start * size(t.target!.dtype), await this.read(t.target!, start, count));
        }
        // v = rl − sft on the GPU, written straight into the resident v buffer.
        for (let start = 0; start < t.mergedElements; start += this.chunk) {
          const count = Math.min(this.chunk, t.mergedElements - start);
          const [sft, rl] = await Promise.all([this.read(t.sft!, start, count), this.read(t.rl!, start, count)]);
          this.upload(this.staging.b, 0, sft);
          this.upload(this.staging.c, 0, rl);
          await this.dispatch([{ mode: 'vector', count, tDtype: 'F32', sDtype: t.sft!.dtype, rDtype: t.rl!.dtype, outDtype: this.vectorDtype, target: this.staging.a, sft: this.staging.b, rl: this.staging.c, out: range(s.v, start, count, this.vectorDtype), label: `v ${t.name}` }], 0);
        }
      }
      onProgress?.(++done, total);
    }
  }

  /** Runs dispatches in one submit (each with its own params slot); returns the NaN/Inf counts. */
  private async dispatch(
    list: Array<{ mode: 'vector' | 'resident' | 'merge'; count: number; tDtype: SupportedDtype; sDtype: SupportedDtype; rDtype: SupportedDtype; outDtype: SupportedDtype; target: GPUBuffer | GPUBufferBinding; sft: GPUBuffer | GPUBufferBinding; rl: GPUBuffer | GPUBufferBinding; out: GPUBuffer | GPUBufferBinding; label: string }>,
    alpha: number,
  ): Promise<{ nan: number; inf: number }> {
    const slot = Math.max(MERGE_PARAMS_BYTES, this.device.limits.minUniformBufferOffsetAlignment);
    const params = this.device.createBuffer({ label: 'resident params', size: slot * Math.max(1, list.length), usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    this.device.queue.writeBuffer(this.staging.counters, 0, new Uint32Array(4));
    this.device.pushErrorScope('validation');
    this.device.pushErrorScope('out-of-memory');
    const encoder = this.device.createCommandEncoder({ label: 'resident merge' });
    list.forEach((d, i) =>
      encodeMerge(this.device, encoder, {
        label: d.label,
        count: d.count,
        alpha,
        mode: d.mode,
        dtypes: { target: d.tDtype, sft: d.sDtype, rl: d.rDtype, out: d.outDtype },
        target: d.target,
        sft: d.sft,
        rl: d.rl,
        out: d.out,
        nonFinite: this.staging.counters,
        params,
        paramsOffset: i * slot,
      }),
    );
    encoder.copyBufferToBuffer(this.staging.counters, 0, this.staging.counts, 0, 16);
    this.device.queue.submit([encoder.finish()]);
    const [oomScope, invalidScope] = [this.device.popErrorScope(), this.device.popErrorScope()];
    const [oom, invalid] = await Promise.all([oomScope, invalidScope]);
    params.destroy();
    if (oom || invalid) throw new StudioError(`GPU ${oom ? 'out of memory' : 'validation error'} in the resident merge: ${(oom ?? invalid)!.message}`);
    await this.staging.counts.mapAsync(GPUMapMode.READ);
    const c = new Uint32Array(this.staging.counts.getMappedRange().slice(0));
    this.staging.counts.unmap();
    return { nan: c[0], inf: c[1] };
  }

  /** θ(α) into the output buffers. `resident`: kernel passes only; `streaming`: re-reads the inputs. */
  async setAlpha(alpha: number): Promise<{ seconds: number; nan: number; inf: number }> {
    if (!Number.isFinite(alpha)) throw new StudioError(`α must be a finite number, got ${alpha}.`);
    const t0 = performance.now();
    // Until this pass completes the buffers hold a mix of two α: no α is claimed meanwhile.
    this.alpha = undefined;
    let nan = 0;
    let inf = 0;
    if (this.residency.strategy === 'resident') {
      const list = [];
      for (const s of this.slots) {
        const t = s.tensor;
        for (let start = 0; start < t.mergedElements; start += this.chunk) {
          const count = Math.min(this.chunk, t.mergedElements - start);
          list.push({
            mode: 'resident' as const,
            count,
            tDtype: t.target!.dtype,
            sDtype: 'F32' as const,
            rDtype: this.vectorDtype,
            outDtype: this.outDtype,
            target: range(s.target!, start, count, t.target!.dtype),
            sft: this.staging.b,
            rl: range(s.v!, start, count, this.vectorDtype),
            out: range(s.out, start, count, this.outDtype),
            label: t.name,
          });
        }
      }
      // Submit in groups so one command buffer never grows without bound on huge models.
      for (let i = 0; i < list.length; i += 512) {
        const r = await this.dispatch(list.slice(i, i + 512), alpha);
        nan += r.nan;
        inf += r.inf;
      }
    } else {
      for (const s of this.slots) {
        const t = s.tensor;
        for (let start = 0; start < t.mergedElements; start += this.chunk) {
          const count = Math.min(this.chunk, t.mergedElements - start);
          const [tb, sb, rb] = await Promise.all([this.read(t.target!, start, count), this.read(t.sft!, start, count), this.read(t.rl!, start, count)]);
          this.upload(this.staging.a, 0, tb);
          this.upload(this.staging.b, 0, sb);
          this.upload(this.staging.c, 0, rb);
          const r = await this.dispatch(
            [{ mode: 'merge', count, tDtype: t.target!.dtype, sDtype: t.sft!.dtype, rDtype: t.rl!.dtype, outDtype: this.outDtype, target: this.staging.a, sft: this.staging.b, rl: this.staging.c, out: range(s.out, start, count, this.outDtype), label: t.name }],
            alpha,
          );
          nan += r.nan;
          inf += r.inf;
        }
      }
    }
    this.alpha = alpha;
    return { seconds: (performance.now() - t0) / 1000, nan, inf };
  }

  /** One output tensor's bytes (tests, exports); a copy through a mapped buffer. */
  async readOutput(name: string): Promise<Uint8Array> {
    const s = this.slots.find((x) => x.tensor.name === name);
    if (!s) throw new StudioError(`no resident tensor "${name}"`);
    const bytes = s.tensor.elements * size(this.outDtype);
    const rb = this.device.createBuffer({ size: pad4(bytes), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const enc = this.device.createCommandEncoder();
    enc.copyBufferToBuffer(s.out, 0, rb, 0, pad4(bytes));
    this.device.queue.submit([enc.finish()]);
    await rb.mapAsync(GPUMapMode.READ);
    const out = new Uint8Array(rb.getMappedRange().slice(0, bytes));
    rb.destroy();
    return out;
  }

  destroy(): void {
    for (const s of this.slots) for (const b of [s.out, s.target, s.v]) b?.destroy();
    for (const b of Object.values(this.staging)) b.destroy();
  }
}

/** A binding over elements [start, start+count) of a buffer holding `dtype` values (padded to 4 bytes). */
function range(buffer: GPUBuffer, start: number, count: number, dtype: SupportedDtype): GPUBufferBinding {
  const offset = start * size(dtype);
  return { buffer, offset, size: Math.min(pad4(count * size(dtype)), buffer.size - offset) };
}
