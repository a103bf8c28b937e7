import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import type { SupportedDtype } from '../src/engine/safetensors/dtypes.ts';
import { decode, referenceMerge } from '../test-support/merge-reference.ts';
import { readModelFolder, refConfigOf } from '../test-support/read-safetensors.ts';
import { referenceForward } from '../test-support/reference-forward.ts';
import { dropFolder, FIXTURES } from './helpers.ts';

/**
 * What a user does: load the demo trio (a vector that carries a+b mod 10), type a sum, Generate,
 * then move α and watch the answer change. The page's tokens are checked against greedy decoding
 * with the float64 reference of the same merge.
 */
const model = (n: string) => join(FIXTURES, 'models', n);
const CONFIG = refConfigOf(model('demo-arith-target'));
const demo = JSON.parse(readFileSync(join(model('demo-arith-target'), 'demo.json'), 'utf8')) as { prompts: { text: string; ids: number[]; answerId: number }[] };

function expectedIds(prompt: string, alpha: number, maxNew: number): number[] {
  const ids = demo.prompts.find((p) => p.text === prompt)!.ids;
  const [S, R, T] = ['sft', 'rl', 'target'].map((n) => readModelFolder(model(`demo-arith-${n}`)));
  const d = (t: { bytes: Uint8Array; dtype: string }) => decode(t.bytes, t.dtype as SupportedDtype);
  const w = new Map<string, Float64Array>();
  for (const [name, t] of T) {
    const bits = referenceMerge(d(t), d(S.get(name)!), d(R.get(name)!), alpha, 'F32');
    w.set(name, Float64Array.from(new Float32Array(bits.buffer, bits.byteOffset, bits.byteLength / 4)));
  }
  const seq = [...ids];
  for (let k = 0; k < maxNew; k++) {
    const last = referenceForward(CONFIG, w, seq).at(-1)!;
    seq.push(last.indexOf(Math.max(...last)));
  }
  return seq.slice(ids.length);
}

async function idsAt(page: Page, alpha: number) {
  await page.getByLabel('alpha', { exact: true }).fill(String(alpha));
  const out = page.getByTestId('playground-output');
  await expect(out).toHaveAttribute('data-alpha', String(alpha), { timeout: 30_000 });
  return (await out.getAttribute('data-ids'))!.split(',').filter(Boolean).map(Number);
}

test('playground on WebGPU: "3+4=" answers 7 at α = 1 and not at α = −1; tokens equal the reference at each α; the session is reused', async ({ page }) => {
  await page.goto('/');
  await page.getByRole('button', { name: 'Load the demo trio' }).click();
  const pg = page.getByTestId('playground');
  await pg.getByLabel('prompt').fill('3+4=');
  await pg.getByRole('button', { name: 'Generate' }).click();
  const out = page.getByTestId('playground-output');
  await expect(out).toHaveAttribute('data-alpha', '1', { timeout: 30_000 });
  await expect(out.locator('pre')).toHaveText('7');
  expect((await out.getAttribute('data-ids'))!.split(',').map(Number)).toEqual(expectedIds('3+4=', 1, 1));
  await expect(page.getByTestId('playground-meta')).toContainText('on the GPU (buffers shared with onnxruntime, no copy)');
  for (const alpha of [-1, 0, 2]) {
    expect(await idsAt(page, alpha), `α=${alpha}`).toEqual(expectedIds('3+4=', alpha, 1));
    await expect(page.getByTestId('playground-meta')).toContainText('session reused');
    await expect(page.getByTestId('playground-meta')).toContainText(/re-merged in [\d.]+ ms/);
  }
  expect(expectedIds('3+4=', -1, 1)).not.toEqual(expectedIds('3+4=', 1, 1));
  // Two tokens: the answer, then whatever the model says next — still the reference's tokens.
  await pg.getByLabel('max new tokens').fill('3');
  await pg.getByRole('button', { name: 'Generate' }).click();
  await expect(out).toHaveAttribute('data-ids', expectedIds('3+4=', 2, 3).join(','), { timeout: 30_000 });
});

test('playground without WebGPU: the WASM provider with a visible notice, same tokens', async ({ page }) => {
  await page.addInitScript(() => Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined }));
  await page.goto('/');
  await page.getByRole('button', { name: 'Load the demo trio' }).click();
  await page.getByTestId('playground').getByLabel('prompt').fill('9+5=');
  await page.getByTestId('playground').getByRole('button', { name: 'Generate' }).click();
  await expect(page.getByTestId('playground-output')).toHaveAttribute('data-alpha', '1', { timeout: 30_000 });
  await expect(page.getByTestId('playground-notice')).toContainText('No WebGPU here');
  await expect(page.getByTestId('playground-output').locator('pre')).toHaveText('4');
  expect(await idsAt(page, -1)).toEqual(expectedIds('9+5=', -1, 1));
});

test('the playground\'s own α slider drives the same α: dragging it re-answers', async ({ page }) => {
  await page.goto('/');
  await page.getByRole('button', { name: 'Load the demo trio' }).click();
  const pg = page.getByTestId('playground');
  await pg.getByLabel('prompt').fill('2+2=');
  await pg.getByRole('button', { name: 'Generate' }).click();
  await expect(pg.getByTestId('playground-output').locator('pre')).toHaveText('4', { timeout: 30_000 });
  await pg.getByLabel('playground alpha slider').fill('-1');
  await expect(pg.getByTestId('playground-output')).toHaveAttribute('data-alpha', '-1', { timeout: 30_000 });
  await expect(page.getByLabel('alpha', { exact: true })).toHaveValue('-1');
  expect((await pg.getByTestId('playground-output').getAttribute('data-ids'))!.split(',').map(Number)).toEqual(expectedIds('2+2=', -1, 1));
});

test('a GPU budget too small for target + v: the playground says it falls back to re-reading, and still answers correctly', async ({ page }) => {
  await page.goto('/');
  await page.getByText('Settings').click();
  await page.getByLabel('GPU memory budget').fill('0.002'); // 2 MiB: θ(α) fits, target + v + θ(α) do not
  await page.getByRole('button', { name: 'Load the demo trio' }).click();
  const pg = page.getByTestId('playground');
  await pg.getByRole('button', { name: 'Generate' }).click();
  await expect(pg.getByTestId('playground-output').locator('pre')).toHaveText('7', { timeout: 30_000 });
  await expect(pg).toContainText('more than the 2.0 MiB GPU budget: only θ(α)');
  expect(await idsAt(page, -1)).toEqual(expectedIds('3+4=', -1, 1));
});

test('another checkpoint dropped into a slot (same "dropped files" label): the old answer is cleared and the model rebuilt', async ({ page }) => {
  await page.goto('/');
  for (const role of ['sft', 'rl', 'target'] as const) await dropFolder(page, page.getByTestId(`slot-${role}`), model(`demo-arith-${role}`));
  const pg = page.getByTestId('playground');
  await pg.getByRole('button', { name: 'Generate' }).click();
  await expect(pg.getByTestId('playground-output').locator('pre')).toHaveText('7', { timeout: 30_000 });
  // The SFT donor as the target: a different model under the same label.
  await dropFolder(page, page.getByTestId('slot-target'), model('demo-arith-sft'));
  await expect(pg.getByTestId('playground-output')).toHaveCount(0);
  await pg.getByRole('button', { name: 'Generate' }).click();
  await expect(pg.getByTestId('playground-meta')).toContainText('model and session built', { timeout: 30_000 });
  const [S, R] = ['sft', 'rl'].map((n) => readModelFolder(model(`demo-arith-${n}`)));
  const d = (t: { bytes: Uint8Array; dtype: string }) => decode(t.bytes, t.dtype as SupportedDtype);
  const w = new Map<string, Float64Array>();
  for (const [name, t] of S) {
    const bits = referenceMerge(d(t), d(t), d(R.get(name)!), 1, 'F32');
    w.set(name, Float64Array.from(new Float32Array(bits.buffer, bits.byteOffset, bits.byteLength / 4)));
  }
  const ids = demo.prompts.find((p) => p.text === '3+4=')!.ids;
  const last = referenceForward(CONFIG, w, ids).at(-1)!;
  await expect(pg.getByTestId('playground-output')).toHaveAttribute('data-ids', String(last.indexOf(Math.max(...last))));
});

test('a long answer can be cancelled from the work bar: it stops after the token in flight, says so, keeps nothing, and Generate starts again', async ({ page }) => {
  await page.goto('/');
  await page.getByRole('button', { name: 'Load the demo trio' }).click();
  const pg = page.getByTestId('playground');
  await pg.getByLabel('prompt').fill('3+4=');
  // The demo model's context is 128 positions: 120 new tokens take seconds, time enough to cancel.
  await pg.getByLabel('max new tokens').fill('120');
  await pg.getByRole('button', { name: 'Generate' }).click();
  // While it generates, both the playground and the work bar offer Cancel.
  await expect(pg.getByTestId('playground-cancel')).toBeVisible({ timeout: 60_000 });
  await page.getByTestId('work-cancel-generate').click();
  await expect(page.getByTestId('playground-error')).toHaveText('Cancelled: the answer at α = 1 was not finished (nothing kept). Generate starts it again.');
  await expect(page.getByTestId('playground-status')).toHaveText('');
  await expect(page.getByTestId('work-cancel-generate')).toHaveCount(0);
  await expect(page.getByTestId('playground-output')).toHaveCount(0);
  // Nothing was kept: a short Generate answers afresh with the reference's token.
  await pg.getByLabel('max new tokens').fill('1');
  await pg.getByRole('button', { name: 'Generate' }).click();
  const out = page.getByTestId('playground-output');
  await expect(out).toHaveAttribute('data-ids', expectedIds('3+4=', 1, 1).join(','), { timeout: 30_000 });
  await expect(page.getByTestId('playground-error')).toHaveCount(0);
});
