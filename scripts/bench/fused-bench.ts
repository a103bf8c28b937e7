/**
 * Decode tokens/s of the standard graph against the fused contrib-op graph (fused-ops.ts) on one
 * model and provider, measured in the same run: `npm run bench:fused` (Node, onnxruntime-node CPU)
 * and its page harness (e2e/harness/bench-fused.ts, WebGPU). Random weights: speed does not
 * depend on their values.
 */
import { parseModelConfig, type ModelConfig } from '../../src/engine/checkpoint/model-config.ts';
import { decoderSpec, weightInputs, type DecoderSpec } from '../../src/engine/model/decoder-graph.ts';
import { DecoderModel, type WeightFeed } from '../../src/engine/model/decoder-model.ts';
import type { FusedOps } from '../../src/engine/model/fused-ops.ts';
import type { OrtRuntime } from '../../src/engine/model/ort-runtime.ts';

export interface BenchShape {
  label: string;
  config: Record<string, unknown>;
}

/** The bench trio's "model" widths (~6M parameters, head_dim 32) and Qwen2.5-0.5B's real widths with few layers. */
export const SMALL: BenchShape = {
  label: 'bench model (hidden 256, 4 layers, 8/2 heads, head_dim 32, vocab 8192)',
  config: {
    architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', hidden_size: 256, intermediate_size: 768, num_hidden_layers: 4, num_attention_heads: 8,
    num_key_value_heads: 2, vocab_size: 8192, max_position_embeddings: 1024, rms_norm_eps: 1e-6, rope_theta: 1000000, tie_word_embeddings: true,
  },
};

/** xorshift32 uniform in ±0.04 (norm weights 1): cheap enough for 10⁸ values. */
export function randomWeights(spec: DecoderSpec): Map<string, Float32Array> {
  let x = 12345;
  const out = new Map<string, Float32Array>();
  for (const w of spec.weights) {
    const a = new Float32Array(w.shape.reduce((p, q) => p * q, 1));
    if (w.name.endsWith('norm.weight')) a.fill(1);
    else
      for (let i = 0; i < a.length; i++) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        a[i] = ((x >>> 0) / 2 ** 32 - 0.5) * 0.08;
      }
    out.set(w.name, a);
  }
  return out;
}

export function benchSpec(shape: BenchShape): { config: ModelConfig; spec: DecoderSpec } {
  const config = parseModelConfig(shape.label, JSON.stringify(shape.config));
  const shapes = new Map<string, number[]>();
  const H = config.hiddenSize;
  const D = config.headDim;
  shapes.set('model.embed_tokens.weight', [config.vocabSize, H]);
  shapes.set('model.norm.weight', [H]);
  for (let l = 0; l < config.numLayers; l++) {
    const p = `model.layers.${l}`;
    for (const [n, s] of [
      ['input_layernorm.weight', [H]], ['post_attention_layernorm.weight', [H]],
      ['self_attn.q_proj.weight', [config.numHeads * D, H]], ['self_attn.q_proj.bias', [config.numHeads * D]],
      ['self_attn.k_proj.weight', [config.numKvHeads * D, H]], ['self_attn.k_proj.bias', [config.numKvHeads * D]],
      ['self_attn.v_proj.weight', [config.numKvHeads * D, H]], ['self_attn.v_proj.bias', [config.numKvHeads * D]],
      ['self_attn.o_proj.weight', [H, config.numHeads * D]], ['mlp.gate_proj.weight', [config.intermediateSize, H]],
      ['mlp.up_proj.weight', [config.intermediateSize, H]], ['mlp.down_proj.weight', [H, config.intermediateSize]],
    ] as const) shapes.set(`${p}.${n}`, [...s]);
  }
  return { config, spec: decoderSpec(config, shapes, shape.label) };
}

export interface Variant {
  label: string;
  fused: boolean | Partial<FusedOps>;
}

/** The standard graph first (the baseline of every ratio), then each fused op alone, then all. */
export const VARIANTS: Variant[] = [
  { label: 'standard', fused: false },
  { label: 'SkipSimplifiedLayerNormalization', fused: { skipNorm: true } },
  { label: 'RotaryEmbedding', fused: { rotary: true } },
  { label: 'RotaryEmbedding + GroupQueryAttention', fused: { rotary: true, attention: true } },
  { label: 'all fused', fused: true },
];

export interface FusedBenchRow {
  batch: number;
  /** Per variant: median decode tokens/s (all rows) over the rounds, its ratio to the standard graph, median prefill seconds. */
  variants: { label: string; decode: number; ratio: number; prefill: number; cpuDecode?: number; cpuRatio?: number }[];
}

const now = () => performance.now() / 1000;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * Every variant on the same runtime and weights; rounds alternate the variants so load drifts
 * hit all alike. Decode tokens/s = batch · decodeTokens / (time of 1 + decodeTokens tokens −
 * time of 1 token), i.e. the cached steps without the prefill.
 */
export async function benchFused(
  runtime: OrtRuntime,
  config: ModelConfig,
  spec: DecoderSpec,
  feed: WeightFeed,
  o: {
    promptTokens: number;
    decodeTokens: number;
    batches: number[];
    rounds: number;
    variants?: Variant[];
    /**
     * Node: this process's CPU seconds (process.cpuUsage). With one intra-op thread, tokens per
     * CPU-second measure the work per token even on a machine whose load swings wall times by 2×.
     */
    cpuClock?: () => number;
  },
): Promise<FusedBenchRow[]> {
  const variants = o.variants ?? VARIANTS;
  const models = variants.map((v) => new DecoderModel(runtime, config, spec, feed, 'float32', { fused: v.fused }));
  const V = spec.vocabSize;
  const prompt = (b: number) => Array.from({ length: o.promptTokens }, (_, i) => (i * 7 + b * 13 + 1) % V);
  const rows: FusedBenchRow[] = [];
  try {
    for (const m of models) await m.generate([prompt(0)], { maxNewTokens: 1 + o.decodeTokens, eosTokenIds: [] }); // sessions, kernels
    for (const batch of o.batches) {
      const input = Array.from({ length: batch }, (_, b) => prompt(b));
      const tps: number[][] = models.map(() => []);
      const cpu: number[][] = models.map(() => []);
      const pre: number[][] = models.map(() => []);
      for (let r = 0; r < o.rounds; r++) {
        for (const [i, m] of models.entries()) {
          const c = o.cpuClock ?? (() => 0);
          let [t, u] = [now(), c()];
          await m.generate(input, { maxNewTokens: 1, eosTokenIds: [] });
          const [one, oneCpu] = [now() - t, c() - u];
          [t, u] = [now(), c()];
          await m.generate(input, { maxNewTokens: 1 + o.decodeTokens, eosTokenIds: [] });
          const [many, manyCpu] = [now() - t, c() - u];
          pre[i].push(one);
          tps[i].push((batch * o.decodeTokens) / Math.max(1e-9, many - one));
          cpu[i].push((batch * o.decodeTokens) / Math.max(1e-9, manyCpu - oneCpu));
        }
      }
      const decode = tps.map(median);
      const cpuDecode = cpu.map(median);
      rows.push({
        batch,
        variants: variants.map((v, i) => ({
          label: v.label,
          decode: decode[i],
          ratio: decode[i] / decode[0],
          prefill: median(pre[i]),
          ...(o.cpuClock ? { cpuDecode: cpuDecode[i], cpuRatio: cpuDecode[i] / cpuDecode[0] } : {}),
        })),
      });
    }
  } finally {
    for (const m of models) await m.dispose();
  }
  return rows;
}

export function weightBytes(spec: DecoderSpec, bytesPerWeight: number): number {
  return weightInputs(spec).reduce((a, w) => a + w.shape.reduce((p, q) => p * q, 1), 0) * bytesPerWeight;
}
