import { parseModelConfig, type ModelConfig } from '../src/engine/checkpoint/model-config.ts';
import type { ResidencyTensor } from '../src/engine/merge/plan-residency.ts';
import type { SupportedDtype } from '../src/engine/safetensors/dtypes.ts';

/**
 * The tensors of a Qwen2-family checkpoint as its config.json implies them (names, shapes, every
 * element merged), without any file: what the memory planner is tested on at real sizes. Written
 * from the structure facts in ../shared/reference/model-configs.md, not from the engine's graph.
 */
export function qwen2Tensors(config: ModelConfig, dtype: SupportedDtype = 'BF16'): ResidencyTensor[] {
  const { hiddenSize: H, intermediateSize: I, numLayers: L, numHeads: NH, numKvHeads: KV, headDim: D, vocabSize: V } = config;
  const shapes: Array<[string, number[]]> = [['model.embed_tokens.weight', [V, H]]];
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}`;
    shapes.push(
      [`${p}.input_layernorm.weight`, [H]],
      [`${p}.self_attn.q_proj.weight`, [NH * D, H]],
      [`${p}.self_attn.q_proj.bias`, [NH * D]],
      [`${p}.self_attn.k_proj.weight`, [KV * D, H]],
      [`${p}.self_attn.k_proj.bias`, [KV * D]],
      [`${p}.self_attn.v_proj.weight`, [KV * D, H]],
      [`${p}.self_attn.v_proj.bias`, [KV * D]],
      [`${p}.self_attn.o_proj.weight`, [H, NH * D]],
      [`${p}.post_attention_layernorm.weight`, [H]],
      [`${p}.mlp.gate_proj.weight`, [I, H]],
      [`${p}.mlp.up_proj.weight`, [I, H]],
      [`${p}.mlp.down_proj.weight`, [H, I]],
    );
  }
  shapes.push(['model.norm.weight', [H]]);
  if (!config.tieWordEmbeddings) shapes.push(['lm_head.weight', [V, H]]);
  return shapes.map(([name, shape]) => {
    const elements = shape.reduce((a, b) => a * b, 1);
    return { name, shape, elements, mergedElements: elements, target: { dtype } };
  });
}

/** The real configs (../shared/reference/model-configs.md), as config.json text would give them. */
export const QWEN25_CONFIGS = {
  '0.5B': {
    architectures: ['Qwen2ForCausalLM'], hidden_act: 'silu', hidden_size: 896, intermediate_size: 4864, max_position_embeddings: 32768,
    model_type: 'qwen2', num_attention_heads: 14, num_hidden_layers: 24, num_key_value_heads: 2, rms_norm_eps: 1e-6, rope_theta: 1000000.0,
    tie_word_embeddings: true, torch_dtype: 'bfloat16', vocab_size: 151936, eos_token_id: 151645, bos_token_id: 151643,
  },
  '1.5B': {
    architectures: ['Qwen2ForCausalLM'], attention_dropout: 0.0, bos_token_id: 151643, eos_token_id: 151645, hidden_act: 'silu', hidden_size: 1536,
    initializer_range: 0.02, intermediate_size: 8960, max_position_embeddings: 32768, max_window_layers: 21, model_type: 'qwen2',
    num_attention_heads: 12, num_hidden_layers: 28, num_key_value_heads: 2, rms_norm_eps: 1e-6, rope_theta: 1000000.0, sliding_window: 32768,
    tie_word_embeddings: true, torch_dtype: 'bfloat16', transformers_version: '4.43.1', use_cache: true, use_sliding_window: false, vocab_size: 151936,
  },
  '7B': {
    architectures: ['Qwen2ForCausalLM'], hidden_act: 'silu', hidden_size: 3584, intermediate_size: 18944, max_position_embeddings: 32768,
    model_type: 'qwen2', num_attention_heads: 28, num_hidden_layers: 28, num_key_value_heads: 4, rms_norm_eps: 1e-6, rope_theta: 1000000.0,
    tie_word_embeddings: false, torch_dtype: 'bfloat16', vocab_size: 152064, eos_token_id: 151645, bos_token_id: 151643,
  },
} as const;

export function qwen25Config(size: keyof typeof QWEN25_CONFIGS): ModelConfig {
  return parseModelConfig(`Qwen2.5-${size}`, JSON.stringify(QWEN25_CONFIGS[size]));
}
