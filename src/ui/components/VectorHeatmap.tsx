import { useMemo, useState } from 'react';
import { HEATMAP_METRICS, heatmapGrid, metricValue, type HeatmapMetric } from '../../engine/merge/vector-heatmap.ts';
import type { VectorStats } from '../../engine/merge/stream-merge.ts';
import { useStudio } from '../store.ts';

const fmt = (x: number | null) => (x === null ? '—' : Math.abs(x) >= 0.01 || x === 0 ? x.toFixed(3) : x.toExponential(2));

/** White → blue for magnitudes; red ← white → blue for the cosine (−1 … 1). */
function colour(value: number | null, metric: HeatmapMetric, max: number): string {
  if (value === null) return '#eceef3';
  if (metric === 'cosine') {
    const a = Math.min(1, Math.abs(value));
    return value >= 0 ? `rgba(43, 89, 195, ${a})` : `rgba(194, 51, 69, ${a})`;
  }
  return `rgba(43, 89, 195, ${max > 0 ? Math.min(1, value / max) : 0})`;
}

function tip(name: string, s: VectorStats): string {
  return `${name}\n‖v‖ = ${fmt(s.normV)}\n‖θ_target‖ = ${fmt(s.normTarget)}\nratio = ${fmt(s.ratio)}\ncos(v, θ_target − θ_SFT) = ${fmt(s.cosine)}\nnear-zero = ${(100 * s.nearZeroFraction).toFixed(1)}%\n${s.elements} elements`;
}

export function VectorHeatmap() {
  const stats = useStudio((s) => s.merge.stats)!;
  const [metric, setMetric] = useState<HeatmapMetric>('ratio');
  const grid = useMemo(() => heatmapGrid(stats.tensors), [stats.tensors]);
  const max = useMemo(() => {
    let m = 0;
    for (const row of grid.cells) for (const c of row) if (c) m = Math.max(m, Math.abs(metricValue(c, metric) ?? 0));
    return m;
  }, [grid, metric]);
  const t = stats.total;
  return (
    <div className="heatmap" data-testid="vector-heatmap">
      <h3>Reasoning vector, layer × module</h3>
      {t && (
        <p className="muted" data-testid="vector-total">
          Whole model: ‖v‖ = {fmt(t.normV)}, ‖θ_target‖ = {fmt(t.normTarget)}, ratio {fmt(t.ratio)}, cos(v, θ_target − θ_SFT) = {fmt(t.cosine)},{' '}
          {(100 * t.nearZeroFraction).toFixed(1)}% near zero · {stats.merger === 'gpu' ? 'GPU' : 'CPU'}, {stats.seconds.toFixed(2)} s
        </p>
      )}
      <label>
        colour by{' '}
        <select aria-label="heatmap metric" value={metric} onChange={(e) => setMetric(e.target.value as HeatmapMetric)}>
          {(Object.keys(HEATMAP_METRICS) as HeatmapMetric[]).map((m) => (
            <option key={m} value={m}>
              {HEATMAP_METRICS[m]}
            </option>
          ))}
        </select>
      </label>
      <table className="heatmap-grid">
        <thead>
          <tr>
            <th>layer</th>
            {grid.modules.map((m) => (
              <th key={m} className="mono">
                {m}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {grid.layers.map((layer, i) => (
            <tr key={layer}>
              <th>{layer}</th>
              {grid.cells[i].map((c, j) => {
                const v = c ? metricValue(c, metric) : null;
                return (
                  <td
                    key={j}
                    data-testid={`cell-${layer}-${grid.modules[j]}`}
                    data-value={v ?? ''}
                    title={c ? tip(`layer ${layer} ${grid.modules[j]}`, c) : 'no tensor'}
                    style={{ background: colour(v, metric, max), color: v !== null && max > 0 && Math.abs(v) / max > 0.6 ? 'white' : undefined }}
                  >
                    {c ? fmt(v) : ''}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
      {grid.other.length > 0 && (
        <table className="heatmap-other">
          <tbody>
            {grid.other.map((o) => (
              <tr key={o.name} title={tip(o.name, o.stats)} data-testid={`other-${o.name}`}>
                <th className="mono">{o.name}</th>
                <td>{fmt(metricValue(o.stats, metric))}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
