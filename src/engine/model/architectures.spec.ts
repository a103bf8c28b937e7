import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFixtureDir, type FixtureDir } from '../../../test-support/fixture-dir.ts';
import { readModelFolder } from '../../../test-support/read-safetensors.ts';
import { referenceForward } from '../../../test-support/reference-forward.ts';
import { seededValues } from '../../../test-support/merge-reference.ts';
import { openCheckpoint } from '../checkpoint/open-checkpoint.ts';
import { serializeSafetensors, type TensorToSerialize } from '../safetensors/serialize-safetensors.ts';
import { localFolderSource } from '../sources/local-folder-source.ts';
import { buildDecoderGraph, decoderSpec } from './decoder-graph.ts';
import { parseModelConfig } from '../checkpoint/model-config.ts';
import { DecoderModel } from './decoder-model.ts';
import { OrtRuntime, type Ort } from './ort-runtime.ts';
import { checkpointWeightsF32 } from './weights.ts';

/**
 * The graph on the other supported layouts, each built here as a small checkpoint and checked
 * against the float64 reference: Llama (no q/k/v biases), and Qwen3 (q/k RMSNorm per head and an
 * explicit head_dim that is not hidden_size / heads).
 */
let fx: FixtureDir;
let work: string;
let ort: Ort;
beforeAll(async () => {
  fx = makeFixtureDir();
  work = mkdtempSync(join(tmpdir(), 'arch-'));
  ort = (await import('onnxruntime-web')) as unknown as Ort;
});
afterAll(() => {
  fx?.cleanup();
  rmSync(work, { recursive: true, force: true });
});

const f32 = (values: number[]) => new Uint8Array(new Float32Array(values).buffer);

function writeModel(name: string, config: Record<string, unknown>, tensors: TensorToSerialize[]): string {
  const dir = join(work, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  writeFileSync(join(dir, 'model.safetensors'), serializeSafetensors(tensors));
  return dir;
}

async function check(dir: string, headDim: number) {
  const ckpt = await openCheckpoint(await localFolderSource(dir));
  const spec = decoderSpec(ckpt.config, new Map([...ckpt.tensors].map(([n, t]) => [n, t.shape])), ckpt.source.label);
  const weights = await checkpointWeightsF32(ckpt, spec);
  const runtime = new OrtRuntime({ ort, provider: 'wasm' });
  const model = new DecoderModel(runtime, ckpt.config, spec, { kind: 'embedded', arrays: weights });
  const c = ckpt.config;
  const ids = [3, 1, 4, 1, 5, 9, 2, 6];
  const out = await model.forward([ids]);
  const want = referenceForward({ ...c, headDim }, weights, ids);
  let max = 0;
  let scale = 0;
  want.forEach((row, t) => row.forEach((v, i) => ((max = Math.max(max, Math.abs(out.data[t * c.vocabSize + i] - v))), (scale = Math.max(scale, Math.abs(v))))));
  await model.dispose();
  return { spec, max, scale };
}

describe('other architectures against the reference', () => {
  it('LlamaForCausalLM: no q/k/v biases', async () => {
    const base = fx.model('tiny-qwen2-untied-target');
    const config = { ...JSON.parse(readFileSync(join(base, 'config.json'), 'utf8')), architectures: ['LlamaForCausalLM'], model_type: 'llama' };
    const tensors = [...readModelFolder(base)].filter(([n]) => !n.endsWith('_proj.bias')).map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape, data: t.bytes }));
    const { spec, max, scale } = await check(writeModel('llama', config, tensors), 4);
    expect([spec.qkvBias, spec.qkNorm]).toEqual([false, false]);
    expect(scale).toBeGreaterThan(0.05);
    expect(max).toBeLessThan(1e-5);
  });

  it('Qwen3ForCausalLM: q/k norms and head_dim 8 ≠ hidden 16 / 4 heads', async () => {
    const [H, NH, KV, D, I, V, L] = [16, 4, 2, 8, 32, 64, 2];
    const t = (name: string, shape: number[], seed: number, scale = 0.3, offset = 0): TensorToSerialize => ({
      name,
      dtype: 'F32',
      shape,
      data: f32(seededValues(shape.reduce((a, b) => a * b, 1), seed, scale).map((x) => x + offset)),
    });
    const tensors: TensorToSerialize[] = [t('model.embed_tokens.weight', [V, H], 1, 2), t('model.norm.weight', [H], 2, 0.2, 1)];
    for (let l = 0; l < L; l++) {
      const p = `model.layers.${l}`;
      tensors.push(
        t(`${p}.input_layernorm.weight`, [H], 10 * l + 3, 0.2, 1),
        t(`${p}.post_attention_layernorm.weight`, [H], 10 * l + 4, 0.2, 1),
        t(`${p}.self_attn.q_proj.weight`, [NH * D, H], 10 * l + 5),
        t(`${p}.self_attn.k_proj.weight`, [KV * D, H], 10 * l + 6),
        t(`${p}.self_attn.v_proj.weight`, [KV * D, H], 10 * l + 7),
        t(`${p}.self_attn.o_proj.weight`, [H, NH * D], 10 * l + 8),
        t(`${p}.self_attn.q_norm.weight`, [D], 10 * l + 9, 0.2, 1),
        t(`${p}.self_attn.k_norm.weight`, [D], 10 * l + 10, 0.2, 1),
        t(`${p}.mlp.gate_proj.weight`, [I, H], 10 * l + 11),
        t(`${p}.mlp.up_proj.weight`, [I, H], 10 * l + 12),
        t(`${p}.mlp.down_proj.weight`, [H, I], 10 * l + 13),
      );
    }
    const config = {
      architectures: ['Qwen3ForCausalLM'], model_type: 'qwen3', hidden_size: H, intermediate_size: I, num_hidden_layers: L, num_attention_heads: NH,
      num_key_value_heads: KV, head_dim: D, vocab_size: V, max_position_embeddings: 64, rms_norm_eps: 1e-6, rope_theta: 1000000, tie_word_embeddings: true, torch_dtype: 'float32',
    };
    const { spec, max, scale } = await check(writeModel('qwen3', config, tensors), D);
    expect([spec.qkvBias, spec.qkNorm, spec.headDim]).toEqual([false, true, 8]);
    expect(scale).toBeGreaterThan(0.5);
    expect(max / scale).toBeLessThan(1e-5);
  });
});

describe('scaled RoPE, stray tensors, real dimensions', () => {
  /** The untied tiny Qwen2 as Llama 3 (no biases) with the given rope_scaling. */
  function llamaWith(name: string, ropeScaling: Record<string, unknown>) {
    const base = fx.model('tiny-qwen2-untied-target');
    const config = { ...JSON.parse(readFileSync(join(base, 'config.json'), 'utf8')), architectures: ['LlamaForCausalLM'], model_type: 'llama', rope_theta: 500000, rope_scaling: ropeScaling };
    const tensors = [...readModelFolder(base)].filter(([n]) => !n.endsWith('_proj.bias')).map(([n, t]) => ({ name: n, dtype: t.dtype, shape: t.shape, data: t.bytes }));
    return writeModel(name, config, tensors);
  }

  it('llama3 and linear rope scaling match the reference with the scaled frequencies', async () => {
    const D = 4;
    const plain = Array.from({ length: D / 2 }, (_, i) => 1 / Math.pow(500000, (2 * i) / D));
    // Llama 3 scaling written out independently: wavelengths below orig/high kept, above orig/low divided, blended between.
    const llama3 = plain.map((f) => {
      const wl = (2 * Math.PI) / f;
      if (wl < 8192 / 4) return f;
      if (wl > 8192 / 1) return f / 8;
      const t = (8192 / wl - 1) / (4 - 1);
      return (1 - t) * (f / 8) + t * f;
    });
    for (const [name, scaling, inv] of [
      ['llama3', { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 }, llama3],
      ['linear', { type: 'linear', factor: 4 }, plain.map((f) => f / 4)],
    ] as const) {
      const dir = llamaWith(`rope-${name}`, scaling);
      const ckpt = await openCheckpoint(await localFolderSource(dir));
      const spec = decoderSpec(ckpt.config, new Map([...ckpt.tensors].map(([n, t]) => [n, t.shape])), name);
      // The second frequency really is changed by the scaling (the test would be vacuous otherwise).
      expect(Math.abs(spec.inverseFrequencies[1] - plain[1]) / plain[1], name).toBeGreaterThan(0.1);
      const weights = await checkpointWeightsF32(ckpt, spec);
      const model = new DecoderModel(new OrtRuntime({ ort, provider: 'wasm' }), ckpt.config, spec, { kind: 'embedded', arrays: weights });
      const ids = Array.from({ length: 40 }, (_, i) => (i * 37 + 5) % 288);
      const out = await model.forward([ids]);
      const want = referenceForward({ ...ckpt.config, ropeInverseFrequencies: [...inv] }, weights, ids);
      let max = 0;
      want.forEach((row, t) => row.forEach((v, i) => (max = Math.max(max, Math.abs(out.data[t * 288 + i] - v)))));
      expect(max, name).toBeLessThan(1e-5);
      await model.dispose();
    }
  });

  it('a tensor the graph would not read (an o_proj bias) is refused by name instead of being ignored', async () => {
    const base = fx.model('tiny-qwen2-target');
    const tensors = [...readModelFolder(base)].map(([n, t]) => ({ name: n, dtype: t.dtype, shape: t.shape, data: t.bytes }));
    tensors.push({ name: 'model.layers.0.self_attn.o_proj.bias', dtype: 'F32', shape: [16], data: new Uint8Array(64) });
    const dir = writeModel('o-bias', JSON.parse(readFileSync(join(base, 'config.json'), 'utf8')), tensors);
    const ckpt = await openCheckpoint(await localFolderSource(dir));
    expect(() => decoderSpec(ckpt.config, new Map([...ckpt.tensors].map(([n, t]) => [n, t.shape])), 'o-bias')).toThrow(
      'o-bias: tensor "model.layers.0.self_attn.o_proj.bias" has no place in the Qwen2ForCausalLM graph',
    );
  });

  it('Qwen2.5-1.5B-Instruct at its real dimensions: the graph is built and onnxruntime accepts it (no weights needed)', async () => {
    const config = parseModelConfig(
      'Qwen2.5-1.5B-Instruct',
      JSON.stringify({
        architectures: ['Qwen2ForCausalLM'], bos_token_id: 151643, eos_token_id: 151645, hidden_act: 'silu', hidden_size: 1536, intermediate_size: 8960,
        max_position_embeddings: 32768, model_type: 'qwen2', num_attention_heads: 12, num_hidden_layers: 28, num_key_value_heads: 2, rms_norm_eps: 1e-6,
        rope_theta: 1000000.0, sliding_window: 32768, tie_word_embeddings: true, torch_dtype: 'bfloat16', use_sliding_window: false, vocab_size: 151936,
      }),
    );
    const shapes = new Map<string, number[]>([['model.embed_tokens.weight', [151936, 1536]], ['model.norm.weight', [1536]]]);
    for (let l = 0; l < 28; l++) {
      const p = `model.layers.${l}`;
      for (const [n, s] of [
        ['self_attn.q_proj.weight', [1536, 1536]], ['self_attn.q_proj.bias', [1536]], ['self_attn.k_proj.weight', [256, 1536]], ['self_attn.k_proj.bias', [256]],
        ['self_attn.v_proj.weight', [256, 1536]], ['self_attn.v_proj.bias', [256]], ['self_attn.o_proj.weight', [1536, 1536]], ['mlp.gate_proj.weight', [8960, 1536]],
        ['mlp.up_proj.weight', [8960, 1536]], ['mlp.down_proj.weight', [1536, 8960]], ['input_layernorm.weight', [1536]], ['post_attention_layernorm.weight', [1536]],
      ] as const) shapes.set(`${p}.${n}`, [...s]);
    }
    const spec = decoderSpec(config, shapes, 'Qwen2.5-1.5B-Instruct');
    expect([spec.headDim, spec.numKvHeads, spec.qkvBias, spec.headTensor]).toEqual([128, 2, true, 'model.embed_tokens.weight']);
    expect(spec.weights.reduce((a, w) => a + w.shape.reduce((x, y) => x * y, 1), 0)).toBe(1_543_714_304); // 1.54B parameters
    const runtime = new OrtRuntime({ ort, provider: 'wasm' });
    const session = await runtime.createSession(buildDecoderGraph(config, spec, { logits: 'last' }));
    expect(session.inputNames).toContain('past_key_values.27.value');
    expect(session.inputNames).toContain('model.layers.27.mlp.down_proj.weight');
    await runtime.dispose();
  });
});

describe('config details transformers honours', () => {
  const baseTensors = (name: string) => [...readModelFolder(fx.model(name))].map(([n, t]) => ({ name: n, dtype: t.dtype, shape: t.shape, data: t.bytes }));
  const baseConfig = (name: string) => JSON.parse(readFileSync(join(fx.model(name), 'config.json'), 'utf8'));
  const specOf = async (dir: string) => {
    const ckpt = await openCheckpoint(await localFolderSource(dir));
    return { ckpt, spec: decoderSpec(ckpt.config, new Map([...ckpt.tensors].map(([n, t]) => [n, t.shape])), dir.split('/').at(-1)!) };
  };

  it('a tied config reads the embedding as the head even when an lm_head.weight is stored', async () => {
    const untied = baseTensors('tiny-qwen2-untied-target');
    const dir = writeModel('tied-with-head', { ...baseConfig('tiny-qwen2-untied-target'), tie_word_embeddings: true }, untied);
    const { spec } = await specOf(dir);
    expect(spec.headTensor).toBe('model.embed_tokens.weight');
    expect(spec.weights.map((w) => w.name)).not.toContain('lm_head.weight');
  });

  it('an activation other than SiLU is refused by name', async () => {
    const dir = writeModel('gelu', { ...baseConfig('tiny-qwen2-target'), hidden_act: 'gelu_pytorch_tanh' }, baseTensors('tiny-qwen2-target'));
    await expect(specOf(dir)).rejects.toThrow('gelu: activation "gelu_pytorch_tanh" is not supported');
  });

  it("Mistral's sliding window limits prompt + generation to the window; Qwen2 with use_sliding_window false does not", async () => {
    const mistral = writeModel(
      'mistral-window',
      { ...baseConfig('tiny-qwen2-untied-target'), architectures: ['MistralForCausalLM'], model_type: 'mistral', sliding_window: 16 },
      baseTensors('tiny-qwen2-untied-target').filter((t) => !t.name.endsWith('_proj.bias')),
    );
    const { ckpt, spec } = await specOf(mistral);
    expect(spec.maxSequence).toBe(16);
    const model = new DecoderModel(new OrtRuntime({ ort, provider: 'wasm' }), ckpt.config, spec, { kind: 'embedded', arrays: await checkpointWeightsF32(ckpt, spec) });
    await expect(model.generate([Array(12).fill(1)], { maxNewTokens: 5, eosTokenIds: [] })).rejects.toThrow(
      'a prompt of 12 tokens plus 5 new ones exceeds the sliding-window length (16).',
    );
    const qwen = writeModel('qwen-window', { ...baseConfig('tiny-qwen2-target'), sliding_window: 16, use_sliding_window: false }, baseTensors('tiny-qwen2-target'));
    expect((await specOf(qwen)).spec.maxSequence).toBe(128);
  });
});
