import { describe, expect, it } from 'vitest';
import { seededWeights } from '../../../test-support/seeded-weights.ts';
import type { Chunk } from '../merge/chunks.ts';
import type { PlannedTensor } from '../merge/merge-plan.ts';
import { EXTERNAL_DATA_ALIGNMENT } from '../model/external-data.ts';
import { quantizeQ4 } from './q4-quantize.ts';
import { layoutQ4ExternalData, q4ExternalDataSink, q4InputNames, q4Tensors } from './q4-weights.ts';

const tensors = [
  { name: 'model.embed_tokens.weight', shape: [7, 40] },
  { name: 'model.layers.0.self_attn.q_proj.weight', shape: [5, 40] },
  { name: 'model.layers.0.self_attn.q_proj.bias', shape: [5] },
  { name: 'model.layers.0.mlp.down_proj.weight', shape: [3, 97] },
  { name: 'lm_head.weight', shape: [7, 40] },
];

describe('the 4-bit data file', () => {
  it('quantises the layer projections only', () => {
    expect([...q4Tensors(tensors)]).toEqual(['model.layers.0.self_attn.q_proj.weight', 'model.layers.0.mlp.down_proj.weight']);
  });

  it('written from chunks that cut rows anywhere: each projection equals quantizeQ4 of the whole tensor, floats as they came, every tensor page-aligned', async () => {
    const quantized = q4Tensors(tensors);
    const layout = layoutQ4ExternalData(tensors, quantized);
    expect(layout.tensors.map((t) => t.name)).toEqual([
      'model.embed_tokens.weight',
      ...Object.values(q4InputNames('model.layers.0.self_attn.q_proj.weight')),
      'model.layers.0.self_attn.q_proj.bias',
      ...Object.values(q4InputNames('model.layers.0.mlp.down_proj.weight')),
      'lm_head.weight',
    ]);
    expect(layout.tensors.every((t) => t.offset % EXTERNAL_DATA_ALIGNMENT === 0)).toBe(true);
    expect(layout.tensors.find((t) => t.name === 'model.layers.0.mlp.down_proj.weight_Q4')).toMatchObject({ shape: [3, 4, 16], length: 3 * 4 * 16 });
    expect(layout.tensors.find((t) => t.name === 'model.layers.0.mlp.down_proj.weight_zero_points')).toMatchObject({ shape: [3, 2], length: 6 });

    const values = tensors.map((t, i) => seededWeights(t.shape.reduce((a, b) => a * b, 1), 100 + i));
    const parts: Uint8Array[] = [];
    const sink = q4ExternalDataSink(layout, quantized, { write: async (b) => void parts.push(b.slice()) });
    const CHUNK = 7; // rows of 40 and 97 elements straddle chunks
    for (const [index, t] of tensors.entries()) {
      const n = values[index].length;
      for (let start = 0; start < n; start += CHUNK) {
        const count = Math.min(CHUNK, n - start);
        const c: Chunk = { tensor: { name: t.name, shape: t.shape } as PlannedTensor, index, start, count, kind: 'merged', last: start + count === n };
        await sink.write(c, new Uint8Array(values[index].slice(start, start + count).buffer), {} as never);
      }
    }
    await sink.finish!({} as never);
    const file = new Uint8Array(layout.bytes);
    let at = 0;
    for (const p of parts) {
      file.set(p, at);
      at += p.length;
    }
    expect(at).toBe(layout.bytes);
    const bytesOf = (name: string) => {
      const t = layout.tensors.find((x) => x.name === name)!;
      return file.subarray(t.offset, t.offset + t.length);
    };
    for (const [i, t] of tensors.entries()) {
      if (!quantized.has(t.name)) {
        expect(bytesOf(t.name)).toEqual(new Uint8Array(values[i].buffer));
        continue;
      }
      const want = quantizeQ4(values[i], t.shape[0], t.shape[1]);
      const names = q4InputNames(t.name);
      expect(bytesOf(names.packed)).toEqual(want.packed);
      expect(bytesOf(names.scales)).toEqual(new Uint8Array(want.scales.buffer));
      expect(bytesOf(names.zeroPoints)).toEqual(want.zeroPoints);
    }
  });
});
