import { describe, expect, it } from 'vitest';
import { heatmapGrid, heatmapScale, layerModule, metricValue, scalePosition } from './vector-heatmap.ts';
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

describe('heatmap values and scale', () => {
  const grid = heatmapGrid([
    { name: 'model.layers.0.self_attn.q_proj.weight', nan: 0, inf: 0, stats: { elements: 4, normV: 2, normTarget: 8, ratio: 0.25, cosine: -0.5, nearZeroFraction: 0.25 } },
    { name: 'model.layers.0.mlp.up_proj.weight', nan: 0, inf: 0, stats: { elements: 4, normV: 1, normTarget: 0, ratio: null, cosine: null, nearZeroFraction: 0 } },
    { name: 'model.layers.1.self_attn.q_proj.weight', nan: 0, inf: 0, stats: { elements: 4, normV: 3, normTarget: 4, ratio: 0.75, cosine: 0.25, nearZeroFraction: 0 } },
    { name: 'model.layers.1.mlp.up_proj.weight', nan: 0, inf: 0 }, // kept from the target
  ]);

  it('names the tensor of every place, with or without statistics', () => {
    expect(grid.names).toEqual([
      ['model.layers.0.self_attn.q_proj.weight', 'model.layers.0.mlp.up_proj.weight'],
      ['model.layers.1.self_attn.q_proj.weight', 'model.layers.1.mlp.up_proj.weight'],
    ]);
    expect(grid.cells[1][1]).toBeUndefined();
  });

  it('‖α·v‖/‖θ_target‖ = |α|·‖v‖/‖θ_target‖; undefined without a target norm or a finite α', () => {
    const q0 = grid.cells[0][0]!;
    expect(metricValue(q0, 'alphaRatio', -1.5)).toBe(0.375);
    expect(metricValue(q0, 'alphaRatio', 0.5)).toBe(0.125);
    expect(metricValue(q0, 'alphaRatio', NaN)).toBeNull();
    expect(metricValue(grid.cells[0][1]!, 'alphaRatio', 2)).toBeNull();
  });

  it('magnitudes: linear from the grid minimum to its maximum, counting the "—" cells by reason', () => {
    expect(heatmapScale(grid, 'ratio')).toEqual({ kind: 'linear', from: 0.25, to: 0.75, min: 0.25, max: 0.75, noTensor: 1, noValue: 1 });
    expect(heatmapScale(grid, 'alphaRatio', -2)).toMatchObject({ from: 0.5, to: 1.5 });
    expect(heatmapScale(grid, 'normV')).toMatchObject({ min: 1, max: 3, noValue: 0 });
    const s = heatmapScale(grid, 'ratio');
    expect([0.25, 0.5, 0.75, 2].map((v) => scalePosition(v, s))).toEqual([0, 0.5, 1, 1]);
  });

  it('the cosine keeps −1 … 1 whatever the grid holds', () => {
    const s = heatmapScale(grid, 'cosine');
    expect(s).toEqual({ kind: 'diverging', from: -1, to: 1, min: -0.5, max: 0.25, noTensor: 1, noValue: 1 });
    expect(scalePosition(-0.5, s)).toBe(-0.5);
  });
});
