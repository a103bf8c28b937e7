import { STUDIO_PORT } from '../playwright.config.ts';
import { deflateRawSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test, type Locator, type Page, type TestInfo } from '@playwright/test';
// The engine's modules themselves (its index also loads the eval tasks' JSON, which Playwright's loader cannot import).
import { bytesToBase64url, type SweepResultsDocument } from '../src/engine/sweep/results-document.ts';
import { encodeShareHash, MAX_SHARE_PAYLOAD_CHARS } from '../src/engine/sweep/share-url.ts';
import { typicalSweepDocument } from '../test-support/sweep-document.ts';
import { FIXTURES, keepScreenshot, offline } from './helpers.ts';

/**
 * Issue 13's journeys, walked in Chromium as a researcher would, a screenshot at each step
 * (attached to the report and kept in the test's output folder):
 *  1. offline → the embedded demo → its sweep → the plot → the share URL → a fresh browser draws
 *     the identical plot (the same SVG, the same table);
 *  4. hostile share URLs → the refusal, nothing executed, nothing fetched;
 *  5. keyboard only: load the demo, move α, run the benchmark panel, open an item.
 * (Journeys 2 and 3 live in their owners' specs.)
 */

const APP = `http://127.0.0.1:${STUDIO_PORT}`;
const DEMO = JSON.parse(readFileSync(join(FIXTURES, 'models', 'demo-arith-target', 'demo.json'), 'utf8')) as { accuracy: { alpha: number; digitsOnly: number }[] };
const demoCorrect = (alpha: number) => Math.round(DEMO.accuracy.find((a) => a.alpha === alpha)!.digitsOnly * 100);

// What the window shows (the layout at its viewport), not the whole scrolled page.
const shot = (page: Page, info: TestInfo, name: string) => keepScreenshot(page, info, name, { fullPage: false });

/** What the plot draws: its SVG as markup, its table as text, its points' data. */
async function plotOf(page: Page) {
  const panel = page.getByTestId('sweep');
  return {
    svg: await panel.locator('svg.accuracy-plot, .accuracy-plot svg').first().evaluate((el) => el.outerHTML),
    table: await panel.getByTestId('plot-table').innerText(),
    points: await panel.getByTestId('plot-point').evaluateAll((ps) => ps.map((p) => [...p.attributes].filter((a) => a.name.startsWith('data-')).map((a) => `${a.name}=${a.value}`).join(' '))),
  };
}

test('journey 1: offline, the demo, its sweep and plot, the share URL; a fresh browser draws the identical plot', async ({ browser }, info) => {
  test.setTimeout(240_000);
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: APP });
  const outside = await offline(context);
  const page = await context.newPage();
  await page.goto('/');
  await expect(page.getByTestId('demo-note')).toContainText('Demo trio');
  await shot(page, info, '1-open-offline');

  await page.getByRole('button', { name: 'Load the demo trio' }).click();
  await expect(page.getByTestId('verdict-badge')).toHaveAttribute('data-status', 'compatible', { timeout: 30_000 });
  await shot(page, info, '2-demo-loaded');

  const panel = page.getByTestId('sweep');
  await panel.getByLabel('α values').fill('-1, 0, 0.5, 1');
  await panel.getByLabel('sweep items per task').fill('20');
  await panel.getByLabel('sweep batch size').fill('10');
  await panel.getByLabel('donors alone').setChecked(false);
  await panel.getByLabel('control vector').setChecked(true);
  await panel.getByTestId('sweep-run').click();
  await expect(page.getByTestId('work-sweep')).toBeVisible();
  await shot(page, info, '3-sweeping');
  await expect(panel.getByTestId('sweep-status')).toHaveAttribute('data-status', /done|error|cancelled/, { timeout: 200_000 });
  expect(await panel.getByTestId('sweep-status').getAttribute('data-status'), await panel.getByTestId('sweep-status').innerText()).toBe('done');
  // v and the control at the four α (0 and 1 are always in the grid).
  await expect(panel.getByTestId('plot-point')).toHaveCount(8);
  const drawn = await plotOf(page);
  await shot(page, info, '4-plot');

  await panel.getByTestId('share-copy').click();
  const url = await panel.getByTestId('share-url').inputValue();
  expect(url.startsWith(`${APP}/#r=1.`)).toBe(true);
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(url);
  await shot(page, info, '5-share-url');

  const fresh = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const freshOutside = await offline(fresh);
  const other = await fresh.newPage();
  const data: string[] = [];
  other.on('request', (r) => /\.safetensors|manifest\.json|config\.json|tokenizer/.test(new URL(r.url()).pathname) && !/^\/(src|node_modules|@)/.test(new URL(r.url()).pathname) && data.push(r.url()));
  await other.goto(url);
  await expect(other.getByTestId('shared-notice')).toContainText('Opened from a share link');
  await expect(other.getByTestId('plot-point')).toHaveCount(8);
  const shared = await plotOf(other);
  expect(shared.table).toBe(drawn.table);
  expect(shared.points).toEqual(drawn.points);
  expect(shared.svg).toBe(drawn.svg);
  await shot(other, info, '6-fresh-context-same-plot');
  expect(data, 'a shared plot needs no model file').toEqual([]);
  expect([...outside, ...freshOutside]).toEqual([]);
  await context.close();
  await fresh.close();
});

const hashOf = (json: unknown) => `r=1.${bytesToBase64url(deflateRawSync(Buffer.from(JSON.stringify(json))))}`;
const clone = (d: SweepResultsDocument) => JSON.parse(JSON.stringify(d)) as SweepResultsDocument & Record<string, unknown>;
const INJECTED = '"><img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>';

test('journey 4: hostile share URLs are refused with a message; nothing runs, nothing is fetched, no dialog opens', async ({ browser }, info) => {
  test.setTimeout(120_000);
  const markup = clone(typicalSweepDocument());
  markup.sources.target.spec = `hf:owner/name${INJECTED}`;
  (markup.tasks[0] as unknown as Record<string, unknown>).task = '<svg onload=alert(1)>';
  const token = clone(typicalSweepDocument());
  token.sources.sft.spec = `hf:owner/name?token=hf_${'Q'.repeat(34)}`;
  const valid = (await encodeShareHash(typicalSweepDocument())).hash;
  const payload = valid.slice('r=1.'.length);
  const cases = [
    { name: 'markup-and-script-in-fields', hash: hashOf(markup), says: /holds markup/ },
    { name: 'oversize', hash: `r=1.${'A'.repeat(MAX_SHARE_PAYLOAD_CHARS + 100)}`, says: new RegExp(`the limit is ${MAX_SHARE_PAYLOAD_CHARS}`) },
    { name: 'token-looking-string', hash: hashOf(token), says: /looks like a Hugging Face access token/ },
    { name: 'bad-compression', hash: `r=1.${payload.slice(0, 40)}${'_'.repeat(60)}${payload.slice(100)}`, says: /not valid deflate data|does not hold JSON|does not inflate to UTF-8/ },
    { name: 'script-as-payload-and-alpha', hash: `r=1.<script>alert(1)</script>&a=<img src=x onerror=alert(2)>`, says: /not valid base64url/ },
  ];
  for (const c of cases) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const outside = await offline(context);
    const page = await context.newPage();
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    // Only the studio's own files may load: its modules, styles, icons, the demo note's demo.json.
    const requests: string[] = [];
    page.on('request', (r) => requests.push(new URL(r.url()).pathname));
    await page.goto(`/#${c.hash}`);
    const refusal = page.getByTestId('share-refused');
    await expect(refusal, c.name).toContainText('This share link was refused and nothing from it is shown');
    await expect(refusal, c.name).toContainText(c.says);
    await shot(page, info, `refused-${c.name}`);
    await page.waitForLoadState('networkidle');
    expect(dialogs, c.name).toEqual([]);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), c.name).toBeUndefined();
    expect(await refusal.locator('img, script, svg').count(), c.name).toBe(0);
    expect(await page.locator('img[src="x"]').count(), c.name).toBe(0);
    expect(await page.getByTestId('sweep-results').count(), c.name).toBe(0);
    expect(outside, c.name).toEqual([]);
    const foreign = requests.filter((p) => !/^\/(src|shaders|node_modules|@vite|@react-refresh|@id|@fs)\b|^\/$|^\/(favicon\.svg|manifest\.webmanifest)$|^\/demo\//.test(p));
    expect(foreign, c.name).toEqual([]);
    // The α part is read only as a plain number: a hostile one leaves α as it was.
    await expect(page.getByLabel('α', { exact: true })).toHaveValue('1');
    await context.close();
  }
});

/** Presses Tab (or Shift+Tab) until `target` has the focus; then checks the focus ring shows and the element is on screen. */
async function tabTo(page: Page, target: Locator, o: { back?: boolean; max?: number } = {}): Promise<number> {
  for (let n = 1; n <= (o.max ?? 250); n++) {
    await page.keyboard.press(o.back ? 'Shift+Tab' : 'Tab');
    if (await target.evaluate((el) => el === document.activeElement).catch(() => false)) {
      const ring = await target.evaluate((el) => ({ visible: el.matches(':focus-visible'), outline: getComputedStyle(el).outlineStyle, width: parseFloat(getComputedStyle(el).outlineWidth) }));
      expect(ring.visible, 'focus is :focus-visible').toBe(true);
      expect(ring.outline !== 'none' && ring.width > 0, `a focus ring is drawn (${ring.outline} ${ring.width}px)`).toBe(true);
      const box = (await target.boundingBox())!;
      const vp = page.viewportSize()!;
      expect(box.y >= 0 && box.y + box.height <= vp.height + 1, 'the focused element is scrolled into view').toBe(true);
      return n;
    }
  }
  throw new Error(`${target} never got the focus`);
}

test('journey 5: keyboard only — load the demo, move α, run the benchmark panel, open an item', async ({ page }, info) => {
  test.setTimeout(240_000);
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto('/');
  await expect(page.getByTestId('gpu-status')).toBeVisible();

  const demo = page.getByRole('button', { name: 'Load the demo trio' });
  await tabTo(page, demo);
  await shot(page, info, '1-focus-on-load-demo');
  await page.keyboard.press('Enter');
  for (const r of ['sft', 'rl', 'target']) await expect(page.getByTestId(`slot-${r}`)).toHaveAttribute('data-compact', 'true', { timeout: 30_000 });

  // α: back to the slider beside it, twenty steps of 0.05 down from 1.
  const slider = page.getByLabel('α slider');
  await tabTo(page, slider, { back: true });
  for (let i = 0; i < 20; i++) await page.keyboard.press('ArrowLeft');
  await expect(page.getByLabel('α', { exact: true })).toHaveValue('0');
  await expect(page).toHaveURL(/#a=0$/);
  await expect(page.getByTestId('playground-alpha')).toHaveText('0');
  await shot(page, info, '2-alpha-moved');

  // The benchmark panel: demo_arith instead of sciq, all 100 sums, run at the slider's α.
  const bench = page.getByTestId('benchmarks');
  const tasks = bench.getByRole('group', { name: 'tasks', exact: true });
  await tabTo(page, tasks.getByLabel('sciq', { exact: true }));
  await page.keyboard.press('Space');
  await tabTo(page, tasks.getByLabel('demo_arith', { exact: true }));
  await page.keyboard.press('Space');
  await tabTo(page, bench.getByLabel('items per task'));
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.type('100');
  const run = bench.getByTestId('bench-run');
  await expect(run).toHaveText('Run at α = 0');
  await tabTo(page, run);
  await shot(page, info, '3-focus-on-run');
  await page.keyboard.press('Enter');
  await expect(bench.getByTestId('bench-status')).toHaveAttribute('data-status', /done|error|cancelled/, { timeout: 180_000 });
  expect(await bench.getByTestId('bench-status').getAttribute('data-status'), await bench.getByTestId('bench-status').innerText()).toBe('done');
  const score = bench.getByTestId('bench-score').and(page.locator('[data-task="demo_arith"][data-metric="acc"]'));
  await expect(score).toHaveAttribute('data-n', '100');
  await expect(score).toHaveAttribute('data-correct', String(demoCorrect(0)));

  // Open the first item from the keyboard.
  const item = bench.getByTestId('bench-item').first();
  const opener = item.locator('summary').first();
  await tabTo(page, opener);
  await page.keyboard.press('Enter');
  await expect(item.locator('details').first()).toHaveAttribute('open', '');
  await shot(page, info, '4-item-open');
});
