import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { wilsonInterval } from '../../engine/eval/wilson-interval.ts';
import type { SweepPoint } from '../../engine/sweep/results-document.ts';
import { AccuracyPlot, AccuracyTable, plotData } from './AccuracyPlot.tsx';

/**
 * The plot as `studio sweep --plot` and the page's SVG export draw it: react-dom/server, static.
 * Checked on the markup: deterministic bytes, the labels and legend, every point where its
 * accuracy puts it (linear in α and in accuracy), error bars at the Wilson interval, and no
 * focus stops or handlers in a file.
 */

const P = (series: SweepPoint['series'], alpha: number | null, correct: number, total = 40, metric = 'acc'): SweepPoint => ({ series, alpha, task: 'demo_arith', condition: 'plain', metric, correct, total });
const POINTS: SweepPoint[] = [P('v', -1, 0), P('v', 0, 20), P('v', 1, 40), P('control', -1, 4), P('control', 0, 20), P('control', 1, 6), P('sft', null, 3), P('rl', null, 36), P('target', null, 20)];
const svg = (extra: Record<string, unknown> = {}) => renderToStaticMarkup(createElement(AccuracyPlot, { points: POINTS, static: true, title: 'demo', ...extra }));

/** Marker centres (recharts' Symbols translate to the point). */
function markers(markup: string): { x: number; y: number }[] {
  return [...markup.matchAll(/class="recharts-symbols" transform="translate\(([-\d.]+), ([-\d.]+)\)"/g)].map((m) => ({ x: Number(m[1]), y: Number(m[2]) }));
}

describe('AccuracyPlot rendered to static SVG', () => {
  it('is a standalone, deterministic SVG with axis labels with units, a title and a legend entry per curve and reference', () => {
    const a = svg();
    expect(svg()).toBe(a);
    expect(a.startsWith('<svg')).toBe(true);
    expect(a).toContain('xmlns="http://www.w3.org/2000/svg"');
    expect(a).toContain('width="760" height="440"');
    for (const text of ['α (scale of v)', 'accuracy (%)', 'demo_arith · plain', 'demo_arith · plain · control (random vector)', 'demo_arith · plain · SFT donor alone', 'demo_arith · plain · RL donor alone', 'demo_arith · plain · target alone']) {
      expect(a, text).toContain(`>${text}<`);
    }
    // The α grid itself gives the ticks, with a true minus sign.
    for (const tick of ['−1', '0', '1']) expect(a).toContain(`>${tick}</tspan>`);
    expect(a).not.toMatch(/tabindex|role="button"|onclick/i);
  });

  it('puts every point where its accuracy and α put it, with error bars at the Wilson 95% interval', () => {
    const a = svg();
    // Curve points first (v then control, by α), then the legend's two markers.
    const m = markers(a);
    expect(m).toHaveLength(6 + 2);
    const [v1, v2, v3] = m;
    // Linear in α: −1, 0, 1 equally spaced; linear in accuracy: 0, 0.5, 1 equally spaced.
    expect(v2.x - v1.x).toBeCloseTo(v3.x - v2.x, 1);
    expect(v2.y - v3.y).toBeCloseTo(v1.y - v2.y, 1);
    const yOf = (acc: number) => v1.y + (v3.y - v1.y) * acc;
    expect(m[3].y).toBeCloseTo(yOf(4 / 40), 1);
    expect(m[5].y).toBeCloseTo(yOf(6 / 40), 1);
    // The vertical bar of the first control point spans its Wilson interval.
    const ci = wilsonInterval(4, 40);
    // (v's bar at α = −1 comes first at the same x; the control's is the second.)
    const bar = [...a.matchAll(new RegExp(`<line x1="${m[3].x}" x2="${m[3].x}" y1="([-\\d.]+)" y2="([-\\d.]+)" stroke="#[0-9A-F]{6}" stroke-width="1"`, 'g'))][1];
    expect(Number(bar[1])).toBeCloseTo(yOf(ci.low), 1);
    expect(Number(bar[2])).toBeCloseTo(yOf(ci.high), 1);
    // Each point says its numbers in words (a tooltip in the page, a <title> in a file).
    expect(a).toContain('<title>demo_arith · plain · control (random vector), α = −1: 10.0% (4/40), 95% interval 4.0% to 23.1%</title>');
  });

  it('draws the references as horizontal lines labelled with their accuracy, and the control dashed', () => {
    const a = svg();
    expect(a).toContain('>RL alone 90.0%<');
    expect(a).toContain('>SFT alone 7.5%<');
    expect(a).toContain('>target alone 50.0%<');
    expect(a).toMatch(/stroke-dasharray="6 4" fill="none" class="recharts-curve"/);
  });

  it('is interactive in the page: each point a button named by its numbers', () => {
    const a = renderToStaticMarkup(createElement(AccuracyPlot, { points: POINTS, title: 'demo', onSelectPoint: () => undefined }));
    expect([...a.matchAll(/role="button" tabindex="0" aria-label="([^"]+)"/g)].map((x) => x[1])).toHaveLength(6);
    expect(a).toContain('aria-label="demo_arith · plain, α = 1: 100.0% (40/40), 95% interval 91.2% to 100.0%"');
  });

  it('names the metric only when a task is drawn under more than one, and draws only the metrics asked for', () => {
    const two = [...POINTS, P('v', 0, 10, 40, 'acc_norm'), P('v', 1, 30, 40, 'acc_norm')];
    const a = renderToStaticMarkup(createElement(AccuracyPlot, { points: two, static: true }));
    expect(a).toContain('>demo_arith · plain · acc_norm<');
    expect(plotData(two, ['acc_norm']).series.map((s) => [s.kind, s.points.map((p) => p.alpha)])).toEqual([['v', [0, 1]]]);
  });

  it('grows with its legend when no height is given, keeping the plot area; many reference lines are named by the legend alone', () => {
    const frame = (markup: string) => Number(/<rect x="62" y="34" width="[\d.]+" height="([\d.]+)" fill="none"/.exec(markup)![1]);
    const tasks = ['gsm8k_cot', 'sciq', 'humaneval', 'bbh_cot_fewshot_date_understanding'];
    const many = tasks.flatMap((task) => POINTS.map((p) => ({ ...p, task })));
    const a = svg();
    const b = renderToStaticMarkup(createElement(AccuracyPlot, { points: many, static: true, title: 'demo' }));
    // 4 × (2 curves + 3 references) = 20 legend entries in 2 columns: 10 rows, 7 more than the default height holds.
    expect(b).toContain(`height="${440 + 7 * 18}"`);
    expect(frame(b)).toBe(frame(a));
    expect(b).not.toContain('>RL alone');
    // A height given (the CLI's file) is kept.
    expect(renderToStaticMarkup(createElement(AccuracyPlot, { points: many, static: true, width: 900, height: 700 }))).toContain('width="900" height="700"');
  });
});

describe('AccuracyTable', () => {
  it('lists every point with its counts, accuracy and interval, under a caption', () => {
    const t = renderToStaticMarkup(createElement(AccuracyTable, { points: POINTS }));
    expect(t).toContain('<caption>');
    expect(t.match(/data-testid="plot-row"/g)).toHaveLength(POINTS.length);
    expect(t).toContain('<td>4 / 40</td><td>10.0%</td><td>4.0–23.1%</td>');
    expect(t).toContain('<td>RL donor alone</td><td>—</td>');
  });
});
