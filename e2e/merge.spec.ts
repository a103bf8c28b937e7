import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import type { SupportedDtype } from '../src/engine/safetensors/dtypes.ts';
import { decode, referenceMerge, referenceStats } from '../test-support/merge-reference.ts';
import { readModelFolder, type RawTensor } from '../test-support/read-safetensors.ts';
import { dropFolder, FIXTURES } from './helpers.ts';

/**
 * The page's merge panel on Chromium's WebGPU (SwiftShader): vector statistics with the heatmap,
 * and saving the merged model and the vector to a folder — checked bit for bit against the
 * test-suite reference computed here from the fixture files.
 */
const models = (name: string) => join(FIXTURES, 'models', name);
const fixture = (name: string) => readModelFolder(models(name));
/** The embedded demo trio "Load the demo trio" loads. */
const demo = (role: 'sft' | 'rl' | 'target') => fixture(`demo-arith-${role}`);
const d = (t: RawTensor) => decode(t.bytes, t.dtype as SupportedDtype);

async function loadDemo(page: Page) {
  await page.goto('/');
  await page.getByRole('button', { name: 'Load the demo trio' }).click();
  await expect(page.getByTestId('merge-panel')).toBeVisible();
}

/** Stand-in for the folder picker (headless Chromium cannot show one): the origin-private file system. */
async function pickOpfsFolders(page: Page) {
  await page.addInitScript(() => {
    (window as unknown as { showDirectoryPicker: () => Promise<FileSystemDirectoryHandle> }).showDirectoryPicker = () => navigator.storage.getDirectory();
  });
}

/** A folder's files in OPFS, as arrays of bytes. */
async function readOpfsFolder(page: Page, name: string): Promise<Record<string, number[]>> {
  return page.evaluate(async (name) => {
    const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle(name);
    const out: Record<string, number[]> = {};
    for await (const [file, handle] of (dir as unknown as { entries(): AsyncIterable<[string, FileSystemFileHandle]> }).entries()) {
      out[file] = [...new Uint8Array(await (await handle.getFile()).arrayBuffer())];
    }
    return out;
  }, name);
}

/** Tensors of a safetensors file given as bytes (no shared code with the engine). */
function tensorsOf(bytes: number[]): Map<string, RawTensor> {
  const buf = Buffer.from(bytes);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  const out = new Map<string, RawTensor>();
  for (const [name, e] of Object.entries<{ dtype: string; shape: number[]; data_offsets: [number, number] }>(header)) {
    if (name !== '__metadata__') out.set(name, { dtype: e.dtype, shape: e.shape, bytes: new Uint8Array(buf.subarray(8 + n + e.data_offsets[0], 8 + n + e.data_offsets[1])) });
  }
  return out;
}

test('vector statistics on the GPU: a layer × module heatmap whose values match the float64 reference', async ({ page }) => {
  // The tiny fixture trio (every tensor moved by the fine-tune), dropped like a user would.
  await page.goto('/');
  await dropFolder(page, page.getByTestId('slot-sft'), models('tiny-qwen2-sft'));
  await dropFolder(page, page.getByTestId('slot-rl'), models('tiny-qwen2-rl'));
  await dropFolder(page, page.getByTestId('slot-target'), models('tiny-qwen2-target'));
  await expect(page.getByTestId('merge-panel')).toBeVisible();
  await page.getByRole('button', { name: 'Vector statistics' }).click();
  const job = page.getByTestId('merge-job');
  await expect(job).toHaveAttribute('data-status', 'done');
  await expect(job).toContainText('GPU (WGSL)');
  const heat = page.getByTestId('vector-heatmap');
  await expect(heat).toBeVisible();
  await expect(heat.locator('tbody tr')).toHaveCount(4); // 2 layers + 2 "other" rows (embed_tokens, norm)
  const [S, R, T] = ['sft', 'rl', 'target'].map((n) => fixture(`tiny-qwen2-${n}`));
  for (const [layer, module, name] of [
    [0, 'q_proj', 'model.layers.0.self_attn.q_proj.weight'],
    [1, 'down_proj', 'model.layers.1.mlp.down_proj.weight'],
    [1, 'k_proj.bias', 'model.layers.1.self_attn.k_proj.bias'],
  ] as const) {
    const ref = referenceStats(d(T.get(name)!), d(S.get(name)!), d(R.get(name)!));
    const cell = heat.getByTestId(`cell-${layer}-${module}`);
    const ratio = Number(await cell.getAttribute('data-value'));
    expect(ratio, name).toBeCloseTo(Math.sqrt(ref.sumV2 / ref.sumT2), 5);
    await heat.getByLabel('heatmap metric').selectOption('cosine');
    const cos = Number(await cell.getAttribute('data-value'));
    expect(cos, name).toBeCloseTo(ref.sumVD / Math.sqrt(ref.sumV2 * ref.sumD2), 5);
    await heat.getByLabel('heatmap metric').selectOption('ratio');
  }
});

test('save merged model: streamed into the picked folder, every tensor bit-exact, config + tokenizer + mergekit recipe, no partial files', async ({ page }) => {
  await pickOpfsFolders(page);
  await loadDemo(page);
  await page.getByLabel('alpha', { exact: true }).fill('0.5');
  await page.getByRole('button', { name: 'Save merged model…' }).click();
  const job = page.getByTestId('merge-job');
  await expect(job).toHaveAttribute('data-status', 'done');
  await expect(page.getByTestId('merge-message')).toContainText('Saved the merged model (α = 0.5) to "merged-alpha-0p5"');
  const files = await readOpfsFolder(page, 'merged-alpha-0p5');
  expect(Object.keys(files).sort()).toEqual(['config.json', 'generation_config.json', 'mergekit_config.yml', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
  const [S, R, T] = (['sft', 'rl', 'target'] as const).map(demo);
  const merged = tensorsOf(files['model.safetensors']);
  expect(merged.size).toBe(T.size);
  for (const [name, t] of T) {
    const want = referenceMerge(d(t), d(S.get(name)!), d(R.get(name)!), 0.5, 'BF16');
    expect(Buffer.from(merged.get(name)!.bytes).equals(Buffer.from(want)), name).toBe(true);
  }
  expect(Buffer.from(files['config.json']).equals(readFileSync(join(models('demo-arith-target'), 'config.json')))).toBe(true);
  const recipe = Buffer.from(files['mergekit_config.yml']).toString('utf8');
  expect(recipe).toContain('merge_method: linear');
  expect(recipe).toMatch(/weight: -0\.5[\s\S]*weight: 0\.5/);

  // A second save into the same place is refused rather than overwriting.
  await page.getByRole('button', { name: 'Save merged model…' }).click();
  await expect(page.getByTestId('merge-error')).toContainText('already exists');
  expect(Object.keys(await readOpfsFolder(page, 'merged-alpha-0p5')).length).toBe(6);
});

test('without a folder picker: saved to the origin-private file system and offered as download links; the vector as F32', async ({ page }) => {
  await page.addInitScript(() => {
    delete (window as unknown as { showDirectoryPicker?: unknown }).showDirectoryPicker;
  });
  await loadDemo(page);
  await page.getByRole('button', { name: 'Save vector…' }).click();
  await expect(page.getByTestId('merge-job')).toHaveAttribute('data-status', 'done');
  await page.getByText('Files one by one').click(); // the per-file links sit under "Download all (.zip)"
  const links = page.getByTestId('merge-files').getByRole('link');
  await expect(links).toHaveText(['model.safetensors', 'config.json', 'reasoning_vector.json']);
  const downloadPromise = page.waitForEvent('download');
  await links.first().click();
  const download = await downloadPromise;
  const path = await download.path();
  const vector = tensorsOf([...readFileSync(path)]);
  const [S, R] = (['sft', 'rl'] as const).map(demo);
  for (const [name, s] of S) {
    expect(vector.get(name)!.dtype).toBe('F32');
    expect(Buffer.from(vector.get(name)!.bytes).equals(Buffer.from(referenceMerge(undefined, d(s), d(R.get(name)!), 1, 'F32'))), name).toBe(true);
  }
});

test('a resized target vocabulary: the save is disabled naming the tensor, and works with the overlap policy', async ({ page }) => {
  await pickOpfsFolders(page);
  await page.goto('/');
  await dropFolder(page, page.getByTestId('slot-sft'), models('tiny-qwen2-sft'));
  await dropFolder(page, page.getByTestId('slot-rl'), models('tiny-qwen2-rl'));
  await dropFolder(page, page.getByTestId('slot-target'), models('tiny-qwen2-vocab320-target'));
  await expect(page.getByTestId('merge-panel')).toBeVisible();
  // The verdict refuses this trio under "refuse" (e2e/verdict.spec.ts covers the wording).
  await expect(page.getByRole('button', { name: 'Save merged model…' })).toBeDisabled();
  await expect(page.getByTestId('merge-blocked')).toContainText('"model.embed_tokens.weight" shapes differ: SFT [288, 16], RL [288, 16], target [320, 16]');
  await page.getByLabel('vocab policy').selectOption('overlap');
  await page.getByRole('button', { name: 'Save merged model…' }).click();
  await expect(page.getByTestId('merge-job')).toHaveAttribute('data-status', 'done');
  await expect(page.getByTestId('merge-job')).toContainText('vocab policy "overlap"');
  const merged = tensorsOf((await readOpfsFolder(page, 'merged-alpha-1'))['model.safetensors']);
  expect(merged.get('model.embed_tokens.weight')!.shape).toEqual([320, 16]);
});

test('without WebGPU the panel says so and merges with the CPU path: same bytes', async ({ page }) => {
  await page.addInitScript(() => Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined }));
  await pickOpfsFolders(page);
  await loadDemo(page);
  await expect(page.getByTestId('merge-panel')).toContainText('on the CPU: this browser gives no WebGPU device (same bits, slower)');
  await page.getByLabel('alpha', { exact: true }).fill('-0.75');
  await page.getByRole('button', { name: 'Save merged model…' }).click();
  await expect(page.getByTestId('merge-job')).toHaveAttribute('data-status', 'done');
  await expect(page.getByTestId('merge-job')).toContainText('CPU path');
  const merged = tensorsOf((await readOpfsFolder(page, 'merged-alpha-minus0p75'))['model.safetensors']);
  const [S, R, T] = (['sft', 'rl', 'target'] as const).map(demo);
  for (const [name, t] of T) {
    expect(Buffer.from(merged.get(name)!.bytes).equals(Buffer.from(referenceMerge(d(t), d(S.get(name)!), d(R.get(name)!), -0.75, 'BF16'))), name).toBe(true);
  }
});
