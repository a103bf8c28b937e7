import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFixtureDir, type FixtureDir } from '../../../test-support/fixture-dir.ts';
import { decodeRun, fusedTestLayout, LAYOUTS, realPositions, relDiff } from '../../../test-support/fused-layouts.ts';
import { buildDecoderGraph, decoderSpec } from './decoder-graph.ts';
import { gqaApplies } from './fused-ops.ts';
import { DecoderModel } from './decoder-model.ts';
import { OrtRuntime, type Ort } from './ort-runtime.ts';
import { openCheckpoint } from '../checkpoint/open-checkpoint.ts';
import { localFolderSource } from '../sources/local-folder-source.ts';
import { checkpointWeightsF32 } from './weights.ts';

/**
 * The fused graph (com.microsoft SkipSimplifiedLayerNormalization, RotaryEmbedding,
 * GroupQueryAttention) against the standard-ops graph on onnxruntime-node's CPU provider:
 * logits and KV cache of a left-padded batch, through a prefill and several decode steps, on
 * each supported layout. The standard graph is itself checked against a float64 reference
 * (architectures.spec.ts), so equality here is equality with the reference.
 *
 * Tolerance: 1e-5 relative to the largest |logit| (f32). The two graphs compute the same
 * functions with different kernels (GQA scales q·k inside its GEMM, the norms accumulate in
 * their own order), so they agree to f32 rounding, not bit for bit.
 */
const TOL = 1e-5;
let fx: FixtureDir;
let ort: Ort;
beforeAll(async () => {
  fx = makeFixtureDir();
  ort = (await import('onnxruntime-node')) as unknown as Ort;
});
afterAll(() => fx?.cleanup());

const PROMPTS = [[5, 9, 2, 6, 5, 3, 5], [8, 9], [7, 9, 3, 2, 3]];
const STEPS = 4;

describe('fused contrib-op graph = standard graph (onnxruntime-node CPU)', () => {
  for (const kind of LAYOUTS) {
    it(`${kind}: left-padded prefill and ${STEPS} cached decode steps (GroupQueryAttention), logits and KV cache`, async () => {
      const { config, weights, spec } = fusedTestLayout(kind);
      expect(gqaApplies(spec.headDim, 'last')).toBe(true);
      const runtime = new OrtRuntime({ ort, provider: 'cpu' });
      const plain = await runtime.createSession(buildDecoderGraph(config, spec, { logits: 'last', embedWeights: weights }));
      const fused = await runtime.createSession(buildDecoderGraph(config, spec, { logits: 'last', embedWeights: weights, fused: true }));
      const want = await decodeRun(ort, plain, spec, PROMPTS, STEPS);
      const got = await decodeRun(ort, fused, spec, PROMPTS, STEPS);
      let worst = 0;
      want.forEach((w, step) => {
        const d = relDiff(got[step].logits, w.logits);
        worst = Math.max(worst, d);
        expect(d, `${kind} step ${step} logits`).toBeLessThan(TOL);
        // The cache: equal at real positions. At pad positions it holds the keys/values of pad
        // queries that see no real key (the standard graph averages over all keys there, GQA over
        // the causal ones); never read, but they must be finite (0 · NaN would poison a later step).
        expect(got[step].presentDims).toEqual(w.presentDims);
        w.presents.forEach((p, i) => {
          const T = w.presentDims[2];
          expect(relDiff(realPositions(got[step].presents[i], PROMPTS, T, spec), realPositions(p, PROMPTS, T, spec)), `${kind} step ${step} present ${i}`).toBeLessThan(TOL);
          expect(got[step].presents[i].every(Number.isFinite), `${kind} step ${step} present ${i} finite`).toBe(true);
        });
      });
      // The logits are not trivially equal (a graph that ignored its inputs would fail above, this
      // guards a vacuous scale): different prompts, different rows.
      expect(Array.from(want[0].logits.subarray(0, 8))).not.toEqual(Array.from(want[0].logits.subarray(spec.vocabSize, spec.vocabSize + 8)));
      console.log(`[fused] ${kind}: worst relative |Δlogit| over ${STEPS + 1} steps ${worst.toExponential(1)}`);
      await runtime.dispose();
    });
  }

  it('each fused op on its own (SkipSimplifiedLayerNormalization, RotaryEmbedding, RotaryEmbedding + GroupQueryAttention) equals the standard graph', async () => {
    const { config, weights, spec } = fusedTestLayout('qwen3');
    const runtime = new OrtRuntime({ ort, provider: 'cpu' });
    const plain = await runtime.createSession(buildDecoderGraph(config, spec, { logits: 'last', embedWeights: weights }));
    const want = await decodeRun(ort, plain, spec, PROMPTS, 2);
    for (const fused of [{ skipNorm: true }, { rotary: true }, { attention: true }]) {
      const session = await runtime.createSession(buildDecoderGraph(config, spec, { logits: 'last', embedWeights: weights, fused }));
      const got = await decodeRun(ort, session, spec, PROMPTS, 2);
      want.forEach((w, step) => expect(relDiff(got[step].logits, w.logits), `${JSON.stringify(fused)} step ${step}`).toBeLessThan(TOL));
    }
    await runtime.dispose();
  });

  it('float16 compute: fused equals standard within f16 rounding through prefill and cached decode; the pad cache stays finite (−65504, not −∞, masks pads)', async () => {
    const runtime = new OrtRuntime({ ort, provider: 'cpu' });
    for (const kind of ['qwen2', 'qwen3'] as const) {
      const { config, weights, spec } = fusedTestLayout(kind);
      const build = (fused: boolean) => runtime.createSession(buildDecoderGraph(config, spec, { logits: 'last', embedWeights: weights, compute: 'float16', fused }));
      const want = await decodeRun(ort, await build(false), spec, PROMPTS, STEPS, {}, 'float16');
      const got = await decodeRun(ort, await build(true), spec, PROMPTS, STEPS, {}, 'float16');
      console.log(`[fused] ${kind} f16: worst relative |Δlogit| ${Math.max(...want.map((w, i) => relDiff(got[i].logits, w.logits))).toExponential(1)}`);
      want.forEach((w, step) => {
        // f16 has 11 significant bits: different kernels round differently, by a few f16 ulps of the logits.
        expect(relDiff(got[step].logits, w.logits), `${kind} f16 step ${step}`).toBeLessThan(5e-3);
        expect(got[step].presents.every((p) => p.every(Number.isFinite)), `${kind} f16 step ${step} finite cache`).toBe(true);
      });
    }
    await runtime.dispose();
  });

  it('the fused graph really contains the fused ops (and GQA only in the last-position graph)', () => {
    const { config, spec } = fusedTestLayout('qwen3');
    const text = (logits: 'all' | 'last') => new TextDecoder('latin1').decode(buildDecoderGraph(config, spec, { logits, fused: true }));
    const count = (s: string, op: string) => s.split(op).length - 1;
    const last = text('last');
    const all = text('all');
    expect(count(last, 'GroupQueryAttention')).toBeGreaterThanOrEqual(spec.numLayers);
    expect(count(all, 'GroupQueryAttention')).toBe(0);
    const norms = new TextDecoder('latin1').decode(buildDecoderGraph(config, spec, { logits: 'last', fused: { skipNorm: true } }));
    expect([count(norms, 'SkipSimplifiedLayerNormalization') > 0, count(norms, 'RotaryEmbedding'), count(norms, 'GroupQueryAttention')]).toEqual([true, 0, 0]);
    for (const s of [last, all]) {
      expect(count(s, 'SkipSimplifiedLayerNormalization')).toBeGreaterThanOrEqual(2 * spec.numLayers);
      expect(count(s, 'RotaryEmbedding')).toBeGreaterThanOrEqual(2 * spec.numLayers);
    }
  });

  it('tiny qwen2 fixture (head_dim 4: no GQA): DecoderModel forward of a left-padded batch and greedy generation equal the standard graph', async () => {
    const dir = fx.model('tiny-qwen2-target');
    const ckpt = await openCheckpoint(await localFolderSource(dir));
    const spec = decoderSpec(ckpt.config, new Map([...ckpt.tensors].map(([n, t]) => [n, t.shape])), 'tiny');
    const weights = await checkpointWeightsF32(ckpt, spec);
    expect(gqaApplies(spec.headDim, 'last')).toBe(false);
    const runtime = new OrtRuntime({ ort, provider: 'cpu' });
    const rows = [[283, 10, 20, 30, 284], [7, 8], [100, 101, 102, 103, 104, 105, 106]];
    const config = ckpt.config;
    const plain = new DecoderModel(runtime, config, spec, { kind: 'embedded', arrays: weights }, 'float32', { fused: false });
    const fused = new DecoderModel(runtime, config, spec, { kind: 'embedded', arrays: weights }, 'float32', { fused: true });
    const [a, b] = [await plain.forward(rows), await fused.forward(rows)];
    expect(b.dims).toEqual(a.dims);
    // Only the real (not padded) positions carry meaning.
    const S = a.dims[1];
    const V = a.dims[2];
    rows.forEach((r, i) => {
      const from = (i * S + S - r.length) * V;
      expect(relDiff(b.data.subarray(from, (i + 1) * S * V), a.data.subarray(from, (i + 1) * S * V))).toBeLessThan(TOL);
    });
    const gen = { maxNewTokens: 6, eosTokenIds: [] };
    expect((await fused.generate(rows, gen)).map((r) => r.ids)).toEqual((await plain.generate(rows, gen)).map((r) => r.ids));
    const ll = [{ context: [283, 10, 20], continuation: [30, 284] }, { context: [7], continuation: [8, 9, 10] }];
    const [la, lb] = [await plain.loglikelihood(ll), await fused.loglikelihood(ll)];
    lb.forEach((r, i) => {
      expect(r.isGreedy).toBe(la[i].isGreedy);
      expect(Math.abs(r.loglikelihood - la[i].loglikelihood)).toBeLessThan(1e-4);
    });
    await plain.dispose();
    await fused.dispose();
    await runtime.dispose();
  });
});
