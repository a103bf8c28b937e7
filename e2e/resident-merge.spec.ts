import { expect, test } from '@playwright/test';

/**
 * α exploration with θ(α) held on the GPU (Chromium WebGPU / SwiftShader): after each setAlpha the
 * output buffers must equal the CPU merge bit for bit (F32 output, v kept in F32), for the
 * resident strategy and for the streaming fallback the planner picks when the budget is small.
 */
test.beforeEach(async ({ page }) => {
  await page.goto('/e2e/harness/resident-merge.html');
  await expect(page.locator('#status')).toHaveText('ready');
});

type Check = { strategy: string; explanation: string; buffers: number; errors: string[]; results: { alpha: number; seconds: number; nan: number; inf: number; mismatched: number; maxAbsErr: number }[] };
const run = (page: import('@playwright/test').Page, opts: object) =>
  page.evaluate((o) => (window as unknown as { runResidentCheck: (o: unknown) => Promise<unknown> }).runResidentCheck(o), opts) as Promise<Check>;

for (const [budget, strategy] of [
  [1 << 30, 'resident'],
  [120_000, 'streaming'],
] as const) {
  test(`${strategy}: θ(α) for α ∈ {0.5, −1, 2, 0} equals the CPU merge bit for bit`, async ({ page }) => {
    const res = await run(page, { budgetBytes: budget, vectorDtype: 'F32', alphas: [0.5, -1, 2, 0] });
    expect(res.errors).toEqual([]);
    expect(res.strategy).toBe(strategy);
    expect(res.buffers).toBe(26);
    if (strategy === 'streaming') expect(res.explanation).toMatch(/more than the .* GPU budget: only θ\(α\) .* re-reads the checkpoints/);
    for (const r of res.results) {
      expect(r.mismatched, `α=${r.alpha}`).toBe(0);
      expect([r.nan, r.inf]).toEqual([0, 0]);
    }
    console.log(`[e2e] ${strategy}: α change ${res.results.map((r) => `${(r.seconds * 1000).toFixed(1)} ms`).join(', ')}`);
  });
}

test('v kept in F16: half the memory, θ(α) within f16 rounding of v', async ({ page }) => {
  const res = await run(page, { budgetBytes: 1 << 30, vectorDtype: 'F16', alphas: [1] });
  expect(res.errors).toEqual([]);
  expect(res.strategy).toBe('resident');
  // |v| ≲ 0.01 here: f16 keeps ~11 significant bits (and subnormals below 6e-5), so α·v is off by < 1e-5.
  expect(res.results[0].maxAbsErr).toBeLessThan(1e-5);
});
