/** @jsxRuntime automatic */
// The pragma above: `studio sweep --plot` loads this file through tsx from any working directory
// (an installed package has no tsconfig.json saying "jsx": "react-jsx").
import { useLayoutEffect, useRef, useState, type KeyboardEvent } from 'react';
import { Curve, getNiceTickValues, Layer, Surface, Symbols, Text } from 'recharts';
import { wilsonInterval } from '../../engine/eval/wilson-interval.ts';
import type { SweepPoint } from '../../engine/sweep/index.ts';

/**
 * Accuracy against α: one series per task × condition × metric (the reasoning vector v, and the
 * control — a random vector with v's per-tensor norms — as its own dashed series), Wilson 95%
 * intervals as a band and error bars, the reference models (target, SFT donor, RL donor alone)
 * as horizontal lines, labelled axes with units and a legend, all inside the SVG so an exported
 * file stands alone.
 *
 * Drawn from recharts' shape primitives (Surface, Curve, Symbols, Text) on our own linear scales
 * rather than with <LineChart>: recharts 3's chart containers lay out in effects and render an
 * empty <div> under react-dom/server (recharts/recharts#5997), and `studio sweep --plot` renders
 * this very component there. So the page, its SVG/PNG export and the CLI's file are one drawing,
 * deterministic for given props (no measurement, no ids, no animation). Props are plain data.
 *
 * On the page (interactive, no width given) the one exception: a wrapper measures the width it has
 * (ResizeObserver) and the drawing is laid out for that width, at most PLOT_SIZE.width, instead of
 * being drawn at 760 and scaled down — scaled into a phone's column its 11 px text printed 5 px
 * tall. Below NARROW_BELOW the layout itself changes (one legend column with wrapped labels, a
 * wrapped title, short edge labels, fewer α ticks) so text keeps its nominal size. Static renders
 * (the CLI's file, the page's export) pass or default their width and never measure.
 */

export interface PlotPoint {
  alpha: number;
  correct: number;
  total: number;
}

/** One curve: accuracy per α of one task × condition × metric, for v or for the control vector. */
export interface PlotSeries {
  /** Stable and unique within the plot: clicks and selections name a series by it. */
  key: string;
  task: string;
  condition: string;
  metric: string;
  kind: 'v' | 'control';
  points: PlotPoint[];
}

/** A model alone, drawn as a horizontal line across the α range. */
export interface PlotReference {
  key: string;
  task: string;
  condition: string;
  metric: string;
  model: 'target' | 'sft' | 'rl';
  correct: number;
  total: number;
}

export interface AccuracyPlotData {
  series: PlotSeries[];
  references: PlotReference[];
}

export interface AccuracyPlotProps {
  /** The results document's points (`doc.points`), as they are. */
  points: readonly SweepPoint[];
  /** Metric keys to draw (default: every metric in the points). */
  metrics?: readonly string[];
  width?: number;
  height?: number;
  /** Drawn as a heading inside the SVG. */
  title?: string;
  /** For a file (the CLI, an export): no focus stops, no handlers, fixed size. */
  static?: boolean;
  /** Interactive only: a point chosen by click or keyboard (its series key and α). */
  onSelectPoint?: (series: string, alpha: number) => void;
  selected?: { series: string; alpha: number };
}

/** The key of the curve a point belongs to: series, task, condition, metric. */
export function curveKey(p: Pick<SweepPoint, 'series' | 'task' | 'condition' | 'metric'>): string {
  return `${p.series}|${p.task}|${p.condition}|${p.metric}`;
}

/**
 * Points → curves and reference lines, in the document's order (first appearance). The target
 * alone is α = 0 of v's curve too; the document records it as its own series so a reader sees it
 * as a line across the whole range.
 */
export function plotData(points: readonly SweepPoint[], metrics?: readonly string[]): AccuracyPlotData {
  const series = new Map<string, PlotSeries>();
  const references: PlotReference[] = [];
  for (const p of points) {
    if (metrics && !metrics.includes(p.metric)) continue;
    const key = curveKey(p);
    if (p.series === 'v' || p.series === 'control') {
      if (p.alpha === null) continue;
      let s = series.get(key);
      if (!s) series.set(key, (s = { key, task: p.task, condition: p.condition, metric: p.metric, kind: p.series, points: [] }));
      s.points.push({ alpha: p.alpha, correct: p.correct, total: p.total });
    } else {
      references.push({ key, task: p.task, condition: p.condition, metric: p.metric, model: p.series, correct: p.correct, total: p.total });
    }
  }
  for (const s of series.values()) s.points.sort((a, b) => a.alpha - b.alpha);
  return { series: [...series.values()], references };
}

export const PLOT_SIZE = { width: 760, height: 440 } as const;
/** Narrower than this (px), the chart is laid out for one column (see the note at the top). */
export const NARROW_BELOW = 560;

/**
 * Okabe & Ito's colour-blind-safe palette (yellow left out: unreadable on white), one colour per
 * task × condition × metric; its control and reference lines share the colour and differ by dash.
 */
const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000'];
const REFERENCE_DASH: Record<PlotReference['model'], string> = { target: '2 3', sft: '9 4', rl: '14 4 3 4' };
const CONTROL_DASH = '6 4';
export const MODEL_LABEL: Record<PlotReference['model'], string> = { target: 'target alone', sft: 'SFT donor alone', rl: 'RL donor alone' };
const SHORT_MODEL_LABEL: Record<PlotReference['model'], string> = { target: 'target', sft: 'SFT', rl: 'RL' };

const MARGIN = { left: 62, right: 118, top: 34, bottom: 46 } as const;
const LEGEND_ROW = 18;
/** The narrowest legend column; columns share the plot's width. */
const LEGEND_MIN_COLUMN = 300;
/** Reference labels at the right edge are kept this far apart (px), or they print over each other. */
const LABEL_GAP = 12;
const FONT = 'system-ui, -apple-system, "Segoe UI", sans-serif';
const INK = '#1d2330';
const GRID = '#e4e7ee';

/** "demo_arith · plain" (+ the metric when it is not the task's only one, shown by the caller). */
export function groupLabel(s: { task: string; condition: string; metric: string }, withMetric: boolean): string {
  return `${s.task} · ${s.condition}${withMetric ? ` · ${s.metric}` : ''}`;
}

export function seriesLabel(s: PlotSeries, withMetric: boolean): string {
  return `${groupLabel(s, withMetric)}${s.kind === 'control' ? ' · control (random vector)' : ''}`;
}

export function referenceLabel(r: PlotReference, withMetric: boolean): string {
  return `${groupLabel(r, withMetric)} · ${MODEL_LABEL[r.model]}`;
}

const groupKey = (s: { task: string; condition: string; metric: string }) => `${s.task}\u0000${s.condition}\u0000${s.metric}`;

/** Accuracy in percent, one decimal: what the axis, the labels and the table show. */
export function percent(correct: number, total: number): string {
  return total === 0 ? '—' : `${((100 * correct) / total).toFixed(1)}%`;
}

/** Coordinates rounded to 0.01 px: the same props give the same bytes on every machine. */
const r2 = (x: number) => Math.round(x * 100) / 100;

interface Margin {
  left: number;
  right: number;
  top: number;
  bottom: number;
}

interface Layout {
  width: number;
  height: number;
  plot: { left: number; top: number; width: number; height: number };
  legend: { top: number; columns: number; rows: number; columnWidth: number };
  x: (alpha: number) => number;
  y: (accuracy: number) => number;
  xTicks: number[];
  yTicks: number[];
}

/** Legend rows the default height has room for; more rows make the drawing taller. */
const DEFAULT_LEGEND_ROWS = 3;
/** Reference lines labelled at the plot's right edge; beyond this the labels would pile up, and the legend names them. */
const MAX_EDGE_LABELS = 6;

function legendLayout(width: number, entries: number) {
  const columns = Math.max(1, Math.floor((width - MARGIN.left) / LEGEND_MIN_COLUMN));
  return { columns, columnWidth: Math.floor((width - MARGIN.left - 8) / columns), rows: Math.ceil(entries / columns) };
}

/**
 * `legendHeight` (narrow layouts: their wrapped legend's own height) replaces the rows × LEGEND_ROW
 * of the wide grid legend; `xTickSpacing` is the least room (px) an α tick label is given.
 */
function layout(data: AccuracyPlotData, width: number, height: number, legendEntries: number, margin: Margin = MARGIN, narrow?: { legendHeight: number }): Layout {
  const { columns, columnWidth, rows } = narrow ? { columns: 1, columnWidth: width, rows: legendEntries } : legendLayout(width, legendEntries);
  const legendHeight = narrow ? narrow.legendHeight : rows * LEGEND_ROW + (rows ? 8 : 0);
  const plot = {
    left: margin.left,
    top: margin.top,
    width: Math.max(40, width - margin.left - margin.right),
    height: Math.max(40, height - margin.top - margin.bottom - legendHeight),
  };
  const alphas = [...new Set(data.series.flatMap((s) => s.points.map((p) => p.alpha)))].sort((a, b) => a - b);
  let lo = alphas.length ? alphas[0] : 0;
  let hi = alphas.length ? alphas[alphas.length - 1] : 1;
  if (lo === hi) {
    lo -= 0.5;
    hi += 0.5;
  }
  // The grid's own α values are the ticks when they fit (a reader wants to see where α was measured).
  // Narrow: the grid's α when each has ~56 px (an α label such as "−0.25" is ~35 px at 11 px), else
  // multiples of the finest round step that leaves 48 px between ticks.
  const xTicks =
    alphas.length >= 2 && alphas.length <= Math.floor(plot.width / (narrow ? 56 : 44))
      ? alphas
      : narrow
        ? roundTicks(lo, hi, plot.width, 48)
        : getNiceTickValues([lo, hi], 6, true).filter((t) => t >= lo && t <= hi);
  const pad = (hi - lo) * 0.04;
  const x0 = lo - pad;
  const x1 = hi + pad;
  return {
    width,
    height,
    plot,
    legend: { top: plot.top + plot.height + margin.bottom - 4, columns, rows, columnWidth },
    x: (a) => r2(plot.left + ((a - x0) / (x1 - x0)) * plot.width),
    y: (acc) => r2(plot.top + (1 - acc) * plot.height),
    xTicks,
    yTicks: [0, 0.2, 0.4, 0.6, 0.8, 1],
  };
}

/** Multiples of the finest step of 1, 2, 2.5 or 5 × 10ⁿ that puts ticks at least `gap` px apart across `width` px of [lo, hi]. */
function roundTicks(lo: number, hi: number, width: number, gap: number): number[] {
  const least = ((hi - lo) * gap) / width;
  const magnitude = 10 ** Math.floor(Math.log10(least));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((st) => st >= least - 1e-12)!;
  const ticks: number[] = [];
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + 1e-9; k++) ticks.push(Number((k * step).toPrecision(12)));
  return ticks;
}

/** Ticks as a reader writes α: −1, −0.25, 0, 0.5 (a true minus sign; no float noise). */
export function formatAlpha(a: number): string {
  const s = String(Number(a.toPrecision(10)));
  return s.startsWith('-') ? `−${s.slice(1)}` : s;
}

/** Label positions near `ys`, at least LABEL_GAP apart, inside [top, bottom] where they fit. */
function spreadLabels(ys: number[], top: number, bottom: number, gap = LABEL_GAP): number[] {
  const order = ys.map((y, i) => ({ y, i })).sort((a, b) => a.y - b.y || a.i - b.i);
  const out = new Array<number>(ys.length);
  let prev = -Infinity;
  for (const o of order) {
    const y = Math.max(o.y, prev + gap);
    out[o.i] = y;
    prev = y;
  }
  // Pushed past the bottom: shift the whole run up, keeping the gaps.
  const overflow = prev - bottom;
  if (overflow > 0) for (let i = 0; i < out.length; i++) out[i] = Math.max(top, out[i] - overflow);
  return out.map(r2);
}

/** Per character at 11 px and at the 14 px bold title: generous for DejaVu Sans (Linux's system-ui), so estimated lines never overrun. */
const CHAR_11 = 7;
const CHAR_TITLE = 9;
const NARROW_LINE = 14;
const NARROW_MARGIN = { left: 52, bottom: 46 } as const;

/** Words (split at spaces) into lines of at most `maxChars`; a single longer word is cut with "…". */
export function wrapWords(text: string, maxChars: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    const w = word.length > maxChars ? `${word.slice(0, Math.max(1, maxChars - 1))}…` : word;
    if (line && line.length + 1 + w.length > maxChars) {
      lines.push(line);
      line = w;
    } else line = line ? `${line} ${w}` : w;
  }
  if (line || !lines.length) lines.push(line);
  return lines;
}

/**
 * The page's chart: measures the width its container gives it and draws for that width (at most
 * PLOT_SIZE.width, as before), so nothing is scaled down. A given width, or a static render, draws
 * at once without measuring. Measured in a layout effect — before the first paint — so a reader
 * (and a test comparing two pages of one size) never sees the 760-wide drawing first.
 */
export function AccuracyPlot(props: AccuracyPlotProps) {
  if (props.static || props.width !== undefined) return <PlotDrawing {...props} />;
  return <FittedPlot {...props} />;
}

function FittedPlot(props: AccuracyPlotProps) {
  const frame = useRef<HTMLDivElement>(null);
  const [room, setRoom] = useState<number | undefined>(undefined);
  useLayoutEffect(() => {
    const el = frame.current;
    if (!el) return;
    // A hidden container measures 0: keep the last width rather than draw a 40 px chart.
    const measure = () => {
      const w = Math.floor(el.getBoundingClientRect().width);
      if (w > 0) setRoom(w);
    };
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(el);
    return () => observer.disconnect();
  }, []);
  return (
    <div ref={frame} className="accuracy-plot-frame" data-testid="plot-frame">
      <PlotDrawing {...props} width={room === undefined ? PLOT_SIZE.width : Math.min(PLOT_SIZE.width, room)} />
    </div>
  );
}

function PlotDrawing(props: AccuracyPlotProps) {
  const { series, references } = plotData(props.points, props.metrics);
  const width = props.width ?? PLOT_SIZE.width;
  const interactive = !props.static;
  const groups = [...new Set([...series, ...references].map(groupKey))];
  const color = (s: { task: string; condition: string; metric: string }) => PALETTE[groups.indexOf(groupKey(s)) % PALETTE.length];
  // The metric joins the label only when some task is drawn under more than one metric.
  const metricsPerTask = new Map<string, Set<string>>();
  for (const s of [...series, ...references]) metricsPerTask.set(s.task, (metricsPerTask.get(s.task) ?? new Set()).add(s.metric));
  const withMetric = [...metricsPerTask.values()].some((m) => m.size > 1);
  const legend = [
    ...series.map((s) => ({ key: s.key, label: seriesLabel(s, withMetric), color: color(s), dash: s.kind === 'control' ? CONTROL_DASH : undefined, marker: s.kind === 'control' ? 'hollow' : 'filled' })),
    ...references.map((r) => ({ key: r.key, label: referenceLabel(r, withMetric), color: color(r), dash: REFERENCE_DASH[r.model], marker: 'none' })),
  ];
  const narrow = width < NARROW_BELOW;
  const edgeLabels = references.length <= MAX_EDGE_LABELS;
  // Narrow: "RL 100.0%" rather than "RL alone 100.0%" at 10 px (the legend says "RL donor alone").
  const edgeLabel = (ref: PlotReference) => (narrow ? `${SHORT_MODEL_LABEL[ref.model]} ${percent(ref.correct, ref.total)}` : `${SHORT_MODEL_LABEL[ref.model]} alone ${percent(ref.correct, ref.total)}`);
  const titleLines = props.title ? (narrow ? wrapWords(props.title, Math.floor((width - 16) / CHAR_TITLE)) : [props.title]) : [];
  // Narrow legend: one column from the left edge, each label wrapped at spaces under its swatch.
  const legendLines = narrow ? legend.map((e) => wrapWords(e.label, Math.floor((width - 8 - 8 - 32) / CHAR_11))) : [];
  const legendOffsets = legendLines.reduce<number[]>((acc, lines, i) => [...acc, acc[i] + lines.length * NARROW_LINE + 4], [0]);
  const narrowLegendHeight = legendOffsets[legendOffsets.length - 1];
  const margin: Margin = narrow
    ? {
        ...NARROW_MARGIN,
        top: Math.max(1, titleLines.length) * 18 + 16,
        right: edgeLabels && references.length ? 10 + Math.max(...references.map((r) => edgeLabel(r).length)) * CHAR_11 : 14,
      }
    : MARGIN;
  // Without a given height the drawing grows with its legend, so many curves keep the plot area's size.
  const narrowPlotHeight = Math.min(280, Math.max(180, Math.round(width * 0.6)));
  const height =
    props.height ??
    (narrow
      ? margin.top + narrowPlotHeight + margin.bottom + narrowLegendHeight
      : PLOT_SIZE.height + Math.max(0, legendLayout(width, legend.length).rows - DEFAULT_LEGEND_ROWS) * LEGEND_ROW);
  const L = layout({ series, references }, width, height, legend.length, margin, narrow ? { legendHeight: narrowLegendHeight } : undefined);
  const { plot } = L;
  const right = plot.left + plot.width;
  const bottom = plot.top + plot.height;
  const labelY = spreadLabels(references.map((r) => L.y(r.total ? r.correct / r.total : 0)), plot.top, bottom, narrow ? 13 : LABEL_GAP);
  const description = `Accuracy in percent against α for ${series.length} series and ${references.length} reference lines; error bars and bands are Wilson 95% intervals. The data table beside the plot lists every point.`;

  return (
    <Surface
      width={width}
      height={height}
      className="accuracy-plot"
      title={props.title ?? 'Accuracy against α'}
      desc={description}
      style={interactive ? { width: '100%', height: 'auto', maxWidth: `${width}px` } : undefined}
      role="img"
      aria-label={props.title ?? 'Accuracy against α'}
      xmlns="http://www.w3.org/2000/svg"
      fontFamily={FONT}
    >
      <rect x={0} y={0} width={width} height={height} fill="#ffffff" />
      {titleLines.map((line, i) => (
        <Text key={`title${i}`} x={narrow ? 8 : plot.left} y={18 + i * 18} fill={INK} fontSize={14} fontWeight={600} verticalAnchor="middle">
          {line}
        </Text>
      ))}
      <Layer className="accuracy-plot-grid">
        {L.yTicks.map((t) => (
          <g key={`y${t}`}>
            <line x1={plot.left} x2={right} y1={L.y(t)} y2={L.y(t)} stroke={GRID} />
            <Text x={plot.left - 6} y={L.y(t)} fill={INK} fontSize={11} textAnchor="end" verticalAnchor="middle">
              {String(Math.round(t * 100))}
            </Text>
          </g>
        ))}
        {L.xTicks.map((t) => (
          <g key={`x${t}`}>
            <line x1={L.x(t)} x2={L.x(t)} y1={plot.top} y2={bottom} stroke={t === 0 ? '#b9bfcc' : GRID} />
            <Text x={L.x(t)} y={bottom + 6} fill={INK} fontSize={11} textAnchor="middle" verticalAnchor="start">
              {formatAlpha(t)}
            </Text>
          </g>
        ))}
        <rect x={plot.left} y={plot.top} width={plot.width} height={plot.height} fill="none" stroke="#b9bfcc" />
        <Text x={r2(plot.left + plot.width / 2)} y={bottom + 26} fill={INK} fontSize={12} textAnchor="middle" verticalAnchor="start">
          α (scale of v)
        </Text>
        <Text x={16} y={r2(plot.top + plot.height / 2)} fill={INK} fontSize={12} textAnchor="middle" verticalAnchor="middle" angle={-90}>
          accuracy (%)
        </Text>
      </Layer>

      <Layer className="accuracy-plot-references">
        {references.map((ref, k) => {
          const acc = ref.total ? ref.correct / ref.total : 0;
          const ci = wilsonInterval(ref.correct, ref.total);
          const c = color(ref);
          return (
            <g key={ref.key} data-reference={ref.key}>
              <rect x={plot.left} y={L.y(ci.high)} width={plot.width} height={r2(L.y(ci.low) - L.y(ci.high))} fill={c} fillOpacity={0.06} />
              <line x1={plot.left} x2={right} y1={L.y(acc)} y2={L.y(acc)} stroke={c} strokeWidth={1.5} strokeDasharray={REFERENCE_DASH[ref.model]} />
              {edgeLabels && (
                <Text x={right + 4} y={labelY[k]} fill={c} fontSize={narrow ? 11 : 10} verticalAnchor="middle">
                  {edgeLabel(ref)}
                </Text>
              )}
            </g>
          );
        })}
      </Layer>

      <Layer className="accuracy-plot-series">
        {series.map((s) => {
          const c = color(s);
          const pts = [...s.points].sort((a, b) => a.alpha - b.alpha);
          const acc = (p: PlotPoint) => (p.total ? p.correct / p.total : 0);
          const cis = pts.map((p) => wilsonInterval(p.correct, p.total));
          const band = [...pts.map((p, i) => ({ x: L.x(p.alpha), y: L.y(cis[i].high) })), ...pts.map((p, i) => ({ x: L.x(p.alpha), y: L.y(cis[i].low) })).reverse()];
          const dash = s.kind === 'control' ? CONTROL_DASH : undefined;
          return (
            <g key={s.key} data-series={s.key}>
              {pts.length > 1 && <Curve type="linear" points={band} fill={c} fillOpacity={s.kind === 'control' ? 0.05 : 0.1} stroke="none" />}
              <Curve type="linear" points={pts.map((p) => ({ x: L.x(p.alpha), y: L.y(acc(p)) }))} stroke={c} strokeWidth={2} strokeDasharray={dash} fill="none" />
              {pts.map((p, i) => {
                const cx = L.x(p.alpha);
                const isSelected = props.selected?.series === s.key && props.selected.alpha === p.alpha;
                const label = `${seriesLabel(s, withMetric)}, α = ${formatAlpha(p.alpha)}: ${percent(p.correct, p.total)} (${p.correct}/${p.total}), 95% interval ${(100 * cis[i].low).toFixed(1)}% to ${(100 * cis[i].high).toFixed(1)}%`;
                const select = () => props.onSelectPoint?.(s.key, p.alpha);
                const point = (
                  <>
                    <line x1={cx} x2={cx} y1={L.y(cis[i].low)} y2={L.y(cis[i].high)} stroke={c} strokeWidth={1} />
                    <line x1={r2(cx - 3)} x2={r2(cx + 3)} y1={L.y(cis[i].low)} y2={L.y(cis[i].low)} stroke={c} strokeWidth={1} />
                    <line x1={r2(cx - 3)} x2={r2(cx + 3)} y1={L.y(cis[i].high)} y2={L.y(cis[i].high)} stroke={c} strokeWidth={1} />
                    <Symbols
                      cx={cx}
                      cy={L.y(acc(p))}
                      type={s.kind === 'control' ? 'diamond' : 'circle'}
                      size={isSelected ? 150 : 48}
                      fill={s.kind === 'control' ? '#ffffff' : c}
                      stroke={isSelected ? INK : c}
                      strokeWidth={isSelected ? 2.5 : 1.5}
                    />
                  </>
                );
                if (!interactive) {
                  return (
                    <g key={p.alpha}>
                      <title>{label}</title>
                      {point}
                    </g>
                  );
                }
                return (
                  <g
                    key={p.alpha}
                    className="plot-point"
                    role="button"
                    tabIndex={0}
                    aria-label={label}
                    aria-pressed={isSelected}
                    data-testid="plot-point"
                    data-series={s.key}
                    data-alpha={p.alpha}
                    onClick={select}
                    onKeyDown={(e: KeyboardEvent) => {
                      if (e.key === 'Enter' || e.key === ' ') {
                        e.preventDefault();
                        select();
                      }
                    }}
                  >
                    <title>{label}</title>
                    {/* A larger invisible target than the marker, for a mouse. */}
                    <circle cx={cx} cy={L.y(acc(p))} r={9} fill="transparent" />
                    {point}
                  </g>
                );
              })}
            </g>
          );
        })}
      </Layer>

      <Layer className="accuracy-plot-legend">
        {legend.map((e, i) => {
          if (narrow) {
            const x = 8;
            const y = L.legend.top + legendOffsets[i];
            return (
              <g key={e.key}>
                <title>{e.label}</title>
                <line x1={x} x2={x + 26} y1={y} y2={y} stroke={e.color} strokeWidth={2} strokeDasharray={e.dash} />
                {e.marker !== 'none' && <Symbols cx={x + 13} cy={y} type={e.marker === 'hollow' ? 'diamond' : 'circle'} size={36} fill={e.marker === 'hollow' ? '#ffffff' : e.color} stroke={e.color} strokeWidth={1.5} />}
                {legendLines[i].map((line, j) => (
                  <Text key={j} x={x + 32} y={y + j * NARROW_LINE} fill={INK} fontSize={11} verticalAnchor="middle">
                    {line}
                  </Text>
                ))}
              </g>
            );
          }
          const col = i % L.legend.columns;
          const row = Math.floor(i / L.legend.columns);
          const x = plot.left + col * L.legend.columnWidth;
          const y = L.legend.top + row * LEGEND_ROW;
          const maxChars = Math.floor((L.legend.columnWidth - 40) / 6);
          const text = e.label.length > maxChars ? `${e.label.slice(0, maxChars - 1)}…` : e.label;
          return (
            <g key={e.key}>
              <title>{e.label}</title>
              <line x1={x} x2={x + 26} y1={y} y2={y} stroke={e.color} strokeWidth={2} strokeDasharray={e.dash} />
              {e.marker !== 'none' && <Symbols cx={x + 13} cy={y} type={e.marker === 'hollow' ? 'diamond' : 'circle'} size={36} fill={e.marker === 'hollow' ? '#ffffff' : e.color} stroke={e.color} strokeWidth={1.5} />}
              <Text x={x + 32} y={y} fill={INK} fontSize={11} verticalAnchor="middle">
                {text}
              </Text>
            </g>
          );
        })}
      </Layer>
    </Surface>
  );
}

const SERIES_WORDS: Record<SweepPoint['series'], string> = { v: 'target + α·v', control: 'control (random vector)', target: 'target alone', sft: 'SFT donor alone', rl: 'RL donor alone' };

/**
 * The plot as a table: every point with its counts and Wilson 95% interval — the chart's
 * keyboard and screen-reader equivalent (and what a reader copies numbers from). `hidden` keeps
 * it in the accessibility tree while taking no room on screen.
 */
export function AccuracyTable({ points, metrics, hidden }: { points: readonly SweepPoint[]; metrics?: readonly string[]; hidden?: boolean }) {
  const rows = points.filter((p) => !metrics || metrics.includes(p.metric));
  return (
    <table className={`accuracy-table${hidden ? ' visually-hidden' : ''}`} data-testid="plot-table">
      <caption>Accuracy against α: every point of the plot, with the Wilson 95% interval of its correct/total.</caption>
      <thead>
        <tr>
          <th scope="col">task</th>
          <th scope="col">condition</th>
          <th scope="col">metric</th>
          <th scope="col">model</th>
          <th scope="col">α</th>
          <th scope="col">correct / total</th>
          <th scope="col">accuracy</th>
          <th scope="col">95% interval</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((p) => {
          const ci = wilsonInterval(p.correct, p.total);
          return (
            <tr key={`${p.series}|${p.alpha}|${p.task}|${p.condition}|${p.metric}`} data-testid="plot-row" data-series={p.series} data-alpha={p.alpha ?? ''} data-task={p.task} data-correct={p.correct} data-total={p.total}>
              <td className="mono">{p.task}</td>
              <td>{p.condition}</td>
              <td className="mono">{p.metric}</td>
              <td>{SERIES_WORDS[p.series]}</td>
              <td>{p.alpha === null ? '—' : formatAlpha(p.alpha)}</td>
              <td>
                {p.correct} / {p.total}
              </td>
              <td>{percent(p.correct, p.total)}</td>
              <td>
                {(100 * ci.low).toFixed(1)}–{(100 * ci.high).toFixed(1)}%
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
