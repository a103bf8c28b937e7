import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, test, type Page } from '@playwright/test';

/**
 * The page's 4-bit weights mode (Chromium WebGPU, SwiftShader here): after each merge at α the
 * decoder layers' projections are quantised on the GPU (quantize-q4.wgsl) into MatMulNBits inputs
 * that onnxruntime-web's WebGPU session reads. Its logits equal the CLI's
 * `studio forward --weights q4` (onnxruntime-node, CPU quantiser) at the same α: the quantiser
 * bits are the same (e2e/quantize-q4.spec.ts), so only the matmul arithmetic differs.
 */
const ROOT = process.cwd();
// The files the page reads (/demo/…), so both sides merge the same bytes.
const FIXTURES = join(ROOT, 'public/demo');
const work = mkdtempSync(join(tmpdir(), 'studio-page-q4-'));
test.afterAll(() => rmSync(work, { recursive: true, force: true }));

const call = <T>(page: Page, fn: string, o: object) => page.evaluate(([f, a]) => (window as unknown as Record<string, (o: unknown) => Promise<unknown>>)[f as string](a), [fn, o] as const) as Promise<T>;

async function cliForward(prefix: string, alpha: number, ids: number[]): Promise<{ shape: number[]; data: number[] }> {
  const out = join(work, `${prefix}-${alpha}.json`);
  const trio = ['sft', 'rl', 'target'].flatMap((n) => [`--${n}`, join(FIXTURES, `${prefix}-${n}`)]);
  await promisify(execFile)(process.execPath, [join(ROOT, 'bin/studio.js'), 'forward', ...trio, '--alpha', String(alpha), '--ids', ids.join(','), '--out', out, '--weights', 'q4', '--device', 'cpu'], {
    cwd: ROOT,
    env: { ...process.env, HF_ENDPOINT: '', HF_TOKEN: '', STUDIO_CACHE_DIR: join(work, 'cache') },
    timeout: 120_000,
  });
  return JSON.parse(readFileSync(out, 'utf8'));
}

type PageQ4 = {
  weights: string;
  held: { bytes: number; buffers: number };
  compute: string;
  path: string;
  memory: { bytes: number; quantizedBytes: number; floatBytes: number; transientBytes: number; stagingBytes: number; floatModelBytes: number };
  results: { alpha: number; dims: number[]; logits: number[]; ms: number }[];
  errors: string[];
};

const maxAbsDiff = (a: number[], b: number[]) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
const maxAbs = (a: number[]) => a.reduce((m, x) => Math.max(m, Math.abs(x)), 0);

test.beforeEach(async ({ page }) => {
  page.on('console', (m) => m.type() === 'error' && console.log(`[page] ${m.text()}`));
  await page.goto('/e2e/harness/page-q4.html');
  await expect(page.locator('#status')).toHaveText('ready');
});

for (const [prefix, maxBufferBytes] of [
  ['tiny-qwen2', undefined],
  // the embedding (and head) held as row blocks, the projections still whole
  ['demo-arith', 140_000],
] as const) {
  test(`${prefix}${maxBufferBytes ? ' (float tensors in row blocks)' : ''}: the page's 4-bit model gives the CLI's --weights q4 logits at α = 1, then re-quantises for α = −0.5`, async ({ page }) => {
    test.setTimeout(300_000);
    const ids = [1, 5, 9, 2, 7, 3];
    const alphas = [1, -0.5];
    const res = await call<PageQ4>(page, 'runPageQ4', { prefix, alphas, ids, budgetBytes: 1 << 30, maxBufferBytes });
    expect(res.errors).toEqual([]);
    expect([res.weights, res.compute, res.path]).toEqual(['q4', 'float32', 'gpu-zero-copy']);
    expect(res.memory.bytes).toBe(res.memory.quantizedBytes + res.memory.floatBytes + res.memory.transientBytes + res.memory.stagingBytes);
    // What was allocated is what the plan counts, up to each buffer's rounding to whole 4-byte words.
    const planned = res.memory.quantizedBytes + res.memory.floatBytes + res.memory.transientBytes;
    expect(res.held.bytes - planned).toBeGreaterThanOrEqual(0);
    expect(res.held.bytes - planned).toBeLessThan(4 * res.held.buffers);
    const cli = await Promise.all(alphas.map((a) => cliForward(prefix, a, ids)));
    const page0 = res.results[0].logits;
    const page1 = res.results[1].logits;
    for (const [i, r] of res.results.entries()) {
      const want = cli[i];
      expect(r.dims).toEqual([1, ...want.shape]);
      const diff = maxAbsDiff(r.logits, want.data);
      const scale = maxAbs(want.data);
      console.log(`${prefix} α=${r.alpha}: page q4 vs CLI q4 max |Δlogit| ${diff.toExponential(2)} (max |logit| ${scale.toFixed(2)}, relative ${(diff / scale).toExponential(2)}); setAlpha ${r.ms.toFixed(0)} ms`);
      // Same 4-bit weights on both sides; float32 matmuls summed in different orders. The float
      // weights differ between page and CLI by as much on these trios (measured with the harness'
      // weights: 'float': 2.9e-7 tiny, 5.3e-5 demo relative): onnxruntime-web's WebGPU kernels
      // against onnxruntime-node's CPU ones on the demo trio's large logits, not the 4-bit path.
      expect(diff).toBeLessThanOrEqual(1e-4 * Math.max(1, scale));
    }
    // A new α re-quantised: the logits moved (by far more than the bound above).
    expect(maxAbsDiff(page0, page1)).toBeGreaterThan(100 * 1e-4 * Math.max(1, maxAbs(page0)));
  });
}

test("a Qwen2.5-0.5B-shaped trio (2 of 24 layers) in the 4-bit mode on WebGPU's default limits: 4-bit inputs bit for bit the CPU quantiser's at two α, logits as the float64 reference over the dequantised weights", async ({ page }) => {
  test.setTimeout(15 * 60_000);
  type Real = {
    limits: { maxBufferSize: number; maxStorageBufferBindingSize: number };
    embedBlocks: number;
    compute: string;
    memory: PageQ4['memory'];
    results: { alpha: number; ms: number; projections: number; mismatchedBytes: number; maxDiff?: number; scale?: number }[];
    errors: string[];
  };
  const res = await call<Real>(page, 'runRealSizeQ4', { layers: 2, prompt: [9707, 11, 1879, 0], alphas: [1, -0.5], budgetBytes: 2 * 1024 ** 3 });
  console.log(JSON.stringify({ ...res, results: res.results }));
  expect(res.errors).toEqual([]);
  expect(res.limits).toEqual({ maxBufferSize: 256 * 1024 ** 2, maxStorageBufferBindingSize: 128 * 1024 ** 2 });
  expect(res.compute).toBe('float32');
  // The 519 MiB f32 embedding (tied head) in 5 blocks of at most 128 MiB; 14 projections (2 layers × 7).
  expect(res.embedBlocks).toBe(5);
  expect(res.memory.transientBytes).toBe(4864 * 896 * 4);
  for (const r of res.results) {
    expect(r.projections, `α=${r.alpha}`).toBe(14);
    expect(r.mismatchedBytes, `α=${r.alpha}`).toBe(0);
  }
  // f32 on the GPU against float64, dot products of 896 and 4864 terms (as real-size.spec.ts's float run).
  const [first] = res.results;
  expect(first.maxDiff! / first.scale!).toBeLessThan(2e-4);
});
