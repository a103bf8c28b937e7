import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import type { SupportedDtype } from '../src/engine/safetensors/dtypes.ts';
import { decode, referenceMerge } from '../test-support/merge-reference.ts';
import { readModelFolder, refConfigOf } from '../test-support/read-safetensors.ts';
import { referenceForward } from '../test-support/reference-forward.ts';
import { FIXTURES, loadHubId, MOCK_HUB, useMockHub } from './helpers.ts';

/**
 * A target without tokenizer files (fixtures/models/tiny-qwen2-notok-target: tiny-qwen2-target's
 * weights and config, no tokenizer.json): the page says so when the slot loads, and the playground
 * takes the prompt as token ids — checked before any weight is read — and answers with the ids the
 * float64 reference generates.
 */
const model = (n: string) => join(FIXTURES, 'models', n);
const CONFIG = refConfigOf(model('tiny-qwen2-notok-target'));

function expectedIds(prompt: number[], alpha: number, maxNew: number): number[] {
  const [S, R, T] = ['tiny-qwen2-sft', 'tiny-qwen2-rl', 'tiny-qwen2-notok-target'].map((n) => readModelFolder(model(n)));
  const d = (t: { bytes: Uint8Array; dtype: string }) => decode(t.bytes, t.dtype as SupportedDtype);
  const w = new Map<string, Float64Array>();
  for (const [name, t] of T) {
    const bits = referenceMerge(d(t), d(S.get(name)!), d(R.get(name)!), alpha, 'F32');
    w.set(name, Float64Array.from(new Float32Array(bits.buffer, bits.byteOffset, bits.byteLength / 4)));
  }
  const seq = [...prompt];
  for (let k = 0; k < maxNew; k++) {
    const last = referenceForward(CONFIG, w, seq).at(-1)!;
    seq.push(last.indexOf(Math.max(...last)));
  }
  return seq.slice(prompt.length);
}

type Logged = { url: string; range?: string };
const weightReads = async () => ((await (await fetch(`${MOCK_HUB}/__mock/requests`)).json()) as Logged[]).filter((r) => r.url.includes('tiny-qwen2') && r.url.includes('.safetensors'));

test('no tokenizer.json: said when the target loads; the playground takes token ids, refuses a typo before reading weights, and generates the reference ids', async ({ page }) => {
  await fetch(`${MOCK_HUB}/__mock/requests`, { method: 'DELETE' });
  await page.goto('/');
  await useMockHub(page);
  await loadHubId(page, 'sft', 'studio-fixtures/tiny-qwen2-sft');
  await loadHubId(page, 'rl', 'studio-fixtures/tiny-qwen2-rl');
  await loadHubId(page, 'target', 'studio-fixtures/tiny-qwen2-notok-target');
  await expect(page.getByTestId('slot-target').getByTestId('slot-no-tokenizer')).toContainText('No tokenizer.json in this target');
  // The donors have tokenizers: only the target's matters.
  await expect(page.getByTestId('slot-sft').getByTestId('slot-no-tokenizer')).toHaveCount(0);

  const pg = page.getByTestId('playground');
  await expect(pg.getByTestId('playground-ids-note')).toContainText('The target has no tokenizer.json');
  await expect(pg.getByLabel('prompt', { exact: true })).toHaveCount(0);
  await expect(pg.getByText('chat template')).toHaveCount(0);

  // A typo is refused at once: no model is built, no tensor data is read (only headers so far).
  await pg.getByLabel('prompt token ids').fill('283, 1o, 20');
  await pg.getByRole('button', { name: 'Generate' }).click();
  await expect(page.getByTestId('playground-error')).toHaveText('Token ids must be whole numbers separated by commas or spaces, like 283, 10, 20; "1o" is not one.');
  await pg.getByLabel('prompt token ids').fill('283 10 400');
  await pg.getByRole('button', { name: 'Generate' }).click();
  await expect(page.getByTestId('playground-error')).toHaveText("Token id 400 is outside the target's vocabulary (0 … 287).");
  const reads = await weightReads();
  expect(reads.length).toBeGreaterThan(0);
  for (const r of reads) {
    const [a, b] = r.range!.replace('bytes=', '').split('-').map(Number);
    expect(b - a + 1, r.url).toBeLessThanOrEqual(4096);
  }

  const prompt = [283, 10, 20, 30];
  await pg.getByLabel('prompt token ids').fill(prompt.join(', '));
  await pg.getByLabel('max new tokens').fill('3');
  await pg.getByRole('button', { name: 'Generate' }).click();
  const out = page.getByTestId('playground-output');
  await expect(out).toHaveAttribute('data-alpha', '1', { timeout: 60_000 });
  const want = expectedIds(prompt, 1, 3);
  expect((await out.getAttribute('data-ids'))!.split(',').map(Number)).toEqual(want);
  // No tokenizer, no text: the answer is shown as ids.
  await expect(out.locator('pre')).toHaveText(want.join(' '));
  await expect(page.getByTestId('playground-error')).toHaveCount(0);
});
