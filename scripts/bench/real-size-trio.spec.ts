import { describe, expect, it } from 'vitest';
import { realConfig, realSizeStats, realTensors } from './real-size-trio.ts';

describe('real-size trios: the real Qwen2.5 shapes', () => {
  it('have the parameter counts of Qwen2.5-0.5B and Qwen2.5-1.5B (tied embeddings, q/k/v biases)', () => {
    // The counts Qwen's model cards and checkpoints give (494,032,768 and 1,543,714,304).
    expect(realSizeStats('0.5b').parameters).toBe(494_032_768);
    expect(realSizeStats('1.5b').parameters).toBe(1_543_714_304);
    expect(realSizeStats('1.5b').f32Bytes).toBe(1_543_714_304 * 4);
  });

  it('write the 1.5B-Instruct config and its tensors: no lm_head (tied), biases on q/k/v only', () => {
    const c = realConfig('1.5b');
    expect(c).toMatchObject({ hidden_size: 1536, intermediate_size: 8960, num_hidden_layers: 28, num_attention_heads: 12, num_key_value_heads: 2, vocab_size: 151_936, tie_word_embeddings: true, rope_theta: 1_000_000 });
    const names = realTensors('1.5b').map((t) => t.name);
    expect(names).toHaveLength(2 + 28 * 12);
    expect(names).not.toContain('lm_head.weight');
    expect(names.filter((n) => n.endsWith('.bias')).every((n) => /self_attn\.[qkv]_proj\.bias$/.test(n))).toBe(true);
    expect(realTensors('1.5b').find((t) => t.name === 'model.layers.0.self_attn.k_proj.weight')!.shape).toEqual([256, 1536]);
  });

  it('keep the real widths with fewer layers: a 2-layer 0.5B has the real embedding and two real layers', () => {
    expect(realConfig('0.5b', 2)).toMatchObject({ num_hidden_layers: 2, max_window_layers: 2, hidden_size: 896, intermediate_size: 4864, vocab_size: 151_936 });
    expect(realTensors('0.5b', 2).map((t) => t.name)).toHaveLength(2 + 2 * 12);
    // The embedding, the final norm and two layers of 14,912,384 parameters each (as e2e/real-size.spec.ts counts them).
    expect(realSizeStats('0.5b', 2).parameters).toBe(151_936 * 896 + 896 + 2 * 14_912_384);
    expect(realSizeStats('0.5b', 24).parameters).toBe(realSizeStats('0.5b').parameters);
  });
});
