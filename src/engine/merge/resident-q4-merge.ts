import { StudioError, formatBytes } from '../errors.ts';
import { maxWeightBufferBytes } from '../gpu/buffer-limits.ts';
import { writeBufferPadded } from '../gpu/write-buffer.ts';
import { planQ4Memory, type Q4MemoryPlan } from '../model/memory-plan.ts';
import { encodeQuantizeQ4, q4BufferSizes, Q4_PARAMS_BYTES } from '../quant/quantize-q4-kernel.ts';
import { q4InputNames, q4InputShapes, q4Tensors } from '../quant/q4-weights.ts';
import { watchDevice } from './gpu-dispatch.ts';
import { GpuTensorMerger } from './gpu-tensor-merger.ts';
import { executeMerge } from './merge-executor.ts';
import type { MergePlan, PlannedTensor } from './merge-plan.ts';
import { planResidency, stagingChunk } from './plan-residency.ts';
import { blockTensors, range } from './resident-merge.ts';

/**
 * The page's 4-bit weights mode: θ(α) on the GPU with the decoder layers' projections as
 * onnxruntime's `com.microsoft.MatMulNBits` inputs (codes, float32 scales, zero points — the CLI's
 * `--weights q4` bits, quant/q4-quantize.ts), everything else (embedding, head, norms, biases) in
 * float32. What planQ4Memory (memory-plan.ts) counts, buffer for buffer:
 * - no target or v is kept (at 7B they alone would be 30 GB): each α re-reads the checkpoints,
 *   as ResidentMerge's `streaming` strategy;
 * - the float tensors: one float32 buffer each (row blocks where one buffer may not hold them),
 *   their kept elements written once, their merged ones re-merged on the GPU per α;
 * - each projection is merged into ONE shared float32 scratch buffer (the largest projection's
 *   size), then shaders/quantize-q4.wgsl turns it into that projection's three MatMulNBits
 *   buffers before the next projection's merge is submitted (WebGPU's queue order makes the
 *   reuse safe: the quantise pass is submitted before the next merge writes the scratch) — so
 *   only one float projection exists at a time and nothing crosses to the host;
 * - the merge's staging chunks (one set: 3 chunk buffers).
 * Compute is float32 only: MatMulNBits takes its scales in the activations' type, and the scales
 * here are float32 (bit-identical to the CPU quantiser); an f16-scale variant would change the bits
 * the CLI computes with. The memory plan says so (planQ4Memory's floatDtype F32).
 */
export class ResidentQ4Merge {
  alpha: number | undefined;
  private constructor(
    private readonly device: GPUDevice,
    readonly plan: MergePlan,
    /** What this holds, as the page's memory plan showed it. */
    readonly memory: Q4MemoryPlan,
    readonly quantized: ReadonlySet<string>,
    private readonly floats: { tensor: PlannedTensor; out: GPUBuffer }[],
    private readonly q4: { tensor: PlannedTensor; packed: GPUBuffer; scales: GPUBuffer; zeroPoints: GPUBuffer }[],
    private readonly scratch: GPUBuffer,
    private readonly params: GPUBuffer,
    private readonly merger: GpuTensorMerger,
    private readonly split: ReturnType<typeof planResidency>['split'],
  ) {}

  /**
   * Allocates the buffers (refusing, with the plan's numbers, a model whose 4-bit plan does not fit
   * `budgetBytes`) and writes the float tensors' kept elements. No α is merged yet.
   */
  static async create(device: GPUDevice, plan: MergePlan, o: { budgetBytes: number; maxBufferBytes?: number }, onProgress?: (done: number, total: number) => void): Promise<ResidentQ4Merge> {
    const limits = { maxBufferSize: device.limits.maxBufferSize, maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize };
    const memory = planQ4Memory(plan.tensors, { limits, budgetBytes: o.budgetBytes }, 'F32');
    if (memory.unsupported) throw new StudioError(`4-bit weights cannot run on this GPU: ${memory.unsupported}`);
    if (!memory.fits) throw new StudioError(`${memory.summary} Raise the GPU memory budget in Settings, or use a smaller model.`);
    const quantized = q4Tensors(plan.tensors);
    const maxBuffer = maxWeightBufferBytes(limits, o.maxBufferBytes);
    for (const t of plan.tensors) {
      if (quantized.has(t.name) && t.elements * 4 > maxBuffer) {
        // The quantise kernel binds the whole projection: row blocks of a projection are not built (yet).
        throw new StudioError(
          `${t.name}: ${formatBytes(t.elements * 4)} in float32 exceeds this GPU's ${formatBytes(maxBuffer)} per storage buffer, which the 4-bit quantiser binds whole; use a device with larger buffer limits or the CLI (--weights q4).`,
        );
      }
    }
    const floatTensors = plan.tensors.filter((t) => !quantized.has(t.name));
    // Only the row-block split of the float tensors is used here (the strategy is always streaming).
    const split = planResidency({ tensors: floatTensors }, limits, { outDtype: 'F32', budgetBytes: Number.MAX_SAFE_INTEGER, maxBufferBytes: o.maxBufferBytes }).split;
    const floatBlocks = blockTensors(floatTensors, split);
    const qTensors = plan.tensors.filter((t) => quantized.has(t.name));
    watchDevice(device);
    const S = GPUBufferUsage;
    const usage = S.STORAGE | S.COPY_SRC | S.COPY_DST;
    const mk = (label: string, bytes: number, u = usage) => device.createBuffer({ label, size: Math.max(4, Math.ceil(bytes / 4) * 4), usage: u });
    const largest = Math.max(0, ...plan.tensors.map((t) => t.elements));
    // As planQ4Memory counts it: one staging set sized for the largest tensor.
    const chunk = stagingChunk(limits, largest);
    device.pushErrorScope('out-of-memory');
    const floats = floatBlocks.map((t) => ({ tensor: t, out: mk(`θ(α) ${t.name}`, t.elements * 4) }));
    const q4 = qTensors.map((t) => {
      const s = q4BufferSizes(t.shape[0], t.shape[1]);
      return { tensor: t, packed: mk(`θ(α) ${t.name} q4 packed`, s.packed), scales: mk(`θ(α) ${t.name} q4 scales`, s.scales), zeroPoints: mk(`θ(α) ${t.name} q4 zero points`, s.zeroPoints) };
    });
    const scratch = mk('θ(α) projection scratch (float32, quantised next)', Math.max(0, ...qTensors.map((t) => t.elements * 4)));
    const params = mk('quantize-q4 params', Q4_PARAMS_BYTES, S.UNIFORM | S.COPY_DST);
    const merger = new GpuTensorMerger(device, chunk, { slots: 1 });
    const rm = new ResidentQ4Merge(device, plan, memory, quantized, floats, q4, scratch, params, merger, split);
    const oom = await device.popErrorScope();
    if (oom) {
      rm.destroy();
      throw new StudioError(`The GPU ran out of memory allocating ${formatBytes(memory.bytes)} for the 4-bit merged model (${oom.message}); lower the GPU memory budget in Settings or use a smaller model.`);
    }
    try {
      // Kept elements of the float tensors (e.g. rows a vocab policy keeps) go in once.
      await executeMerge({
        tensors: floatBlocks,
        merger,
        compute: 'merge',
        alpha: 0,
        parts: { merged: false, kept: true },
        outDtype: () => 'F32',
        sink: { write: (c, bytes) => rm.upload(floats[c.index].out, c.start * 4, bytes) },
        onProgress: onProgress && ((p) => onProgress(p.tensorsDone, p.tensorsTotal)),
      });
    } catch (e) {
      rm.destroy();
      throw e;
    }
    return rm;
  }

  private upload(buf: GPUBuffer, offset: number, bytes: Uint8Array) {
    if (bytes.length) writeBufferPadded(this.device.queue, buf, offset, bytes);
  }

  /**
   * Bytes of the weight buffers allocated (float tensors, 4-bit inputs, the scratch), and how many
   * buffers: what planQ4Memory counts as quantizedBytes + floatBytes + transientBytes, each buffer
   * rounded up to whole 4-byte words (the staging chunks are the merger's, allocated as it goes).
   */
  get held(): { bytes: number; buffers: number } {
    const all = [...this.floats.map((f) => f.out), ...this.q4.flatMap((q) => [q.packed, q.scales, q.zeroPoints]), this.scratch];
    return { bytes: all.reduce((a, b) => a + b.size, 0), buffers: all.length };
  }

  /** The row blocks a float tensor is held as, or undefined when it is one buffer. */
  blocksOf(name: string) {
    return this.split.find((s) => s.name === name)?.blocks;
  }

  /**
   * The graph's weight inputs: float tensors (or their row blocks) as float32, each projection as
   * its three MatMulNBits inputs (q4InputNames), with the dtypes and dims onnxruntime-web takes.
   */
  get outputs(): Map<string, { buffer: GPUBuffer; dataType: 'float32' | 'uint8'; dims: number[] }> {
    const out = new Map<string, { buffer: GPUBuffer; dataType: 'float32' | 'uint8'; dims: number[] }>();
    for (const f of this.floats) out.set(f.tensor.name, { buffer: f.out, dataType: 'float32', dims: f.tensor.shape });
    for (const q of this.q4) {
      const names = q4InputNames(q.tensor.name);
      const shapes = q4InputShapes(q.tensor.shape[0], q.tensor.shape[1]);
      out.set(names.packed, { buffer: q.packed, dataType: 'uint8', dims: shapes.packed });
      out.set(names.scales, { buffer: q.scales, dataType: 'float32', dims: shapes.scales });
      out.set(names.zeroPoints, { buffer: q.zeroPoints, dataType: 'uint8', dims: shapes.zeroPoints });
    }
    return out;
  }

  /**
   * θ(α) into the buffers: the float tensors' merged elements, then each projection merged into
   * the scratch and quantised from there. Re-reads the checkpoints. Cancelled or failed part-way,
   * the buffers hold a mix of two α and `alpha` stays undefined.
   */
  async setAlpha(alpha: number, signal?: AbortSignal): Promise<{ seconds: number; nan: number; inf: number }> {
    if (!Number.isFinite(alpha)) throw new StudioError(`α must be a finite number, got ${alpha}.`);
    const t0 = performance.now();
    this.alpha = undefined;
    let nan = 0;
    let inf = 0;
    const floatReport = await executeMerge({
      tensors: this.floats.map((f) => f.tensor),
      merger: this.merger,
      compute: 'merge',
      alpha,
      parts: { merged: true, kept: false },
      outDtype: () => 'F32',
      sink: { destination: (c) => range(this.floats[c.index].out, c.start, c.count, 'F32'), write: () => {} },
      signal,
    });
    for (const t of floatReport.tensors) {
      nan += t.nan;
      inf += t.inf;
    }
    for (const q of this.q4) {
      const t = q.tensor;
      const report = await executeMerge({
        tensors: [t],
        merger: this.merger,
        compute: 'merge',
        alpha,
        parts: { merged: true, kept: true },
        outDtype: () => 'F32',
        sink: {
          destination: (c) => range(this.scratch, c.start, c.count, 'F32'),
          write: (c, bytes) => {
            if (c.kind === 'kept') this.upload(this.scratch, c.start * 4, bytes);
          },
        },
        signal,
      });
      const bad = report.tensors.reduce((a, r) => a + r.nan + r.inf, 0);
      // As the CLI's quantiser (quantizeQ4): a non-finite weight has no 4-bit code.
      if (bad) throw new StudioError(`${t.name}: θ(${alpha}) has ${bad} NaN/Inf values, which cannot be quantised to 4 bits; try a smaller |α| or the float weights.`);
      // Submitted after every merge of this projection and before the next projection's: the
      // queue runs it on this projection's values, then the scratch is free to be overwritten.
      const encoder = this.device.createCommandEncoder({ label: `quantize-q4 ${t.name}` });
      encodeQuantizeQ4(this.device, encoder, { label: t.name, n: t.shape[0], k: t.shape[1], dtype: 'F32', weight: this.scratch, packed: q.packed, scales: q.scales, zeroPoints: q.zeroPoints, params: this.params });
      this.device.queue.submit([encoder.finish()]);
    }
    await this.device.queue.onSubmittedWorkDone();
    this.alpha = alpha;
    return { seconds: (performance.now() - t0) / 1000, nan, inf };
  }

  /** One output's bytes (tests): a float tensor, or a 4-bit input by its graph name. */
  async readOutput(name: string): Promise<Uint8Array> {
    const o = this.outputs.get(name);
    if (!o) throw new StudioError(`no 4-bit resident input "${name}"`);
    const bytes = o.dims.reduce((a, b) => a * b, 1) * (o.dataType === 'float32' ? 4 : 1);
    const size = Math.ceil(bytes / 4) * 4;
    const rb = this.device.createBuffer({ label: `readback ${name}`, size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    try {
      const encoder = this.device.createCommandEncoder();
      encoder.copyBufferToBuffer(o.buffer, 0, rb, 0, size);
      this.device.queue.submit([encoder.finish()]);
      await rb.mapAsync(GPUMapMode.READ);
      return new Uint8Array(rb.getMappedRange().slice(0, bytes));
    } finally {
      rb.destroy();
    }
  }

  destroy(): void {
    for (const f of this.floats) f.out.destroy();
    for (const q of this.q4) for (const b of [q.packed, q.scales, q.zeroPoints]) b.destroy();
    this.scratch.destroy();
    this.params.destroy();
    this.merger.destroy();
  }
}
