import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test, type Locator, type Page, type TestInfo } from '@playwright/test';
import { FIXTURES, keepScreenshot } from './helpers.ts';

/**
 * The workspace as one instrument: at 1280×800 the folded trio, the plot and the α explorer are
 * on screen together; at 420 px it is one column with nothing wider than the window; the one α
 * control drives every panel and survives a reload through the URL's hash (beside a share link);
 * the GPU's work is shown with a Cancel; a lost device is re-created and the work resumes with
 * the same numbers. Screenshots of each step are attached to the test's report.
 */

const DEMO = JSON.parse(readFileSync(join(FIXTURES, 'models', 'demo-arith-target', 'demo.json'), 'utf8')) as { accuracy: { alpha: number; digitsOnly: number }[] };
const demoCorrect = (alpha: number) => Math.round(DEMO.accuracy.find((a) => a.alpha === alpha)!.digitsOnly * 100);

// What the window shows (the layout at its viewport), not the whole scrolled page.
const shot = (page: Page, info: TestInfo, name: string) => keepScreenshot(page, info, name, { fullPage: false });

async function loadDemo(page: Page) {
  await page.getByRole('button', { name: 'Load the demo trio' }).click();
  for (const r of ['sft', 'rl', 'target']) await expect(page.getByTestId(`slot-${r}`)).toHaveAttribute('data-compact', 'true', { timeout: 30_000 });
}

/** The part of `box` inside the window, in px of height. */
async function visibleHeight(loc: Locator, viewportHeight: number): Promise<number> {
  const b = (await loc.boundingBox())!;
  return Math.max(0, Math.min(b.y + b.height, viewportHeight) - Math.max(b.y, 0));
}

test('1280×800: the folded trio, the plot and the α explorer share one screen; details open on demand', async ({ page }, info) => {
  test.setTimeout(180_000);
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto('/');
  await shot(page, info, '1-empty');
  await loadDemo(page);
  const trio = page.getByRole('region', { name: /the trio/ });
  // Folded: one line per card with size and dtype, the id, and the verdict as a badge.
  for (const r of ['sft', 'rl', 'target']) {
    const card = page.getByTestId(`slot-${r}`);
    await expect(card.getByTestId('slot-brief')).toHaveText('369.8K params · BF16 · 725.0 KiB');
    await expect(card).toContainText(`demo:demo-arith-${r}`);
    await expect(card.getByTestId('slot-summary')).toBeHidden();
  }
  await expect(page.getByTestId('verdict-badge')).toHaveAttribute('data-status', 'compatible');
  await expect(page.getByTestId('verdict-headline')).toBeHidden();

  const panel = page.getByTestId('sweep');
  await panel.getByLabel('α values').fill('0, 1');
  await panel.getByLabel('sweep items per task').fill('10');
  await panel.getByLabel('control vector').setChecked(false);
  await panel.getByLabel('donors alone').setChecked(false);
  await panel.getByTestId('sweep-run').click();
  await expect(panel.getByTestId('sweep-status')).toHaveAttribute('data-status', 'done', { timeout: 120_000 });
  await page.getByTestId('playground').getByRole('button', { name: 'Generate' }).click();
  await expect(page.getByTestId('playground-output')).toHaveAttribute('data-alpha', '1', { timeout: 30_000 });
  await shot(page, info, '2-workspace');

  // All three in the window at once, without scrolling, and not on top of each other.
  const plot = panel.locator('svg').first();
  const explorer = page.getByTestId('playground');
  for (const [name, loc, min] of [['trio', trio, 60], ['plot', plot, 200], ['α explorer', explorer, 200]] as const) {
    expect(await visibleHeight(loc, 800), name).toBeGreaterThanOrEqual(min);
  }
  const [t, p, e] = [(await trio.boundingBox())!, (await plot.boundingBox())!, (await explorer.boundingBox())!];
  expect(p.y).toBeGreaterThanOrEqual(t.y + t.height);
  expect(e.x).toBeGreaterThanOrEqual(p.x + p.width);
  expect(await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.scrollHeight])).toEqual([1280, 800]);

  // Details on demand: a card unfolds to today's full card; the verdict's per-tensor table opens.
  const sft = page.getByTestId('slot-sft');
  await sft.getByRole('button', { name: 'details of the SFT donor' }).click();
  await expect(sft.getByTestId('slot-summary')).toBeVisible();
  await expect(sft.getByTestId('slot-summary')).toContainText('Qwen2ForCausalLM');
  await page.getByTestId('verdict-details').locator('summary').click();
  await expect(page.getByTestId('verdict-headline')).toHaveText('Compatible: 27 tensors receive α·v.');
  await shot(page, info, '3-details-open');
});

test('420 px wide: one column, nothing wider than the window', async ({ page }, info) => {
  await page.setViewportSize({ width: 420, height: 800 });
  await page.goto('/');
  await loadDemo(page);
  await page.getByTestId('verdict-details').locator('summary').click();
  await page.getByTestId('slot-target').getByRole('button', { name: /details of/ }).click();
  await page.getByText('Settings').click();
  await shot(page, info, 'narrow');
  const widths = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));
  expect(widths.scroll).toBe(widths.client);
  // One column: the plot area and the α explorer are stacked, each as wide as the other.
  const plot = (await page.getByTestId('sweep').boundingBox())!;
  const explorer = (await page.getByTestId('playground').boundingBox())!;
  expect(explorer.y).toBeGreaterThanOrEqual(plot.y + plot.height);
  expect(Math.abs(explorer.x - plot.x)).toBeLessThan(1);
  // Nothing is cut off: every visible element's right edge is inside the window (tables scroll inside their panel).
  const outside = await page.evaluate(() => {
    const w = document.documentElement.clientWidth;
    return [...document.querySelectorAll('header *, .trio *, .ws-main > * > section > :is(h2, p, div, form, fieldset, button)')]
      .filter((el) => (el as HTMLElement).offsetParent !== null && el.getBoundingClientRect().right > w + 0.5)
      .map((el) => `${el.tagName}.${el.className}`);
  });
  expect(outside).toEqual([]);
});

test('one α for every panel, in the URL hash beside a share link: a reload keeps it; outside the sweep grid it is shown, not clamped', async ({ page }, info) => {
  test.setTimeout(120_000);
  await page.goto('/');
  await loadDemo(page);
  const alpha = page.getByLabel('α', { exact: true });
  await alpha.fill('0.5');
  await expect(page).toHaveURL(/#a=0\.5$/);
  // Every panel follows: the merge panel's box, the playground's readout, the benchmark's button.
  await expect(page.getByLabel('alpha', { exact: true })).toHaveValue('0.5');
  await expect(page.getByTestId('playground-alpha')).toHaveText('0.5');
  await expect(page.getByTestId('bench-run')).toHaveText('Run at α = 0.5');
  await page.reload();
  await expect(page.getByLabel('α', { exact: true })).toHaveValue('0.5');
  await expect(page.getByLabel('α slider')).toHaveValue('0.5');

  // A sweep shown: the slider's range is its grid; an α outside it is said, and the number is kept.
  await loadDemo(page);
  const panel = page.getByTestId('sweep');
  await panel.getByLabel('α values').fill('-0.5, 0, 0.5, 1');
  await panel.getByLabel('sweep items per task').fill('5');
  await panel.getByLabel('control vector').setChecked(false);
  await panel.getByLabel('donors alone').setChecked(false);
  await panel.getByTestId('sweep-run').click();
  await expect(panel.getByTestId('sweep-status')).toHaveAttribute('data-status', 'done', { timeout: 90_000 });
  const slider = page.getByLabel('α slider');
  await expect(slider).toHaveAttribute('min', '-0.5');
  await expect(slider).toHaveAttribute('max', '1');
  await expect(page.getByTestId('alpha-range')).toHaveText('sweep grid -0.5 … 1');
  await page.getByLabel('α', { exact: true }).fill('1.5');
  await expect(slider).toHaveValue('1');
  await expect(page.getByTestId('alpha-control').getByTestId('alpha-outside')).toHaveText(
    'α = 1.5 is outside the slider’s range (-0.5 to 1, the sweep’s grid); the slider shows 1, the merge uses 1.5.',
  );
  await expect(page.getByLabel('alpha', { exact: true })).toHaveValue('1.5');

  // The share link replaces the hash with #r=1.…; α goes back beside it, and a reload opens both.
  await panel.getByTestId('share-copy').click();
  await expect(page).toHaveURL(/#r=1\.[A-Za-z0-9_-]+&a=1\.5$/);
  const table = await panel.getByTestId('plot-table').innerText();
  // α edited by hand beside the link moves α; it is not a new link (the page's own run stays, not re-opened as shared).
  await page.evaluate(() => (location.hash = location.hash.replace(/a=1\.5$/, 'a=0.25')));
  await expect(page.getByLabel('α', { exact: true })).toHaveValue('0.25');
  await expect(page.getByTestId('shared-notice')).toHaveCount(0);
  await page.reload();
  await expect(page.getByTestId('shared-notice')).toBeVisible();
  expect(await page.getByTestId('sweep').getByTestId('plot-table').innerText()).toBe(table);
  await expect(page.getByLabel('α', { exact: true })).toHaveValue('0.25');
  await shot(page, info, 'alpha-after-reload');
});

test('the GPU work is shown with a Cancel; a lost device is re-created and the sweep resumes to the demo\'s numbers', async ({ page }, info) => {
  test.setTimeout(300_000);
  await page.goto('/');
  await expect(page.getByTestId('gpu-status')).toContainText('WebGPU adapter:');
  await loadDemo(page);
  const panel = page.getByTestId('sweep');
  // 500 items: the run is still going when the device is lost, whatever this machine's speed.
  await panel.getByLabel('α values').fill('0, 0.25, 0.5, 0.75, 1');
  await panel.getByLabel('sweep items per task').fill('100');
  await panel.getByLabel('sweep batch size').fill('10');
  await panel.getByLabel('control vector').setChecked(false);
  await panel.getByLabel('donors alone').setChecked(false);
  await panel.getByTestId('sweep-run').click();

  // The status bar names the work and cancels it.
  const work = page.getByTestId('work-status');
  await expect(work.getByTestId('work-sweep')).toContainText('sweeping α');
  await expect(page.getByTestId('sweep-progress')).toHaveAttribute('data-done', /^[1-9]/, { timeout: 60_000 });
  await shot(page, info, '1-sweeping');
  await work.getByTestId('work-cancel-sweep').click();
  await expect(panel.getByTestId('sweep-status')).toHaveAttribute('data-status', 'cancelled', { timeout: 30_000 });
  await expect(work).toHaveText('GPU idle');

  // Resume, then lose the device while it runs (as a driver reset would); the cancelled run's items are stored.
  await panel.getByTestId('sweep-run').click();
  await expect(work.getByTestId('work-sweep')).toBeVisible();
  await page.evaluate(() => (globalThis as unknown as { __studioTest: { loseGpuDevice(): Promise<void> } }).__studioTest.loseGpuDevice());
  const lost = page.getByTestId('gpu-status');
  await expect(lost).toHaveAttribute('data-status', 'lost');
  await expect(lost).toContainText('The GPU device was lost (destroyed');
  await expect(lost).toContainText(/Stopped with it: (building the model; )?sweeping α./);
  await expect(panel.getByTestId('sweep-status')).toHaveAttribute('data-status', /error|cancelled/, { timeout: 60_000 });
  await shot(page, info, '2-device-lost');

  await lost.getByRole('button', { name: 'Re-create the GPU device' }).click();
  await expect(page.getByTestId('gpu-status')).toContainText('WebGPU adapter:');
  await page.getByTestId('gpu-resume-button').click();
  await expect(panel.getByTestId('sweep-status')).toHaveAttribute('data-status', /done|error|cancelled/, { timeout: 200_000 });
  expect(await panel.getByTestId('sweep-status').getAttribute('data-status'), await panel.getByTestId('sweep-status').innerText()).toBe('done');
  expect(Number(await page.getByTestId('sweep-progress').getAttribute('data-resumed'))).toBeGreaterThan(0);
  for (const a of [0, 1]) {
    const row = panel.locator(`[data-testid="plot-row"][data-series="v"][data-alpha="${a}"]`);
    await expect(row).toHaveAttribute('data-correct', String(demoCorrect(a)));
    await expect(row).toHaveAttribute('data-total', '100');
  }
  await shot(page, info, '3-resumed');
});
