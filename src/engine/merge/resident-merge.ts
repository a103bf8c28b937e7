import { StudioError, formatBytes } from '../errors.ts';
import { rowBlockName, type RowBlock } from '../gpu/buffer-limits.ts';
import { writeBufferPadded } from '../gpu/write-buffer.ts';
import { dtypeByteSize, type SupportedDtype } from '../safetensors/dtypes.ts';
import { chunkLabel, chunksOf, type Chunk } from './chunks.ts';
import { submitGpu, watchDevice } from './gpu-dispatch.ts';
import { GpuTensorMerger } from './gpu-tensor-merger.ts';
import { executeMerge, MergeCancelledError } from './merge-executor.ts';
import type { MergePlan, PlannedTensor } from './merge-plan.ts';
import { planResidency, stagingChunk, type ResidencyOptions, type ResidencyPlan, type VectorDtype } from './plan-residency.ts';
import { encodeMerge, MERGE_PARAMS_BYTES } from './task-vector-kernel.ts';

/**
 * θ(α) kept on the GPU for α exploration: one output buffer per tensor (what onnxruntime-web
 * takes as a weight input), refreshed for a new α by kernel passes only. A tensor larger than one
 * buffer may be on this device is held as row blocks, one buffer each, merged like separate
 * tensors (their reads offset into the stored tensor): the graph takes each block as an input.
 *
 * Two strategies, picked by `planResidency` (plan-residency.ts) from what fits:
 * - `resident`: the target and v = θ_RL − θ_SFT stay in GPU buffers next to the output; a new α
 *   is one pass of shaders/task-vector-merge.wgsl (mode 2) over them — no reads at all.
 * - `streaming` (the fallback when target + v do not fit the budget): only the output stays;
 *   a new α re-reads the three checkpoints chunk by chunk (from the local cache) and re-merges
 *   into the output buffers. Correct, bounded in memory, and as slow as reading the inputs.
 * Either way the output bits equal the streaming merge with the same output dtype.
 *
 * Reading and merging go through the merge executor (merge-executor.ts) with these buffers as its
 * sink: the GPU merger writes each chunk straight into its range of a buffer here, never through
 * the host. The resident α pass reads nothing, so it only walks the same chunks (chunks.ts) and
 * submits through the same dispatch helper (gpu-dispatch.ts), which types every GPU failure.
 */

export { DEFAULT_RESIDENT_BUDGET, planResidency } from './plan-residency.ts';
export type { ResidencyOptions, ResidencyPlan, ResidencyStrategy, ResidencyTensor, VectorDtype } from './plan-residency.ts';

const pad4 = (n: number) => Math.ceil(n / 4) * 4;
const size = (d: SupportedDtype) => dtypeByteSize(d)!;

/**
 * The planned tensors as the buffers hold them: a split tensor becomes one tensor per row block,
 * named as the graph input of that block (rowBlockName), reading its rows of the stored tensors
 * (TensorRef.offset) and merged where its rows are. The merge executor walks these like any other.
 */
export function blockTensors(tensors: readonly PlannedTensor[], split: ResidencyPlan['split']): PlannedTensor[] {
  const byName = new Map(split.map((s) => [s.name, s.blocks]));
  return tensors.flatMap((t) => {
    const blocks = byName.get(t.name);
    if (!blocks) return [t];
    const rowElements = t.shape.slice(1).reduce((a, b) => a * b, 1);
    const at = <R extends PlannedTensor['target']>(r: R, startElement: number): R => (r ? { ...r, offset: (r.offset ?? 0) + startElement } : r);
    return blocks.map((b, i) => {
      const elements = b.rows * rowElements;
      const start = b.start * rowElements;
      return {
        ...t,
        name: rowBlockName(t.name, i),
        shape: [b.rows, ...t.shape.slice(1)],
        elements,
        byteLength: elements * size(t.dtype),
        target: at(t.target, start),
        sft: at(t.sft, start),
        rl: at(t.rl, start),
        mergedElements: Math.max(0, Math.min(elements, t.mergedElements - start)),
      };
    });
  });
}

/** Resident passes submitted per command buffer: one never grows without bound on huge models. */
const PASSES_PER_SUBMIT = 512;

interface Slot {
  tensor: PlannedTensor;
  out: GPUBuffer;
  /** The target's merged elements, in its stored dtype (resident strategy). */
  target?: GPUBuffer;
  /** v = θ_RL − θ_SFT over the merged elements (resident strategy). */
  v?: GPUBuffer;
}

export class ResidentMerge {
  alpha: number | undefined;
  private constructor(
    private readonly device: GPUDevice,
    readonly plan: MergePlan,
    readonly residency: ResidencyPlan,
    /** The plan's tensors as held: split ones as their row blocks. */
    private readonly tensors: PlannedTensor[],
    private readonly slots: Slot[],
    private readonly outDtype: 'F32' | 'F16',
    private readonly vectorDtype: VectorDtype,
    private readonly merger: GpuTensorMerger,
    private readonly pass: { counters: GPUBuffer; counts: GPUBuffer; unusedSft: GPUBuffer },
  ) {}

  /** Allocates the buffers and fills them: kept elements of θ(α), and for `resident` target and v (one pass over the inputs). */
  static async create(device: GPUDevice, plan: MergePlan, o: ResidencyOptions = {}, onProgress?: (done: number, total: number) => void): Promise<ResidentMerge> {
    const residency = planResidency(plan, device.limits, o);
    const outDtype = residency.outDtype;
    const vectorDtype = residency.vectorDtype ?? 'F32';
    const tensors = blockTensors(plan.tensors, residency.split);
    const odd = tensors.find((t) => t.mergedElements % 2 === 1 && t.mergedElements < t.elements);
    if (odd && (outDtype === 'F16' || (residency.strategy === 'resident' && vectorDtype !== 'F32'))) {
      // A 16-bit word would straddle merged and kept elements; never seen in real models (even hidden sizes).
      throw new StudioError(`${odd.name}: an odd number of merged elements (${odd.mergedElements}) cannot be kept resident in a 16-bit dtype; use F32.`);
    }
    watchDevice(device);
    const chunk = stagingChunk({ maxBufferSize: residency.maxBufferBytes }, Math.max(0, ...tensors.map((t) => t.elements)));
    const S = GPUBufferUsage;
    const mk = (label: string, bytes: number, usage: number) => device.createBuffer({ label, size: Math.max(4, pad4(bytes)), usage });
    device.pushErrorScope('out-of-memory');
    const pass = {
      counters: mk('resident non-finite', 16, S.STORAGE | S.COPY_SRC | S.COPY_DST),
      counts: mk('resident non-finite readback', 16, S.MAP_READ | S.COPY_DST),
      // The kernel binds an sft buffer in every mode; the resident entry point never reads it.
      unusedSft: mk('resident pass: sft unused', 16, S.STORAGE),
    };
    const slots: Slot[] = tensors.map((t) => ({
      tensor: t,
      out: mk(`θ(α) ${t.name}`, t.elements * size(outDtype), S.STORAGE | S.COPY_SRC | S.COPY_DST),
      ...(residency.strategy === 'resident' && t.mergedElements
        ? {
            target: mk(`target ${t.name}`, t.mergedElements * size(t.target!.dtype), S.STORAGE | S.COPY_DST),
            v: mk(`v ${t.name}`, t.mergedElements * size(vectorDtype), S.STORAGE | S.COPY_DST),
          }
        : {}),
    }));
    // One staging set (not the merger's default two): the budget above counts three chunk buffers.
    const merger = new GpuTensorMerger(device, chunk, { slots: 1 });
    const rm = new ResidentMerge(device, plan, residency, tensors, slots, outDtype, vectorDtype, merger, pass);
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

  /**
   * The weight buffers for onnxruntime-web (`Tensor.fromGpuBuffer`), by tensor name, or for a
   * split tensor by the name of each row block (rowBlockName): the graph's weight inputs once
   * the spec is split with `blocksOf` (decoder-graph.ts splitWeights).
   */
  get outputs(): Map<string, { buffer: GPUBuffer; dtype: 'F32' | 'F16'; shape: number[] }> {
    return new Map(this.slots.map((s) => [s.tensor.name, { buffer: s.out, dtype: this.outDtype, shape: s.tensor.shape }]));
  }

  /** The row blocks a tensor is held as, or undefined when it is one buffer. */
  blocksOf(name: string): RowBlock[] | undefined {
    return this.residency.split.find((s) => s.name === name)?.blocks;
  }

  private upload(buf: GPUBuffer, offset: number, bytes: Uint8Array) {
    if (bytes.length) writeBufferPadded(this.device.queue, buf, offset, bytes);
  }

  /**
   * Kept elements go into θ(α) once, cast to the output dtype on the CPU. `resident`: in the
   * same pass over the inputs, merged chunks keep their target bytes and become v on the GPU,
   * written straight into the v buffer.
   */
  private async fill(onProgress?: (done: number, total: number) => void) {
    const resident = this.residency.strategy === 'resident';
    await executeMerge({
      tensors: this.tensors,
      merger: this.merger,
      compute: 'vector',
      alpha: 1,
      parts: { merged: resident, kept: true },
      readTarget: resident,
      outDtype: (c) => (c.kind === 'merged' ? this.vectorDtype : this.outDtype),
      sink: {
        destination: (c) => range(this.slots[c.index].v!, c.start, c.count, this.vectorDtype),
        write: (c, bytes, inputs) => {
          const s = this.slots[c.index];
          if (c.kind === 'kept') this.upload(s.out, c.start * size(this.outDtype), bytes);
          else this.upload(s.target!, c.start * size(c.tensor.target!.dtype), inputs.target!);
        },
      },
      onProgress: onProgress && ((p) => onProgress(p.tensorsDone, p.tensorsTotal)),
    });
  }

  /**
   * θ(α) into the output buffers. `resident`: kernel passes only; `streaming`: re-reads the inputs.
   * Cancelled or failed part-way, the buffers hold a mix of two α and `alpha` stays undefined.
   */
  async setAlpha(alpha: number, signal?: AbortSignal): Promise<{ seconds: number; nan: number; inf: number }> {
    if (!Number.isFinite(alpha)) throw new StudioError(`α must be a finite number, got ${alpha}.`);
    const t0 = performance.now();
    // Until this pass completes the buffers hold a mix of two α: no α is claimed meanwhile.
    this.alpha = undefined;
    let nan = 0;
    let inf = 0;
    if (this.residency.strategy === 'resident') {
      const chunks = [...chunksOf(this.tensors, this.merger.chunkElements, { merged: true, kept: false })];
      for (let i = 0; i < chunks.length; i += PASSES_PER_SUBMIT) {
        if (signal?.aborted) throw new MergeCancelledError();
        const r = await this.residentPass(chunks.slice(i, i + PASSES_PER_SUBMIT), alpha);
        nan += r.nan;
        inf += r.inf;
      }
    } else {
      const report = await executeMerge({
        tensors: this.tensors,
        merger: this.merger,
        compute: 'merge',
        alpha,
        parts: { merged: true, kept: false },
        outDtype: () => this.outDtype,
        sink: { destination: (c) => range(this.slots[c.index].out, c.start, c.count, this.outDtype), write: () => {} },
        signal,
      });
      for (const t of report.tensors) {
        nan += t.nan;
        inf += t.inf;
      }
    }
    this.alpha = alpha;
    return { seconds: (performance.now() - t0) / 1000, nan, inf };
  }

  /** θ(α) = target + α·v for these chunks, from the resident buffers, in one submission; returns the NaN/Inf counts. */
  private residentPass(chunks: Chunk[], alpha: number): Promise<{ nan: number; inf: number }> {
    const slot = Math.max(MERGE_PARAMS_BYTES, this.device.limits.minUniformBufferOffsetAlignment);
    let params: GPUBuffer | undefined;
    const label = chunks.length === 1 ? chunkLabel(chunks[0]) : `${chunks[0].tensor.name} … ${chunks[chunks.length - 1].tensor.name}`;
    return submitGpu(
      this.device,
      label,
      (encoder) => {
        params = this.device.createBuffer({ label: 'resident params', size: slot * chunks.length, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
        this.device.queue.writeBuffer(this.pass.counters, 0, new Uint32Array(4));
        chunks.forEach((c, i) => {
          const s = this.slots[c.index];
          const tDtype = c.tensor.target!.dtype;
          encodeMerge(this.device, encoder, {
            label: chunkLabel(c),
            count: c.count,
            alpha,
            mode: 'resident',
            dtypes: { target: tDtype, sft: 'F32', rl: this.vectorDtype, out: this.outDtype },
            target: range(s.target!, c.start, c.count, tDtype),
            sft: this.pass.unusedSft,
            rl: range(s.v!, c.start, c.count, this.vectorDtype),
            out: range(s.out, c.start, c.count, this.outDtype),
            nonFinite: this.pass.counters,
            params: params!,
            paramsOffset: i * slot,
          });
        });
        encoder.copyBufferToBuffer(this.pass.counters, 0, this.pass.counts, 0, 16);
      },
      async () => {
        try {
          await this.pass.counts.mapAsync(GPUMapMode.READ);
          const c = new Uint32Array(this.pass.counts.getMappedRange().slice(0));
          this.pass.counts.unmap();
          return { nan: c[0], inf: c[1] };
        } finally {
          params?.destroy();
        }
      },
    );
  }

  /** One output tensor's (or row block's) bytes (tests, exports); a copy through a mapped buffer. */
  async readOutput(name: string): Promise<Uint8Array> {
    const s = this.slots.find((x) => x.tensor.name === name);
    if (!s) throw new StudioError(`no resident tensor "${name}"`);
    const bytes = s.tensor.elements * size(this.outDtype);
    let rb: GPUBuffer | undefined;
    return submitGpu(
      this.device,
      `θ(α) ${name} (readback)`,
      (encoder) => {
        rb = this.device.createBuffer({ label: `readback ${name}`, size: pad4(bytes), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
        encoder.copyBufferToBuffer(s.out, 0, rb, 0, pad4(bytes));
      },
      async () => {
        try {
          await rb!.mapAsync(GPUMapMode.READ);
          return new Uint8Array(rb!.getMappedRange().slice(0, bytes));
        } finally {
          rb?.destroy();
        }
      },
    );
  }

  destroy(): void {
    for (const s of this.slots) for (const b of [s.out, s.target, s.v]) b?.destroy();
    for (const b of Object.values(this.pass)) b.destroy();
    this.merger.destroy();
  }
}

/** A binding over elements [start, start+count) of a buffer holding `dtype` values (padded to 4 bytes). */
export function range(buffer: GPUBuffer, start: number, count: number, dtype: SupportedDtype): GPUBufferBinding {
  const offset = start * size(dtype);
  return { buffer, offset, size: Math.min(pad4(count * size(dtype)), buffer.size - offset) };
}

/**
 * Bytes per second of a resident α pass on this device (target in bf16 and v in f16 read, θ(α) in
 * f32 written), timed over synthetic buffers: what a memory plan's expected α time divides by.
 * Passes repeat until 50 ms have elapsed (or 8 passes), so a fast GPU is not timed on one tick.
 */
export async function measureResidentPassRate(device: GPUDevice, elements = 8 * 1024 * 1024): Promise<number> {
  const S = GPUBufferUsage;
  const n = Math.min(elements, Math.floor(Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize) / 4));
  const make = (label: string, bytes: number, usage: number) => device.createBuffer({ label: `rate probe: ${label}`, size: pad4(bytes), usage });
  const target = make('target', n * 2, S.STORAGE);
  const v = make('v', n * 2, S.STORAGE);
  const out = make('out', n * 4, S.STORAGE);
  const sft = make('sft unused', 16, S.STORAGE);
  const counters = make('non-finite', 16, S.STORAGE);
  const params = make('params', Math.max(MERGE_PARAMS_BYTES, 16), S.UNIFORM | S.COPY_DST);
  const pass = async () => {
    const encoder = device.createCommandEncoder({ label: 'rate probe' });
    encodeMerge(device, encoder, {
      label: 'rate probe',
      count: n,
      alpha: 0.5,
      mode: 'resident',
      dtypes: { target: 'BF16', sft: 'F32', rl: 'F16', out: 'F32' },
      target,
      sft,
      rl: v,
      out,
      nonFinite: counters,
      params,
    });
    device.queue.submit([encoder.finish()]);
    await device.queue.onSubmittedWorkDone();
  };
  try {
    await pass(); // pipeline creation and first-touch allocation are not the rate
    const t0 = performance.now();
    let passes = 0;
    do {
      await pass();
      passes++;
    } while (performance.now() - t0 < 50 && passes < 8);
    const seconds = Math.max((performance.now() - t0) / 1000, 1e-6);
    return (passes * n * (2 + 2 + 4)) / seconds;
  } finally {
    for (const b of [target, v, out, sft, counters, params]) b.destroy();
  }
}
