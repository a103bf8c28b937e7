import { parseModelConfig, type ModelConfig } from '../src/engine/checkpoint/model-config.ts';
import { decoderSpec, pastName, presentName, type DecoderSpec } from '../src/engine/model/decoder-graph.ts';
import type { Ort, OrtSession, OrtTensor } from '../src/engine/model/ort-runtime.ts';
import { f16BitsToFloat } from '../scripts/fixtures/float-convert.ts';
import { seededValues } from './merge-reference.ts';

/**
 * Small random checkpoints of each supported layout with head_dim 8 (GroupQueryAttention needs a
 * multiple of 8; the tiny fixtures have 4), and a raw decode loop over one session: what the
 * fused-graph checks run in Node (src/engine/model/fused-ops.spec.ts) and in the page
 * (e2e/harness/kv-cache.ts).
 */
export type LayoutKind = 'qwen2' | 'qwen3' | 'llama' | 'mistral';
export const LAYOUTS: LayoutKind[] = ['qwen2', 'qwen3', 'llama', 'mistral'];

export function fusedTestLayout(kind: LayoutKind): { config: ModelConfig; spec: DecoderSpec; weights: Map<string, Float32Array> } {
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
  return { config, spec: decoderSpec(config, shapes, kind), weights };
}

export interface DecodeStep {
  logits: Float32Array;
  /** present.N.key/value in order (layer 0 key, layer 0 value, …), downloaded. */
  presents: Float32Array[];
  presentDims: number[];
}

/**
 * Left-padded prefill, then greedy decode steps feeding each step's presents back as the next
 * pasts (GPU-resident where the session keeps them there); logits and presents of every step.
 */
export async function decodeRun(
  ort: Ort,
  session: OrtSession,
  spec: DecoderSpec,
  prompts: number[][],
  steps: number,
  extraFeeds: Record<string, OrtTensor> = {},
  dtype: 'float32' | 'float16' = 'float32',
): Promise<DecodeStep[]> {
  const { Tensor } = ort;
  const B = prompts.length;
  const S = Math.max(...prompts.map((p) => p.length));
  const { numKvHeads: KV, headDim: D, numLayers: L, vocabSize: V } = spec;
  let mask = prompts.map((p) => [...Array(S - p.length).fill(0), ...p.map(() => 1)]);
  let pos = prompts.map((p) => [...Array(S - p.length).fill(0), ...p.map((_, i) => i)]);
  let ids = prompts.map((p) => [...Array(S - p.length).fill(0), ...p]);
  let pasts: Record<string, OrtTensor> = {};
  for (let l = 0; l < L; l++) for (const k of ['key', 'value'] as const) pasts[pastName(l, k)] = dtype === 'float16' ? new Tensor('float16', new Uint16Array(0), [B, KV, 0, D]) : new Tensor('float32', new Float32Array(0), [B, KV, 0, D]);
  const i64 = (rows: number[][]) => new Tensor('int64', BigInt64Array.from(rows.flat().map(BigInt)), [rows.length, rows[0].length]);
  const out: DecodeStep[] = [];
  try {
    for (let step = 0; step <= steps; step++) {
      const r = await session.run({ input_ids: i64(ids), attention_mask: i64(mask), position_ids: i64(pos), ...pasts, ...extraFeeds });
      const logits = (await r.logits.getData()) as Float32Array;
      r.logits.dispose();
      for (const t of Object.values(pasts)) t.dispose();
      pasts = {};
      const presents: Float32Array[] = [];
      for (let l = 0; l < L; l++) {
        for (const k of ['key', 'value'] as const) {
          const t = r[presentName(l, k)];
          const data = await t.getData();
          presents.push(data instanceof Uint16Array ? Float32Array.from(data, f16BitsToFloat) : Float32Array.from(data as Float32Array));
          pasts[pastName(l, k)] = t;
        }
      }
      out.push({ logits: Float32Array.from(logits), presents, presentDims: [...r[presentName(0, 'key')].dims] });
      const next = Array.from({ length: B }, (_, b) => {
        const row = logits.subarray(b * V, (b + 1) * V);
        return row.indexOf(Math.max(...row));
      });
      ids = next.map((t) => [t]);
      pos = pos.map((p) => [p.at(-1)! + 1]);
      mask = mask.map((m) => [...m, 1]);
    }
  } finally {
    for (const t of Object.values(pasts)) t.dispose();
  }
  return out;
}

/** The present [B, KV, T, D] at the real (not left-padding) positions only. */
export function realPositions(x: Float32Array, prompts: number[][], T: number, spec: DecoderSpec): Float32Array {
  const S = Math.max(...prompts.map((p) => p.length));
  const { numKvHeads: KV, headDim: D } = spec;
  const out: number[] = [];
  prompts.forEach((p, b) => {
    for (let h = 0; h < KV; h++) for (let t = S - p.length; t < T; t++) for (let d = 0; d < D; d++) out.push(x[((b * KV + h) * T + t) * D + d]);
  });
  return Float32Array.from(out);
}

/** max |a − b| / max |b|. */
export function relDiff(a: Float32Array, b: Float32Array): number {
  let max = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    max = Math.max(max, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return max / scale;
}
