import { expect, test, type Page } from '@playwright/test';
import { encodeShareHash } from '../src/engine/sweep/share-url.ts';
import { NARROW_BELOW, PLOT_SIZE } from '../src/ui/components/AccuracyPlot.tsx';
import type { SweepResultsDocument } from '../src/engine/sweep/results-document.ts';
import { typicalSweepDocument } from '../test-support/sweep-document.ts';

/**
 * The accuracy plot in a phone-width window: laid out for the width it has (not drawn 760 wide and
 * scaled into ~360 px, which printed its 11 px labels 5–6 px tall), so every label renders at its
 * nominal size and nothing runs past the window; and at 1280 × 800 it keeps its wide layout (grid
 * legend, long edge labels), drawn at its column's width (713 px there) rather than scaled to it.
 * Plots come from share links (the engine's own encoder), so no sweep has to run first.
 */

/** One task, one metric: three reference lines, so the "RL / SFT / target" edge labels are drawn. */
function oneTaskDocument(): SweepResultsDocument {
  const doc = typicalSweepDocument({ verdicts: true });
  return { ...doc, tasks: doc.tasks.filter((t) => t.task === 'sciq'), points: doc.points.filter((p) => p.task === 'sciq' && p.metric === 'acc') };
}

const DOCUMENTS: [string, () => SweepResultsDocument][] = [
  ['one task with its reference labels', oneTaskDocument],
  ['four tasks, six metrics, 30 legend entries', () => typicalSweepDocument({ verdicts: true })],
];

async function openPlot(page: Page, doc: SweepResultsDocument) {
  await page.goto(`/#${(await encodeShareHash(doc)).hash}`);
  await expect(page.getByTestId('plot-point')).toHaveCount(doc.points.filter((p) => p.series === 'v' || p.series === 'control').length);
}

interface Measured {
  innerWidth: number;
  scrollWidth: number;
  svg: { left: number; right: number; width: number; viewBoxWidth: number };
  frameWidth: number;
  texts: { text: string; left: number; right: number; height: number; fontSize: number }[];
}

/** Every <text> of the plot as rendered: its box, and its font size times the SVG's scale on screen. */
async function measure(page: Page): Promise<Measured> {
  await expect(page.locator('svg.accuracy-plot')).toHaveCount(1);
  return page.evaluate(() => {
    const svg = document.querySelector('svg.accuracy-plot') as SVGSVGElement;
    const box = svg.getBoundingClientRect();
    const scale = box.width / svg.viewBox.baseVal.width;
    return {
      innerWidth: window.innerWidth,
      scrollWidth: document.documentElement.scrollWidth,
      svg: { left: box.left, right: box.right, width: box.width, viewBoxWidth: svg.viewBox.baseVal.width },
      frameWidth: document.querySelector('[data-testid="plot-frame"]')!.getBoundingClientRect().width,
      texts: [...svg.querySelectorAll('text')].map((t) => {
        const r = t.getBoundingClientRect();
        return { text: t.textContent ?? '', left: r.left, right: r.right, height: r.height, fontSize: parseFloat(getComputedStyle(t).fontSize) * scale };
      }),
    };
  });
}

function expectReadable(m: Measured, label: string) {
  expect(m.texts.length, label).toBeGreaterThan(10);
  for (const t of m.texts) {
    expect(t.height, `${label}: "${t.text}" height`).toBeGreaterThanOrEqual(11);
    // Inside the drawing (an SVG clips what overruns it) and inside the window.
    expect(t.left, `${label}: "${t.text}" left`).toBeGreaterThanOrEqual(Math.max(0, m.svg.left) - 0.5);
    expect(t.right, `${label}: "${t.text}" right`).toBeLessThanOrEqual(Math.min(m.innerWidth, m.svg.right) + 0.5);
  }
  expect(m.scrollWidth, `${label}: page width`).toBeLessThanOrEqual(m.innerWidth);
  expect(m.svg.right, `${label}: plot right edge`).toBeLessThanOrEqual(m.innerWidth);
}

for (const [name, make] of DOCUMENTS) {
  test(`at 420 × 800 the plot is laid out for its column, every label ≥ 11 px and inside the window — ${name}`, async ({ page }) => {
    await page.setViewportSize({ width: 420, height: 800 });
    const doc = make();
    await openPlot(page, doc);
    const m = await measure(page);
    // Drawn at the width it has, one SVG unit to one CSS pixel: nothing is scaled down.
    expect(m.svg.viewBoxWidth).toBe(Math.floor(m.frameWidth));
    expect(m.svg.width).toBeCloseTo(m.svg.viewBoxWidth, 0);
    expect(m.svg.viewBoxWidth).toBeLessThan(420);
    expectReadable(m, '420');
    // Nominal sizes: no text below 11 px, the heading at 14.
    expect(Math.min(...m.texts.map((t) => t.fontSize))).toBeGreaterThanOrEqual(11);
    if (name.startsWith('one task')) {
      // Fewer α ticks than the 11-point grid, but round ones across the range (not a lone "0").
      expect(m.texts.map((t) => t.text)).toEqual(expect.arrayContaining(['−1', '0', '1']));
      // The three reference lines keep their edge labels, short ("RL 30.0%"), with their numbers.
      const refs = doc.points.filter((p) => p.series === 'rl' || p.series === 'sft' || p.series === 'target');
      for (const r of refs) {
        const word = { rl: 'RL', sft: 'SFT', target: 'target' }[r.series as 'rl' | 'sft' | 'target'];
        expect(m.texts.map((t) => t.text)).toContain(`${word} ${((100 * r.correct) / r.total).toFixed(1)}%`);
      }
    } else {
      // Every legend entry is there in full (wrapped, not cut with "…"): 6 task × metric groups × (v, control, 3 references).
      const text = m.texts.map((t) => t.text).join(' ');
      expect(text).not.toContain('…');
      expect(text.match(/control \(random/g)?.length).toBe(6);
    }
  });
}

test('at 420 a point still opens its items from the keyboard; widening to 1280 × 800 redraws the wide layout at the column width', async ({ page }) => {
  await page.setViewportSize({ width: 420, height: 800 });
  const doc = oneTaskDocument();
  await openPlot(page, doc);
  const point = page.locator('[data-testid="plot-point"][data-series="v|sciq|plain|acc"][data-alpha="0.5"]');
  await point.focus();
  await expect(point).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('sweep-items')).toHaveAttribute('data-alpha', '0.5');
  await expect(point).toHaveAttribute('aria-pressed', 'true');

  await page.setViewportSize({ width: 1280, height: 800 });
  await expect.poll(async () => (await measure(page)).svg.viewBoxWidth).toBeGreaterThanOrEqual(NARROW_BELOW);
  const wide = await measure(page);
  expect(wide.svg.viewBoxWidth).toBe(Math.min(PLOT_SIZE.width, Math.floor(wide.frameWidth)));
  expect(wide.svg.width).toBeCloseTo(wide.svg.viewBoxWidth, 0);
  expectReadable(wide, '1280');
  // The wide layout as before: the long edge labels, and the selection survived the redraw.
  const ref = doc.points.find((p) => p.series === 'rl')!;
  expect(wide.texts.map((t) => t.text)).toContain(`RL alone ${((100 * ref.correct) / ref.total).toFixed(1)}%`);
  await expect(point).toHaveAttribute('aria-pressed', 'true');
});

test('at 1280 × 800 the full plot keeps its wide layout at the column width, every label ≥ 11 px tall and inside the window', async ({ page }) => {
  await page.setViewportSize({ width: 1280, height: 800 });
  await openPlot(page, typicalSweepDocument({ verdicts: true }));
  const m = await measure(page);
  expect(m.svg.viewBoxWidth).toBe(Math.min(PLOT_SIZE.width, Math.floor(m.frameWidth)));
  expect(m.svg.viewBoxWidth).toBeGreaterThanOrEqual(NARROW_BELOW);
  expect(m.svg.width).toBeCloseTo(m.svg.viewBoxWidth, 0);
  expectReadable(m, '1280');
  // The wide grid legend: two columns of entries, cut with "…" where a label is longer than its column (as before).
  expect(m.texts.some((t) => t.text.endsWith('…'))).toBe(true);
});
