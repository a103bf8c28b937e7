import { expect, test, type Page } from '@playwright/test';
import { LOGIT_CHANGE_RELATIVE } from '../src/engine/model/memory-plan.ts';

/**
 * Real model sizes on the page's GPU path (Chromium WebGPU on SwiftShader here):
 * - weights larger than one GPU buffer may be are held as row blocks: the resident merge writes
 *   the blocks bit-identical to the unsplit merge, and the split graph gives the unsplit logits;
 * - a Qwen2.5-0.5B-shaped trio (real vocabulary × hidden = the 519 MiB f32 embedding, real layer
 *   sizes, 2 of its 24 layers) runs on a device with only WebGPU's default limits;
 * - the memory plan's 16-bit choices stay within their stated error of the exact f32 merge.
 */
test.beforeEach(async ({ page }) => {
  page.on('console', (m) => m.type() === 'error' && console.log(`[page] ${m.text()}`));
  await page.goto('/e2e/harness/real-size.html');
  await expect(page.locator('#status')).toHaveText('ready');
});

const call = <T>(page: Page, fn: string, o: object) => page.evaluate(([f, a]) => (window as unknown as Record<string, (o: unknown) => Promise<unknown>>)[f as string](a), [fn, o] as const) as Promise<T>;

type BlockMerge = { strategy: string; wholeSplit: number; split: { name: string; blocks: number }[]; largestBufferBytes: number; buffers: number; results: { alpha: number; mismatchedBytes: number }[]; errors: string[] };

for (const [budgetBytes, strategy] of [
  [1 << 30, 'resident'],
  [60_000, 'streaming'],
] as const) {
  for (const outDtype of ['F32', 'F16'] as const) {
    test(`${strategy}, θ(α) in ${outDtype}: blocks of at most 5000 bytes hold the unsplit resident merge's bits for α ∈ {0.5, −1, 2}`, async ({ page }) => {
      const res = await call<BlockMerge>(page, 'runBlockMerge', { maxBufferBytes: 5000, budgetBytes, outDtype, alphas: [0.5, -1, 2] });
      expect(res.errors).toEqual([]);
      expect(res.strategy).toBe(strategy);
      expect(res.wholeSplit).toBe(0);
      // tiny-qwen2: the tied 288 × 16 embedding (18 KiB in f32) and, at f32, every 32 × 16 MLP matrix need blocks.
      const embed = res.split.find((s) => s.name === 'model.embed_tokens.weight')!;
      expect(embed.blocks).toBe(outDtype === 'F32' ? 4 : strategy === 'resident' ? 4 : 2);
      expect(res.largestBufferBytes).toBeLessThanOrEqual(5000);
      for (const r of res.results) expect(r.mismatchedBytes, `α=${r.alpha}`).toBe(0);
    });
  }
}

test('the page model (LiveModel) with every linear weight in row blocks: the unsplit model\'s logits within 1e-5 and its greedy tokens, both as the float64 reference', async ({ page }) => {
  const prompts = [[283, 3, 11, 4, 284], [7, 8], [100, 101, 102, 103, 104, 105, 106]];
  type Split = {
    split: { name: string; blocks: number }[];
    wholeSplit: number;
    inputs: number;
    tensors: number;
    results: { alpha: number; maxDiff: number; refDiff: number; scale: number; tokens: number[][]; wholeTokens: number[][]; reference: number[][] }[];
    errors: string[];
  };
  const res = await call<Split>(page, 'runSplitGraph', { maxBufferBytes: 40_000, alphas: [1, -1, 0.5], prompts, newTokens: 3 });
  expect(res.errors).toEqual([]);
  const names = res.split.map((s) => s.name);
  // demo-arith (hidden 128, untied): embedding, head, q/o projections and the MLP all split.
  for (const n of ['model.embed_tokens.weight', 'lm_head.weight', 'model.layers.1.self_attn.q_proj.weight', 'model.layers.1.self_attn.o_proj.weight', 'model.layers.0.mlp.gate_proj.weight', 'model.layers.0.mlp.down_proj.weight']) {
    expect(names).toContain(n);
  }
  expect(res.wholeSplit).toBe(0);
  expect(res.inputs).toBeGreaterThan(res.tensors);
  for (const r of res.results) {
    expect(r.maxDiff, `α=${r.alpha}`).toBeLessThan(1e-5);
    expect(r.tokens, `α=${r.alpha}`).toEqual(r.wholeTokens);
    // f32 against float64 (logits up to ~80 here).
    expect(r.refDiff / r.scale, `α=${r.alpha}`).toBeLessThan(1e-4);
    expect(r.tokens, `α=${r.alpha}`).toEqual(r.reference);
  }
  console.log(`[e2e] split graph: ${res.split.length} weights in blocks, ${res.inputs} weight inputs for ${res.tensors} tensors; max |Δlogit| vs unsplit ${res.results.map((r) => r.maxDiff.toExponential(1)).join(', ')}; vs float64 ${res.results.map((r) => `${r.refDiff.toExponential(1)} of ${r.scale.toFixed(0)}`).join(', ')}`);
});

type Precision = { residency: { vectorDtype: string; outDtype: string }; results: { alpha: number; maxErr: number; worstRatio: number; maxAbsV: number; logitChange: number | null; logitScale: number }[] };

// The demo trio's v is large (a ridge-fitted head, max |v| 9.8): the hardest case for 16-bit v.
// θ(α) in f16 is checked as stored; its f16 compute needs shader-f16, which SwiftShader lacks.
for (const [vectorDtype, outDtype] of [
  ['F16', 'F32'],
  ['BF16', 'F32'],
  ['F32', 'F16'],
  ['F16', 'F16'],
] as const) {
  const logitBound = outDtype === 'F32' ? LOGIT_CHANGE_RELATIVE[vectorDtype] : null;
  test(`v in ${vectorDtype}, θ(α) in ${outDtype}: θ(α) within the plan's stated bound of the exact f32 merge${logitBound ? `, logits within ${logitBound} of the largest` : ''}`, async ({ page }) => {
    const res = await call<Precision>(page, 'runPrecision', { vectorDtype, outDtype, alphas: [1, -1, 2], prompts: [[283, 3, 11, 4, 284], [5, 6, 7, 8]] });
    expect(res.residency).toMatchObject({ vectorDtype, outDtype });
    for (const r of res.results) {
      // Every tensor within its bound (ratio ≤ 1), and the 16-bit choice does change something.
      expect(r.worstRatio, `α=${r.alpha}`).toBeLessThanOrEqual(1);
      expect(r.maxErr, `α=${r.alpha}`).toBeGreaterThan(0);
      if (logitBound !== null) expect(r.logitChange! / r.logitScale, `α=${r.alpha}`).toBeLessThan(logitBound);
    }
    console.log(
      `[e2e] v ${vectorDtype}, θ ${outDtype}: ${res.results.map((r) => `α=${r.alpha} max|Δθ| ${r.maxErr.toExponential(2)} (${(r.worstRatio * 100).toFixed(0)}% of bound, max|v| ${r.maxAbsV.toExponential(1)})${r.logitChange !== null ? ` max|Δlogit| ${r.logitChange.toExponential(2)} of ${r.logitScale.toFixed(1)}` : ''}`).join('; ')}`,
    );
  });
}

test('a Qwen2.5-0.5B-shaped trio on a device with only WebGPU\'s default limits: the embedding in 5 blocks, θ(α) bit-exact, logits and greedy tokens as the float64 reference', async ({ page }) => {
  test.setTimeout(15 * 60_000);
  type Real = {
    limits: { maxBufferSize: number; maxStorageBufferBindingSize: number };
    parameters: number;
    residency: { strategy: string; vectorDtype: string; bytes: number; largestBufferBytes: number; split: { name: string; blocks: number }[] };
    ms: { make: number; fill: number; sessions: number };
    results: { alpha: number; alphaMs: number; mismatched: number; generateMs?: number; generated?: number[]; reference?: number[]; maxDiff?: number; scale?: number }[];
    errors: string[];
  };
  const res = await call<Real>(page, 'runRealSize', { layers: 2, prompt: [9707, 11, 1879, 0], alphas: [1, -0.5], newTokens: 2, budgetBytes: 4 * 1024 ** 3 });
  expect(res.errors).toEqual([]);
  expect(res.limits).toEqual({ maxBufferSize: 256 * 1024 ** 2, maxStorageBufferBindingSize: 128 * 1024 ** 2 });
  expect(res.parameters).toBe(151936 * 896 + 2 * 14_912_384 + 896);
  expect(res.residency).toMatchObject({ strategy: 'resident', vectorDtype: 'F32', split: [{ name: 'model.embed_tokens.weight', blocks: 5 }] });
  expect(res.residency.largestBufferBytes).toBeLessThanOrEqual(128 * 1024 ** 2);
  for (const r of res.results) expect(r.mismatched, `α=${r.alpha}`).toBe(0);
  // The graph at the first α: f32 on the GPU against float64, dot products of 896 and 4864 terms
  // (the fixtures, 16 wide, stay within 1e-5 absolute).
  const [first] = res.results;
  expect(first.maxDiff! / first.scale!).toBeLessThan(2e-4);
  expect(first.generated).toHaveLength(2);
  expect(first.generated).toEqual(first.reference);
  console.log(
    `[e2e] 0.5B-shaped (${(res.parameters / 1e6).toFixed(0)}M parameters, 2 layers) on default limits: ${(res.residency.bytes / 1024 ** 3).toFixed(2)} GiB resident; make ${res.ms.make.toFixed(0)} ms, fill ${res.ms.fill.toFixed(0)} ms, sessions ${res.ms.sessions.toFixed(0)} ms; ` +
      res.results.map((r) => `α=${r.alpha}: α change ${r.alphaMs.toFixed(0)} ms${r.generated ? `, ${r.generated.length} tokens ${r.generateMs!.toFixed(0)} ms, max|Δlogit| ${r.maxDiff!.toExponential(1)} of ${r.scale!.toFixed(2)}` : ''}`).join('; '),
  );
});
