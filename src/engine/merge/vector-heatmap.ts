import type { TensorReport, VectorStats } from './stream-merge.ts';
import { NEAR_ZERO_THRESHOLD } from './tensor-merger.ts';

/**
 * Per-tensor vector statistics arranged as a layer × module grid (the heatmap the page draws),
 * plus the tensors outside the layers (embeddings, final norm, head).
 */

export type HeatmapMetric = 'ratio' | 'alphaRatio' | 'cosine' | 'nearZeroFraction' | 'normV';
export const HEATMAP_METRICS: Record<HeatmapMetric, string> = {
  ratio: '‖v‖ / ‖θ_target‖',
  alphaRatio: '‖α·v‖ / ‖θ_target‖ at the current α',
  cosine: 'cos(v, θ_target − θ_SFT)',
  nearZeroFraction: 'near-zero fraction of v',
  normV: '‖v‖₂',
};

/** What each metric's numbers are, for the legend. */
export const HEATMAP_UNITS: Record<HeatmapMetric, string> = {
  ratio: 'a ratio of L2 norms over the same tensor (no unit): how large v is next to the weights it is added to',
  alphaRatio:
    '|α|·‖v‖₂ / ‖θ_target‖₂ (no unit): the relative change θ(α) − θ_target the merge makes to each tensor at this α, before rounding to the output dtype',
  cosine: 'a cosine (no unit, −1 … 1): > 0 where the target already moved from the SFT model the way RL did',
  nearZeroFraction: `the fraction of v's elements with |v_i| ≤ ${NEAR_ZERO_THRESHOLD} (0 … 1)`,
  normV: 'the L2 norm of v = θ_RL − θ_SFT, in the weights’ own units',
};

export interface HeatmapGrid {
  layers: number[];
  modules: string[];
  /** cells[layer index][module index], undefined where the tensor has no statistics (see `names`). */
  cells: (VectorStats | undefined)[][];
  /**
   * The tensor's full name where the merge plan has one at that place, with or without statistics:
   * a name without stats is a tensor kept from the target (not in both donors, so no v).
   */
  names: (string | undefined)[][];
  other: { name: string; stats: VectorStats }[];
}

/** Canonical column order for Llama/Qwen-style decoders; unknown modules follow in name order. */
const MODULE_ORDER = [
  'input_layernorm',
  'q_proj',
  'q_proj.bias',
  'k_proj',
  'k_proj.bias',
  'v_proj',
  'v_proj.bias',
  'q_norm',
  'k_norm',
  'o_proj',
  'post_attention_layernorm',
  'gate_proj',
  'up_proj',
  'down_proj',
];

const LAYER = /^(?:model\.)?layers\.(\d+)\.(.+)$/;

/** `model.layers.3.self_attn.q_proj.weight` → [3, "q_proj"]; biases keep a `.bias` suffix. */
export function layerModule(name: string): [number, string] | undefined {
  const m = LAYER.exec(name);
  if (!m) return undefined;
  const module = m[2].replace(/^(self_attn|mlp)\./, '').replace(/\.weight$/, '');
  return [Number(m[1]), module];
}

export function heatmapGrid(tensors: TensorReport[]): HeatmapGrid {
  const byCell = new Map<string, TensorReport>();
  const layers = new Set<number>();
  const modules = new Set<string>();
  const other: HeatmapGrid['other'] = [];
  for (const t of tensors) {
    const lm = layerModule(t.name);
    if (!lm) {
      if (t.stats) other.push({ name: t.name, stats: t.stats });
      continue;
    }
    // Rows and columns come from tensors with statistics; a kept tensor only names its hole.
    if (t.stats) {
      layers.add(lm[0]);
      modules.add(lm[1]);
    }
    byCell.set(`${lm[0]}\u0000${lm[1]}`, t);
  }
  const rank = (m: string) => (MODULE_ORDER.includes(m) ? MODULE_ORDER.indexOf(m) : MODULE_ORDER.length);
  const moduleList = [...modules].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  const layerList = [...layers].sort((a, b) => a - b);
  const at = (l: number, m: string) => byCell.get(`${l}\u0000${m}`);
  return {
    layers: layerList,
    modules: moduleList,
    cells: layerList.map((l) => moduleList.map((m) => at(l, m)?.stats)),
    names: layerList.map((l) => moduleList.map((m) => at(l, m)?.name)),
    other,
  };
}

/**
 * A metric's value for colouring; null where it is undefined: a ratio with ‖θ_target‖ = 0 (or no
 * target), a cosine with v = 0 or θ_target = θ_SFT, an α-scaled ratio when α is not a number.
 *
 * ‖α·v‖ / ‖θ_target‖ = |α|·‖v‖ / ‖θ_target‖ (a norm is absolutely homogeneous), computed from the
 * statistics of the α = 0 pass, so it follows α without re-reading the weights. The denominator is
 * the target's norm, not ‖θ(α)‖: that would need ⟨θ_target, v⟩, which the statistics do not keep.
 */
export function metricValue(s: VectorStats, metric: HeatmapMetric, alpha = 1): number | null {
  if (metric === 'alphaRatio') return s.ratio === null || !Number.isFinite(alpha) ? null : Math.abs(alpha) * s.ratio;
  return s[metric];
}

export interface HeatmapScale {
  /** The colour map: linear from `from` (palest) to `to` (darkest); the cosine diverges around 0. */
  kind: 'linear' | 'diverging';
  from: number;
  to: number;
  /** Smallest and largest value over the layer × module grid (null when no cell has a value). */
  min: number | null;
  max: number | null;
  /** Cells drawn "—": places with no tensor statistics, and tensors whose value is undefined. */
  noTensor: number;
  noValue: number;
}

/**
 * The colour scale of a metric over a grid. Magnitudes map linearly from the grid's smallest to
 * its largest value (the legend's two ends are those numbers); the cosine keeps −1 … 1, so its
 * colours mean the same thing from model to model.
 */
export function heatmapScale(grid: HeatmapGrid, metric: HeatmapMetric, alpha = 1): HeatmapScale {
  let min = Infinity;
  let max = -Infinity;
  let noTensor = 0;
  let noValue = 0;
  for (const row of grid.cells)
    for (const c of row) {
      if (!c) {
        noTensor++;
        continue;
      }
      const v = metricValue(c, metric, alpha);
      if (v === null) noValue++;
      else (min = Math.min(min, v)), (max = Math.max(max, v));
    }
  const found = min <= max;
  if (metric === 'cosine') return { kind: 'diverging', from: -1, to: 1, min: found ? min : null, max: found ? max : null, noTensor, noValue };
  return { kind: 'linear', from: found ? min : 0, to: found ? max : 0, min: found ? min : null, max: found ? max : null, noTensor, noValue };
}

/** Where `value` sits on the scale: 0 … 1 (linear), −1 … 1 (diverging). */
export function scalePosition(value: number, scale: HeatmapScale): number {
  if (scale.kind === 'diverging') return Math.max(-1, Math.min(1, value));
  const span = scale.to - scale.from;
  return span > 0 ? Math.max(0, Math.min(1, (value - scale.from) / span)) : 1;
}
