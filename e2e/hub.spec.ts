import { expect, test } from '@playwright/test';
import { clearMockFaults, loadHubId, MOCK_HUB, setMockFaults, useMockHub } from './helpers.ts';

test.beforeEach(async () => clearMockFaults());
test.afterEach(async () => clearMockFaults());

test('typing Hub ids shows progress, the pinned commit, and the verdict', async ({ page }) => {
  // Slow header reads so the progress display is observable.
  await setMockFaults([{ kind: 'slow', delayMs: 700, path: 'model.safetensors' }]);
  // The mock Hub's log is shared by every spec in the run: look only at what this test asked for.
  const before = ((await (await fetch(`${MOCK_HUB}/__mock/requests`)).json()) as unknown[]).length;
  await page.goto('/');
  await useMockHub(page);
  await loadHubId(page, 'sft', 'studio-fixtures/tiny-qwen2-untied-sft');
  await expect(page.getByTestId('slot-sft').getByTestId('header-progress')).toBeVisible();
  await loadHubId(page, 'rl', 'studio-fixtures/tiny-qwen2-untied-rl@main');
  await loadHubId(page, 'target', 'studio-fixtures/tiny-qwen2-untied-target');

  const sft = page.getByTestId('slot-sft').getByTestId('slot-summary');
  await expect(sft).toContainText(/hf:studio-fixtures\/tiny-qwen2-untied-sft@[0-9a-f]{40}/);
  await expect(page.getByTestId('verdict-headline')).toHaveText('Compatible: 27 tensors receive α·v.');

  // Headers only: no request so far asked for more than the header of a safetensors file.
  const log = ((await (await fetch(`${MOCK_HUB}/__mock/requests`)).json()) as Array<{ url: string; range?: string }>).slice(before);
  const weightReads = log.filter((r) => r.url.includes('.safetensors') && r.range);
  expect(weightReads.length).toBeGreaterThan(0);
  for (const r of weightReads) {
    const [a, b] = r.range!.replace('bytes=', '').split('-').map(Number);
    expect(b - a + 1).toBeLessThanOrEqual(4096);
  }
});

test('downloading weights shows bytes, rate and ETA, survives a dropped connection, and completes', async ({ page }) => {
  await page.goto('/');
  await useMockHub(page);
  await loadHubId(page, 'target', 'studio-fixtures/tiny-qwen2-untied-target');
  const slot = page.getByTestId('slot-target');
  await expect(slot.getByTestId('slot-summary')).toBeVisible();

  await setMockFaults([
    { kind: 'drop', afterBytes: 10_000, times: 1, path: 'model.safetensors' },
    { kind: 'slow', delayMs: 0, bytesPerSecond: 20_000, path: 'model.safetensors' },
  ]);
  await slot.getByRole('button', { name: /Download weights/ }).click();
  const progress = slot.getByTestId('download-progress');
  await expect(progress).toContainText(/ETA|weights cached/);
  await expect(progress).toContainText('weights cached (29.9 KiB)', { timeout: 30_000 });
});

test('a gated repo says to accept the licence and give a token; with the token it loads', async ({ page }) => {
  await page.goto('/');
  await useMockHub(page);
  await loadHubId(page, 'target', 'studio-fixtures/gated-model');
  const error = page.getByTestId('slot-target').getByTestId('slot-error');
  await expect(error).toContainText('HTTP 401');
  await expect(error).toContainText('accept its licence');
  await expect(error).toContainText('token');

  await page.getByLabel('Access token').fill('hf_mock_gated_token');
  await page.getByTestId('slot-target').getByRole('button', { name: 'Load' }).click();
  await expect(page.getByTestId('slot-target').getByTestId('slot-summary')).toContainText('Qwen2ForCausalLM');
  // The token travels only as a header: never in the page URL or a request URL.
  expect(page.url()).not.toContain('hf_mock_gated_token');
  const log = await (await fetch(`${MOCK_HUB}/__mock/requests`)).text();
  expect(log).not.toContain('hf_mock_gated_token');
});

test('a missing repo and a server error get clear messages', async ({ page }) => {
  await page.goto('/');
  await useMockHub(page);
  await loadHubId(page, 'sft', 'studio-fixtures/no-such-model');
  await expect(page.getByTestId('slot-sft').getByTestId('slot-error')).toContainText('not found on the Hub (HTTP 404)');
  await loadHubId(page, 'rl', 'not a repo id');
  await expect(page.getByTestId('slot-rl').getByTestId('slot-error')).toContainText('is not a Hugging Face model id');
  await setMockFaults([{ kind: 'status', status: 500 }]);
  await loadHubId(page, 'target', 'studio-fixtures/tiny-qwen2-target');
  await expect(page.getByTestId('slot-target').getByTestId('slot-error')).toContainText('HTTP 500');
});
