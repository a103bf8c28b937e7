import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import type { SupportedDtype } from '../src/engine/safetensors/dtypes.ts';
import { decode, referenceMerge } from '../test-support/merge-reference.ts';
import { readModelFolder, refConfigOf } from '../test-support/read-safetensors.ts';
import { referenceForward } from '../test-support/reference-forward.ts';
import { FIXTURES } from './helpers.ts';

/**
 * The browser path end to end on Chromium's WebGPU (SwiftShader): θ(α) merged into GPU buffers,
 * fed to onnxruntime-web's WebGPU EP as weight inputs; a new α re-merges on the GPU and the same
 * sessions run again. Logits against the float64 reference of the same merge; greedy tokens equal.
 */
const PROMPTS = [[283, 10, 20, 30, 284], [7, 8], [100, 101, 102, 103, 104, 105, 106]];
const CONFIG = refConfigOf(join(FIXTURES, 'models', 'tiny-qwen2-target'));

function mergedWeights(alpha: number) {
  const [S, R, T] = ['sft', 'rl', 'target'].map((n) => readModelFolder(join(FIXTURES, 'models', `tiny-qwen2-${n}`)));
  const d = (t: { bytes: Uint8Array; dtype: string }) => decode(t.bytes, t.dtype as SupportedDtype);
  const out = new Map<string, Float64Array>();
  for (const [name, t] of T) {
    const bits = referenceMerge(d(t), d(S.get(name)!), d(R.get(name)!), alpha, 'F32');
    out.set(name, Float64Array.from(new Float32Array(bits.buffer, bits.byteOffset, bits.byteLength / 4)));
  }
  return out;
}

test('WebGPU EP on merged GPU buffers: logits match the reference for each α without rebuilding sessions; greedy tokens equal', async ({ page }) => {
  page.on('console', (m) => m.type() === 'error' && console.log(`[page] ${m.text()}`));
  await page.goto('/e2e/harness/model-run.html');
  await expect(page.locator('#status')).toHaveText('ready');
  const alphas = [1, -1, 2];
  const res = (await page.evaluate(
    (o) => (window as unknown as { runModelCheck: (o: unknown) => Promise<unknown> }).runModelCheck(o),
    { alphas, prompts: PROMPTS, newTokens: 4 },
  )) as { results: { alpha: number; dims: number[]; logits: number[]; generated: number[][]; ms: number }[]; errors: string[] };
  expect(res.errors).toEqual([]);
  const S = Math.max(...PROMPTS.map((p) => p.length));
  const V = CONFIG.vocabSize;
  const perAlpha: number[][] = [];
  for (const r of res.results) {
    const w = mergedWeights(r.alpha);
    expect(r.dims).toEqual([PROMPTS.length, S, V]);
    let max = 0;
    PROMPTS.forEach((ids, b) => {
      const want = referenceForward(CONFIG, w, ids);
      const off = (b * S + (S - ids.length)) * V;
      want.forEach((row, t) => row.forEach((v, i) => (max = Math.max(max, Math.abs(r.logits[off + t * V + i] - v)))));
      // Greedy continuation with the reference, token by token.
      const seq = [...ids];
      for (let k = 0; k < 4; k++) {
        const last = referenceForward(CONFIG, w, seq).at(-1)!;
        seq.push(last.indexOf(Math.max(...last)));
      }
      expect(r.generated[b], `α=${r.alpha} row ${b}`).toEqual(seq.slice(ids.length));
    });
    expect(max, `α=${r.alpha}`).toBeLessThan(1e-5);
    perAlpha.push(r.logits.slice(0, V));
    console.log(`[e2e] α=${r.alpha}: re-merge + forward + 4-token batch generation in ${r.ms.toFixed(0)} ms, max |Δlogit| ${max.toExponential(1)}`);
  }
  // Different α, different model: the sessions really read the re-merged buffers.
  expect(perAlpha[0]).not.toEqual(perAlpha[1]);
});
