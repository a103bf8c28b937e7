import { statSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { FIXTURES, MOCK_HUB, useMockHub } from './helpers.ts';

/**
 * Presets: the paper's trios in the page, each showing — before anything is downloaded — the
 * download size, the browser storage left and the memory plan this device would use, or why not.
 * The real ids need the real Hub, so the page's preset list is replaced (window.__STUDIO_PRESETS__,
 * test-only) by stand-ins on the mock Hub: the tiny fixtures under preset-like entries.
 */
const STANDINS = [
  { id: 'standin', title: 'Stand-in trio', note: 'tiny fixtures', sft: 'studio-fixtures/tiny-qwen2-sft', rl: 'studio-fixtures/tiny-qwen2-rl', target: 'studio-fixtures/tiny-qwen2-target' },
  { id: 'shared', title: 'Target = SFT donor', note: 'a repo in two roles', sft: 'studio-fixtures/tiny-qwen2-sft', rl: 'studio-fixtures/tiny-qwen2-rl', target: 'studio-fixtures/tiny-qwen2-sft' },
  { id: 'refused', title: 'Resized vocabulary', note: 'refused by the verdict', sft: 'studio-fixtures/tiny-qwen2-sft', rl: 'studio-fixtures/tiny-qwen2-rl', target: 'studio-fixtures/tiny-qwen2-vocab320-target' },
];
const fileBytes = (name: string) => statSync(join(FIXTURES, 'models', name, 'model.safetensors')).size;
/**
 * tiny-qwen2 (hidden 16, 2 layers, tied 288-token vocabulary): 9,360 parameters, largest tensor the
 * 4,608-element embedding. Resident on SwiftShader (no shader-f16): θ(α) f32 (4 B) + v f32 (4 B) +
 * target bf16 (2 B) per parameter, plus three f32 staging chunks of 4,608 elements.
 */
const PARAMS = 9360;
const STAGING = 3 * 4 * 4608;

// This file downloads whole weight files; other specs read the shared request log for header-only reads.
test.afterEach(async () => {
  await fetch(`${MOCK_HUB}/__mock/requests`, { method: 'DELETE' });
});

async function withStandins(page: Page) {
  await page.addInitScript((list) => ((window as unknown as { __STUDIO_PRESETS__: unknown }).__STUDIO_PRESETS__ = list), STANDINS);
  await page.goto('/');
  await useMockHub(page);
  await expect(page.getByTestId('gpu-status')).toBeVisible();
  await page.getByText('Paper presets').click();
}

const headerOnlyReads = async () => {
  const log = (await (await fetch(`${MOCK_HUB}/__mock/requests`)).json()) as { url: string; range?: string; method: string }[];
  return log.filter((r) => r.url.includes('.safetensors') && r.method === 'GET').map((r) => {
    if (!r.range) return Infinity;
    const [a, b] = r.range.replace('bytes=', '').split('-').map(Number);
    return b - a + 1;
  });
};

test('the paper\'s three trios are offered, with their Hub ids', async ({ page }) => {
  await page.goto('/');
  await page.getByText('Paper presets').click();
  const presets = page.getByTestId('presets');
  await expect(presets.getByTestId('preset-math-1.5b-gsm8k')).toContainText('michaelbzhu/Qwen2.5-Math-1.5B-GSM8K-SFT · michaelbzhu/Qwen2.5-Math-1.5B-GSM8K-GRPO → Qwen/Qwen2.5-Math-1.5B');
  await expect(presets.getByTestId('preset-instruct-1.5b-gsm8k')).toContainText('→ Qwen/Qwen2.5-1.5B-Instruct');
  await expect(presets.getByTestId('preset-instruct-7b-sii')).toContainText('SII-Enigma/Qwen2.5-7B-Ins-SFT-32k · SII-Enigma/Qwen2.5-7B-Ins-SFT-GRPO → Qwen/Qwen2.5-7B-Instruct');
});

test('a preset shows its download size, the storage left and the memory plan before anything is downloaded; downloaded files no longer count', async ({ page }) => {
  await fetch(`${MOCK_HUB}/__mock/requests`, { method: 'DELETE' });
  await withStandins(page);
  const preset = page.getByTestId('preset-standin');
  await preset.getByRole('button', { name: 'Check size and fit' }).click();
  const fit = preset.getByTestId('preset-fit');
  await expect(fit).toBeVisible();
  const sizes = { sft: fileBytes('tiny-qwen2-sft'), rl: fileBytes('tiny-qwen2-rl'), target: fileBytes('tiny-qwen2-target') };
  for (const role of ['sft', 'rl', 'target'] as const) await expect(fit.getByTestId(`preset-bytes-${role}`)).toHaveAttribute('data-bytes', String(sizes[role]));
  await expect(fit).toHaveAttribute('data-download-bytes', String(sizes.sft + sizes.rl + sizes.target));
  await expect(fit.getByTestId('preset-download')).toContainText(`Download: ${((sizes.sft + sizes.rl + sizes.target) / 1024).toFixed(1)} KiB`);

  // The storage the browser reports for this origin.
  const estimate = await page.evaluate(() => navigator.storage.estimate());
  const free = Number(await fit.getAttribute('data-storage-free'));
  expect(Math.abs(free - (estimate.quota! - estimate.usage!))).toBeLessThan(1024 ** 2);
  await expect(fit.getByTestId('preset-storage')).toContainText('Browser storage left');

  // The plan this device would use, and its numbers (a pass reads target and v and writes θ(α): 10 B a parameter).
  const plan = fit.getByTestId('memory-plan');
  await expect(plan).toHaveAttribute('data-kind', 'resident');
  await expect(plan).toHaveAttribute('data-bytes', String(PARAMS * 10 + STAGING));
  await expect(plan.getByTestId('memory-plan-errors')).toHaveText('none: θ(α) is the exact float32 merge');
  await expect(plan.getByTestId('memory-plan-alpha')).toContainText(/≈ .* \(one kernel pass over 91\.4 KiB at [\d.]+ GB\/s measured on this GPU\)/);
  // Listings and headers only: no request asked for more than a safetensors header.
  for (const bytes of await headerOnlyReads()) expect(bytes).toBeLessThanOrEqual(4096);

  // Load the trio from the preset, download the target's weights: the preset no longer counts them.
  await preset.getByRole('button', { name: 'Load these three' }).click();
  await expect(page.getByTestId('slot-target').getByRole('textbox')).toHaveValue('studio-fixtures/tiny-qwen2-target');
  await expect(page.getByTestId('slot-target').getByTestId('slot-summary')).toContainText('hf:studio-fixtures/tiny-qwen2-target@');
  await expect(page.getByTestId('verdict-headline')).toContainText('Compatible');
  await page.getByTestId('slot-target').getByRole('button', { name: /Download weights/ }).click();
  await expect(page.getByTestId('slot-target').getByTestId('download-progress')).toContainText('weights cached', { timeout: 30_000 });
  await preset.getByRole('button', { name: 'Check size and fit' }).click();
  await expect(fit).toHaveAttribute('data-download-bytes', String(sizes.sft + sizes.rl));
  await expect(fit.getByTestId('preset-bytes-target')).toContainText('(cached)');
  // The loaded trio's plan is shown in the merge panel too, with the same numbers.
  await expect(page.getByTestId('merge-panel').getByTestId('memory-plan')).toHaveAttribute('data-bytes', String(PARAMS * 10 + STAGING));
});

test('a repo in two roles is downloaded once; a small GPU budget streams, a smaller one says why it cannot; a refused trio says why', async ({ page }) => {
  await withStandins(page);
  const shared = page.getByTestId('preset-shared');
  await shared.getByRole('button', { name: 'Check size and fit' }).click();
  await expect(shared.getByTestId('preset-fit')).toHaveAttribute('data-download-bytes', String(fileBytes('tiny-qwen2-sft') + fileBytes('tiny-qwen2-rl')));

  // 100 KiB: target + v + θ(α) (148,896 B) do not fit, θ(α) alone (9,360 × 4 B + staging) does.
  await page.getByLabel('GPU memory budget').fill(String(100 / 1024 ** 2));
  const standin = page.getByTestId('preset-standin');
  await standin.getByRole('button', { name: 'Check size and fit' }).click();
  const plan = standin.getByTestId('memory-plan');
  await expect(plan).toHaveAttribute('data-kind', 'streaming');
  await expect(plan).toHaveAttribute('data-bytes', String(PARAMS * 4 + STAGING));
  await expect(plan.getByTestId('memory-plan-alpha')).toContainText('re-reading 54.8 KiB of checkpoints');
  // 50 KiB: not even θ(α).
  await page.getByLabel('GPU memory budget').fill(String(50 / 1024 ** 2));
  await standin.getByRole('button', { name: 'Check size and fit' }).click();
  await expect(plan).toHaveAttribute('data-kind', 'none');
  await expect(plan.getByTestId('memory-plan-reason')).toHaveText(
    'The merged model needs 90.6 KiB of GPU memory as F32, more than the 50.0 KiB budget; raise the budget if the GPU has the memory, or use a smaller model.',
  );

  const refused = page.getByTestId('preset-refused');
  await refused.getByRole('button', { name: 'Check size and fit' }).click();
  await expect(refused.getByTestId('memory-plan-refused')).toContainText('The studio would refuse this trio:');
  await expect(refused.getByTestId('memory-plan-refused')).toContainText('model.embed_tokens.weight');
});

test('without WebGPU the plan is the CPU path, and a preset that is not on the Hub is named', async ({ page }) => {
  await page.addInitScript(() => Object.defineProperty(navigator, 'gpu', { value: undefined }));
  await page.addInitScript(
    (list) => ((window as unknown as { __STUDIO_PRESETS__: unknown }).__STUDIO_PRESETS__ = list),
    [STANDINS[0], { ...STANDINS[0], id: 'missing', title: 'Missing', target: 'studio-fixtures/no-such-model' }],
  );
  await page.goto('/');
  await useMockHub(page);
  await expect(page.getByTestId('gpu-status')).toContainText('No WebGPU');
  await page.getByText('Paper presets').click();
  const standin = page.getByTestId('preset-standin');
  await standin.getByRole('button', { name: 'Check size and fit' }).click();
  const plan = standin.getByTestId('memory-plan');
  await expect(plan).toHaveAttribute('data-kind', 'cpu');
  await expect(plan).toHaveAttribute('data-bytes', String(PARAMS * 4));
  await expect(plan).toContainText('No WebGPU: θ(α) in float32 on the host');
  const missing = page.getByTestId('preset-missing');
  await missing.getByRole('button', { name: 'Check size and fit' }).click();
  await expect(missing.getByTestId('preset-error')).toContainText('studio-fixtures/no-such-model');
  await expect(missing.getByTestId('preset-error')).toContainText('not found on the Hub (HTTP 404)');
});
