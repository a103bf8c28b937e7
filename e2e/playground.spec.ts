import { join } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import type { SupportedDtype } from '../src/engine/safetensors/dtypes.ts';
import { openCheckpoint } from '../src/engine/checkpoint/open-checkpoint.ts';
import { StudioTokenizer } from '../src/engine/model/tokenizer.ts';
import { localFolderSource } from '../src/engine/sources/local-folder-source.ts';
import { decode, referenceMerge } from '../test-support/merge-reference.ts';
import { readModelFolder } from '../test-support/read-safetensors.ts';
import { referenceForward } from '../test-support/reference-forward.ts';
import { FIXTURES } from './helpers.ts';

/**
 * What a user does: load the demo trio, type a prompt, Generate, then move α and watch the answer
 * change. The page's tokens are checked against greedy decoding with the float64 reference of the
 * same merge (prompt encoded with the checkpoint's tokenizer and chat template).
 */
const CONFIG = { hiddenSize: 16, intermediateSize: 32, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 4, vocabSize: 288, rmsNormEps: 1e-6, ropeTheta: 10000 };
const model = (n: string) => join(FIXTURES, 'models', n);

async function expectedIds(prompt: string, alpha: number, maxNew: number): Promise<number[]> {
  const tok = await StudioTokenizer.load(await openCheckpoint(await localFolderSource(model('tiny-qwen2-target'))));
  const ids = tok.encode(tok.applyChatTemplate([{ role: 'user', content: prompt }]));
  const [S, R, T] = ['sft', 'rl', 'target'].map((n) => readModelFolder(model(`tiny-qwen2-${n}`)));
  const d = (t: { bytes: Uint8Array; dtype: string }) => decode(t.bytes, t.dtype as SupportedDtype);
  const w = new Map<string, Float64Array>();
  for (const [name, t] of T) {
    const bits = referenceMerge(d(t), d(S.get(name)!), d(R.get(name)!), alpha, 'F32');
    w.set(name, Float64Array.from(new Float32Array(bits.buffer, bits.byteOffset, bits.byteLength / 4)));
  }
  const seq = [...ids];
  for (let k = 0; k < maxNew; k++) {
    const last = referenceForward(CONFIG, w, seq).at(-1)!;
    const next = last.indexOf(Math.max(...last));
    seq.push(next);
    if (tok.eosTokenIds.includes(next)) break;
  }
  return seq.slice(ids.length);
}

async function generateAt(page: Page, alpha: number | undefined) {
  if (alpha !== undefined) await page.getByLabel('alpha', { exact: true }).fill(String(alpha));
  const out = page.getByTestId('playground-output');
  if (alpha !== undefined) await expect(out).toHaveAttribute('data-alpha', String(alpha), { timeout: 30_000 });
  return (await out.getAttribute('data-ids'))!.split(',').filter(Boolean).map(Number);
}

test('playground on WebGPU: Generate, then move α; tokens equal the reference at each α and the session is reused', async ({ page }) => {
  await page.goto('/');
  await page.getByRole('button', { name: 'Load the demo trio' }).click();
  const pg = page.getByTestId('playground');
  await pg.getByLabel('prompt').fill('What is 3 + 4?');
  await pg.getByLabel('max new tokens').fill('6');
  await pg.getByRole('button', { name: 'Generate' }).click();
  await expect(page.getByTestId('playground-output')).toHaveAttribute('data-alpha', '1', { timeout: 30_000 });
  const atOne = await expectedIds('What is 3 + 4?', 1, 6);
  expect(await generateAt(page, undefined)).toEqual(atOne);
  console.log(`[e2e] α=1 → ${atOne.join(',')}`);
  await expect(page.getByTestId('playground-meta')).toContainText('on the GPU (buffers shared with onnxruntime, no copy)');
  for (const alpha of [-1, 40]) {
    const want = await expectedIds('What is 3 + 4?', alpha, 6);
    console.log(`[e2e] α=${alpha} → ${want.join(',')}`);
    expect(await generateAt(page, alpha), `α=${alpha}`).toEqual(want);
    await expect(page.getByTestId('playground-meta')).toContainText('session reused');
    await expect(page.getByTestId('playground-meta')).toContainText(/re-merged in [\d.]+ ms/);
  }
  // The random tiny demo answers alike near α = 1; at α = 40 the vector dominates and the answer changes.
  expect(await expectedIds('What is 3 + 4?', 40, 6)).not.toEqual(atOne);
});

test('playground without WebGPU: the WASM provider with a visible notice, same tokens', async ({ page }) => {
  await page.addInitScript(() => Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined }));
  await page.goto('/');
  await page.getByRole('button', { name: 'Load the demo trio' }).click();
  await page.getByTestId('playground').getByLabel('max new tokens').fill('4');
  await page.getByTestId('playground').getByRole('button', { name: 'Generate' }).click();
  await expect(page.getByTestId('playground-output')).toHaveAttribute('data-alpha', '1', { timeout: 30_000 });
  await expect(page.getByTestId('playground-notice')).toContainText('No WebGPU here');
  expect(await generateAt(page, undefined)).toEqual(await expectedIds('What is 3 + 4?', 1, 4));
  expect(await generateAt(page, -1)).toEqual(await expectedIds('What is 3 + 4?', -1, 4));
});
