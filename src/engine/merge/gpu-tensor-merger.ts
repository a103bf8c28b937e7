import { StudioError } from '../errors.ts';
import { writeBufferPadded } from '../gpu/write-buffer.ts';
import { dtypeByteSize } from '../safetensors/dtypes.ts';
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


/**
 * Owns the GPU buffers for merging one chunk at a time: sized for the largest chunk once,
 * reused for every tensor, destroyed by `destroy()`.
 */
export class GpuTensorMerger implements TensorMerger {
  readonly kind = 'gpu' as const;
  readonly chunkElements: number;
  /**
   * Two buffer sets used in turn, so chunk k+1 can be uploaded and dispatched while chunk k is
   * still being computed or read back (the executor keeps two chunks in flight).
   */
  private readonly slots: Slot[] = [{ capacity: 0, busy: Promise.resolve() }, { capacity: 0, busy: Promise.resolve() }];
  private turn = 0;

  private lost?: GPUDeviceLostInfo;

  constructor(
    private readonly device: GPUDevice,
    chunkElements = MAX_CHUNK_ELEMENTS,
  ) {
    void device.lost.then((info) => (this.lost = info));
    const byLimit = Math.floor(Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize) / 4);
    // Even, so every chunk after the first starts on a 16-bit word boundary.
    this.chunkElements = Math.max(2, Math.min(chunkElements, byLimit) & ~1);
  }

  /**
   * A slot's buffers sized for the largest chunk it has seen (not for chunkElements up front): a
   * model whose tensors are all small never allocates 2 × 5 × 32 MiB.
   */
  private ensureBuffers(slot: Slot, count: number): Buffers {
    if (slot.buffers && count <= slot.capacity) return slot.buffers;
    const previous = slot.capacity;
    destroyBuffers(slot);
    slot.capacity = Math.min(this.chunkElements, Math.ceil(Math.max(count, 2 * previous) / 65536) * 65536);
    const bytes = slot.capacity * 4;
    const mk = (label: string, size: number, usage: number) => this.device.createBuffer({ label, size, usage });
    const S = GPUBufferUsage;
    slot.buffers = {
      target: mk('merge target chunk', bytes, S.STORAGE | S.COPY_DST),
      sft: mk('merge sft chunk', bytes, S.STORAGE | S.COPY_DST),
      rl: mk('merge rl chunk', bytes, S.STORAGE | S.COPY_DST),
      out: mk('merge out chunk', bytes, S.STORAGE | S.COPY_SRC),
      readback: mk('merge readback', bytes, S.MAP_READ | S.COPY_DST),
      nonFinite: mk('merge non-finite counters', 16, S.STORAGE | S.COPY_SRC | S.COPY_DST),
      counts: mk('merge non-finite readback', 16, S.MAP_READ | S.COPY_DST),
      params: mk('merge params', MERGE_PARAMS_BYTES, S.UNIFORM | S.COPY_DST),
      statsParams: mk('stats params', STATS_PARAMS_BYTES, S.UNIFORM | S.COPY_DST),
      partials: mk('stats partials', STATS_PARTIAL_BYTES, S.STORAGE | S.COPY_SRC),
      partialsReadback: mk('stats partials readback', STATS_PARTIAL_BYTES, S.MAP_READ | S.COPY_DST),
    };
    return slot.buffers;
  }

  /**
   * Merges one chunk (count ≤ chunkElements) and returns the output bytes and non-finite counts.
   * Up to two calls may be outstanding at once; each uses its own buffer set.
   */
  mergeChunk(c: ChunkInput): Promise<ChunkResult> {
    const slot = this.slots[this.turn++ % this.slots.length];
    const run = slot.busy.then(() => this.mergeChunkGuarded(slot, c));
    slot.busy = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private async mergeChunkGuarded(slot: Slot, c: ChunkInput): Promise<ChunkResult> {
    try {
      return await this.mergeChunkOnDevice(slot, c);
    } catch (e) {
      // A lost device rejects mapAsync (OperationError/AbortError): say so in words a user can act on.
      if (this.lost || (e instanceof DOMException && (e.name === 'OperationError' || e.name === 'AbortError'))) {
        const why = this.lost ? `${this.lost.reason}: ${this.lost.message}` : e instanceof Error ? e.message : String(e);
        throw new StudioError(`The GPU device was lost while merging ${c.label} (${why}). Nothing was saved; reload the page (or restart the command) and try again.`);
      }
      throw e;
    }
  }

  private async mergeChunkOnDevice(slot: Slot, c: ChunkInput): Promise<ChunkResult> {
    if (this.lost) throw new DOMException('device lost', 'OperationError');
    if (c.count > this.chunkElements) throw new RangeError(`chunk of ${c.count} elements exceeds ${this.chunkElements}`);
    // Scopes opened before allocating: an out-of-memory buffer is reported as such, not as a validation error later.
    this.device.pushErrorScope('validation');
    this.device.pushErrorScope('out-of-memory');
    const b = this.ensureBuffers(slot, c.count);
    const q = this.device.queue;
    const upload = (buf: GPUBuffer, bytes: Uint8Array) => writeBufferPadded(q, buf, 0, bytes);
    upload(b.sft, c.sft.bytes);
    upload(b.rl, c.rl.bytes);
    if (c.target) upload(b.target, c.target.bytes);
    q.writeBuffer(b.nonFinite, 0, new Uint32Array(4));

    const wantOutput = c.output !== false;
    const outBytes = wantOutput ? c.count * dtypeByteSize(c.outDtype)! : 0;
    const copyBytes = Math.ceil(outBytes / 4) * 4;
    const encoder = this.device.createCommandEncoder({ label: `merge ${c.label}` });
    let groups = 0;
    if (c.stats) {
      groups = encodeVectorStats(this.device, encoder, {
        label: c.label,
        count: c.count,
        nearZero: NEAR_ZERO_THRESHOLD,
        dtypes: { target: c.target?.dtype, sft: c.sft.dtype, rl: c.rl.dtype },
        target: b.target,
        sft: b.sft,
        rl: b.rl,
        partials: b.partials,
        params: b.statsParams,
      });
      encoder.copyBufferToBuffer(b.partials, 0, b.partialsReadback, 0, groups * 20);
    }
    if (wantOutput) {
      encodeMerge(this.device, encoder, {
        label: c.label,
        count: c.count,
        alpha: c.alpha,
        mode: c.target ? 'merge' : 'vector',
        dtypes: { target: c.target?.dtype ?? 'F32', sft: c.sft.dtype, rl: c.rl.dtype, out: c.outDtype },
        target: b.target,
        sft: b.sft,
        rl: b.rl,
        out: b.out,
        nonFinite: b.nonFinite,
        params: b.params,
      });
      encoder.copyBufferToBuffer(b.out, 0, b.readback, 0, copyBytes);
      encoder.copyBufferToBuffer(b.nonFinite, 0, b.counts, 0, 16);
    }
    q.submit([encoder.finish()]);
    // Both scopes popped before any await: another chunk's push/pop cannot interleave.
    const [oomScope, invalidScope] = [this.device.popErrorScope(), this.device.popErrorScope()];
    const [oom, invalid] = await Promise.all([oomScope, invalidScope]);
    if (oom || invalid) {
      throw new StudioError(`GPU ${oom ? 'out of memory' : 'validation error'} while merging ${c.label}: ${(oom ?? invalid)!.message}`);
    }

    let stats: ChunkStats | undefined;
    const maps: Promise<void>[] = [];
    if (wantOutput) maps.push(b.readback.mapAsync(GPUMapMode.READ, 0, copyBytes), b.counts.mapAsync(GPUMapMode.READ));
    if (c.stats) maps.push(b.partialsReadback.mapAsync(GPUMapMode.READ, 0, groups * 20));
    await Promise.all(maps);
    if (c.stats) {
      stats = sumPartials(b.partialsReadback.getMappedRange(0, groups * 20).slice(0), groups, c.count);
      b.partialsReadback.unmap();
    }
    if (!wantOutput) return { bytes: new Uint8Array(0), nan: 0, inf: 0, stats };
    const bytes = new Uint8Array(b.readback.getMappedRange(0, copyBytes).slice(0, outBytes));
    const counts = new Uint32Array(b.counts.getMappedRange().slice(0));
    b.readback.unmap();
    b.counts.unmap();
    return { bytes, nan: counts[0], inf: counts[1], stats };
  }

  destroy(): void {
    for (const slot of this.slots) destroyBuffers(slot);
  }
}

interface Buffers {
  target: GPUBuffer;
  sft: GPUBuffer;
  rl: GPUBuffer;
  out: GPUBuffer;
  readback: GPUBuffer;
  nonFinite: GPUBuffer;
  counts: GPUBuffer;
  params: GPUBuffer;
  statsParams: GPUBuffer;
  partials: GPUBuffer;
  partialsReadback: GPUBuffer;
}
interface Slot {
  buffers?: Buffers;
  capacity: number;
  /** Settles when the slot's last chunk is done with its buffers. */
  busy: Promise<void>;
}

function destroyBuffers(slot: Slot) {
  if (!slot.buffers) return;
  for (const buf of Object.values(slot.buffers)) buf.destroy();
  slot.buffers = undefined;
  slot.capacity = 0;
}
