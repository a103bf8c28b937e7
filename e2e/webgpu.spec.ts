import { expect, test } from '@playwright/test';

test('the page finds a WebGPU adapter and prints it', async ({ page }) => {
  await page.goto('/');
  const status = page.getByTestId('gpu-status');
  await expect(status).toContainText('WebGPU adapter:');
  const text = (await status.textContent()) ?? '';
  console.log(`[e2e] ${text}`);
  // Headless CI has no GPU: the adapter must be SwiftShader's, and its storage limit must be the adapter's (not the 128 MiB default).
  expect(text.toLowerCase()).toContain('swiftshader');
  expect(text).toContain('1.0 GiB');
});
