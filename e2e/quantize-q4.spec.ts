import { expect, test } from '@playwright/test';
import type { SupportedDtype } from '../src/engine/safetensors/dtypes.ts';
import { quantizeQ4 } from '../src/engine/quant/q4-quantize.ts';
import { encode, stored } from '../test-support/merge-reference.ts';
import { seededWeights } from '../test-support/seeded-weights.ts';
import type { Q4HarnessCase } from './harness/quantize-q4.ts';

/**
 * shaders/quantize-q4.wgsl on Chromium's WebGPU (SwiftShader here), bit for bit against the CPU
 * quantiser: packed codes, float32 scales and zero points of MatMulNBits' 4-bit inputs, on odd
 * shapes (K not a multiple of 32, N = 1, 3, 257) and all three input dtypes. Any WebGPU
 * validation error fails.
 */
const SHAPES: [number, number][] = [
  [1, 32],
  [3, 100],
  [257, 64],
  [2, 33],
  [5, 896],
];
const DTYPES: SupportedDtype[] = ['F32', 'F16', 'BF16'];

test('quantize-q4 kernel in Chromium: every shape and dtype bit for bit the CPU quantiser', async ({ page }) => {
  await page.goto('/e2e/harness/quantize-q4.html');
  await expect(page.locator('#status')).toHaveText('ready');
  const cases: (Q4HarnessCase & { values: number[] })[] = [];
  for (const dtype of DTYPES) {
    for (const [n, k] of SHAPES) {
      const values = stored([...seededWeights(n * k, n * 131 + k)], dtype);
      cases.push({ n, k, dtype, bytes: [...encode(values, dtype)], values });
    }
  }
  const results = (await page.evaluate(
    (cs) => (window as unknown as { runQ4Cases: (c: unknown) => Promise<unknown> }).runQ4Cases(cs),
    cases.map(({ values: _, ...c }) => c),
  )) as { packed: number[]; scales: number[]; zeroPoints: number[]; errors: string[] }[];
  results.forEach((r, i) => {
    const c = cases[i];
    const label = `[${c.n}, ${c.k}] ${c.dtype}`;
    const want = quantizeQ4(Float32Array.from(c.values), c.n, c.k);
    expect(r.errors, label).toEqual([]);
    expect(r.packed, label).toEqual([...want.packed]);
    expect(r.scales, label).toEqual([...new Uint8Array(want.scales.buffer)]);
    expect(r.zeroPoints, label).toEqual([...want.zeroPoints]);
  });
  expect(results).toHaveLength(15);
});
