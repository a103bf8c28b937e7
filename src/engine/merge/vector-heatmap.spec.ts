import { describe, expect, it } from 'vitest';
import { heatmapGrid, layerModule } from './vector-heatmap.ts';
import type { VectorStats } from './stream-merge.ts';

const s = (ratio: number): VectorStats => ({ elements: 1, normV: ratio, normTarget: 1, ratio, cosine: 0.5, nearZeroFraction: 0 });

describe('heatmapGrid', () => {
  it('names: attention and MLP projections, biases, norms; non-layer tensors are "other"', () => {
    expect(layerModule('model.layers.12.self_attn.q_proj.weight')).toEqual([12, 'q_proj']);
    expect(layerModule('model.layers.0.self_attn.k_proj.bias')).toEqual([0, 'k_proj.bias']);
    expect(layerModule('model.layers.3.mlp.down_proj.weight')).toEqual([3, 'down_proj']);
    expect(layerModule('model.layers.3.input_layernorm.weight')).toEqual([3, 'input_layernorm']);
    expect(layerModule('model.embed_tokens.weight')).toBeUndefined();
  });

  it('orders layers numerically and modules canonically, leaving holes where a tensor is absent', () => {
    const g = heatmapGrid([
      { name: 'model.layers.10.mlp.up_proj.weight', nan: 0, inf: 0, stats: s(3) },
      { name: 'model.layers.2.self_attn.q_proj.weight', nan: 0, inf: 0, stats: s(1) },
      { name: 'model.layers.2.mlp.up_proj.weight', nan: 0, inf: 0, stats: s(2) },
      { name: 'model.layers.2.custom.thing', nan: 0, inf: 0, stats: s(4) },
      { name: 'model.norm.weight', nan: 0, inf: 0, stats: s(5) },
      { name: 'model.layers.2.mlp.gate_proj.weight', nan: 0, inf: 0 }, // no stats: skipped
    ]);
    expect(g.layers).toEqual([2, 10]);
    expect(g.modules).toEqual(['q_proj', 'up_proj', 'custom.thing']);
    expect(g.cells.map((row) => row.map((c) => c?.ratio))).toEqual([
      [1, 2, 4],
      [undefined, 3, undefined],
    ]);
    expect(g.other.map((o) => o.name)).toEqual(['model.norm.weight']);
  });
});
