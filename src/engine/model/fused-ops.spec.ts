import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFixtureDir, type FixtureDir } from '../../../test-support/fixture-dir.ts';
import { seededValues } from '../../../test-support/merge-reference.ts';
import { parseModelConfig, type ModelConfig } from '../checkpoint/model-config.ts';
import { buildDecoderGraph, decoderSpec, pastName, presentName, type DecoderSpec } from './decoder-graph.ts';
import { gqaApplies } from './fused-ops.ts';
import { DecoderModel } from './decoder-model.ts';
import { OrtRuntime, type Ort, type OrtSession, type OrtTensor } from './ort-runtime.ts';
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

/** A small random checkpoint of one layout with head_dim 8 (GroupQueryAttention needs a multiple of 8). */
function layout(kind: 'qwen2' | 'qwen3' | 'llama' | 'mistral'): { config: ModelConfig; weights: Map<string, Float32Array>; shapes: Map<string, number[]> } {
  const [H, NH, KV, D, I, V, L] = [32, 4, 2, 8, 48, 96, 2];
  const weights = new Map<string, Float32Array>();
  const shapes = new Map<string, number[]>();
  let seed = 1;
  const t = (name: string, shape: number[], scale = 0.3, offset = 0) => {
    shapes.set(name, shape);
    weights.set(name, Float32Array.from(seededValues(shape.reduce((a, b) => a * b, 1), seed++, scale).map((x) => x + offset)));
  };
  t('model.embed_tokens.weight', [V, H], 2);
  t('model.norm.weight', [H], 0.2, 1);
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}`;
    t(`${p}.input_layernorm.weight`, [H], 0.2, 1);
    t(`${p}.post_attention_layernorm.weight`, [H], 0.2, 1);
    t(`${p}.self_attn.q_proj.weight`, [NH * D, H]);
    t(`${p}.self_attn.k_proj.weight`, [KV * D, H]);
    t(`${p}.self_attn.v_proj.weight`, [KV * D, H]);
    t(`${p}.self_attn.o_proj.weight`, [H, NH * D]);
    if (kind === 'qwen2') {
      t(`${p}.self_attn.q_proj.bias`, [NH * D]);
      t(`${p}.self_attn.k_proj.bias`, [KV * D]);
      t(`${p}.self_attn.v_proj.bias`, [KV * D]);
    }
    if (kind === 'qwen3') {
      t(`${p}.self_attn.q_norm.weight`, [D], 0.2, 1);
      t(`${p}.self_attn.k_norm.weight`, [D], 0.2, 1);
    }
    t(`${p}.mlp.gate_proj.weight`, [I, H]);
    t(`${p}.mlp.up_proj.weight`, [I, H]);
    t(`${p}.mlp.down_proj.weight`, [H, I]);
  }
  const arch = { qwen2: 'Qwen2ForCausalLM', qwen3: 'Qwen3ForCausalLM', llama: 'LlamaForCausalLM', mistral: 'MistralForCausalLM' }[kind];
  const config = parseModelConfig(
    kind,
    JSON.stringify({
      architectures: [arch], model_type: kind, hidden_size: H, intermediate_size: I, num_hidden_layers: L, num_attention_heads: NH, num_key_value_heads: KV,
      head_dim: D, vocab_size: V, max_position_embeddings: 64, rms_norm_eps: 1e-6, rope_theta: kind === 'llama' ? 500000 : 10000, tie_word_embeddings: true,
      ...(kind === 'mistral' ? { sliding_window: 32 } : {}),
    }),
  );
  return { config, weights, shapes };
}

function specOf(config: ModelConfig, shapes: Map<string, number[]>): DecoderSpec {
  return decoderSpec(config, shapes, config.architecture);
}

/** Left-padded prefill, then greedy decode steps feeding the presents back; logits and presents of every step. */
async function decodeRun(session: OrtSession, spec: DecoderSpec, prompts: number[][], steps: number) {
  const { Tensor } = ort;
  const B = prompts.length;
  const S = Math.max(...prompts.map((p) => p.length));
  const { numKvHeads: KV, headDim: D, numLayers: L, vocabSize: V } = spec;
  let mask = prompts.map((p) => [...Array(S - p.length).fill(0), ...p.map(() => 1)]);
  let pos = prompts.map((p) => [...Array(S - p.length).fill(0), ...p.map((_, i) => i)]);
  let ids = prompts.map((p) => [...Array(S - p.length).fill(0), ...p]);
  const pasts: Record<string, OrtTensor> = {};
  for (let l = 0; l < L; l++) for (const k of ['key', 'value'] as const) pasts[pastName(l, k)] = new Tensor('float32', new Float32Array(0), [B, KV, 0, D]);
  const i64 = (rows: number[][]) => new Tensor('int64', BigInt64Array.from(rows.flat().map(BigInt)), [rows.length, rows[0].length]);
  const out: { logits: Float32Array; presents: Float32Array[] }[] = [];
  for (let step = 0; step <= steps; step++) {
    const r = await session.run({ input_ids: i64(ids), attention_mask: i64(mask), position_ids: i64(pos), ...pasts });
    const logits = (await r.logits.getData()) as Float32Array;
    const presents: Float32Array[] = [];
    for (let l = 0; l < L; l++) {
      for (const k of ['key', 'value'] as const) {
        const t = r[presentName(l, k)];
        expect(t.dims).toEqual([B, KV, mask[0].length, D]);
        presents.push((await t.getData()) as Float32Array);
        pasts[pastName(l, k)] = t;
      }
    }
    out.push({ logits, presents });
    const next = Array.from({ length: B }, (_, b) => {
      const row = logits.subarray(b * V, (b + 1) * V);
      return row.indexOf(Math.max(...row));
    });
    ids = next.map((t) => [t]);
    pos = pos.map((p) => [p.at(-1)! + 1]);
    mask = mask.map((m) => [...m, 1]);
  }
  return out;
}

/** The present [B, KV, T, D] at the real (not left-padding) positions only, after `step` decode steps. */
function realPositions(x: Float32Array, step: number, spec: DecoderSpec): Float32Array {
  const S = Math.max(...PROMPTS.map((p) => p.length));
  const T = S + step;
  const { numKvHeads: KV, headDim: D } = spec;
  const out: number[] = [];
  PROMPTS.forEach((p, b) => {
    for (let h = 0; h < KV; h++) for (let t = S - p.length; t < T; t++) for (let d = 0; d < D; d++) out.push(x[((b * KV + h) * T + t) * D + d]);
  });
  return Float32Array.from(out);
}

function relDiff(a: Float32Array, b: Float32Array): number {
  let max = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    max = Math.max(max, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return max / scale;
}

describe('fused contrib-op graph = standard graph (onnxruntime-node CPU)', () => {
  for (const kind of ['qwen2', 'qwen3', 'llama', 'mistral'] as const) {
    it(`${kind}: left-padded prefill and ${STEPS} cached decode steps (GroupQueryAttention), logits and KV cache`, async () => {
      const { config, weights, shapes } = layout(kind);
      const spec = specOf(config, shapes);
      expect(gqaApplies(spec.headDim, 'last')).toBe(true);
      const runtime = new OrtRuntime({ ort, provider: 'cpu' });
      const plain = await runtime.createSession(buildDecoderGraph(config, spec, { logits: 'last', embedWeights: weights }));
      const fused = await runtime.createSession(buildDecoderGraph(config, spec, { logits: 'last', embedWeights: weights, fused: true }));
      const want = await decodeRun(plain, spec, PROMPTS, STEPS);
      const got = await decodeRun(fused, spec, PROMPTS, STEPS);
      let worst = 0;
      want.forEach((w, step) => {
        const d = relDiff(got[step].logits, w.logits);
        worst = Math.max(worst, d);
        expect(d, `${kind} step ${step} logits`).toBeLessThan(TOL);
        // The cache: equal at real positions. At pad positions it holds the keys/values of pad
        // queries that see no real key (the standard graph averages over all keys there, GQA over
        // the causal ones); never read, but they must be finite (0 · NaN would poison a later step).
        w.presents.forEach((p, i) => {
          expect(relDiff(realPositions(got[step].presents[i], step, spec), realPositions(p, step, spec)), `${kind} step ${step} present ${i}`).toBeLessThan(TOL);
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

  it('the fused graph really contains the fused ops (and GQA only in the last-position graph)', () => {
    const { config, shapes } = layout('qwen3');
    const spec = specOf(config, shapes);
    const text = (logits: 'all' | 'last') => new TextDecoder('latin1').decode(buildDecoderGraph(config, spec, { logits, fused: true }));
    const count = (s: string, op: string) => s.split(op).length - 1;
    const last = text('last');
    const all = text('all');
    expect(count(last, 'GroupQueryAttention')).toBeGreaterThanOrEqual(spec.numLayers);
    expect(count(all, 'GroupQueryAttention')).toBe(0);
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
