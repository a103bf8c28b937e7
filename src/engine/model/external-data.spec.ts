import { describe, expect, it } from 'vitest';
import type { Chunk } from '../merge/chunks.ts';
import type { ExecutionReport } from '../merge/merge-executor.ts';
import type { PlannedTensor } from '../merge/merge-plan.ts';
import { EXTERNAL_DATA_ALIGNMENT, externalDataSink, externalRanges, layoutExternalData } from './external-data.ts';

const tensor = (name: string, shape: number[]): PlannedTensor => {
  const elements = shape.reduce((a, b) => a * b, 1);
  return { name, shape, dtype: 'F32', elements, byteLength: elements * 4, mergedElements: 0 };
};
const chunk = (t: PlannedTensor, start: number, count: number): Chunk => ({ tensor: t, index: 0, start, count, kind: 'kept', last: start + count === t.elements });
const f32 = (values: number[]) => new Uint8Array(Float32Array.from(values).buffer);
const report = {} as ExecutionReport;

function collector() {
  const parts: Uint8Array[] = [];
  return {
    write: async (b: Uint8Array) => void parts.push(b.slice()),
    bytes: () => {
      const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
      let o = 0;
      for (const p of parts) (out.set(p, o), (o += p.length));
      return out;
    },
  };
}

describe('external data layout and sink', () => {
  const a = tensor('a', [3]);
  const b = tensor('b', [1025]); // 4100 bytes: crosses a page
  const c = tensor('c', [2, 2]);
  const layout = layoutExternalData([a, b, c]);

  it('lays tensors out in order, each at a page boundary, float32', () => {
    expect(layout.tensors.map((t) => [t.name, t.offset, t.length])).toEqual([
      ['a', 0, 12],
      ['b', EXTERNAL_DATA_ALIGNMENT, 4100],
      ['c', 3 * EXTERNAL_DATA_ALIGNMENT, 16],
    ]);
    expect(layout.bytes).toBe(3 * EXTERNAL_DATA_ALIGNMENT + 16);
    expect(externalRanges(layout).get('b')).toEqual({ offset: EXTERNAL_DATA_ALIGNMENT, length: 4100 });
  });

  it('writes each chunk at its offset with zero padding between tensors, front to back', async () => {
    const out = collector();
    const sink = externalDataSink(layout, out);
    const bValues = Array.from({ length: 1025 }, (_, i) => i + 0.5);
    await sink.write(chunk(a, 0, 3), f32([1, 2, 3]), {});
    await sink.write(chunk(b, 0, 1000), f32(bValues.slice(0, 1000)), {});
    await sink.write(chunk(b, 1000, 25), f32(bValues.slice(1000)), {});
    await sink.write(chunk(c, 0, 4), f32([-1, -2, -3, -4]), {});
    await sink.finish!(report);
    const bytes = out.bytes();
    expect(bytes.length).toBe(layout.bytes);
    const at = (offset: number, n: number) => Array.from(new Float32Array(bytes.slice(offset, offset + n * 4).buffer));
    expect(at(0, 3)).toEqual([1, 2, 3]);
    expect(bytes.slice(12, EXTERNAL_DATA_ALIGNMENT).every((x) => x === 0)).toBe(true);
    expect(at(EXTERNAL_DATA_ALIGNMENT, 1025)).toEqual(bValues);
    expect(at(3 * EXTERNAL_DATA_ALIGNMENT, 4)).toEqual([-1, -2, -3, -4]);
  });

  it('refuses a chunk that would land behind what is written, and an incomplete file', async () => {
    const sink = externalDataSink(layout, collector());
    await sink.write(chunk(b, 0, 1025), f32(new Array(1025).fill(1)), {});
    await expect(sink.write(chunk(a, 0, 3), f32([1, 2, 3]), {})).rejects.toThrow(/chunk of "a" at byte 0 arrived after byte 8196 was written/);
    await expect(sink.finish!(report)).rejects.toThrow(/8196 of 12304 bytes written/);
  });

  describe('split over several data files (maxFileBytes)', () => {
    // 10 000-byte files: a and b (at its page, 4096 + 4100) share file 0; c would start at 12 288,
    // past the limit, so it starts file 1; d (12 KiB) is larger than a file on its own; e follows.
    const d = tensor('d', [3072]);
    const e = tensor('e', [1]);
    const split = layoutExternalData([a, b, c, d, e], 'float32', { maxFileBytes: 10_000 });

    it('starts a new file where a tensor would end past the limit; a tensor above it gets a file of its own, listed', () => {
      expect(split.tensors.map((t) => [t.name, t.file, t.offset, t.length])).toEqual([
        ['a', 0, 0, 12],
        ['b', 0, EXTERNAL_DATA_ALIGNMENT, 4100],
        ['c', 1, 0, 16],
        ['d', 2, 0, 12288],
        ['e', 3, 0, 4],
      ]);
      expect(split.files).toEqual([EXTERNAL_DATA_ALIGNMENT + 4100, 16, 12288, 4]);
      expect(split.bytes).toBe(EXTERNAL_DATA_ALIGNMENT + 4100 + 16 + 12288 + 4);
      expect(split.oversized.map((t) => t.name)).toEqual(['d']);
      expect(externalRanges(split, (i) => `w_${i}`).get('b')).toEqual({ offset: EXTERNAL_DATA_ALIGNMENT, length: 4100, location: 'w_0' });
      // Without a limit: one file, as before.
      expect(layout.files).toEqual([layout.bytes]);
      expect(layout.tensors.every((t) => t.file === 0)).toBe(true);
    });

    it('writes each file front to back and opens the next only once the previous is complete', async () => {
      const files: ReturnType<typeof collector>[] = [];
      const opened: number[] = [];
      const sink = externalDataSink(split, {
        async open(i) {
          opened.push(i);
          expect(i).toBe(files.length);
          if (i > 0) expect(files[i - 1].bytes().length).toBe(split.files[i - 1]);
          files.push(collector());
          return files[i];
        },
      });
      const dValues = Array.from({ length: 3072 }, (_, i) => -i);
      await sink.write(chunk(a, 0, 3), f32([1, 2, 3]), {});
      await sink.write(chunk(b, 0, 1025), f32(new Array(1025).fill(7)), {});
      await sink.write(chunk(c, 0, 4), f32([9, 8, 7, 6]), {});
      await sink.write(chunk(d, 0, 2000), f32(dValues.slice(0, 2000)), {});
      await sink.write(chunk(d, 2000, 1072), f32(dValues.slice(2000)), {});
      await sink.write(chunk(e, 0, 1), f32([42]), {});
      await sink.finish!(report);
      expect(opened).toEqual([0, 1, 2, 3]);
      expect(files.map((f) => f.bytes().length)).toEqual(split.files);
      expect(sink.written).toBe(split.bytes);
      const floats = (bytes: Uint8Array, offset: number, n: number) => Array.from(new Float32Array(bytes.slice(offset, offset + n * 4).buffer));
      expect(floats(files[0].bytes(), 0, 3)).toEqual([1, 2, 3]);
      expect(floats(files[0].bytes(), EXTERNAL_DATA_ALIGNMENT, 1025)).toEqual(new Array(1025).fill(7));
      expect(floats(files[1].bytes(), 0, 4)).toEqual([9, 8, 7, 6]);
      expect(floats(files[2].bytes(), 0, 3072)).toEqual(dValues);
      expect(floats(files[3].bytes(), 0, 1)).toEqual([42]);
    });

    it('refuses one writer for several files, a file left short, and a chunk for a file already closed', async () => {
      expect(() => externalDataSink(split, collector())).toThrow(/4 data files but the sink one writer/);
      const short = externalDataSink(split, { open: async () => collector() });
      await short.write(chunk(a, 0, 3), f32([1, 2, 3]), {});
      await expect(short.write(chunk(c, 0, 4), f32([0, 0, 0, 0]), {})).rejects.toThrow(/data file 0 ends at byte 12 of 8196 before "c" starts file 1/);
      const late = externalDataSink(split, { open: async () => collector() });
      await late.write(chunk(a, 0, 3), f32([1, 2, 3]), {});
      await late.write(chunk(b, 0, 1025), f32(new Array(1025).fill(0)), {});
      await late.write(chunk(c, 0, 4), f32([0, 0, 0, 0]), {});
      await expect(late.write(chunk(a, 0, 3), f32([1, 2, 3]), {})).rejects.toThrow(/for data file 0 arrived after file 1 was started/);
      await expect(late.finish!(report)).rejects.toThrow(/data file 2 of 4/);
    });
  });
});
