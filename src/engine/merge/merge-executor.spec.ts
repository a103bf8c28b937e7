import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { fakeGpuDevice, GPU_GLOBALS } from '../../../test-support/fake-gpu-device.ts';
import { decode, encode, referenceMerge, seededValues } from '../../../test-support/merge-reference.ts';
import { rejection } from '../../../test-support/rejection.ts';
import type { Checkpoint } from '../checkpoint/open-checkpoint.ts';
import { UnsupportedDtypeError } from '../errors.ts';
import type { DecoderSpec } from '../model/decoder-graph.ts';
import { checkpointWeightsF32, mergedWeightsF32, WeightsMismatchError } from '../model/weights.ts';
import { dtypeByteSize, type SupportedDtype } from '../safetensors/dtypes.ts';
import type { Chunk } from './chunks.ts';
import { CpuTensorMerger } from './cpu-tensor-merger.ts';
import { GpuDeviceLostError, GpuMergeError } from './gpu-dispatch.ts';
import { GpuTensorMerger } from './gpu-tensor-merger.ts';
import { countNonFinite, executeMerge, MergeCancelledError, type MergeSink } from './merge-executor.ts';
import type { MergePlan, PlannedTensor, TensorRef } from './merge-plan.ts';
import { memoryOutputFolder } from './output/output-folder.ts';
import { ResidentMerge } from './resident-merge.ts';
import { runMerge } from './stream-merge.ts';
import type { TensorMerger } from './tensor-merger.ts';

/**
 * The merge executor on its own: a hand-made plan whose tensors sit on chunk boundaries (1, 255,
 * 257 and the chunk size ±1 elements, a tensor merged only in part, one only kept, one empty),
 * run into each sink and checked against an independent reference, element by element.
 */

const CHUNK = 128;
const size = (d: SupportedDtype) => dtypeByteSize(d)!;

/** Inputs held in memory; every ranged read is recorded (and may finish out of order). */
class MemoryCheckpoint {
  readonly reads: Array<{ name: string; offset: number; length: number }> = [];
  /** Reads started and not yet settled. */
  pending = 0;
  readonly tensors = new Map<string, Uint8Array>();
  failAfterReads?: number;
  constructor(readonly label: string, private readonly jitter = false) {}
  async readTensorBytes(name: string, offset = 0, length?: number): Promise<Uint8Array> {
    const bytes = this.tensors.get(name)!;
    const len = length ?? bytes.length - offset;
    this.reads.push({ name, offset, length: len });
    if (this.failAfterReads !== undefined && this.reads.length > this.failAfterReads) throw new Error(`${this.label}: connection reset`);
    this.pending++;
    await new Promise((r) => setTimeout(r, this.jitter ? (offset * 7919) % 5 : 0));
    this.pending--;
    return bytes.slice(offset, offset + len);
  }
  /** The byte ranges of `name` read, sorted: must tile [0, end) with no overlap. */
  ranges(name: string) {
    return this.reads.filter((r) => r.name === name).map((r) => [r.offset, r.offset + r.length] as const).sort((a, b) => a[0] - b[0]);
  }
}

interface Trio {
  target: MemoryCheckpoint;
  sft: MemoryCheckpoint;
  rl: MemoryCheckpoint;
  plan: MergePlan;
  /** Decoded inputs per tensor, for the reference. */
  values: Map<string, { target: number[]; sft?: number[]; rl?: number[] }>;
}

const SHAPES: Array<{ name: string; elements: number; merged: number }> = [
  { name: 'one', elements: 1, merged: 1 },
  { name: 'odd-255', elements: 255, merged: 255 },
  { name: 'odd-257', elements: 257, merged: 257 },
  { name: 'chunk-minus-1', elements: CHUNK - 1, merged: CHUNK - 1 },
  { name: 'chunk', elements: CHUNK, merged: CHUNK },
  { name: 'chunk-plus-1', elements: CHUNK + 1, merged: CHUNK + 1 },
  { name: 'vocab-overlap', elements: 300, merged: CHUNK + 2 },
  { name: 'kept-only', elements: 255, merged: 0 },
  { name: 'empty', elements: 0, merged: 0 },
];

function makeTrio(outDtype: SupportedDtype, o: { jitter?: boolean; dtypes?: { target: SupportedDtype; sft: SupportedDtype; rl: SupportedDtype } } = {}): Trio {
  const dt = o.dtypes ?? { target: 'BF16', sft: 'F16', rl: 'F32' };
  const target = new MemoryCheckpoint('target', o.jitter);
  const sft = new MemoryCheckpoint('sft', o.jitter);
  const rl = new MemoryCheckpoint('rl', o.jitter);
  const values: Trio['values'] = new Map();
  const ref = (c: MemoryCheckpoint, name: string, dtype: SupportedDtype, n: number, seed: number): { ref: TensorRef; values: number[] } => {
    c.tensors.set(name, encode(seededValues(n, seed, 0.2), dtype));
    return { ref: { ckpt: c as unknown as Checkpoint, name, dtype, shape: [n] }, values: decode(c.tensors.get(name)!, dtype) };
  };
  const tensors: PlannedTensor[] = SHAPES.map((s, i) => {
    const t = ref(target, s.name, dt.target, s.elements, 100 + i);
    const d = s.merged ? { sft: ref(sft, s.name, dt.sft, s.merged, 200 + i), rl: ref(rl, s.name, dt.rl, s.merged, 300 + i) } : undefined;
    values.set(s.name, { target: t.values, sft: d?.sft.values, rl: d?.rl.values });
    return { name: s.name, shape: [s.elements], dtype: outDtype, elements: s.elements, byteLength: s.elements * size(outDtype), target: t.ref, sft: d?.sft.ref, rl: d?.rl.ref, mergedElements: s.merged };
  });
  // Two shards, split inside the list, so the writer switches files mid-run.
  const files = [tensors.slice(0, 4), tensors.slice(4)].map((ts, i) => ({ name: `model-0000${i + 1}-of-00002.safetensors`, tensors: ts, dataBytes: ts.reduce((a, t) => a + t.byteLength, 0) }));
  const totalBytes = tensors.reduce((a, t) => a + t.byteLength, 0);
  return { target, sft, rl, values, plan: { mode: 'merge', files, sharded: true, tensors, totalBytes, largestTensorBytes: 300 * 4, notes: [] } };
}

/** θ(α) of one tensor by the test-suite reference: merged part computed, kept part cast. */
function expected(trio: Trio, t: PlannedTensor, alpha: number, out: SupportedDtype): Uint8Array {
  const v = trio.values.get(t.name)!;
  const merged = t.mergedElements ? referenceMerge(v.target.slice(0, t.mergedElements), v.sft!, v.rl!, alpha, out) : new Uint8Array(0);
  const kept = encode(v.target.slice(t.mergedElements), out);
  const all = new Uint8Array(merged.length + kept.length);
  all.set(merged);
  all.set(kept, merged.length);
  return all;
}

/** A sink that records what it is given, and fails the test on any write after abort. */
function recordingSink() {
  const chunks: Array<{ chunk: Chunk; bytes: Uint8Array }> = [];
  const calls: string[] = [];
  const sink: MergeSink = {
    write(chunk, bytes) {
      if (calls.includes('abort')) throw new Error('write after abort');
      chunks.push({ chunk, bytes: bytes.slice() });
      calls.push('write');
    },
    async finish() {
      calls.push('finish');
    },
    async abort() {
      calls.push('abort');
    },
  };
  return { sink, chunks, calls };
}

/** A merger of kind 'gpu' (two chunks in flight) whose results come back out of order. */
function outOfOrderMerger(inner: TensorMerger): TensorMerger & { pending: number } {
  let n = 0;
  const m = {
    kind: 'gpu' as const,
    chunkElements: inner.chunkElements,
    pending: 0,
    async mergeChunk(c: Parameters<TensorMerger['mergeChunk']>[0]) {
      m.pending++;
      const r = await inner.mergeChunk(c);
      await new Promise((res) => setTimeout(res, n++ % 2 === 0 ? 6 : 0));
      m.pending--;
      return r;
    },
    destroy: () => inner.destroy(),
  };
  return m;
}

beforeAll(() => {
  for (const [k, v] of Object.entries(GPU_GLOBALS)) vi.stubGlobal(k, v);
});
afterAll(() => vi.unstubAllGlobals());

describe('executeMerge: every tensor reaches the sink exactly once, chunk boundaries at odd sizes', () => {
  for (const out of ['BF16', 'F16', 'F32'] as const) {
    for (const [what, make] of [
      ['CPU merger', () => new CpuTensorMerger(CHUNK)],
      ['two in flight, finishing out of order', () => outOfOrderMerger(new CpuTensorMerger(CHUNK))],
    ] as const) {
      it(`${out} out, ${what}: chunks tile each tensor in order and the bytes equal the reference`, async () => {
        const trio = makeTrio(out, { jitter: true });
        const { sink, chunks, calls } = recordingSink();
        const alpha = 0.75;
        const report = await executeMerge({ tensors: trio.plan.tensors, merger: make(), compute: 'merge', alpha, parts: { merged: true, kept: true }, sink });
        expect(calls.at(-1)).toBe('finish');
        expect(calls.filter((c) => c === 'finish')).toHaveLength(1);
        for (const [i, t] of trio.plan.tensors.entries()) {
          const mine = chunks.filter((c) => c.chunk.tensor === t);
          // In order, contiguous from 0 to the end, merged parts first, `last` on the last only.
          let at = 0;
          for (const [k, c] of mine.entries()) {
            expect(c.chunk.index).toBe(i);
            expect(c.chunk.start).toBe(at);
            expect(c.chunk.count).toBeLessThanOrEqual(CHUNK);
            expect(c.chunk.kind).toBe(c.chunk.start < t.mergedElements ? 'merged' : 'kept');
            expect(c.chunk.last).toBe(k === mine.length - 1);
            at += c.chunk.count;
          }
          expect(at).toBe(t.elements);
          expect(mine.length).toBe(Math.max(1, Math.ceil(t.mergedElements / CHUNK) + Math.ceil((t.elements - t.mergedElements) / CHUNK)));
          const got = new Uint8Array(mine.reduce((a, c) => a + c.bytes.length, 0));
          mine.reduce((a, c) => (got.set(c.bytes, a), a + c.bytes.length), 0);
          expect(Buffer.from(got).equals(Buffer.from(expected(trio, t, alpha, out))), t.name).toBe(true);
        }
        // Tensors reach the sink one after the other, never interleaved.
        expect(chunks.map((c) => c.chunk.index)).toEqual([...chunks.map((c) => c.chunk.index)].sort((a, b) => a - b));
        // Each input byte is read exactly once.
        for (const t of trio.plan.tensors) {
          const tile = (ranges: ReadonlyArray<readonly [number, number]>, end: number) => {
            let at = 0;
            for (const [a, b] of ranges) (expect(a).toBe(at), (at = b));
            expect(at).toBe(end);
          };
          if (t.elements) tile(trio.target.ranges(t.name), t.elements * size(t.target!.dtype));
          if (t.mergedElements) {
            tile(trio.sft.ranges(t.name), t.mergedElements * size(t.sft!.dtype));
            tile(trio.rl.ranges(t.name), t.mergedElements * size(t.rl!.dtype));
          }
        }
        expect(report.tensors.map((r) => [r.nan, r.inf])).toEqual(trio.plan.tensors.map(() => [0, 0]));
        expect(report.bytesRead).toBe([trio.target, trio.sft, trio.rl].reduce((a, c) => a + c.reads.reduce((x, r) => x + r.length, 0), 0));
      });
    }
  }

  it('chunk sizes of 1 and of the largest tensor tile the same way', async () => {
    for (const chunk of [1, 300]) {
      const trio = makeTrio('F32');
      const { sink, chunks } = recordingSink();
      await executeMerge({ tensors: trio.plan.tensors, merger: new CpuTensorMerger(chunk), compute: 'merge', alpha: -1, parts: { merged: true, kept: true }, sink });
      expect(chunks.length).toBe(trio.plan.tensors.reduce((a, t) => a + Math.max(1, Math.ceil(t.mergedElements / chunk) + Math.ceil((t.elements - t.mergedElements) / chunk)), 0));
      for (const t of trio.plan.tensors) {
        const got = Buffer.concat(chunks.filter((c) => c.chunk.tensor === t).map((c) => c.bytes));
        expect(got.equals(Buffer.from(expected(trio, t, -1, 'F32'))), `${t.name} chunk ${chunk}`).toBe(true);
      }
    }
  });
});

describe('NaN and ±Inf in the output are counted for kept chunks as for merged ones', () => {
  /** Non-finite values of the bytes a sink got, decoded by the test-suite reference. */
  const counted = (bytes: Uint8Array, dtype: SupportedDtype) => {
    const v = decode(bytes, dtype);
    return { nan: v.filter((x) => Number.isNaN(x)).length, inf: v.filter((x) => x === Infinity || x === -Infinity).length };
  };
  for (const out of ['BF16', 'F16', 'F32'] as const) {
    it(`${out} out: a kept-only tensor and the kept tail of a tensor merged in part report the NaN and Inf they are written with`, async () => {
      const trio = makeTrio(out);
      const plant = (name: string, at: Record<number, number>) => {
        const t = trio.plan.tensors.find((x) => x.name === name)!;
        const values = decode(trio.target.tensors.get(name)!, t.target!.dtype);
        for (const [i, v] of Object.entries(at)) values[Number(i)] = v;
        trio.target.tensors.set(name, encode(values, t.target!.dtype));
      };
      // kept-only (255 elements, two chunks of 128): NaN, +Inf, −Inf, and 1e5, which f16 cannot hold (Inf once cast).
      plant('kept-only', { 3: NaN, 100: Infinity, 200: -Infinity, 254: 1e5 });
      // vocab-overlap: elements 0..129 merged, 130..299 kept.
      plant('vocab-overlap', { 131: NaN, 299: NaN });
      const { sink, chunks } = recordingSink();
      const report = await executeMerge({ tensors: trio.plan.tensors, merger: new CpuTensorMerger(CHUNK), compute: 'merge', alpha: 0.5, parts: { merged: true, kept: true }, sink });
      const byName = Object.fromEntries(report.tensors.map((r) => [r.name, { nan: r.nan, inf: r.inf }]));
      expect(byName['kept-only']).toEqual({ nan: 1, inf: out === 'F16' ? 3 : 2 });
      expect(byName['vocab-overlap']).toEqual({ nan: 2, inf: 0 });
      // What the report says is what the sink was given.
      for (const t of trio.plan.tensors) {
        const bytes = Buffer.concat(chunks.filter((c) => c.chunk.tensor === t).map((c) => c.bytes));
        expect(counted(new Uint8Array(bytes), out), t.name).toEqual(byName[t.name]);
      }
    });
  }

  it('countNonFinite reads values at any byte offset (a chunk sliced from a read), by bits', () => {
    for (const dtype of ['BF16', 'F16', 'F32'] as const) {
      const values = [1, NaN, -Infinity, 0, Infinity, NaN, -2.5, 65504];
      const bytes = encode(values, dtype);
      const shifted = new Uint8Array(bytes.length + 1);
      shifted.set(bytes, 1);
      expect(countNonFinite(shifted.subarray(1), dtype, values.length), dtype).toEqual({ nan: 2, inf: 2 });
      expect(countNonFinite(bytes, dtype, values.length), dtype).toEqual({ nan: 2, inf: 2 });
    }
  });
});

describe('the three sinks on the same plan', () => {
  it('file sink (runMerge): two shards whose tensor data equals the reference, committed once', async () => {
    const trio = makeTrio('BF16');
    const out = memoryOutputFolder();
    const report = await runMerge({ plan: trio.plan, merger: new CpuTensorMerger(CHUNK), alpha: 1.5, out });
    expect(out.committed).toBe(true);
    expect(report.files).toEqual(['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', 'model.safetensors.index.json']);
    for (const f of trio.plan.files) {
      const bytes = out.bytes(f.name);
      const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
      const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
      for (const t of f.tensors) {
        const [a, b] = header[t.name].data_offsets as [number, number];
        expect(Buffer.from(bytes.subarray(8 + headerLength + a, 8 + headerLength + b)).equals(Buffer.from(expected(trio, t, 1.5, 'BF16'))), t.name).toBe(true);
      }
    }
  });

  it('host-array sink (mergedWeightsF32): float32 arrays equal the reference, kept parts decoded as stored', async () => {
    const trio = makeTrio('BF16');
    const arrays = await mergedWeightsF32(trio.plan, outOfOrderMerger(new CpuTensorMerger(CHUNK)), 0.5);
    expect([...arrays.keys()]).toEqual(trio.plan.tensors.map((t) => t.name));
    for (const t of trio.plan.tensors) {
      const a = arrays.get(t.name)!;
      expect(Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(expected(trio, t, 0.5, 'F32'))), t.name).toBe(true);
    }
  });
});

describe('cancel and failure leave nothing half-written', () => {
  it('cancelled after three chunks: MergeCancelledError, the sink aborted once, nothing written after', async () => {
    const trio = makeTrio('F16');
    const { sink, chunks, calls } = recordingSink();
    const ac = new AbortController();
    let seen = 0;
    const e = await rejection(
      executeMerge({ tensors: trio.plan.tensors, merger: outOfOrderMerger(new CpuTensorMerger(CHUNK)), compute: 'merge', alpha: 1, parts: { merged: true, kept: true }, sink, signal: ac.signal, onProgress: () => ++seen === 3 && ac.abort() }),
    );
    expect(e).toBeInstanceOf(MergeCancelledError);
    expect(e.message).toBe('The merge was cancelled; nothing was saved.');
    expect(chunks).toHaveLength(3);
    expect(calls).toEqual(['write', 'write', 'write', 'abort']);
  });

  it('cancelled file merge: the output folder is aborted, never committed', async () => {
    const trio = makeTrio('BF16');
    const out = memoryOutputFolder();
    const ac = new AbortController();
    const e = await rejection(runMerge({ plan: trio.plan, merger: new CpuTensorMerger(CHUNK), alpha: 1, out, signal: ac.signal, onProgress: (p) => p.tensorsDone === 5 && ac.abort() }));
    expect(e).toBeInstanceOf(MergeCancelledError);
    expect(out.committed).toBe(false);
    expect(out.files.size).toBe(0);
  });

  it('a read failing mid-run: the error propagates, the sink is aborted after in-flight work settles', async () => {
    const trio = makeTrio('F32', { jitter: true });
    trio.rl.failAfterReads = 4;
    const { sink, calls } = recordingSink();
    const merger = outOfOrderMerger(new CpuTensorMerger(CHUNK));
    const e = await rejection(executeMerge({ tensors: trio.plan.tensors, merger, compute: 'merge', alpha: 1, parts: { merged: true, kept: true }, sink }));
    expect(e.message).toBe('rl: connection reset');
    // Nothing still runs once the call has failed: the caller may destroy the merger and buffers at once.
    expect([merger.pending, trio.target.pending, trio.sft.pending, trio.rl.pending]).toEqual([0, 0, 0, 0]);
    expect(calls.at(-1)).toBe('abort');
    expect(calls.filter((c) => c === 'abort')).toHaveLength(1);
    expect(calls).not.toContain('finish');
  });

  it('resident buffers: a cancelled α claims no α (both strategies)', async () => {
    for (const budgetBytes of [1 << 30, 12_000]) {
      const gpu = fakeGpuDevice();
      const rm = await ResidentMerge.create(gpu.device, makeTrio('F32').plan, { budgetBytes });
      await rm.setAlpha(2);
      const ac = new AbortController();
      ac.abort();
      expect(await rejection(rm.setAlpha(1, ac.signal)), rm.residency.strategy).toBeInstanceOf(MergeCancelledError);
      expect(rm.alpha).toBeUndefined();
      rm.destroy();
      expect(gpu.buffersAlive()).toBe(0);
    }
  });

  it('host arrays: a cancelled merge returns no arrays', async () => {
    const trio = makeTrio('F32');
    const ac = new AbortController();
    ac.abort();
    expect(await rejection(mergedWeightsF32(trio.plan, new CpuTensorMerger(CHUNK), 1, ac.signal))).toBeInstanceOf(MergeCancelledError);
  });
});

describe('a lost GPU device surfaces as GpuDeviceLostError for every sink', () => {
  const LOST = /^The GPU device was lost while merging (\S+).* \(unknown: the GPU process crashed \(test\)\)\. Nothing was saved; reload the page \(or restart the command\) and try again\.$/;

  it('file sink: lost at the third submission; the folder is aborted, never committed', async () => {
    const trio = makeTrio('BF16');
    const gpu = fakeGpuDevice({ loseAtSubmit: 3 });
    const out = memoryOutputFolder();
    const merger = new GpuTensorMerger(gpu.device, CHUNK);
    const e = await rejection(runMerge({ plan: trio.plan, merger, alpha: 1, out }));
    merger.destroy();
    expect(e).toBeInstanceOf(GpuDeviceLostError);
    expect(e.message).toMatch(LOST);
    expect(trio.plan.tensors.map((t) => t.name)).toContain((e as GpuDeviceLostError).label.split(' ')[0]);
    expect(out.committed).toBe(false);
    expect(out.files.size).toBe(0);
    expect(gpu.buffersAlive()).toBe(0);
  });

  it('host-array sink: mergedWeightsF32 on a GPU lost mid-merge', async () => {
    const trio = makeTrio('F32');
    const gpu = fakeGpuDevice({ loseAtSubmit: 2 });
    const e = await rejection(mergedWeightsF32(trio.plan, new GpuTensorMerger(gpu.device, CHUNK), 1));
    expect(e).toBeInstanceOf(GpuDeviceLostError);
    expect(e.message).toMatch(LOST);
  });

  it('resident sink: lost while filling (nothing left allocated), and lost before a new α (both strategies)', async () => {
    const trio = makeTrio('F32');
    const filling = fakeGpuDevice({ loseAtSubmit: 2 });
    const e = await rejection(ResidentMerge.create(filling.device, trio.plan, { budgetBytes: 1 << 30 }));
    expect(e).toBeInstanceOf(GpuDeviceLostError);
    expect(e.message).toMatch(LOST);
    expect(filling.buffersAlive()).toBe(0);

    for (const [budgetBytes, strategy] of [[1 << 30, 'resident'], [12_000, 'streaming']] as const) {
      const gpu = fakeGpuDevice();
      const rm = await ResidentMerge.create(gpu.device, makeTrio('F32').plan, { budgetBytes });
      expect(rm.residency.strategy).toBe(strategy);
      await rm.setAlpha(0.5);
      expect(rm.alpha).toBe(0.5);
      gpu.lose();
      const lost = await rejection(rm.setAlpha(1));
      expect(lost, strategy).toBeInstanceOf(GpuDeviceLostError);
      expect(lost.message).toMatch(LOST);
      expect(rm.alpha).toBeUndefined();
      expect(await rejection(rm.readOutput('odd-257'))).toBeInstanceOf(GpuDeviceLostError);
      rm.destroy();
    }
  });

  it('out of memory on a submission is a GpuMergeError naming the chunk and what to do', async () => {
    const trio = makeTrio('BF16');
    const gpu = fakeGpuDevice();
    gpu.failNextScope('out-of-memory', 'Failed to allocate merge sft chunk');
    const out = memoryOutputFolder();
    const e = await rejection(runMerge({ plan: trio.plan, merger: new GpuTensorMerger(gpu.device, CHUNK), alpha: 1, out }));
    expect(e).toBeInstanceOf(GpuMergeError);
    expect(e.message).toBe('GPU out of memory while merging one: Failed to allocate merge sft chunk. Close other GPU-heavy tabs or programs, lower the GPU memory budget, or merge on the CPU.');
    expect(out.committed).toBe(false);
  });
});

describe('weights.ts: errors a user can cause name the tensor and the checkpoint', () => {
  const ckpt = (tensors: Array<{ name: string; dtype: string; shape: number[] }>) =>
    ({ source: { label: 'my-model' }, tensors: new Map(tensors.map((t) => [t.name, { ...t, file: 'model.safetensors', byteOffset: 0, byteLength: 0 }])) }) as unknown as Checkpoint;
  const spec = { weights: [{ name: 'model.norm.weight', shape: [16] }] } as unknown as DecoderSpec;

  it('a weight the model needs is missing', async () => {
    const e = await rejection(checkpointWeightsF32(ckpt([]), spec));
    expect(e).toBeInstanceOf(WeightsMismatchError);
    expect(e.message).toBe(`my-model: tensor "model.norm.weight" is not in the checkpoint's weights, but the model needs it; check that config.json belongs to these safetensors files.`);
  });

  it('a weight of the wrong shape', async () => {
    const e = await rejection(checkpointWeightsF32(ckpt([{ name: 'model.norm.weight', dtype: 'BF16', shape: [8] }]), spec));
    expect(e).toBeInstanceOf(WeightsMismatchError);
    expect(e.message).toBe('my-model: tensor "model.norm.weight" in model.safetensors has shape [8], but the model needs [16]; check that config.json belongs to these safetensors files.');
  });

  it('a weight in a dtype the studio cannot compute with', async () => {
    const e = await rejection(checkpointWeightsF32(ckpt([{ name: 'model.norm.weight', dtype: 'F8_E4M3', shape: [16] }]), spec));
    expect(e).toBeInstanceOf(UnsupportedDtypeError);
    expect(e.message).toMatch(/^my-model\/model\.safetensors: tensor "model\.norm\.weight" has dtype F8_E4M3; .* Use an unquantised checkpoint/);
  });
});
