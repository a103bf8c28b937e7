import { expect, test } from '@playwright/test';
import { formatBytes } from '../src/engine/errors.ts';

test('the page finds a WebGPU adapter and prints it', async ({ page }) => {
  await page.goto('/');
  const status = page.getByTestId('gpu-status');
  await expect(status).toContainText('WebGPU adapter:');
  const text = (await status.textContent()) ?? '';
  console.log(`[e2e] ${text}`);
  // Whatever adapter this browser has — SwiftShader on a headless machine without a GPU, or a
  // real GPU — the page must name that adapter and show its own storage limit (the device was
  // requested with the adapter's limits, not WebGPU's 128 MiB default).
  const adapter = await page.evaluate(async () => {
    const a = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' });
    return a && { vendor: a.info.vendor, architecture: a.info.architecture, limit: a.limits.maxStorageBufferBindingSize };
  });
  expect(adapter).not.toBeNull();
  expect(text).toContain([adapter!.vendor, adapter!.architecture].filter(Boolean).join(' / '));
  expect(text).toContain(`max storage binding ${formatBytes(adapter!.limit)}`);
  // Headless Chromium here is SwiftShader, whose adapter limit is 1 GiB.
  if (adapter!.architecture === 'swiftshader') expect(text).toContain('max storage binding 1.0 GiB');
});
