import { useMemo, useRef, useState, type KeyboardEvent } from 'react';
import {
  HEATMAP_METRICS,
  HEATMAP_UNITS,
  heatmapGrid,
  heatmapScale,
  metricValue,
  scalePosition,
  type HeatmapMetric,
  type HeatmapScale,
} from '../../engine/merge/vector-heatmap.ts';
import type { VectorStats } from '../../engine/merge/stream-merge.ts';
import { useStudio } from '../store.ts';
import '../heatmap.css';

/** Four significant digits; exponent form outside 0.001 … 100000. */
export const fmt = (x: number | null) =>
  x === null ? '—' : x === 0 ? '0' : Math.abs(x) >= 1e-3 && Math.abs(x) < 1e5 ? String(Number(x.toPrecision(4))) : x.toExponential(3);

const BLUE = [43, 89, 195];
const RED = [194, 51, 69];
const rgba = (c: number[], a: number) => `rgba(${c[0]}, ${c[1]}, ${c[2]}, ${a.toFixed(3)})`;

/**
 * A linear scale whose grid holds one value only (min = max, e.g. ‖v‖ = 0 everywhere when the
 * donors are equal): nothing is larger than anything else, so every cell takes the palest colour —
 * the engine's position for a zero span is the top end, which painted such a grid as "large everywhere".
 */
const isFlat = (scale: HeatmapScale) => scale.kind === 'linear' && scale.min !== null && scale.min === scale.max;
const position = (value: number, scale: HeatmapScale) => (isFlat(scale) ? 0 : scalePosition(value, scale));

/** White → blue along a linear scale (the palest end still tinted, so it differs from "—"); red ← white → blue for the cosine. */
function colour(value: number, scale: HeatmapScale): string {
  const p = position(value, scale);
  if (scale.kind === 'diverging') return p >= 0 ? rgba(BLUE, Math.abs(p)) : rgba(RED, Math.abs(p));
  return rgba(BLUE, 0.08 + 0.92 * p);
}
const darkText = (value: number, scale: HeatmapScale) => Math.abs(position(value, scale)) > 0.6;

/** What a hovered or focused place of the heatmap holds. */
type Place = { kind: 'cell'; row: number; col: number } | { kind: 'other'; index: number };

function Legend({ scale, metric, alpha }: { scale: HeatmapScale; metric: HeatmapMetric; alpha: number }) {
  const ends = scale.kind === 'diverging' ? [-1, 0, 1] : [scale.from, scale.to];
  const gradient =
    scale.kind === 'diverging'
      ? `linear-gradient(to right, ${rgba(RED, 1)}, ${rgba(RED, 0)} 50%, ${rgba(BLUE, 0)} 50%, ${rgba(BLUE, 1)})`
      : `linear-gradient(to right, ${colour(scale.from, scale)}, ${colour(scale.to, scale)})`;
  return (
    <figure
      className="heatmap-legend"
      data-testid="heatmap-legend"
      data-scale-from={scale.from}
      data-scale-to={scale.to}
      data-min={scale.min ?? ''}
      data-max={scale.max ?? ''}
    >
      <div className="bar" style={{ background: gradient }} aria-hidden="true" />
      <div className="ends" aria-hidden="true">
        {ends.map((e, i) => (
          <span key={i}>{fmt(e)}</span>
        ))}
      </div>
      <figcaption>
        <strong>{HEATMAP_METRICS[metric]}</strong>
        {metric === 'alphaRatio' && <> (α = {Number.isFinite(alpha) ? alpha : '—'})</>}: {HEATMAP_UNITS[metric]}.{' '}
        {scale.kind === 'diverging'
          ? 'Colour: linear, red at −1, white at 0, blue at +1 (fixed, so models compare).'
          : 'Colour: linear, from the palest at the grid’s smallest value to the darkest at its largest.'}{' '}
        <span data-testid="heatmap-range" data-flat={isFlat(scale) ? 'true' : undefined}>
          {isFlat(scale) ? (
            <>All grid values are equal ({fmt(scale.min)}): every cell takes the palest colour, none is larger than another.</>
          ) : (
            <>
              Grid values: {fmt(scale.min)} … {fmt(scale.max)}.
            </>
          )}
        </span>
        <br />
        <span data-testid="heatmap-dash-note">
          “—”: {scale.noTensor} place(s) with no tensor statistics — the model has no such module in that layer, or the tensor is not in both
          donors and is kept from the target unchanged (there is no v); {scale.noValue} tensor(s) with no value for this metric
          {metric === 'cosine'
            ? ' (v = 0, or the target equals the SFT model there: the cosine is undefined)'
            : metric === 'ratio' || metric === 'alphaRatio'
              ? ` (‖θ_target‖ = 0 there: the ratio is undefined${metric === 'alphaRatio' ? '; or α is not a number' : ''})`
              : ''}
          .
        </span>
      </figcaption>
    </figure>
  );
}

function Detail({ name, where, stats, alpha }: { name?: string; where: string; stats?: VectorStats; alpha: number }) {
  if (!stats)
    return (
      <>
        <p className="mono">{name ?? where}</p>
        <p data-testid="heatmap-detail-reason">
          {name
            ? 'Not in both donors: kept from the target unchanged, so there is no vector here.'
            : `The model has no such tensor (${where}).`}
        </p>
      </>
    );
  const rows: [string, string, string][] = [
    ['normV', '‖v‖₂', fmt(stats.normV)],
    ['normTarget', '‖θ_target‖₂', fmt(stats.normTarget)],
    ['ratio', '‖v‖ / ‖θ_target‖', fmt(stats.ratio)],
    ['alphaRatio', `‖α·v‖ / ‖θ_target‖ at α = ${Number.isFinite(alpha) ? alpha : '—'}`, fmt(metricValue(stats, 'alphaRatio', alpha))],
    ['cosine', 'cos(v, θ_target − θ_SFT)', fmt(stats.cosine)],
    ['nearZeroFraction', 'near zero', `${fmt(100 * stats.nearZeroFraction)} %`],
    ['elements', 'elements', String(stats.elements)],
  ];
  return (
    <>
      <p className="mono" data-testid="heatmap-detail-name">
        {name}
      </p>
      <dl>
        {rows.map(([key, label, value]) => (
          <div key={key}>
            <dt>{label}</dt>
            <dd data-key={key}>{value}</dd>
          </div>
        ))}
      </dl>
    </>
  );
}

export function VectorHeatmap() {
  const stats = useStudio((s) => s.merge.stats)!;
  const alpha = useStudio((s) => s.merge.alpha);
  const [metric, setMetric] = useState<HeatmapMetric>('ratio');
  const [place, setPlace] = useState<Place>();
  // Roving tabindex: one cell of the grid is in the tab order; the arrow keys move within it.
  const [cursor, setCursor] = useState<[number, number]>([0, 0]);
  const table = useRef<HTMLTableElement>(null);
  const grid = useMemo(() => heatmapGrid(stats.tensors), [stats.tensors]);
  const scale = useMemo(() => heatmapScale(grid, metric, alpha), [grid, metric, alpha]);
  const t = stats.total;

  const focusCell = (row: number, col: number) => {
    const r = Math.max(0, Math.min(grid.layers.length - 1, row));
    const c = Math.max(0, Math.min(grid.modules.length - 1, col));
    setCursor([r, c]);
    table.current?.querySelector<HTMLElement>(`td[data-row="${r}"][data-col="${c}"]`)?.focus();
  };
  const onKey = (e: KeyboardEvent) => {
    const [r, c] = cursor;
    const moves: Record<string, [number, number]> = {
      ArrowUp: [r - 1, c],
      ArrowDown: [r + 1, c],
      ArrowLeft: [r, c - 1],
      ArrowRight: [r, c + 1],
      Home: [r, 0],
      End: [r, grid.modules.length - 1],
    };
    const to = moves[e.key];
    if (!to) return;
    e.preventDefault();
    focusCell(...to);
  };

  let detail = <p className="muted">Hover over a cell, or Tab into the grid and move with the arrow keys, to see its tensor and numbers.</p>;
  if (place?.kind === 'cell') {
    const where = `layer ${grid.layers[place.row]}, ${grid.modules[place.col]}`;
    detail = <Detail name={grid.names[place.row][place.col]} where={where} stats={grid.cells[place.row][place.col]} alpha={alpha} />;
  } else if (place?.kind === 'other') {
    const o = grid.other[place.index];
    detail = <Detail name={o.name} where={o.name} stats={o.stats} alpha={alpha} />;
  }

  return (
    <div className="heatmap" data-testid="vector-heatmap">
      <h3>Reasoning vector, layer × module</h3>
      {t && (
        <p className="muted" data-testid="vector-total">
          Whole model: ‖v‖ = {fmt(t.normV)}, ‖θ_target‖ = {fmt(t.normTarget)}, ratio {fmt(t.ratio)} (×|α| = {fmt(metricValue(t, 'alphaRatio', alpha))} at α ={' '}
          {Number.isFinite(alpha) ? alpha : '—'}), cos(v, θ_target − θ_SFT) = {fmt(t.cosine)}, {(100 * t.nearZeroFraction).toFixed(1)}% near zero ·{' '}
          {stats.merger === 'gpu' ? 'GPU' : 'CPU'}, {stats.seconds.toFixed(2)} s
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
      <Legend scale={scale} metric={metric} alpha={alpha} />
      <div className="heatmap-body">
        <div className="heatmap-tables" onMouseLeave={() => setPlace(undefined)}>
          <table className="heatmap-grid" role="grid" aria-label={`${HEATMAP_METRICS[metric]} per layer and module`} ref={table} onKeyDown={onKey}>
            <thead>
              <tr>
                <th>layer</th>
                {grid.modules.map((m) => (
                  <th key={m} className="mono" scope="col">
                    {m}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {grid.layers.map((layer, i) => (
                <tr key={layer}>
                  <th scope="row">{layer}</th>
                  {grid.cells[i].map((c, j) => {
                    const v = c ? metricValue(c, metric, alpha) : null;
                    const at = () => setPlace({ kind: 'cell', row: i, col: j });
                    return (
                      <td
                        key={j}
                        data-testid={`cell-${layer}-${grid.modules[j]}`}
                        data-row={i}
                        data-col={j}
                        data-value={v ?? ''}
                        className={v === null ? 'none' : undefined}
                        tabIndex={cursor[0] === i && cursor[1] === j ? 0 : -1}
                        aria-label={`layer ${layer}, ${grid.modules[j]}: ${fmt(v)}`}
                        onMouseEnter={at}
                        onFocus={() => (setCursor([i, j]), at())}
                        style={v === null ? undefined : { background: colour(v, scale), color: darkText(v, scale) ? 'white' : undefined }}
                      >
                        {fmt(v)}
                      </td>
                    );
                  })}
                </tr>
              ))}
            </tbody>
          </table>
          {grid.other.length > 0 && (
            <table className="heatmap-other" aria-label="tensors outside the layers">
              <tbody>
                {grid.other.map((o, k) => (
                  <tr
                    key={o.name}
                    data-testid={`other-${o.name}`}
                    tabIndex={0}
                    onMouseEnter={() => setPlace({ kind: 'other', index: k })}
                    onFocus={() => setPlace({ kind: 'other', index: k })}
                  >
                    <th className="mono">{o.name}</th>
                    <td>{fmt(metricValue(o.stats, metric, alpha))}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
        <aside className="heatmap-detail" data-testid="heatmap-detail" aria-live="polite" aria-label="heatmap cell details">
          {detail}
        </aside>
      </div>
    </div>
  );
}
