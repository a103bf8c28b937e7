import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, test, type Page } from '@playwright/test';
import { benchmarkDatasets } from '../test-support/benchmark-datasets.ts';
import { dropFolder, FIXTURES, MOCK_HUB, useMockHub } from './helpers.ts';

/**
 * The Benchmarks panel as a user drives it: the demo trio, datasets from the (mock) Hub, a run at
 * the current α. Every verdict the page shows is checked against `studio score` — lm-eval's rules
 * in the CLI, run here as a subprocess — on the same items and the outputs the page shows.
 */

const run = promisify(execFile);
const rowsOf = (repo: string) => benchmarkDatasets().find((d) => d.repo === repo)!.rows;

async function loadDemo(page: Page) {
  await page.goto('/');
  await useMockHub(page);
  await page.getByRole('button', { name: 'Load the demo trio' }).click();
  // Three checkpoints read and the verdict computed; slow when the machine is shared.
  await expect(page.getByTestId('bench-run')).toBeEnabled({ timeout: 60_000 });
}

/** Ticks exactly `tasks` and sets the run's choices. */
async function choose(page: Page, o: { tasks: string[]; count: number; maxNewTokens?: number; batchSize?: number }) {
  const panel = page.getByTestId('benchmarks');
  for (const name of ['gsm8k_cot', 'gsm8k_cot_zeroshot', 'sciq', 'humaneval', 'demo_arith', 'bbh_cot_fewshot']) {
    await panel.getByRole('group', { name: 'tasks' }).getByLabel(name, { exact: true }).setChecked(o.tasks.includes(name));
  }
  await panel.getByLabel('items per task').fill(String(o.count));
  if (o.maxNewTokens !== undefined) await panel.getByLabel('benchmark max new tokens').fill(String(o.maxNewTokens));
  if (o.batchSize !== undefined) await panel.getByLabel('batch size').fill(String(o.batchSize));
}

interface ShownItem {
  index: number;
  metrics: Record<string, number>;
  extracted: Record<string, string>;
  output?: string;
  loglikelihoods?: number[];
}

async function shownItems(page: Page, task: string): Promise<ShownItem[]> {
  const rows = page.getByTestId('bench-item').and(page.locator(`[data-task="${task}"]`));
  const out: ShownItem[] = [];
  for (const row of await rows.all()) {
    const output = row.getByTestId('bench-output');
    const lls = await output.getAttribute('data-loglikelihoods');
    const extracted: Record<string, string> = {};
    for (const e of await row.getByTestId('bench-extracted').all()) {
      extracted[(await e.getAttribute('data-filter'))!] = (await e.locator('.mono').textContent())!;
    }
    const metrics: Record<string, number> = {};
    for (const v of await row.getByTestId('bench-verdict').all()) metrics[(await v.getAttribute('data-metric'))!] = Number(await v.getAttribute('data-value'));
    out.push({
      index: Number(await row.getAttribute('data-index')),
      metrics,
      extracted,
      ...(lls ? { loglikelihoods: JSON.parse(lls) as number[] } : { output: (await output.textContent())! }),
    });
  }
  return out;
}

/** `studio score` on the shown items' dataset rows and the shown outputs: one {metrics, extracted} per item. */
async function cliVerdicts(task: string, rows: readonly Record<string, string>[], items: ShownItem[]) {
  const dir = mkdtempSync(join(tmpdir(), 'bench-e2e-'));
  try {
    writeFileSync(join(dir, 'items.jsonl'), items.map((it) => JSON.stringify(rows[it.index]) + '\n').join(''));
    writeFileSync(
      join(dir, 'responses.jsonl'),
      items.map((it) => JSON.stringify(it.loglikelihoods ? { loglikelihoods: it.loglikelihoods } : { text: it.output }) + '\n').join(''),
    );
    const { stdout } = await run('node', ['bin/studio.js', 'score', '--task', task, '--items', join(dir, 'items.jsonl'), '--responses', join(dir, 'responses.jsonl')]);
    const lines = stdout.trim().split('\n').map((l) => JSON.parse(l));
    return { perItem: lines.slice(0, -1) as { index: number; metrics: Record<string, number>; extracted: Record<string, string> }[], summary: lines.at(-1) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Wilson score interval at z = 1.96 (written out here, independently of the page's). */
function wilson(k: number, n: number) {
  const z = 1.959963984540054;
  const p = k / n;
  const d = 1 + (z * z) / n;
  const c = (p + (z * z) / (2 * n)) / d;
  const h = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / d;
  return [Math.max(0, c - h), Math.min(1, c + h)];
}

/** Each shown score is correct/total of the shown verdicts, with its Wilson interval, and the dataset's pinned commit. */
async function checkScores(page: Page, task: string, items: ShownItem[]) {
  const scores = page.getByTestId('bench-score').and(page.locator(`[data-task="${task}"]`));
  const keys = Object.keys(items[0].metrics);
  await expect(scores).toHaveCount(keys.length);
  for (const key of keys) {
    const row = scores.and(page.locator(`[data-metric="${key}"]`));
    const correct = items.filter((it) => it.metrics[key] === 1).length;
    await expect(row).toHaveAttribute('data-n', String(items.length));
    await expect(row).toHaveAttribute('data-correct', String(correct));
    expect(Number(await row.getAttribute('data-value'))).toBeCloseTo(correct / items.length, 12);
    await expect(row).toContainText(`${(correct / items.length).toFixed(4)} (${correct}/${items.length})`);
    const [low, high] = wilson(correct, items.length);
    await expect(row.getByTestId('bench-interval')).toHaveText(`[${low.toFixed(3)}, ${high.toFixed(3)}]`);
  }
}

/** The commit the mock Hub's `main` of a dataset repo is at. */
async function datasetSha(repo: string): Promise<string> {
  return ((await (await fetch(`${MOCK_HUB}/api/datasets/${repo}/revision/main`)).json()) as { sha: string }).sha;
}

async function checkPinned(page: Page, task: string, repo: string) {
  const sha = await datasetSha(repo);
  const data = page.getByTestId('bench-score').and(page.locator(`[data-task="${task}"]`)).first().getByTestId('bench-data');
  await expect(data).toContainText(`hf:datasets/${repo}`);
  await expect(data).toContainText(`@ ${sha.slice(0, 12)}`);
  await expect(data).toHaveAttribute('title', sha);
}

test('sciq on 3 items and gsm8k_cot_zeroshot on 2 at α = 1: verdicts equal `studio score` on the shown outputs, scores are correct/total with a Wilson interval', async ({ page }) => {
  test.setTimeout(240_000);
  await loadDemo(page);
  const panel = page.getByTestId('benchmarks');
  await expect(panel.getByTestId('bench-run')).toHaveText('Run at α = 1');

  // sciq: log-likelihoods of four choices per item.
  await choose(page, { tasks: ['sciq'], count: 3 });
  await panel.getByTestId('bench-run').click();
  await expect(panel.getByTestId('bench-status')).toHaveAttribute('data-status', 'done', { timeout: 120_000 });
  await expect(panel.getByTestId('bench-progress')).toContainText(/3\/3 items · [\d.]+ items\/s/);
  const sciq = await shownItems(page, 'sciq');
  expect(sciq.map((s) => s.index)).toEqual([0, 1, 2]);
  const sciqCli = await cliVerdicts('sciq', rowsOf('allenai/sciq'), sciq);
  expect(sciq.map((s) => ({ metrics: s.metrics, extracted: s.extracted }))).toEqual(sciqCli.perItem.map((p) => ({ metrics: p.metrics, extracted: p.extracted })));
  await checkScores(page, 'sciq', sciq);
  await checkPinned(page, 'sciq', 'allenai/sciq');
  // results.json as `studio eval --out` writes it: the shown scores, α, the pinned dataset and the rows used.
  const download = page.waitForEvent('download');
  await panel.getByRole('button', { name: 'Download results.json' }).click();
  const results = JSON.parse(readFileSync((await (await download).path())!, 'utf8'));
  for (const key of ['acc', 'acc_norm']) {
    expect(results.results.sciq[`${key},none`]).toBeCloseTo(sciq.filter((s) => s.metrics[key] === 1).length / 3, 12);
  }
  expect(results.studio.alpha).toBe(1);
  expect(results.studio.data.sciq).toMatchObject({ revision: await datasetSha('allenai/sciq'), rows: 200, indices: [0, 1, 2] });
  // The demo model has 128 positions: SciQ's support passages do not fit and are cut from the left, which the table says.
  const cut = page.getByTestId('bench-item').getByTestId('bench-truncated');
  expect(await cut.count()).toBeGreaterThan(0);
  for (const c of await cut.all()) expect(Number(await c.getAttribute('data-tokens'))).toBeGreaterThan(0);

  // gsm8k_cot_zeroshot: generated text, two filters.
  await choose(page, { tasks: ['gsm8k_cot_zeroshot'], count: 2, maxNewTokens: 12 });
  await panel.getByTestId('bench-run').click();
  await expect(panel.getByTestId('bench-status')).toHaveAttribute('data-status', 'done', { timeout: 120_000 });
  const gsm = await shownItems(page, 'gsm8k_cot_zeroshot');
  expect(gsm.map((s) => s.index)).toEqual([0, 1]);
  expect(gsm.every((s) => typeof s.output === 'string')).toBe(true);
  const gsmCli = await cliVerdicts('gsm8k_cot_zeroshot', rowsOf('openai/gsm8k'), gsm);
  expect(gsm.map((s) => ({ metrics: s.metrics, extracted: s.extracted }))).toEqual(gsmCli.perItem.map((p) => ({ metrics: p.metrics, extracted: p.extracted })));
  expect(Object.keys(gsm[0].metrics).sort()).toEqual(['exact_match,flexible-extract', 'exact_match,strict-match']);
  await checkScores(page, 'gsm8k_cot_zeroshot', gsm);
  await checkPinned(page, 'gsm8k_cot_zeroshot', 'openai/gsm8k');
  // The prompt is the one the tokenizer saw: lm-eval's zero-shot CoT template around the dataset's question.
  const prompt = page.getByTestId('bench-item').first().getByTestId('bench-prompt');
  await expect(prompt).toHaveText(`Q: ${rowsOf('openai/gsm8k')[0].question}\nA: Let's think step by step.`, { useInnerText: false });
});

test('Cancel stops the run within a batch; the finished items stay with their partial score', async ({ page }) => {
  test.setTimeout(240_000);
  await loadDemo(page);
  const panel = page.getByTestId('benchmarks');
  await choose(page, { tasks: ['gsm8k_cot_zeroshot'], count: 40, maxNewTokens: 24, batchSize: 1 });
  await panel.getByTestId('bench-run').click();
  const items = page.getByTestId('bench-item');
  await expect(items.first()).toBeVisible({ timeout: 120_000 });
  await expect(panel.getByTestId('bench-progress')).toContainText(/items\/s · ETA/);
  await panel.getByTestId('bench-cancel').click();
  const atClick = await items.count();
  await expect(panel.getByTestId('bench-status')).toHaveAttribute('data-status', 'cancelled', { timeout: 60_000 });
  const kept = await items.count();
  // Batch size 1: at most the batch in flight finishes after the click.
  expect(kept).toBeGreaterThanOrEqual(atClick);
  expect(kept).toBeLessThanOrEqual(atClick + 1);
  expect(kept).toBeLessThan(40);
  await page.waitForTimeout(1500);
  await expect(items).toHaveCount(kept);
  const shown = await shownItems(page, 'gsm8k_cot_zeroshot');
  expect(shown.map((s) => s.index)).toEqual(Array.from({ length: kept }, (_, i) => i));
  const score = page.getByTestId('bench-score').and(page.locator('[data-metric="exact_match,flexible-extract"]'));
  await expect(score).toHaveAttribute('data-n', String(kept));
  await expect(score).toHaveAttribute('data-status', 'cancelled');
  await expect(score).toContainText('partial');
  await expect(panel.getByTestId('bench-run')).toBeEnabled();
});

test('the panel is disabled saying why: no trio yet, then a trio the verdict refuses', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByTestId('bench-blocked')).toHaveText('Load the three checkpoints first: the benchmarks run on the merged model θ(α).');
  await expect(page.getByTestId('bench-run')).toBeDisabled();
  const models = (n: string) => join(FIXTURES, 'models', n);
  await dropFolder(page, page.getByTestId('slot-sft'), models('tiny-qwen2-sft'));
  await dropFolder(page, page.getByTestId('slot-rl'), models('tiny-qwen2-rl'));
  await dropFolder(page, page.getByTestId('slot-target'), models('tiny-qwen2-vocab320-target'));
  await expect(page.getByTestId('bench-blocked')).toContainText('Benchmarks are disabled: tensor "model.embed_tokens.weight" shapes differ');
  await expect(page.getByTestId('bench-run')).toBeDisabled();
});

test('a dropped .jsonl file stands in for the task dataset: its rows are the items, scored as `studio score` scores them; a file missing a field is named', async ({ page }) => {
  test.setTimeout(180_000);
  await loadDemo(page);
  const panel = page.getByTestId('benchmarks');
  const dir = mkdtempSync(join(tmpdir(), 'bench-file-'));
  try {
    const rows = rowsOf('allenai/sciq').slice(10, 12);
    mkdirSync(join(dir, 'drop'));
    writeFileSync(join(dir, 'drop', 'my-sciq.jsonl'), rows.map((r) => JSON.stringify(r) + '\n').join(''));
    // Dropped from a file manager (the bad file below goes through the file picker).
    await dropFolder(page, panel.getByTestId('bench-file'), join(dir, 'drop'));
    await expect(panel.getByTestId('bench-file')).toContainText('my-sciq.jsonl');
    await expect(panel.getByTestId('bench-file')).toContainText('2 rows');
    // A file holds one task's items.
    await choose(page, { tasks: ['sciq', 'gsm8k_cot'], count: 5 });
    await expect(panel.getByTestId('bench-run')).toBeDisabled();
    await expect(panel).toContainText('A dropped file holds the items of one task; choose one task (2 are chosen) or remove the file.');
    await choose(page, { tasks: ['sciq'], count: 5 });
    await panel.getByTestId('bench-run').click();
    await expect(panel.getByTestId('bench-status')).toHaveAttribute('data-status', 'done', { timeout: 120_000 });
    const shown = await shownItems(page, 'sciq');
    expect(shown.map((s) => s.index)).toEqual([0, 1]);
    const cli = await cliVerdicts('sciq', rows, shown);
    expect(shown.map((s) => ({ metrics: s.metrics, extracted: s.extracted }))).toEqual(cli.perItem.map((p) => ({ metrics: p.metrics, extracted: p.extracted })));
    await checkScores(page, 'sciq', shown);
    await expect(page.getByTestId('bench-score').first().getByTestId('bench-data')).toContainText('dropped file my-sciq.jsonl (2 of 2 rows)');

    // Every line must carry the task's fields: the run says which line lacks which.
    const bad = join(dir, 'bad-sciq.jsonl');
    const { support: _, ...noSupport } = rows[1];
    writeFileSync(bad, JSON.stringify(rows[0]) + '\n' + JSON.stringify(noSupport) + '\n');
    await panel.getByRole('button', { name: 'remove' }).click();
    await panel.getByLabel('items file').setInputFiles(bad);
    await panel.getByTestId('bench-run').click();
    await expect(panel.getByTestId('bench-status')).toHaveAttribute('data-status', 'error');
    await expect(page.getByTestId('bench-task').and(page.locator('[data-task="sciq"]'))).toContainText('bad-sciq.jsonl:2');
    await expect(page.getByTestId('bench-task').and(page.locator('[data-task="sciq"]'))).toContainText('"support"');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the run and the playground share one model: Generate at another α during a run waits for it, and the run is scored at its own α throughout', async ({ page }) => {
  test.setTimeout(240_000);
  await loadDemo(page);
  const panel = page.getByTestId('benchmarks');
  await choose(page, { tasks: ['sciq'], count: 4, batchSize: 1 });
  const lls = async () => (await shownItems(page, 'sciq')).map((s) => s.loglikelihoods);

  await panel.getByTestId('bench-run').click();
  await expect(page.getByTestId('bench-item').first()).toBeVisible({ timeout: 120_000 });
  // Mid-run: move α and ask the playground for an answer.
  await page.getByLabel('alpha', { exact: true }).fill('-1');
  await page.getByTestId('playground').getByRole('button', { name: 'Generate' }).click();
  await expect(panel.getByTestId('bench-status')).toHaveAttribute('data-status', 'done', { timeout: 120_000 });
  const during = await lls();
  expect(during).toHaveLength(4);
  // The playground answered after the run, at its α.
  await expect(page.getByTestId('playground-output')).toHaveAttribute('data-alpha', '-1', { timeout: 60_000 });

  // The same items at α = 1 with nothing else running: the same log-likelihoods, bit for bit.
  await page.getByLabel('alpha', { exact: true }).fill('1');
  await expect(page.getByTestId('playground-output')).toHaveAttribute('data-alpha', '1', { timeout: 60_000 });
  await expect(panel.getByTestId('bench-run')).toHaveText('Run at α = 1');
  await panel.getByTestId('bench-run').click();
  await expect(panel.getByTestId('bench-status')).toHaveAttribute('data-status', 'done', { timeout: 120_000 });
  expect(await lls()).toEqual(during);
  // And not what α = −1 gives.
  await page.getByLabel('alpha', { exact: true }).fill('-1');
  await expect(page.getByTestId('playground-output')).toHaveAttribute('data-alpha', '-1', { timeout: 60_000 });
  await panel.getByTestId('bench-run').click();
  await expect(panel.getByTestId('bench-status')).toHaveAttribute('data-status', 'done', { timeout: 120_000 });
  expect(await lls()).not.toEqual(during);
});

test('demo_arith (built-in items, no download) over all 100 sums: the panel measures the accuracy the demo trio was built with, at α = 1 and α = 0', async ({ page }) => {
  test.setTimeout(240_000);
  const demo = JSON.parse(readFileSync(join(FIXTURES, 'models', 'demo-arith-target', 'demo.json'), 'utf8')) as { accuracy: { alpha: number; digitsOnly: number }[] };
  await loadDemo(page);
  const panel = page.getByTestId('benchmarks');
  await choose(page, { tasks: ['demo_arith'], count: 100 });
  for (const alpha of [1, 0]) {
    await page.getByLabel('alpha', { exact: true }).fill(String(alpha));
    await expect(panel.getByTestId('bench-run')).toHaveText(`Run at α = ${alpha}`);
    await panel.getByTestId('bench-run').click();
    await expect(panel.getByTestId('bench-status')).toHaveAttribute('data-status', 'done', { timeout: 120_000 });
    const expected = demo.accuracy.find((a) => a.alpha === alpha)!.digitsOnly;
    const score = page.getByTestId('bench-score').and(page.locator('[data-task="demo_arith"][data-metric="acc"]'));
    await expect(score).toHaveAttribute('data-n', '100');
    await expect(score).toHaveAttribute('data-correct', String(Math.round(expected * 100)));
    await expect(score.getByTestId('bench-data')).toContainText('built-in (studio/demo_arith) (100 of 100 rows)');
    // The table shows 50 items at a time.
    await expect(page.getByTestId('bench-item')).toHaveCount(50);
    await panel.getByRole('button', { name: 'Show 50 more of 50' }).click();
    const shown = await shownItems(page, 'demo_arith');
    expect(shown.map((s) => s.index)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(shown.filter((s) => s.metrics.acc === 1)).toHaveLength(Math.round(expected * 100));
  }
});
