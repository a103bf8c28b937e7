import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, test, type Locator } from '@playwright/test';
import { dropFolder, FIXTURES, useMockHub, keepScreenshot } from './helpers.ts';

/**
 * Journey 2 (issue 13): a researcher drops three checkpoint folders, reads the verdict, merges,
 * then compares the merged model's answers at three α side by side. Each column's tokens must be
 * what `studio generate` — the CLI, run here as a subprocess on the same folders — gives for that
 * α (greedy, same prompt, same max new tokens, no chat template). Screenshots of each step are
 * kept as test artefacts.
 */

const run = promisify(execFile);
const model = (n: string) => join(FIXTURES, 'models', n);
/** The demo trio: its vector carries a+b mod 10, so the answers differ visibly between α. */
const TRIO = { sft: model('demo-arith-sft'), rl: model('demo-arith-rl'), target: model('demo-arith-target') };
const PROMPT = '3+4=';
const MAX_NEW = 6;

const shot = keepScreenshot;

/** `studio generate` on the same trio at α: the ids it prints (last stdout line is JSON). */
async function cliIds(alpha: number): Promise<number[]> {
  const { stdout } = await run(
    'node',
    ['bin/studio.js', 'generate', '--sft', TRIO.sft, '--rl', TRIO.rl, '--target', TRIO.target, `--alpha=${alpha}`, '--prompt', PROMPT, '--max-new-tokens', String(MAX_NEW)],
    { env: { ...process.env, STUDIO_CACHE_DIR: cliCache } },
  );
  const last = stdout.trim().split('\n').at(-1)!;
  return (JSON.parse(last) as { ids: number[] }).ids;
}
/** The CLI's model cache for these tests: outside test-results/, which another Playwright run may clear meanwhile. */
const cliCache = mkdtempSync(join(tmpdir(), 'journey-compare-cli-'));

const idsOf = async (col: Locator) => (await col.getAttribute('data-ids'))!.split(',').filter(Boolean).map(Number);

test('journey 2: drop three folders → verdict → merge → three α side by side, each column = `studio generate` at its α; a kept answer when α comes back', async ({ page }, testInfo) => {
  test.setTimeout(180_000);
  // The merge panel saves into a picked folder; headless Chromium has no picker, so the origin-private file system stands in.
  await page.addInitScript(() => {
    (window as unknown as { showDirectoryPicker: () => Promise<FileSystemDirectoryHandle> }).showDirectoryPicker = () => navigator.storage.getDirectory();
  });
  await page.goto('/');
  for (const role of ['sft', 'rl', 'target'] as const) await dropFolder(page, page.getByTestId(`slot-${role}`), TRIO[role]);
  for (const role of ['sft', 'rl', 'target'] as const) await expect(page.getByTestId(`slot-${role}`).getByTestId('slot-summary')).toContainText('Qwen2ForCausalLM', { timeout: 30_000 });
  await shot(page, testInfo, '1-dropped');

  await expect(page.getByTestId('verdict-headline')).toContainText('Compatible');
  await shot(page, testInfo, '2-verdict');

  await page.getByLabel('alpha', { exact: true }).fill('1');
  await page.getByRole('button', { name: 'Save merged model…' }).click();
  await expect(page.getByTestId('merge-job')).toHaveAttribute('data-status', 'done', { timeout: 60_000 });
  await expect(page.getByTestId('merge-message')).toContainText('Saved the merged model (α = 1)');
  await shot(page, testInfo, '3-merged');

  // The explorer: the playground's prompt, three columns (−1, 0.5, 1).
  const pg = page.getByTestId('playground');
  await pg.getByLabel('prompt', { exact: true }).fill(PROMPT);
  await pg.getByLabel('max new tokens').fill(String(MAX_NEW));
  const explorer = page.getByTestId('alpha-explorer');
  const columns = explorer.getByTestId('compare-column');
  await expect(columns).toHaveCount(4);
  await expect(columns.nth(3)).toContainText('follows the slider');
  await explorer.getByRole('button', { name: 'remove column 4' }).click();
  await explorer.getByLabel('column 2 alpha').fill('0.5');
  await expect(columns).toHaveCount(3);
  await explorer.getByRole('button', { name: 'Compare' }).click();
  // The first build is its own step, with what it is doing.
  await expect(explorer.getByTestId('model-build')).toHaveAttribute('data-status', 'done', { timeout: 60_000 });
  await expect(explorer.getByTestId('model-build')).toContainText(/Model built in [\d.]+ s/);
  const alphas = [-1, 0.5, 1];
  for (let i = 0; i < 3; i++) await expect(columns.nth(i)).toHaveAttribute('data-status', 'done', { timeout: 60_000 });
  await shot(page, testInfo, '4-compared');

  const page3: number[][] = [];
  for (let i = 0; i < 3; i++) {
    const col = columns.nth(i);
    await expect(col).toHaveAttribute('data-alpha', String(alphas[i]));
    await expect(col).toHaveAttribute('data-kept', 'false');
    await expect(col.getByTestId('column-remerge')).toHaveText(/re-merged in [\d.]+ ms|weights already at this α/);
    await expect(col.getByTestId('column-first-token')).toHaveText(/first token after \d+ ms/);
    page3.push(await idsOf(col));
  }
  // What the columns measured (SwiftShader here), kept with the screenshots.
  const numbers = { build: await explorer.getByTestId('model-build').textContent(), columns: await Promise.all(alphas.map((_, i) => columns.nth(i).getByTestId('column-numbers').textContent())) };
  await testInfo.attach('column-numbers.json', { body: JSON.stringify(numbers, null, 2), contentType: 'application/json' });
  console.log(JSON.stringify(numbers));
  const cli = await Promise.all(alphas.map(cliIds));
  for (let i = 0; i < 3; i++) {
    expect(page3[i], `α = ${alphas[i]}`).toHaveLength(MAX_NEW);
    expect(page3[i], `α = ${alphas[i]}: the page's column against studio generate`).toEqual(cli[i]);
  }
  // The three α do not all answer alike (the comparison shows something).
  expect(new Set(page3.map((ids) => ids.join(','))).size).toBeGreaterThan(1);
  // What a user reads: "7" first at α = 1 (the demo's answer), not at α = −1.
  await expect(columns.nth(2).getByTestId('column-text')).toHaveText(/^7/);
  await expect(columns.nth(0).getByTestId('column-text')).not.toHaveText(/^7/);

  // Comparing again: every column is kept (nothing re-merged or regenerated), same ids.
  await explorer.getByRole('button', { name: 'Compare' }).click();
  for (let i = 0; i < 3; i++) {
    await expect(columns.nth(i)).toHaveAttribute('data-kept', 'true');
    await expect(columns.nth(i).getByTestId('column-kept')).toHaveText('kept from an earlier run at this α — not regenerated');
    expect(await idsOf(columns.nth(i))).toEqual(cli[i]);
  }
  // A new α in a column is answered anew; the kept ones stay.
  await explorer.getByLabel('column 2 alpha').fill('0');
  await explorer.getByRole('button', { name: 'Compare' }).click();
  await expect(columns.nth(1)).toHaveAttribute('data-status', 'done', { timeout: 60_000 });
  await expect(columns.nth(1)).toHaveAttribute('data-kept', 'false');
  expect(await idsOf(columns.nth(1))).toEqual(await cliIds(0));
  await shot(page, testInfo, '5-kept-and-new');
});

test('the playground answer follows the slider and shows a kept answer when α comes back; the slider column follows it too', async ({ page }) => {
  test.setTimeout(120_000);
  await page.goto('/');
  await page.getByRole('button', { name: 'Load the demo trio' }).click();
  const pg = page.getByTestId('playground');
  await pg.getByRole('button', { name: 'Generate' }).click();
  const out = pg.getByTestId('playground-output');
  await expect(out).toHaveAttribute('data-alpha', '1', { timeout: 60_000 });
  const at1 = await out.getAttribute('data-ids');
  await page.getByLabel('alpha', { exact: true }).fill('-1');
  await expect(out).toHaveAttribute('data-alpha', '-1', { timeout: 30_000 });
  await expect(pg.getByTestId('playground-kept')).toHaveCount(0);
  await page.getByLabel('alpha', { exact: true }).fill('1');
  await expect(out).toHaveAttribute('data-alpha', '1', { timeout: 30_000 });
  await expect(pg.getByTestId('playground-kept')).toBeVisible();
  await expect(out).toHaveAttribute('data-ids', at1!);
  // Generate regenerates even when an answer is kept.
  await pg.getByRole('button', { name: 'Generate' }).click();
  await expect(pg.getByTestId('playground-kept')).toHaveCount(0, { timeout: 30_000 });
  await expect(out).toHaveAttribute('data-ids', at1!);

  // The explorer's slider column: compared once, it follows the slider (kept where answered before).
  const explorer = page.getByTestId('alpha-explorer');
  await explorer.getByRole('button', { name: 'Compare' }).click();
  const slider = explorer.getByTestId('compare-column').nth(3);
  await expect(slider).toHaveAttribute('data-status', 'done', { timeout: 60_000 });
  await expect(slider).toHaveAttribute('data-alpha', '1');
  await page.getByLabel('alpha', { exact: true }).fill('0.25');
  await expect(slider).toHaveAttribute('data-alpha', '0.25', { timeout: 30_000 });
  await expect(slider).toHaveAttribute('data-status', 'done', { timeout: 30_000 });
  await page.getByLabel('alpha', { exact: true }).fill('-1');
  await expect(slider).toHaveAttribute('data-alpha', '-1', { timeout: 30_000 });
  await expect(slider).toHaveAttribute('data-kept', 'true');
  expect(await slider.getAttribute('data-ids')).toBe(await explorer.getByTestId('compare-column').nth(0).getAttribute('data-ids'));
});

test('Cancel stops the comparison mid-column: the column in flight says cancelled, later columns do not run', async ({ page }) => {
  test.setTimeout(120_000);
  await page.goto('/');
  await page.getByRole('button', { name: 'Load the demo trio' }).click();
  const pg = page.getByTestId('playground');
  await pg.getByLabel('max new tokens').fill('100');
  const explorer = page.getByTestId('alpha-explorer');
  await explorer.getByRole('button', { name: 'Compare' }).click();
  const first = explorer.getByTestId('compare-column').first();
  // Cancel once the first column has streamed some tokens but not all 100.
  await expect.poll(async () => (await first.getAttribute('data-ids'))!.split(',').filter(Boolean).length, { timeout: 60_000 }).toBeGreaterThan(0);
  await explorer.getByRole('button', { name: 'Cancel' }).click();
  await expect(first).toHaveAttribute('data-status', 'cancelled', { timeout: 30_000 });
  const streamed = (await first.getAttribute('data-ids'))!.split(',').filter(Boolean).length;
  expect(streamed).toBeGreaterThan(0);
  expect(streamed).toBeLessThan(100);
  for (let i = 1; i < 4; i++) await expect(explorer.getByTestId('compare-column').nth(i)).toHaveAttribute('data-status', 'cancelled');
  await expect(explorer.getByRole('button', { name: 'Compare' })).toBeEnabled();
  // The model is free again: the playground answers.
  await pg.getByLabel('max new tokens').fill('1');
  await pg.getByRole('button', { name: 'Generate' }).click();
  await expect(pg.getByTestId('playground-output').locator('pre')).toHaveText('7', { timeout: 30_000 });
});

test('a benchmark item compared across α: the column at the run\'s α gives the run\'s output, extracted answer and verdict; "Next item" steps on', async ({ page }) => {
  test.setTimeout(240_000);
  await page.goto('/');
  await useMockHub(page);
  await page.getByRole('button', { name: 'Load the demo trio' }).click();
  const bench = page.getByTestId('benchmarks');
  await expect(bench.getByTestId('bench-run')).toBeEnabled({ timeout: 60_000 });
  for (const name of ['gsm8k_cot', 'gsm8k_cot_zeroshot', 'sciq', 'humaneval', 'demo_arith', 'bbh_cot_fewshot']) {
    await bench.getByRole('group', { name: 'tasks' }).getByLabel(name, { exact: true }).setChecked(name === 'gsm8k_cot_zeroshot');
  }
  await bench.getByLabel('items per task').fill('2');
  await bench.getByLabel('benchmark max new tokens').fill('12');
  await bench.getByTestId('bench-run').click();
  await expect(bench.getByTestId('bench-status')).toHaveAttribute('data-status', 'done', { timeout: 120_000 });

  const explorer = page.getByTestId('alpha-explorer');
  await explorer.getByLabel('a benchmark item').check();
  await expect(explorer.getByLabel('benchmark item', { exact: true })).toHaveValue('gsm8k_cot_zeroshot#0');
  await explorer.getByRole('button', { name: 'Compare' }).click();
  const columns = explorer.getByTestId('compare-column');
  for (let i = 0; i < 4; i++) await expect(columns.nth(i)).toHaveAttribute('data-status', 'done', { timeout: 60_000 });
  for (const index of [0, 1]) {
    if (index === 1) {
      await explorer.getByRole('button', { name: 'Next item' }).click();
      await expect(explorer.getByLabel('benchmark item', { exact: true })).toHaveValue('gsm8k_cot_zeroshot#1');
      for (let i = 0; i < 4; i++) await expect(columns.nth(i)).toHaveAttribute('data-status', 'done', { timeout: 60_000 });
    }
    // Column 3 is α = 1, the run's α: the same prompt, generation, filters and metrics as the run.
    const row = page.getByTestId('bench-item').and(page.locator(`[data-index="${index}"]`));
    const col = columns.nth(2);
    await expect(col).toHaveAttribute('data-alpha', '1');
    await expect(col.getByTestId('column-text')).toHaveText((await row.getByTestId('bench-output').textContent())!, { useInnerText: false });
    const runVerdicts: Record<string, string> = {};
    for (const v of await row.getByTestId('bench-verdict').all()) runVerdicts[(await v.getAttribute('data-metric'))!] = (await v.getAttribute('data-value'))!;
    const colVerdicts: Record<string, string> = {};
    for (const v of await col.getByTestId('column-verdict').all()) colVerdicts[(await v.getAttribute('data-metric'))!] = (await v.getAttribute('data-value'))!;
    expect(Object.keys(colVerdicts).sort()).toEqual(['exact_match,flexible-extract', 'exact_match,strict-match']);
    expect(colVerdicts).toEqual(runVerdicts);
    for (let i = 0; i < 4; i++) await expect(columns.nth(i).getByTestId('column-extracted')).toContainText('strict-match:');
  }
});

test('a log-likelihood item (demo_arith) compared across α: each column scores the choices; at the run\'s α the verdict is the run\'s', async ({ page }) => {
  test.setTimeout(180_000);
  await page.goto('/');
  await page.getByRole('button', { name: 'Load the demo trio' }).click();
  const bench = page.getByTestId('benchmarks');
  await expect(bench.getByTestId('bench-run')).toBeEnabled({ timeout: 60_000 });
  for (const name of ['gsm8k_cot', 'gsm8k_cot_zeroshot', 'sciq', 'humaneval', 'demo_arith', 'bbh_cot_fewshot']) {
    await bench.getByRole('group', { name: 'tasks' }).getByLabel(name, { exact: true }).setChecked(name === 'demo_arith');
  }
  await bench.getByLabel('items per task').fill('3');
  await bench.getByTestId('bench-run').click();
  await expect(bench.getByTestId('bench-status')).toHaveAttribute('data-status', 'done', { timeout: 120_000 });
  const explorer = page.getByTestId('alpha-explorer');
  await explorer.getByLabel('a benchmark item').check();
  await explorer.getByLabel('benchmark item', { exact: true }).selectOption('demo_arith#2');
  await explorer.getByRole('button', { name: 'Compare' }).click();
  const columns = explorer.getByTestId('compare-column');
  for (let i = 0; i < 4; i++) await expect(columns.nth(i)).toHaveAttribute('data-status', 'done', { timeout: 60_000 });
  const row = page.getByTestId('bench-item').and(page.locator('[data-task="demo_arith"][data-index="2"]'));
  const runMetrics = JSON.parse((await row.getAttribute('data-metrics'))!) as Record<string, number>;
  for (const i of [2, 3]) {
    // Columns 3 (α = 1) and 4 (the slider, at 1): the run's α.
    const verdicts: Record<string, number> = {};
    for (const v of await columns.nth(i).getByTestId('column-verdict').all()) verdicts[(await v.getAttribute('data-metric'))!] = Number(await v.getAttribute('data-value'));
    expect(verdicts).toEqual(runMetrics);
    await expect(columns.nth(i).getByTestId('column-choices').locator('li')).toHaveCount(10);
  }
  // Column 4 asked what column 3 already answered (same item, α and model): kept.
  await expect(columns.nth(3)).toHaveAttribute('data-kept', 'true');
});

test('without WebGPU the explorer runs on WASM (said so), and each column still equals `studio generate` at its α', async ({ page }) => {
  test.setTimeout(180_000);
  await page.addInitScript(() => Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined }));
  await page.goto('/');
  await page.getByRole('button', { name: 'Load the demo trio' }).click();
  const pg = page.getByTestId('playground');
  await pg.getByLabel('max new tokens').fill(String(MAX_NEW));
  const explorer = page.getByTestId('alpha-explorer');
  await explorer.getByRole('button', { name: 'remove column 4' }).click();
  await explorer.getByRole('button', { name: 'Compare' }).click();
  const columns = explorer.getByTestId('compare-column');
  for (let i = 0; i < 3; i++) await expect(columns.nth(i)).toHaveAttribute('data-status', 'done', { timeout: 60_000 });
  await expect(explorer.getByTestId('explorer-how')).toContainText('on the CPU, with a new session');
  const cli = await Promise.all([-1, 0, 1].map(cliIds));
  for (let i = 0; i < 3; i++) expect(await idsOf(columns.nth(i)), `α = ${[-1, 0, 1][i]}`).toEqual(cli[i]);
});
