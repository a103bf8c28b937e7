import { copyFileSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test, type Locator, type Page } from '@playwright/test';
import { dropFolder, FIXTURES, useMockHub } from './helpers.ts';

/**
 * What the page says after state changes under it: storage cleared from Settings, a lost GPU
 * device, the demo task on a Hub-loaded demo trio, an all-equal heatmap, the full-scale recipe
 * after a sweep, a finished "Download all", a refused share link.
 */

test.describe.configure({ timeout: 240_000 });

const TARGET_WEIGHTS = statSync(join(FIXTURES, 'models', 'demo-arith-target', 'model.safetensors')).size;

async function loadHubTrio(page: Page, prefix: string): Promise<void> {
  for (const role of ['sft', 'rl', 'target'] as const) {
    // helpers' loadHubId matches "Download weights…" too once a Hub slot is loaded: the exact button here.
    const slot = page.getByTestId(`slot-${role}`);
    await slot.getByRole('textbox').fill(`studio-fixtures/${prefix}-${role}`);
    await slot.getByRole('button', { name: 'Load', exact: true }).click();
  }
  for (const role of ['sft', 'rl', 'target'] as const) await expect(page.getByTestId(`slot-${role}`)).toContainText('params', { timeout: 60_000 });
}

/** Bytes of every file under each top-level OPFS folder. */
function opfsFolders(page: Page): Promise<Record<string, number>> {
  return page.evaluate(async () => {
    type Dir = FileSystemDirectoryHandle & { entries(): AsyncIterable<[string, FileSystemHandle]> };
    const size = async (d: Dir): Promise<number> => {
      let n = 0;
      for await (const [, e] of d.entries()) n += e.kind === 'file' ? (await (e as FileSystemFileHandle).getFile()).size : await size(e as Dir);
      return n;
    };
    const out: Record<string, number> = {};
    for await (const [name, e] of ((await navigator.storage.getDirectory()) as Dir).entries()) if (e.kind === 'directory') out[name] = await size(e as Dir);
    return out;
  });
}

test('Clear downloads and exports asks first, says how much it removed, and the page stops offering what it deleted', async ({ page }) => {
  await page.addInitScript(() => {
    const w = window as unknown as Record<string, unknown>;
    delete w.showDirectoryPicker;
    delete w.showSaveFilePicker;
  });
  await page.goto('/');
  await useMockHub(page);
  await loadHubTrio(page, 'demo-arith');
  const target = page.getByTestId('slot-target');
  await target.getByRole('button', { name: 'Download weights to the browser cache' }).click();
  await expect(target.getByTestId('download-progress')).toContainText('weights cached', { timeout: 60_000 });

  await page.getByRole('button', { name: 'Save vector…' }).click();
  await expect(page.getByTestId('merge-job')).toHaveAttribute('data-status', 'done', { timeout: 60_000 });
  // "Download all" says the browser was handed the archive (it used to stay at "Downloading …").
  const dl = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Download all (.zip)' }).click();
  const zipBytes = readFileSync(await (await dl).path()).length;
  await expect(page.getByTestId('archive-result')).toHaveAttribute('data-bytes', String(zipBytes));
  await expect(page.getByTestId('archive-result')).toContainText(/^Handed "reasoning-vector\.zip" \([\d.]+ [KM]iB\) to the browser: it is in the browser's downloads/);

  const before = await opfsFolders(page);
  expect(before['studio-cache']).toBeGreaterThanOrEqual(TARGET_WEIGHTS);
  expect(before.exports).toBeGreaterThan(zipBytes); // the export's files and the archive built beside them

  // First a question with the sizes; Keep leaves everything as it was.
  const clearButton = page.getByRole('button', { name: 'Clear downloads and exports' });
  await clearButton.click();
  const confirm = page.getByTestId('clear-confirm');
  await expect(confirm).toContainText('Really clear?');
  await confirm.getByRole('button', { name: 'Keep' }).click();
  await expect(confirm).toBeHidden();
  expect(await opfsFolders(page)).toEqual(before);

  await clearButton.click();
  await confirm.getByRole('button', { name: 'Clear' }).click();
  const result = page.getByTestId('clear-result');
  await expect(result).toContainText(/^Cleared [\d.]+ [KM]iB: [\d.]+ [KM]iB of downloaded weights and datasets, [\d.]+ [KM]iB of exports\./);
  // formatBytes shows one decimal: equal to the measured bytes within half a unit of that decimal.
  const unit = (s: string) => (s.endsWith('MiB') ? 1024 * 1024 : 1024);
  const near = (shown: string, bytes: number) => expect(Math.abs(Number(shown.split(' ')[0]) * unit(shown) - bytes), `${shown} vs ${bytes} B`).toBeLessThanOrEqual(0.05 * unit(shown) + 1);
  const [, total, downloads, exports] = (await result.innerText()).match(/^Cleared ([\d.]+ [KM]iB): ([\d.]+ [KM]iB) of .*, ([\d.]+ [KM]iB) of exports/)!;
  near(downloads, before['studio-cache']);
  near(exports, before.exports);
  near(total, before['studio-cache'] + before.exports);

  // The slots are opened again from the Hub; the target is no longer "weights cached".
  for (const role of ['sft', 'rl', 'target'] as const) await expect(page.getByTestId(`slot-${role}`)).toContainText('params', { timeout: 60_000 });
  await expect(target.getByRole('button', { name: 'Download weights to the browser cache' })).toBeVisible();
  await expect(target.getByTestId('download-progress')).toHaveCount(0);
  // Nothing offers the deleted export.
  await expect(page.getByRole('button', { name: 'Download all (.zip)' })).toHaveCount(0);
  await expect(page.getByTestId('merge-files')).toHaveCount(0);
  const after = await opfsFolders(page);
  expect(after.exports).toBeUndefined();
  expect(after['studio-cache'] ?? 0).toBeLessThan(TARGET_WEIGHTS); // headers and small files re-read on reopening, no weights

  // The reopened trio still works: the vector is saved again and offered again.
  await page.getByRole('button', { name: 'Save vector…' }).click();
  await expect(page.getByTestId('merge-job')).toHaveAttribute('data-status', 'done', { timeout: 60_000 });
  await expect(page.getByRole('button', { name: 'Download all (.zip)' })).toBeVisible();
});

test('after a lost device: the banner names no work when none was running, and errors point to "Re-create the GPU device"', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByTestId('gpu-status')).toContainText('WebGPU adapter:', { timeout: 30_000 });
  await page.getByRole('button', { name: 'Load the demo trio' }).click();
  const pg = page.getByTestId('playground');
  await pg.getByLabel('prompt').fill('3+4=');
  await pg.getByRole('button', { name: 'Generate' }).click();
  const out = page.getByTestId('playground-output');
  await expect(out).toHaveAttribute('data-alpha', '1', { timeout: 60_000 });
  await expect(out.locator('pre')).toHaveText('7');
  await expect(page.getByTestId('work-status')).toHaveText('GPU idle');

  await page.evaluate(() => (globalThis as unknown as { __studioTest: { loseGpuDevice(): Promise<void> } }).__studioTest.loseGpuDevice());
  const banner = page.getByTestId('gpu-status');
  await expect(banner).toHaveAttribute('data-status', 'lost');
  await expect(banner).toContainText('The GPU device was lost (destroyed');
  await expect(banner).not.toContainText('Stopped with it');

  await page.getByLabel('alpha', { exact: true }).fill('0.5');
  const error = page.getByTestId('playground-error');
  await expect(error).toContainText('The GPU device was lost', { timeout: 60_000 });
  await expect(error).toContainText('Press "Re-create the GPU device" at the top of the page, then try again');
  await expect(error).not.toContainText('reload the page');
  await expect(error).not.toContainText('command');

  // The way the message points works: a new device answers at α = 0.5.
  await banner.getByRole('button', { name: 'Re-create the GPU device' }).click();
  await expect(page.getByTestId('gpu-status')).toContainText('WebGPU adapter:', { timeout: 30_000 });
  await pg.getByRole('button', { name: 'Generate' }).click();
  await expect(out).toHaveAttribute('data-alpha', '0.5', { timeout: 60_000 });
  await expect(error).toHaveCount(0);
});

async function sweepAndBenchProblems(page: Page): Promise<{ sweep: Locator; bench: Locator }> {
  const bench = page.getByTestId('benchmarks');
  await bench.getByRole('group', { name: 'tasks' }).getByLabel('demo_arith', { exact: true }).check();
  await bench.getByRole('group', { name: 'tasks' }).getByLabel('sciq', { exact: true }).uncheck();
  return { sweep: page.getByTestId('sweep'), bench };
}

test('demo_arith: the Hub-loaded demo trio runs it in Sweep and Benchmarks alike; a target with another vocabulary is refused in both with the same words', async ({ page }, info) => {
  await page.goto('/');
  await useMockHub(page);
  await loadHubTrio(page, 'demo-arith');
  const { sweep, bench } = await sweepAndBenchProblems(page);
  await expect(sweep.getByTestId('sweep-run')).toBeEnabled({ timeout: 30_000 });
  await expect(sweep.getByTestId('sweep-problem')).toHaveCount(0);
  await expect(bench.getByTestId('bench-run')).toBeEnabled();
  await expect(bench.getByTestId('bench-problem')).toHaveCount(0);
  // It really runs on this trio: the panel's 20 items at α = 1, scored.
  await bench.getByTestId('bench-run').click();
  await expect(bench.getByTestId('bench-status')).toHaveAttribute('data-status', /done|error|cancelled/, { timeout: 120_000 });
  expect(await bench.getByTestId('bench-status').getAttribute('data-status'), await bench.getByTestId('bench-status').innerText()).toBe('done');
  const score = bench.locator('[data-testid="bench-score"][data-task="demo_arith"]');
  await expect(score).toHaveAttribute('data-n', '20');
  expect(Number(await score.getAttribute('data-correct'))).toBeGreaterThan(0);

  // A target whose vocabulary differs from the demo's (the ids of "3" and "4" swapped: "3+4=" encodes
  // otherwise): the same refusal in both panels, whichever way the target came.
  const other = info.outputPath('other-vocabulary-target');
  mkdirSync(other, { recursive: true });
  const from = join(FIXTURES, 'models', 'demo-arith-target');
  for (const f of readdirSync(from)) copyFileSync(join(from, f), join(other, f));
  const tok = JSON.parse(readFileSync(join(from, 'tokenizer.json'), 'utf8')) as { model: { vocab: Record<string, number> } };
  [tok.model.vocab['3'], tok.model.vocab['4']] = [tok.model.vocab['4'], tok.model.vocab['3']];
  writeFileSync(join(other, 'tokenizer.json'), JSON.stringify(tok));
  await dropFolder(page, page.getByTestId('slot-target'), other);
  await expect(sweep.getByTestId('sweep-problem')).toHaveText(
    'demo_arith is the demo trio\'s own task and needs the demo\'s tokenizer (each digit, "+" and "=" one token); this target\'s tokenizer is not the demo\'s: load the demo trio, or untick it.',
    { timeout: 60_000 },
  );
  await expect(bench.getByTestId('bench-problem')).toHaveText(await sweep.getByTestId('sweep-problem').innerText());
  await expect(sweep.getByTestId('sweep-run')).toBeDisabled();
  await expect(bench.getByTestId('bench-run')).toBeDisabled();

  // The embedded demo's target again: both accept.
  await dropFolder(page, page.getByTestId('slot-target'), from);
  await expect(sweep.getByTestId('sweep-problem')).toHaveCount(0, { timeout: 60_000 });
  await expect(bench.getByTestId('bench-problem')).toHaveCount(0);
  await expect(bench.getByTestId('bench-run')).toBeEnabled();
});

test('an all-equal heatmap grid is painted in the palest colour and the legend says the values are all equal', async ({ page }) => {
  await page.goto('/');
  await page.getByRole('button', { name: 'Load the demo trio' }).click();
  await page.getByRole('button', { name: 'Vector statistics' }).click();
  await expect(page.getByTestId('merge-job')).toHaveAttribute('data-status', 'done', { timeout: 60_000 });
  const heat = page.getByTestId('vector-heatmap');
  await heat.getByLabel('heatmap metric').selectOption('normV');
  const legend = heat.getByTestId('heatmap-legend');
  await expect(legend).toHaveAttribute('data-min', '0');
  await expect(legend).toHaveAttribute('data-max', '0');
  await expect(heat.getByTestId('heatmap-range')).toHaveText('All grid values are equal (0): every cell takes the palest colour, none is larger than another.');
  const backgrounds = await heat.locator('table.heatmap-grid td[data-value]').evaluateAll((tds) => tds.map((td) => getComputedStyle(td).backgroundColor));
  expect(backgrounds.length).toBeGreaterThan(0);
  expect(new Set(backgrounds)).toEqual(new Set(['rgba(43, 89, 195, 0.08)']));
});

test('Repeat it at full scale names one mergekit command: the sentence and the YAML agree', async ({ page }) => {
  await page.goto('/');
  await page.getByRole('button', { name: 'Load the demo trio' }).click();
  const panel = page.getByTestId('sweep');
  await expect(panel.getByTestId('sweep-run')).toBeEnabled({ timeout: 30_000 });
  await panel.getByLabel('α values').fill('0, 1');
  await panel.getByLabel('sweep items per task').fill('10');
  await panel.getByLabel('control vector').setChecked(false);
  await panel.getByLabel('donors alone').setChecked(false);
  await panel.getByTestId('sweep-run').click();
  await expect(panel.getByTestId('sweep-status')).toHaveAttribute('data-status', 'done', { timeout: 120_000 });
  const repeat = panel.getByTestId('sweep-repeat');
  await expect(repeat.getByTestId('mergekit-command')).toHaveText('mergekit-yaml mergekit_config.yml ./merged');
  await expect(repeat.getByTestId('mergekit-yaml')).toContainText('#   mergekit-yaml mergekit_config.yml ./merged\n');
  await expect(repeat).not.toContainText('merge.yml ');
  await expect(repeat.getByLabel('lm_eval model')).toContainText('(./merged)');
});

test('a refused share link reads as two sentences, without a doubled colon', async ({ page }) => {
  await page.goto('/#r=garbage');
  const refusal = page.getByTestId('share-refused');
  await expect(refusal).toHaveText('This share link was refused and nothing from it is shown. The share URL: does not start with an encoding version ("1.").');
});
