import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { readModelFolder, refConfigOf } from '../test-support/read-safetensors.ts';
import { referenceForward } from '../test-support/reference-forward.ts';
import { decode } from '../test-support/merge-reference.ts';
import type { SupportedDtype } from '../src/engine/safetensors/dtypes.ts';
import { FIXTURES } from './helpers.ts';

/**
 * Decode on onnxruntime-web's WebGPU EP (Chromium, SwiftShader): the KV cache stays on the GPU
 * between steps (present.* come back as gpu-buffer tensors and go straight back in as past.*),
 * only the last position's logits come to the CPU, and every GPU tensor a run produced is
 * disposed when replaced (none alive after a generation). And the fused contrib-op graph
 * (fused-ops.ts) equals the standard graph on WebGPU: left-padded prefill and cached decode steps.
 */
const PROMPTS = [[283, 10, 20, 30, 284], [7, 8], [100, 101, 102, 103, 104, 105, 106]];
const NEW = 5;
const CONFIG = refConfigOf(join(FIXTURES, 'models', 'tiny-qwen2-target'));

interface Trace { past: string[]; present: string[]; presentIn: string[]; pastOut: string[]; logits?: string; live: number; pastCount: number }
interface KvResult {
  fused: boolean;
  traces: Trace[];
  liveAfterFirst: number;
  liveAfterSecond: number;
  llTraces: Trace[];
  liveAfterLoglikelihood: number;
  liveAfterAll: number;
  generated: number[][];
  generatedAgain: number[][];
  dims: number[];
  logits: number[];
  loglikelihood: number[];
}

test('WebGPU decode: the KV cache stays on the GPU between steps, only logits reach the CPU, no GPU tensor outlives its step (standard and fused graphs)', async ({ page }) => {
  // Two graphs × (last, all, gather) sessions: WGSL compilation under SwiftShader dominates.
  test.setTimeout(240_000);
  page.on('console', (m) => m.type() === 'error' && console.log(`[page] ${m.text()}`));
  await page.goto('/e2e/harness/kv-cache.html');
  await expect(page.locator('#status')).toHaveText('ready');
  const res = (await page.evaluate((o) => (window as unknown as { runKvCacheCheck: (o: unknown) => Promise<unknown> }).runKvCacheCheck(o), { prompts: PROMPTS, newTokens: NEW })) as {
    results: KvResult[];
    errors: string[];
    layers: number;
  };
  expect(res.errors).toEqual([]);
  const L = res.layers;
  const weights = new Map<string, Float64Array>();
  for (const [name, t] of readModelFolder(join(FIXTURES, 'models', 'tiny-qwen2-target'))) weights.set(name, Float64Array.from(decode(t.bytes, t.dtype as SupportedDtype)));
  for (const r of res.results) {
    const tag = r.fused ? 'fused' : 'standard';
    // Two generations of NEW tokens: a prefill and NEW − 1 cached steps each.
    expect(r.traces.length, tag).toBe(2 * NEW);
    r.traces.forEach((t, i) => {
      const step = i % NEW;
      expect(t.pastCount, `${tag} run ${i}`).toBe(2 * L);
      // The prefill's empty pasts are host tensors; every later step's pasts are the last step's GPU presents.
      expect(t.past, `${tag} run ${i} past`).toEqual([step === 0 ? 'cpu' : 'gpu-buffer']);
      expect(t.present, `${tag} run ${i} present`).toEqual(['gpu-buffer']);
      expect(t.logits, `${tag} run ${i} logits`).toBe('cpu');
      // Alive when the run returns: its own presents, plus the previous step's until they are replaced.
      expect(t.live, `${tag} run ${i} live GPU tensors`).toBe(step === 0 ? 2 * L : 4 * L);
    });
    expect([r.liveAfterFirst, r.liveAfterSecond, r.liveAfterLoglikelihood, r.liveAfterAll], tag).toEqual([0, 0, 0, 0]);
    // Log-likelihood: contexts (cache out on the GPU) → the cache's rows repeated per continuation
    // on the GPU (cache-gather.ts) → continuations reading it as their past; only logits come back.
    expect(r.llTraces.map((t) => [t.presentIn, t.pastOut, t.past, t.present, t.logits ?? 'none']), tag).toEqual([
      [[], [], ['cpu'], ['gpu-buffer'], 'cpu'],
      [['gpu-buffer'], ['gpu-buffer'], [], [], 'none'],
      [[], [], ['gpu-buffer'], ['gpu-buffer'], 'cpu'],
    ]);
    // The tokens are the reference's greedy continuation (so the GPU-resident cache is the right one).
    PROMPTS.forEach((ids, b) => {
      const seq = [...ids];
      for (let k = 0; k < NEW; k++) {
        const last = referenceForward(CONFIG, weights, seq).at(-1)!;
        seq.push(last.indexOf(Math.max(...last)));
      }
      expect(r.generated[b], `${tag} row ${b}`).toEqual(seq.slice(ids.length));
    });
    expect(r.generatedAgain, tag).toEqual(r.generated);
    // Forward logits of the left-padded batch against the float64 reference.
    const S = Math.max(...PROMPTS.map((p) => p.length));
    const V = CONFIG.vocabSize;
    let max = 0;
    PROMPTS.forEach((ids, b) => {
      const off = (b * S + (S - ids.length)) * V;
      referenceForward(CONFIG, weights, ids).forEach((row, t) => row.forEach((v, i) => (max = Math.max(max, Math.abs(r.logits[off + t * V + i] - v)))));
    });
    expect(max, tag).toBeLessThan(1e-5);
    console.log(`[e2e] ${tag}: ${r.traces.length} runs, live GPU tensors per run ${r.traces.map((t) => t.live).join(',')}, after 0; max |Δlogit| vs reference ${max.toExponential(1)}`);
  }
  // Log-likelihoods agree between the two graphs and with the float64 reference (Σ log-softmax over the continuation).
  const want = [
    [[283, 10, 20], [30, 284]],
    [[283, 10, 20], [31, 285]],
    [[7], [8, 9, 10]],
  ].map(([ctx, cont]) => {
    const rows = referenceForward(CONFIG, weights, [...ctx, ...cont]);
    return cont.reduce((sum, tok, j) => {
      const row = rows[ctx.length - 1 + j];
      const max = Math.max(...row);
      return sum + row[tok] - max - Math.log(row.reduce((a, v) => a + Math.exp(v - max), 0));
    }, 0);
  });
  res.results.forEach((r) => r.loglikelihood.forEach((v, i) => expect(Math.abs(v - want[i]), `${r.fused ? 'fused' : 'standard'} request ${i}`).toBeLessThan(1e-4)));
  res.results[1].loglikelihood.forEach((v, i) => expect(Math.abs(v - res.results[0].loglikelihood[i])).toBeLessThan(1e-4));
});

test('WebGPU: the fused graph (SkipSimplifiedLayerNormalization, RotaryEmbedding, GroupQueryAttention) equals the standard graph on Qwen2/Qwen3/Llama/Mistral layouts through prefill and cached decode', async ({ page }) => {
  test.setTimeout(180_000);
  page.on('console', (m) => (m.type() === 'error' || m.text().startsWith('[kv-cache]')) && console.log(`[page] ${m.text()}`));
  await page.goto('/e2e/harness/kv-cache.html');
  await expect(page.locator('#status')).toHaveText('ready');
  const prompts = [[5, 9, 2, 6, 5, 3, 5], [8, 9], [7, 9, 3, 2, 3]];
  const steps = 4;
  const res = (await page.evaluate((o) => (window as unknown as { runFusedCheck: (o: unknown) => Promise<unknown> }).runFusedCheck(o), { prompts, steps })) as {
    results: { kind: string; steps: { logits: number; presents: number; finite: boolean; dims: number[][]; tokens: number[][] }[] }[];
    errors: string[];
    live: number;
    adapter: string;
  };
  expect(res.errors).toEqual([]);
  expect(res.results.map((r) => r.kind)).toEqual(['qwen2', 'qwen3', 'llama', 'mistral']);
  for (const r of res.results) {
    expect(r.steps.length).toBe(steps + 1);
    r.steps.forEach((s, i) => {
      expect(s.dims[1], `${r.kind} step ${i} present dims`).toEqual(s.dims[0]);
      expect(s.dims[0][2], `${r.kind} step ${i} cache length`).toBe(7 + i);
      expect(s.logits, `${r.kind} step ${i} logits`).toBeLessThan(1e-5);
      expect(s.presents, `${r.kind} step ${i} cache`).toBeLessThan(1e-5);
      expect(s.finite, `${r.kind} step ${i} finite cache`).toBe(true);
      expect(s.tokens[1], `${r.kind} step ${i} greedy tokens`).toEqual(s.tokens[0]);
    });
    console.log(`[e2e] fused ${r.kind} on ${res.adapter}: worst relative |Δlogit| ${Math.max(...r.steps.map((s) => s.logits)).toExponential(1)}, cache ${Math.max(...r.steps.map((s) => s.presents)).toExponential(1)}`);
  }
  expect(res.live).toBe(0);
});
