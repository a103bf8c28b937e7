import { writeBufferPadded } from '../gpu/write-buffer.ts';
import { dtypeByteSize } from '../safetensors/dtypes.ts';
import { submitGpu, watchDevice } from './gpu-dispatch.ts';
import { encodeMerge, MERGE_PARAMS_BYTES } from './task-vector-kernel.ts';
import { NEAR_ZERO_THRESHOLD, type ChunkInput, type ChunkResult, type ChunkStats, type TensorMerger } from './tensor-merger.ts';
import { encodeVectorStats, STATS_PARAMS_BYTES, STATS_PARTIAL_BYTES, sumPartials } from './vector-stats-kernel.ts';

export type { ChunkInput, ChunkResult } from './tensor-merger.ts';

/**
 * Largest chunk of one tensor merged in one dispatch, in elements. Bounded by the device's
 * storage-binding limit (an f32 chunk must fit one binding) and by this cap, which keeps
 * host + GPU memory at a few hundred MB whatever the model size (a Qwen2.5-1.5B embedding
 * is 467 MB in bf16; WebGPU's default binding limit is 128 MiB): two buffer sets of 5 × 32 MiB.
 */
export const MAX_CHUNK_ELEMENTS = 8 * 1024 * 1024;

/** Chunk-sized buffers (f32-sized, so any dtype fits) and small fixed ones, made when first needed. */
type BufferName = 'target' | 'sft' | 'rl' | 'out' | 'readback' | 'nonFinite' | 'counts' | 'params' | 'statsParams' | 'partials' | 'partialsReadback';

function bufferSpec(name: BufferName): { label: string; usage: number; size?: number } {
  const S = GPUBufferUsage;
  switch (name) {
    case 'target': return { label: 'merge target chunk', usage: S.STORAGE | S.COPY_DST };
    case 'sft': return { label: 'merge sft chunk', usage: S.STORAGE | S.COPY_DST };
    case 'rl': return { label: 'merge rl chunk', usage: S.STORAGE | S.COPY_DST };
    case 'out': return { label: 'merge out chunk', usage: S.STORAGE | S.COPY_SRC };
    case 'readback': return { label: 'merge readback', usage: S.MAP_READ | S.COPY_DST };
    case 'nonFinite': return { label: 'merge non-finite counters', usage: S.STORAGE | S.COPY_SRC | S.COPY_DST, size: 16 };
    case 'counts': return { label: 'merge non-finite readback', usage: S.MAP_READ | S.COPY_DST, size: 16 };
    case 'params': return { label: 'merge params', usage: S.UNIFORM | S.COPY_DST, size: MERGE_PARAMS_BYTES };
    case 'statsParams': return { label: 'stats params', usage: S.UNIFORM | S.COPY_DST, size: STATS_PARAMS_BYTES };
    case 'partials': return { label: 'stats partials', usage: S.STORAGE | S.COPY_SRC, size: STATS_PARTIAL_BYTES };
    case 'partialsReadback': return { label: 'stats partials readback', usage: S.MAP_READ | S.COPY_DST, size: STATS_PARTIAL_BYTES };
  }
}

export interface GpuMergerOptions {
  /**
   * Buffer sets used in turn (default 2): with two, chunk k+1 is uploaded and dispatched while
   * chunk k is still computed or read back. One halves the staging memory (resident-merge.ts
   * counts it in its GPU budget).
   */
  slots?: 1 | 2;
}

/**
 * Owns the GPU buffers for merging one chunk at a time: sized for the largest chunk seen,
 * reused for every tensor, destroyed by `destroy()`. Submissions go through gpu-dispatch.ts,
 * which turns a lost device or a refused submission into a typed StudioError.
 */
export class GpuTensorMerger implements TensorMerger {
  readonly kind = 'gpu' as const;
  readonly chunkElements: number;
  private readonly slots: Slot[];
  private turn = 0;

  constructor(
    private readonly device: GPUDevice,
    chunkElements = MAX_CHUNK_ELEMENTS,
    options: GpuMergerOptions = {},
  ) {
    watchDevice(device);
    const byLimit = Math.floor(Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize) / 4);
    // Even, so every chunk after the first starts on a 16-bit word boundary.
    this.chunkElements = Math.max(2, Math.min(chunkElements, byLimit) & ~1);
    this.slots = Array.from({ length: options.slots ?? 2 }, () => ({ buffers: {}, capacity: 0, busy: Promise.resolve() }));
  }

  /**
   * A buffer of a slot, made on first use and sized for the largest chunk the slot has seen (not
   * for chunkElements up front): a model whose tensors are all small never allocates 2 × 5 × 32 MiB,
   * and a run that never reads outputs back (resident) never allocates readback buffers.
   */
  private buffer(slot: Slot, name: BufferName, count: number): GPUBuffer {
    if (count > slot.capacity) {
      const previous = slot.capacity;
      destroyBuffers(slot);
      slot.capacity = Math.min(this.chunkElements, Math.ceil(Math.max(count, 2 * previous) / 65536) * 65536);
    }
    let b = slot.buffers[name];
    if (!b) {
      const spec = bufferSpec(name);
      b = slot.buffers[name] = this.device.createBuffer({ label: spec.label, size: spec.size ?? slot.capacity * 4, usage: spec.usage });
    }
    return b;
  }

  /**
   * Merges one chunk (count ≤ chunkElements) and returns the output bytes and non-finite counts.
   * Up to one call per slot may be outstanding at once; each uses its own buffer set.
   */
  mergeChunk(c: ChunkInput): Promise<ChunkResult> {
    const slot = this.slots[this.turn++ % this.slots.length];
    const run = slot.busy.then(() => this.mergeChunkOnDevice(slot, c));
    slot.busy = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private async mergeChunkOnDevice(slot: Slot, c: ChunkInput): Promise<ChunkResult> {
    if (c.count > this.chunkElements) throw new RangeError(`chunk of ${c.count} elements exceeds ${this.chunkElements}`);
    const wantOutput = c.output !== false;
    const readOutput = wantOutput && !c.into;
    const outBytes = readOutput ? c.count * dtypeByteSize(c.outDtype)! : 0;
    const copyBytes = Math.ceil(outBytes / 4) * 4;
    const q = this.device.queue;
    const buf = (name: BufferName) => this.buffer(slot, name, c.count);
    let groups = 0;
    return submitGpu(
      this.device,
      c.label,
      (encoder) => {
        // Capacity first: growing it replaces the slot's buffers, which must happen before any is used.
        buf('sft');
        writeBufferPadded(q, buf('sft'), 0, c.sft.bytes);
        writeBufferPadded(q, buf('rl'), 0, c.rl.bytes);
        if (c.target) writeBufferPadded(q, buf('target'), 0, c.target.bytes);
        if (c.stats) {
          groups = encodeVectorStats(this.device, encoder, {
            label: c.label,
            count: c.count,
            nearZero: NEAR_ZERO_THRESHOLD,
            dtypes: { target: c.target?.dtype, sft: c.sft.dtype, rl: c.rl.dtype },
            // Without a target the stats kernel ignores this binding; any chunk-sized buffer does.
            target: c.target ? buf('target') : buf('sft'),
            sft: buf('sft'),
            rl: buf('rl'),
            partials: buf('partials'),
            params: buf('statsParams'),
          });
          encoder.copyBufferToBuffer(buf('partials'), 0, buf('partialsReadback'), 0, groups * 20);
        }
        if (wantOutput) {
          q.writeBuffer(buf('nonFinite'), 0, new Uint32Array(4));
          encodeMerge(this.device, encoder, {
            label: c.label,
            count: c.count,
            alpha: c.alpha,
            mode: c.target ? 'merge' : 'vector',
            dtypes: { target: c.target?.dtype ?? 'F32', sft: c.sft.dtype, rl: c.rl.dtype, out: c.outDtype },
            // Vector mode ignores the target binding.
            target: c.target ? buf('target') : buf('sft'),
            sft: buf('sft'),
            rl: buf('rl'),
            out: c.into ?? buf('out'),
            nonFinite: buf('nonFinite'),
            params: buf('params'),
          });
          if (readOutput) encoder.copyBufferToBuffer(buf('out'), 0, buf('readback'), 0, copyBytes);
          encoder.copyBufferToBuffer(buf('nonFinite'), 0, buf('counts'), 0, 16);
        }
      },
      async () => {
        const b = slot.buffers;
        const maps: Promise<void>[] = [];
        if (readOutput) maps.push(b.readback!.mapAsync(GPUMapMode.READ, 0, copyBytes));
        if (wantOutput) maps.push(b.counts!.mapAsync(GPUMapMode.READ));
        if (c.stats) maps.push(b.partialsReadback!.mapAsync(GPUMapMode.READ, 0, groups * 20));
        await Promise.all(maps);
        let stats: ChunkStats | undefined;
        if (c.stats) {
          stats = sumPartials(b.partialsReadback!.getMappedRange(0, groups * 20).slice(0), groups, c.count);
          b.partialsReadback!.unmap();
        }
        if (!wantOutput) return { bytes: new Uint8Array(0), nan: 0, inf: 0, stats };
        const bytes = readOutput ? new Uint8Array(b.readback!.getMappedRange(0, copyBytes).slice(0, outBytes)) : new Uint8Array(0);
        if (readOutput) b.readback!.unmap();
        const counts = new Uint32Array(b.counts!.getMappedRange().slice(0));
        b.counts!.unmap();
        return { bytes, nan: counts[0], inf: counts[1], stats };
      },
    );
  }

  destroy(): void {
    for (const slot of this.slots) destroyBuffers(slot);
  }
}

interface Slot {
  buffers: Partial<Record<BufferName, GPUBuffer>>;
  capacity: number;
  /** Settles when the slot's last chunk is done with its buffers. */
  busy: Promise<void>;
}

function destroyBuffers(slot: Slot) {
  for (const buf of Object.values(slot.buffers)) buf.destroy();
  slot.buffers = {};
  slot.capacity = 0;
}
