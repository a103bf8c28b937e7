import type { TensorReport, VectorStats } from './stream-merge.ts';

/**
 * Per-tensor vector statistics arranged as a layer × module grid (the heatmap the page draws),
 * plus the tensors outside the layers (embeddings, final norm, head).
 */

export type HeatmapMetric = 'ratio' | 'cosine' | 'nearZeroFraction' | 'normV';
export const HEATMAP_METRICS: Record<HeatmapMetric, string> = {
  ratio: '‖v‖ / ‖θ_target‖',
  cosine: 'cos(v, θ_target − θ_SFT)',
  nearZeroFraction: 'near-zero fraction of v',
  normV: '‖v‖₂',
};

export interface HeatmapGrid {
  layers: number[];
  modules: string[];
  /** cells[layer index][module index], undefined where the model has no such tensor. */
  cells: (VectorStats | undefined)[][];
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
  const byCell = new Map<string, VectorStats>();
  const layers = new Set<number>();
  const modules = new Set<string>();
  const other: HeatmapGrid['other'] = [];
  for (const t of tensors) {
    if (!t.stats) continue;
    const lm = layerModule(t.name);
    if (!lm) {
      other.push({ name: t.name, stats: t.stats });
      continue;
    }
    layers.add(lm[0]);
    modules.add(lm[1]);
    byCell.set(`${lm[0]}\u0000${lm[1]}`, t.stats);
  }
  const rank = (m: string) => (MODULE_ORDER.includes(m) ? MODULE_ORDER.indexOf(m) : MODULE_ORDER.length);
  const moduleList = [...modules].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  const layerList = [...layers].sort((a, b) => a - b);
  return {
    layers: layerList,
    modules: moduleList,
    cells: layerList.map((l) => moduleList.map((m) => byCell.get(`${l}\u0000${m}`))),
    other,
  };
}

/** A metric's value for colouring; null where undefined (e.g. a cosine with a zero vector). */
export function metricValue(s: VectorStats, metric: HeatmapMetric): number | null {
  return s[metric];
}
