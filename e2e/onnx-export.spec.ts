import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { expect, test } from '@playwright/test';
import { unzipSync } from 'fflate';

/**
 * "Export ONNX…" in the page (demo trio, α = 1, the WGSL merge on SwiftShader), saved to the
 * origin-private file system (no folder picker) and downloaded as one ZIP: the folder is
 * byte for byte what `studio export-onnx` writes for the same trio and α (the merge is bit-exact
 * between the GPU and CPU paths), apart from config.json's provenance (how each shell names the
 * sources); and transformers.js loads it and generates what `studio generate` does.
 */

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const DEMO = join(process.cwd(), 'public', 'demo');

let work: string;
test.beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'e2e-onnx-export-'));
});
test.afterAll(() => rmSync(work, { recursive: true, force: true }));

const studio = (...args: string[]) =>
  execFileSync(process.execPath, [join(process.cwd(), 'bin/studio.js'), ...args], { encoding: 'utf8', env: { ...process.env, STUDIO_CACHE_DIR: join(work, 'cache') } });

test('Export ONNX: the page writes the CLI export byte for byte, and transformers.js runs it greedily as the studio does', async ({ page }) => {
  test.setTimeout(120_000);
  await page.addInitScript(() => {
    const w = window as unknown as Record<string, unknown>;
    delete w.showDirectoryPicker;
    delete w.showSaveFilePicker;
  });
  await page.goto('/');
  await page.getByRole('button', { name: 'Load the demo trio' }).click();
  await page.getByRole('button', { name: 'Export ONNX…' }).click();
  const job = page.getByTestId('merge-job');
  await expect(job).toHaveAttribute('data-status', 'done', { timeout: 60_000 });
  await expect(job).toContainText('Exporting ONNX');
  await expect(job).toContainText('GPU (WGSL)'); // the page's merge kernel, not the CPU loop
  await expect(page.getByTestId('merge-message')).toContainText('Exported the merged model (α = 1, fp32) for transformers.js to "onnx-alpha-1": 6 files');

  const dl = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Download all (.zip)' }).click();
  const zip = unzipSync(readFileSync(await (await dl).path()));
  expect(Object.keys(zip).sort()).toEqual(['config.json', 'generation_config.json', 'onnx/model.onnx', 'onnx/model.onnx_data', 'tokenizer.json', 'tokenizer_config.json']);
  const pageDir = join(work, 'page');
  for (const [name, bytes] of Object.entries(zip)) {
    mkdirSync(dirname(join(pageDir, name)), { recursive: true });
    writeFileSync(join(pageDir, name), bytes);
  }

  const cliDir = join(work, 'cli');
  const trio = ['--sft', join(DEMO, 'demo-arith-sft'), '--rl', join(DEMO, 'demo-arith-rl'), '--target', join(DEMO, 'demo-arith-target'), '--alpha', '1', '--device', 'cpu'];
  studio('export-onnx', ...trio, '--out', cliDir);
  for (const name of Object.keys(zip).filter((n) => n !== 'config.json')) expect(sha(zip[name]), name).toBe(sha(readFileSync(join(cliDir, name))));
  const withoutProvenance = (b: Uint8Array) => {
    const c = JSON.parse(new TextDecoder().decode(b));
    expect(c.studio_export.alpha).toBe(1);
    delete c.studio_export;
    return c;
  };
  expect(withoutProvenance(zip['config.json'])).toEqual(withoutProvenance(readFileSync(join(cliDir, 'config.json'))));
  expect(readdirSync(join(pageDir, 'onnx')).sort()).toEqual(['model.onnx', 'model.onnx_data']);

  // transformers.js (Node, onnxruntime-node) on the page's folder, local files only.
  const { env, AutoModelForCausalLM, AutoTokenizer } = await import('@huggingface/transformers');
  env.allowRemoteModels = false;
  env.localModelPath = work;
  const tokenizer = await AutoTokenizer.from_pretrained('page', { local_files_only: true });
  const model = await AutoModelForCausalLM.from_pretrained('page', { local_files_only: true, device: 'cpu' });
  try {
    const enc = tokenizer('3+4=');
    const out = (await model.generate({ ...enc, max_new_tokens: 8, do_sample: false })) as unknown as { tolist(): bigint[][] };
    const theirs = out.tolist()[0].map(Number).slice(4);
    const ours = JSON.parse(studio('generate', ...trio, '--prompt', '3+4=', '--max-new-tokens', '8').trim().split('\n').at(-1)!);
    expect(theirs).toEqual(ours.ids);
    expect(ours.ids).toHaveLength(8);
  } finally {
    await model.dispose();
  }
});
