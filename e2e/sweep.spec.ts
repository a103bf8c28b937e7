import { STUDIO_PORT } from '../playwright.config.ts';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, test, type Locator, type Page } from '@playwright/test';
import { FIXTURES } from './helpers.ts';

/**
 * The α sweep as a user runs it on the demo trio: the plot rises from about chance at α = 0 to
 * the demo's accuracy at α = 1 while the control vector stays flat; a point opens its items; the
 * exports hold the same numbers; the share link reopens the identical table in a fresh, offline
 * browser, and Re-run gives it again; `studio sweep` on the same sweep.json gives the same
 * points; a reload mid-sweep resumes without recomputing what IndexedDB already holds.
 */

const APP = `http://127.0.0.1:${STUDIO_PORT}`;
const DEMO = JSON.parse(readFileSync(join(FIXTURES, 'models', 'demo-arith-target', 'demo.json'), 'utf8')) as { accuracy: { alpha: number; digitsOnly: number }[] };
const demoAccuracy = (alpha: number) => DEMO.accuracy.find((a) => a.alpha === alpha)!.digitsOnly;

interface Row {
  series: string;
  alpha: number | null;
  task: string;
  correct: number;
  total: number;
}

async function loadDemo(page: Page): Promise<Locator> {
  await page.getByRole('button', { name: 'Load the demo trio' }).click();
  const panel = page.getByTestId('sweep');
  await expect(panel.getByTestId('sweep-run')).toBeEnabled({ timeout: 30_000 });
  return panel;
}

async function configure(panel: Locator, o: { alphas: string; count: number; shuffle: boolean; batch: number; control: boolean; donors: boolean }) {
  await panel.getByLabel('α values').fill(o.alphas);
  if (o.shuffle) await panel.getByLabel('seeded shuffle').check();
  await panel.getByLabel('sweep items per task').fill(String(o.count));
  await panel.getByLabel('sweep batch size').fill(String(o.batch));
  await panel.getByLabel('control vector').setChecked(o.control);
  await panel.getByLabel('donors alone').setChecked(o.donors);
}

async function runToEnd(panel: Locator, timeout = 200_000) {
  await panel.getByTestId('sweep-run').click();
  await expectDone(panel, timeout);
}

/** Waits for the run to end; a stopped run fails with the panel's own words. */
async function expectDone(panel: Locator, timeout = 200_000) {
  const status = panel.getByTestId('sweep-status');
  await expect(status).toHaveAttribute('data-status', /done|error|cancelled/, { timeout });
  expect(await status.getAttribute('data-status'), await status.innerText()).toBe('done');
}

async function rows(scope: Page | Locator): Promise<Row[]> {
  return scope.getByTestId('plot-row').evaluateAll((trs) =>
    trs.map((tr) => ({
      series: tr.getAttribute('data-series')!,
      alpha: tr.getAttribute('data-alpha') === '' ? null : Number(tr.getAttribute('data-alpha')),
      task: tr.getAttribute('data-task')!,
      correct: Number(tr.getAttribute('data-correct')),
      total: Number(tr.getAttribute('data-total')),
    })),
  );
}

const at = (rs: Row[], series: string, alpha: number | null) => rs.find((r) => r.series === series && r.alpha === alpha)!;
const acc = (r: Row) => r.correct / r.total;

async function downloadedBytes(page: Page, button: string): Promise<Buffer> {
  const [d] = await Promise.all([page.waitForEvent('download'), page.getByTestId('sweep-exports').getByRole('button', { name: button, exact: true }).click()]);
  return readFileSync((await d.path())!);
}
const downloaded = async (page: Page, button: string) => (await downloadedBytes(page, button)).toString('utf8');

/** What IndexedDB holds: each item's id and the page run that computed it. */
function storedItems(page: Page): Promise<{ id: string; run: string }[]> {
  return page.evaluate(
    () =>
      new Promise((resolve, reject) => {
        const req = indexedDB.open('studio-sweeps');
        req.onerror = () => reject(req.error);
        req.onsuccess = () => {
          const all = req.result.transaction('items').objectStore('items').getAll();
          all.onsuccess = () => resolve((all.result as { id: string; run: string }[]).map((r) => ({ id: r.id, run: r.run })));
          all.onerror = () => reject(all.error);
        };
      }),
  );
}

test('the demo sweep: the plot rises with α and not with the control; items, exports, share link offline, Re-run, and the CLI agree', async ({ page, browser }) => {
  test.setTimeout(420_000);
  const token = 'hf_' + 'SweepTokenNeverInAUrl'.padEnd(34, '7');
  await page.goto('/');
  await page.getByText('Settings').click();
  await page.getByLabel('Access token').fill(token);
  const panel = await loadDemo(page);
  // A small grid and 40 seeded items: about half a minute on SwiftShader (~15 items/s measured).
  await configure(panel, { alphas: '-1, 0, 0.5, 1', count: 40, shuffle: true, batch: 40, control: true, donors: true });
  await expect(panel.getByTestId('sweep-grid')).toContainText('4 α: -1, 0, 0.5, 1');
  await runToEnd(panel);
  await expect(panel.getByTestId('sweep-progress')).toContainText(/360\/360 items · [\d.]+ items\/s/);

  const rs = await rows(panel);
  // 4 α of v, 4 of the control, the SFT and RL donors and the target alone.
  expect(rs).toHaveLength(11);
  expect(rs.every((r) => r.task === 'demo_arith' && r.total === 40)).toBe(true);
  expect(acc(at(rs, 'v', 1))).toBeGreaterThanOrEqual(0.7);
  expect(acc(at(rs, 'v', 0))).toBeLessThanOrEqual(0.3);
  expect(acc(at(rs, 'v', -1))).toBeLessThanOrEqual(acc(at(rs, 'v', 0)));
  // The control vector (v's norms, random directions) does not carry the skill; the RL donor does.
  expect(acc(at(rs, 'control', 1))).toBeLessThanOrEqual(0.3);
  expect(acc(at(rs, 'rl', null))).toBeGreaterThanOrEqual(0.7);
  // The target alone is α = 0 of v, and of the control.
  expect(at(rs, 'target', null).correct).toBe(at(rs, 'v', 0).correct);
  expect(at(rs, 'control', 0).correct).toBe(at(rs, 'v', 0).correct);
  await expect(panel.getByTestId('plot-point')).toHaveCount(8);

  // A point → its 40 items: each a sum, its verdicts adding up to the point's count.
  await panel.locator('[data-testid="plot-point"][data-series="v|demo_arith|plain|acc"][data-alpha="1"]').click();
  const items = panel.getByTestId('sweep-items');
  await expect(items.getByTestId('sweep-item')).toHaveCount(40);
  const verdicts = await items.getByTestId('sweep-item').evaluateAll((trs) => trs.map((tr) => Number(tr.getAttribute('data-verdict'))));
  expect(verdicts.reduce((a, b) => a + b, 0)).toBe(at(rs, 'v', 1).correct);
  await expect(items.locator('pre').first()).toHaveText(/^\d\+\d=$/);
  // What v fixed and broke between α = 0 and α = 1: the difference is the change in correct items.
  await items.getByLabel('verdict changed').check();
  await items.getByLabel('α₁').selectOption('0');
  const changed = items.getByTestId('sweep-changed');
  const fixed = Number(await changed.getAttribute('data-fixed'));
  const broken = Number(await changed.getAttribute('data-broken'));
  expect(fixed - broken).toBe(at(rs, 'v', 1).correct - at(rs, 'v', 0).correct);
  await expect(items.getByTestId('sweep-item')).toHaveCount(fixed + broken);

  // Exports: the JSON is the results document of the table; the CSV one row per point; the SVG the chart with its axis labels.
  const doc = JSON.parse(await downloaded(page, 'JSON'));
  expect(doc.points.map((p: Row) => [p.series, p.alpha, p.correct, p.total])).toEqual(rs.map((r) => [r.series, r.alpha, r.correct, r.total]));
  const csv = (await downloaded(page, 'CSV')).trim().split('\n');
  expect(csv).toHaveLength(12);
  expect(csv[0]).toBe('series,alpha,task,condition,metric,correct,total,accuracy,ci95_low,ci95_high');
  // The PNG: the same drawing rasterised at twice its size (760 × 440 → 1520 × 880).
  const png = await downloadedBytes(page, 'PNG');
  expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([1520, 880]);
  const svg = await downloaded(page, 'SVG');
  expect(svg).toContain('<svg');
  expect(svg).toContain('α (scale of v)');
  expect(svg).toContain('accuracy (%)');
  expect(JSON.stringify(doc)).not.toContain(token);

  // The same sweep.json through the CLI (the demo trio as folders) gives the same points.
  const work = mkdtempSync(join(tmpdir(), 'sweep-e2e-'));
  try {
    const config = JSON.parse(await panel.getByTestId('sweep-json').textContent() ?? '');
    expect(config).toMatchObject({ sft: 'demo:demo-arith-sft', alphas: [-1, 0, 0.5, 1], tasks: [{ task: 'demo_arith', limit: 40, seed: 1234 }] });
    for (const role of ['sft', 'rl', 'target']) config[role] = join(FIXTURES, 'models', `demo-arith-${role}`);
    writeFileSync(join(work, 'sweep.json'), JSON.stringify(config));
    await promisify(execFile)(process.execPath, ['bin/studio.js', 'sweep', '--config', join(work, 'sweep.json'), '--out', join(work, 'results.json')], {
      env: { ...process.env, HF_ENDPOINT: '', HF_TOKEN: '', STUDIO_CACHE_DIR: join(work, 'cache') },
      timeout: 240_000,
      maxBuffer: 64 << 20,
    });
    const cli = JSON.parse(readFileSync(join(work, 'results.json'), 'utf8'));
    expect(cli.points).toEqual(doc.points);
    expect(cli.tasks).toEqual(doc.tasks);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }

  // The share link: no token in it, small, and in a fresh browser with every other origin blocked it draws the same table at once.
  await panel.getByTestId('share-copy').click();
  const url = await panel.getByTestId('share-url').inputValue();
  expect(url.startsWith(`${APP}/#r=1.`)).toBe(true);
  expect(url).not.toContain(token);
  expect(url.length).toBeLessThan(8 * 1024);
  const table = await panel.getByTestId('plot-table').innerText();

  const other = await browser.newContext();
  const outside: string[] = [];
  await other.route('**/*', (route) => {
    const u = route.request().url();
    if (u.startsWith(`${APP}/`)) return route.continue();
    outside.push(u);
    return route.abort();
  });
  const fresh = await other.newPage();
  const weights: string[] = [];
  fresh.on('request', (r) => /\.safetensors|manifest\.json/.test(r.url()) && weights.push(r.url()));
  await fresh.goto(url);
  const shared = fresh.getByTestId('sweep');
  await expect(shared.getByTestId('shared-notice')).toBeVisible();
  expect(await shared.getByTestId('plot-table').innerText()).toBe(table);
  await expect(shared.getByTestId('plot-point')).toHaveCount(8);
  expect(weights).toEqual([]);
  // Re-run: loads the demo trio (from the studio itself) and runs the link's configuration again.
  await shared.getByTestId('sweep-rerun').click();
  await expectDone(shared);
  expect(await shared.getByTestId('plot-table').innerText()).toBe(table);
  expect(weights.length).toBeGreaterThan(0);
  expect(outside).toEqual([]);
  await other.close();
});

test('a reload mid-sweep resumes from IndexedDB: stored items are not recomputed, and the result is the demo\'s', async ({ page }) => {
  test.setTimeout(300_000);
  await page.goto('/');
  let panel = await loadDemo(page);
  // α 0 and 1 over all 100 sums in batches of 10: the items arrive a batch at a time.
  await configure(panel, { alphas: '0, 1', count: 100, shuffle: false, batch: 10, control: false, donors: false });
  await panel.getByTestId('sweep-run').click();
  const progress = panel.getByTestId('sweep-progress');
  await expect.poll(async () => Number(await progress.getAttribute('data-done')), { timeout: 120_000 }).toBeGreaterThanOrEqual(50);
  await page.reload();

  // The settings came back with the page; the stored items are counted before anything runs.
  panel = await loadDemo(page);
  await expect(panel.getByLabel('α values')).toHaveValue('0, 1');
  const before = await storedItems(page);
  const firstRun = new Set(before.map((i) => i.run));
  expect(firstRun.size).toBe(1);
  expect(before.length).toBeGreaterThanOrEqual(50);
  expect(before.length).toBeLessThan(200);
  await expect(panel.getByTestId('sweep-stored')).toHaveAttribute('data-items', String(before.length));
  await expect(panel.getByTestId('sweep-run')).toHaveText('Resume sweep');

  await runToEnd(panel);
  await expect(panel.getByTestId('sweep-progress')).toHaveAttribute('data-resumed', String(before.length));
  const after = await storedItems(page);
  expect(after).toHaveLength(200);
  const runOf = new Map(after.map((i) => [i.id, i.run]));
  // Every item stored before the reload still carries the first run's id: none was computed again.
  for (const i of before) expect(runOf.get(i.id), i.id).toBe(i.run);
  const secondRun = after.filter((i) => !firstRun.has(i.run));
  expect(secondRun).toHaveLength(200 - before.length);
  expect(new Set(secondRun.map((i) => i.run)).size).toBe(1);

  // Stitched together, the sweep measures what the demo's generator measured over all 100 sums.
  const rs = await rows(panel);
  expect(acc(at(rs, 'v', 0))).toBeCloseTo(demoAccuracy(0), 10);
  expect(acc(at(rs, 'v', 1))).toBeCloseTo(demoAccuracy(1), 10);
  // A further reload shows the finished sweep without computing anything.
  await page.reload();
  panel = await loadDemo(page);
  await expect(panel.getByTestId('sweep-stored')).toHaveAttribute('data-items', '200');
  await runToEnd(panel, 30_000);
  await expect(panel.getByTestId('sweep-progress')).toHaveAttribute('data-resumed', '200');
  expect((await storedItems(page)).filter((i) => !firstRun.has(i.run) && !secondRun.some((s) => s.run === i.run))).toEqual([]);
});

test('over a small GPU budget each α streams from the checkpoints and the panel says so; Cancel keeps the finished items and Resume completes the same numbers', async ({ page }) => {
  test.setTimeout(300_000);
  await page.goto('/');
  // 2.5 MiB: θ(α) of the demo fits, target + v + θ(α) (3.9 MiB) does not.
  await page.getByText('Settings').click();
  await page.getByLabel('GPU memory budget').fill('0.0025');
  const panel = await loadDemo(page);
  await configure(panel, { alphas: '0, 1', count: 100, shuffle: false, batch: 10, control: false, donors: false });
  await panel.getByTestId('sweep-run').click();
  await expect(panel.getByTestId('sweep-streaming')).toContainText('Streaming:', { timeout: 60_000 });
  await expect(panel.getByTestId('sweep-streaming')).toContainText('each new α re-reads the checkpoints');
  const progress = panel.getByTestId('sweep-progress');
  await expect.poll(async () => Number(await progress.getAttribute('data-done')), { timeout: 120_000 }).toBeGreaterThanOrEqual(30);
  await panel.getByTestId('sweep-cancel').click();
  await expect(panel.getByTestId('sweep-status')).toHaveAttribute('data-status', 'cancelled', { timeout: 60_000 });
  const kept = (await storedItems(page)).length;
  expect(kept).toBeGreaterThanOrEqual(30);
  await expect(panel.getByTestId('sweep-run')).toHaveText('Resume sweep');
  await runToEnd(panel);
  await expect(panel.getByTestId('sweep-progress')).toHaveAttribute('data-resumed', String(kept));
  const rs = await rows(panel);
  expect(acc(at(rs, 'v', 0))).toBeCloseTo(demoAccuracy(0), 10);
  expect(acc(at(rs, 'v', 1))).toBeCloseTo(demoAccuracy(1), 10);
});
