import { UsageError } from './command.ts';
import type { SweepResultsDocument } from '../engine/sweep/index.ts';

/**
 * `studio sweep --plot`: the page's own chart (src/ui/components/AccuracyPlot.tsx, recharts'
 * shape primitives, deterministic for given props) rendered to static SVG with react-dom/server at
 * a fixed size, and to PNG with resvg (a prebuilt native binary from npm: nothing is downloaded
 * at run time; text uses the system's fonts). Imported only when a plot is asked for, so the
 * other commands never load React.
 */

/** Width of the file; the height grows with the legend so the plot area keeps its size. */
export const PLOT_FILE_WIDTH = 900;
const PLOT_AREA_HEIGHT = 440;
const LEGEND_ROW = 18;
const LEGEND_COLUMN = 300;
/** PNG pixels per SVG unit: sharp on a high-density screen and in a paper. */
export const PNG_SCALE = 2;

export function plotFormat(path: string): 'svg' | 'png' {
  const m = /\.(svg|png)$/i.exec(path);
  if (!m) throw new UsageError(`--plot ${path}: name a .svg or .png file.`);
  return m[1].toLowerCase() as 'svg' | 'png';
}

export async function renderPlotSvg(doc: SweepResultsDocument, title?: string): Promise<string> {
  const [{ createElement }, { renderToStaticMarkup }, { AccuracyPlot }] = await Promise.all([import('react'), import('react-dom/server'), import('../ui/components/AccuracyPlot.tsx')]);
  // Legend entries: one per curve (v and control) and per reference line.
  const curves = new Set(doc.points.map((p) => `${p.series === 'v' || p.series === 'control' ? p.series : `${p.series}`}|${p.task}|${p.condition}|${p.metric}`));
  const columns = Math.max(1, Math.floor((PLOT_FILE_WIDTH - 62) / LEGEND_COLUMN));
  const height = PLOT_AREA_HEIGHT + Math.ceil(curves.size / columns) * LEGEND_ROW + 8;
  const svg = renderToStaticMarkup(createElement(AccuracyPlot, { points: doc.points, static: true, width: PLOT_FILE_WIDTH, height, title }));
  return `<?xml version="1.0" encoding="UTF-8"?>\n${svg}\n`;
}

export async function renderPlotPng(svg: string): Promise<Uint8Array> {
  const { Resvg } = await import('@resvg/resvg-js');
  return new Resvg(svg, { fitTo: { mode: 'zoom', value: PNG_SCALE }, background: '#ffffff', font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' } }).render().asPng();
}
