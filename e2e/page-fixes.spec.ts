import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test, type ConsoleMessage, type Page } from '@playwright/test';
import { clearMockFaults, FIXTURES, loadHubId, MOCK_HUB, setMockFaults, useMockHub } from './helpers.ts';

/**
 * The page as a new user meets it (issue 8, "The page"): each fix checked through the page in
 * Chromium, the way a user would notice it.
 */
const models = (name: string) => join(FIXTURES, 'models', name);
const HUB_REPO = 'studio-fixtures/tiny-qwen2-untied-target';
const WEIGHTS = 'model.safetensors';
const WEIGHT_BYTES = statSync(join(models('tiny-qwen2-untied-target'), WEIGHTS)).size;
const noWebGpu = (page: Page) => page.addInitScript(() => Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined }));

/** Console messages of type "error", with where they came from. */
function consoleErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m: ConsoleMessage) => m.type() === 'error' && errors.push(`${m.text()} @ ${m.location().url}`));
  page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
  return errors;
}

async function loadDemoAndGenerate(page: Page) {
  await page.getByRole('button', { name: 'Load the demo trio' }).click();
  const pg = page.getByTestId('playground');
  await pg.getByRole('button', { name: 'Generate' }).click();
  await expect(pg.getByTestId('playground-output').locator('pre')).toHaveText('7', { timeout: 30_000 });
  return pg;
}

test.beforeEach(async () => clearMockFaults());
test.afterEach(async () => {
  await clearMockFaults();
  // hub.spec reads the whole request log to check that loading reads headers only.
  await fetch(`${MOCK_HUB}/__mock/requests`, { method: 'DELETE' });
});

test('no WebGPU: the header says merges run on the CPU and the model on WASM (a notice, not an error), and both do', async ({ page }) => {
  const errors = consoleErrors(page);
  await noWebGpu(page);
  await page.goto('/');
  const status = page.getByTestId('gpu-status');
  await expect(status).toContainText('No WebGPU: merges run on the CPU (same bytes, slower) and the model runs on WASM.');
  await expect(status).toContainText('navigator.gpu is missing');
  await expect(status).not.toContainText('needs WebGPU');
  await expect(status).not.toHaveClass(/\berror\b/);
  expect(await status.evaluate((e) => getComputedStyle(e).color)).not.toBe('rgb(161, 29, 43)'); // the page's error red

  // What it promises: the merge panel takes the CPU path, the playground runs on WASM and answers.
  const pg = await loadDemoAndGenerate(page);
  await expect(page.getByTestId('merge-panel')).toContainText('on the CPU');
  await expect(pg.getByTestId('playground-meta')).toContainText(' on the CPU');
  await expect(pg.getByTestId('playground-notice')).toContainText('WASM');
  expect(errors).toEqual([]);
});

test('"pick a folder" is reachable with Tab and opens the folder chooser with Enter or Space', async ({ page }) => {
  await page.goto('/');
  // The page has finished starting (the GPU found and the header re-rendered) before keys are pressed.
  await expect(page.getByTestId('gpu-status')).toContainText('WebGPU adapter:');
  const sft = page.getByTestId('slot-sft');
  const pick = sft.getByRole('button', { name: 'pick a folder' });
  // From the top of the page, Tab alone gets there (the old hidden <input> was never focused).
  let presses = 0;
  while (!(await pick.evaluate((e) => e === document.activeElement)) && presses < 15) {
    await page.keyboard.press('Tab');
    presses++;
  }
  await expect(pick).toBeFocused();
  const outline = await pick.evaluate((e) => getComputedStyle(e).outlineStyle);
  expect(outline).not.toBe('none'); // the focus is visible

  const [enterChooser] = await Promise.all([page.waitForEvent('filechooser'), page.keyboard.press('Enter')]);
  expect(enterChooser.isMultiple()).toBe(true);
  await enterChooser.setFiles(models('tiny-qwen2-sft'));
  await expect(sft.getByTestId('slot-summary')).toContainText('Qwen2ForCausalLM');
  await expect(sft.getByTestId('slot-summary')).toContainText('tiny-qwen2-sft/');

  const rlPick = page.getByTestId('slot-rl').getByRole('button', { name: 'pick a folder' });
  await rlPick.focus();
  const [spaceChooser] = await Promise.all([page.waitForEvent('filechooser'), page.keyboard.press('Space')]);
  await spaceChooser.setFiles(models('tiny-qwen2-rl'));
  await expect(page.getByTestId('slot-rl').getByTestId('slot-summary')).toContainText('tiny-qwen2-rl/');
});

test('an α outside the sliders\' range is shown as such, never clamped silently; the merge uses the typed α', async ({ page }) => {
  await page.goto('/');
  await page.getByRole('button', { name: 'Load the demo trio' }).click();
  const merge = page.getByTestId('merge-panel');
  const pg = page.getByTestId('playground');
  const alpha = page.getByLabel('alpha', { exact: true });

  await alpha.fill('1.5');
  await expect(page.getByLabel('alpha slider', { exact: true })).toHaveValue('1.5');
  await expect(page.getByTestId('alpha-outside')).toHaveCount(0);

  await alpha.fill('5');
  await expect(page.getByLabel('alpha slider', { exact: true })).toHaveValue('2');
  await expect(page.getByLabel('playground alpha slider')).toHaveValue('2');
  for (const where of [merge, pg]) {
    await expect(where.getByTestId('alpha-outside')).toHaveText('α = 5 is outside the slider’s range (-2 to 2); the slider shows 2, the merge uses 5.');
  }
  await expect(pg.getByTestId('playground-alpha')).toHaveText('5');
  await pg.getByRole('button', { name: 'Generate' }).click();
  await expect(pg.getByTestId('playground-output')).toHaveAttribute('data-alpha', '5', { timeout: 30_000 });

  await alpha.fill('-3.25');
  await expect(page.getByLabel('alpha slider', { exact: true })).toHaveValue('-2');
  await expect(merge.getByTestId('alpha-outside')).toContainText('α = -3.25 is outside');
  await expect(merge.getByTestId('alpha-outside')).toContainText('the slider shows -2');

  // Moving the slider is choosing a value inside its range again: the note goes.
  await page.getByLabel('alpha slider', { exact: true }).fill('0.5');
  await expect(alpha).toHaveValue('0.5');
  await expect(page.getByTestId('alpha-outside')).toHaveCount(0);
});

test('download progress moves as bytes arrive, many times within one 8 MiB range', async ({ page }) => {
  await page.goto('/');
  await useMockHub(page);
  await loadHubId(page, 'target', HUB_REPO);
  const slot = page.getByTestId('slot-target');
  await expect(slot.getByTestId('slot-summary')).toBeVisible();
  // About 1.5 s for the whole file, sent in 1 kB pieces: the whole file is one 8 MiB range.
  await setMockFaults([{ kind: 'slow', delayMs: 0, bytesPerSecond: 20_000, repo: HUB_REPO, path: WEIGHTS }]);
  await slot.evaluate((el) => {
    const seen: number[] = ((window as unknown as { progressSeen: number[] }).progressSeen = []);
    const record = () => {
      const bar = el.querySelector<HTMLProgressElement>('[data-testid="download-progress"] progress');
      if (bar && seen.at(-1) !== bar.value) seen.push(bar.value);
    };
    new MutationObserver(record).observe(el, { subtree: true, childList: true, attributes: true, characterData: true });
  });
  await slot.getByRole('button', { name: /Download weights/ }).click();
  await expect(slot.getByTestId('download-progress')).toContainText(/ETA \d/);
  await expect(slot.getByTestId('download-progress')).toContainText('weights cached (29.9 KiB)', { timeout: 30_000 });

  const seen = await page.evaluate(() => (window as unknown as { progressSeen: number[] }).progressSeen);
  const between = seen.filter((v) => v > 0 && v < WEIGHT_BYTES);
  expect(between.length, `progress values seen: ${seen.join(', ')}`).toBeGreaterThanOrEqual(5);
  for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThanOrEqual(seen[i - 1]);
  expect(seen.at(-1)).toBe(WEIGHT_BYTES);
});

test('a transfer that keeps dropping says the connection dropped and where Resume continues; Resume finishes it', async ({ page }) => {
  await page.goto('/');
  await useMockHub(page);
  await loadHubId(page, 'target', HUB_REPO);
  const slot = page.getByTestId('slot-target');
  await expect(slot.getByTestId('slot-summary')).toBeVisible();
  // The first transfer is cut after 10 kB, every later one at once (more cuts than the download's attempts).
  await setMockFaults([
    { kind: 'drop', afterBytes: 10_000, times: 1, repo: HUB_REPO, path: WEIGHTS },
    { kind: 'drop', afterBytes: 0, times: 50, repo: HUB_REPO, path: WEIGHTS },
  ]);
  await slot.getByRole('button', { name: /Download weights/ }).click();
  const alert = slot.getByTestId('download-progress').getByRole('alert');
  await expect(alert).toContainText('The connection dropped while downloading model.safetensors (5 attempts).', { timeout: 30_000 });
  await expect(alert).not.toContainText('Failed to fetch');
  const text = (await alert.textContent())!;
  const match = /Resume continues from byte ([\d,]+) of ([\d,]+)\./.exec(text);
  expect(match, text).not.toBeNull();
  const resumeAt = Number(match![1].replaceAll(',', ''));
  expect(Number(match![2].replaceAll(',', ''))).toBe(WEIGHT_BYTES);
  expect(resumeAt).toBeGreaterThanOrEqual(0);
  expect(resumeAt).toBeLessThan(WEIGHT_BYTES); // the cuts left it incomplete
  await expect(slot.getByTestId('download-progress').locator('progress')).toHaveJSProperty('value', resumeAt);

  // The connection is back: Resume asks for nothing before resumeAt, and completes. (Chromium's
  // HTTP cache may itself continue a truncated response with a later range; never an earlier one.)
  await clearMockFaults();
  await fetch(`${MOCK_HUB}/__mock/requests`, { method: 'DELETE' });
  await alert.getByRole('button', { name: 'Resume' }).click();
  await expect(slot.getByTestId('download-progress')).toContainText('weights cached (29.9 KiB)', { timeout: 30_000 });
  await expect(slot.getByTestId('download-progress').getByRole('alert')).toHaveCount(0);
  const log = (await (await fetch(`${MOCK_HUB}/__mock/requests`)).json()) as Array<{ method: string; url: string; range?: string }>;
  const gets = log.filter((r) => r.method === 'GET' && r.url.includes(`${HUB_REPO}/resolve/`) && r.url.endsWith(WEIGHTS));
  expect(gets.length).toBeGreaterThan(0);
  for (const g of gets) expect(Number(/^bytes=(\d+)-/.exec(g.range ?? 'bytes=0-')![1])).toBeGreaterThanOrEqual(resumeAt);
});

test('an error in a picked folder names folder/file with one slash', async ({ page }) => {
  await page.goto('/');
  await page.getByLabel('SFT donor folder').setInputFiles(join(FIXTURES, 'bad', 'header-too-long'));
  const error = page.getByTestId('slot-sft').getByTestId('slot-error');
  await expect(error).toContainText('header-too-long/model.safetensors: header length field says');
  await expect(error).not.toContainText('//');
});

test('a page load requests nothing that fails: the icon and the web manifest come from public/', async ({ page }) => {
  const errors = consoleErrors(page);
  const failed: string[] = [];
  page.on('response', (r) => r.status() >= 400 && failed.push(`${r.status()} ${r.url()}`));
  page.on('requestfailed', (r) => failed.push(`failed ${r.url()}`));
  await page.goto('/');
  await expect(page.getByTestId('gpu-status')).toBeVisible();
  await page.waitForLoadState('networkidle');
  expect(failed).toEqual([]);
  expect(errors).toEqual([]); // Chromium's own favicon request shows up only here, as "Failed to load resource"

  const icon = await page.locator('link[rel="icon"]').getAttribute('href');
  const iconRes = await page.request.get(icon!);
  expect(iconRes.status()).toBe(200);
  expect(iconRes.headers()['content-type']).toContain('image/svg+xml');
  expect(await iconRes.text()).toContain('<svg');

  const manifestRes = await page.request.get((await page.locator('link[rel="manifest"]').getAttribute('href'))!);
  expect(manifestRes.status()).toBe(200);
  const manifest = (await manifestRes.json()) as { name: string; icons: { src: string }[] };
  expect(manifest.name).toBe('Reasoning-vector studio');
  for (const i of manifest.icons) expect((await page.request.get(new URL(i.src, manifestRes.url()).href)).status()).toBe(200);
});

test('the demo trio is explained in one line beside its button, with the numbers its generator measured', async ({ page }) => {
  const report = JSON.parse(readFileSync(join(models('demo-arith-target'), 'demo.json'), 'utf8')) as {
    task: string;
    accuracy: { alpha: number; digitsOnly: number }[];
  };
  const pct = (alpha: number) => `${Math.round(report.accuracy.find((a) => a.alpha === alpha)!.digitsOnly * 100)}%`;
  await page.goto('/');
  const note = page.getByTestId('demo-note');
  await expect(note).toContainText(report.task);
  await expect(note).toContainText(`right digit for ${pct(0)} of the sums at α = 0 and ${pct(1)} at α = 1`);
  await expect(note).toContainText('press Generate with the prompt 3+4= (answer 7)');
  // The line is true: the prompt box starts with 3+4=, and Generate at α = 1 answers 7.
  await page.getByRole('button', { name: 'Load the demo trio' }).click();
  await expect(page.getByTestId('playground').getByLabel('prompt')).toHaveValue('3+4=');
});

test('building the model and generating on the demo trio prints no console errors (onnxruntime logs errors only)', async ({ page }) => {
  const errors = consoleErrors(page);
  await page.goto('/');
  const pg = await loadDemoAndGenerate(page);
  await page.getByLabel('alpha', { exact: true }).fill('-1');
  await expect(pg.getByTestId('playground-output')).toHaveAttribute('data-alpha', '-1', { timeout: 30_000 });
  await expect(pg.getByTestId('playground-meta')).toContainText('on the GPU');
  expect(errors).toEqual([]);
});
