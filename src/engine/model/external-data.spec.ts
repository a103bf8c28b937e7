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
});
