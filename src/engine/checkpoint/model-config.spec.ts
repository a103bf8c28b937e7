import { describe, expect, it } from 'vitest';
import { CheckpointLayoutError } from '../errors.ts';
import { parseModelConfig, type ModelConfig } from './model-config.ts';
import { thrown } from '../../../test-support/rejection.ts';

// Structures copied from /work/shared/reference/model-configs.md (real config.json files).

const QWEN25_15B_INSTRUCT_V4 = {
  architectures: ['Qwen2ForCausalLM'],
  attention_dropout: 0.0,
  bos_token_id: 151643,
  eos_token_id: 151645,
  hidden_act: 'silu',
  hidden_size: 1536,
  initializer_range: 0.02,
  intermediate_size: 8960,
  max_position_embeddings: 32768,
  max_window_layers: 21,
  model_type: 'qwen2',
  num_attention_heads: 12,
  num_hidden_layers: 28,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000.0,
  sliding_window: 32768,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  transformers_version: '4.43.1',
  use_cache: true,
  use_sliding_window: false,
  vocab_size: 151936,
};

const QWEN25_15B_V5 = {
  architectures: ['Qwen2ForCausalLM'],
  hidden_size: 1536,
  intermediate_size: 8960,
  layer_types: Array.from({ length: 28 }, () => 'full_attention'),
  max_position_embeddings: 32768,
  max_window_layers: 21,
  model_type: 'qwen2',
  num_attention_heads: 12,
  num_hidden_layers: 28,
  num_key_value_heads: 2,
  pad_token_id: null,
  rms_norm_eps: 1e-6,
  rope_parameters: { rope_theta: 1000000.0, rope_type: 'default' },
  sliding_window: null,
  tie_word_embeddings: true,
  transformers_version: '5.7.0',
  use_cache: true,
  use_sliding_window: false,
  vocab_size: 151936,
};

const DEEPSEEK_R1_DISTILL_QWEN_15B = {
  ...QWEN25_15B_INSTRUCT_V4,
  bos_token_id: 151646,
  eos_token_id: 151643,
  max_position_embeddings: 131072,
  rope_theta: 10000,
  sliding_window: null,
  tie_word_embeddings: false,
  use_mrope: false,
};

/** Llama 3.2 1B style: explicit head_dim, rope_scaling with rope_type llama3, EOS list. */
const LLAMA_32_1B = {
  architectures: ['LlamaForCausalLM'],
  attention_bias: false,
  attention_dropout: 0.0,
  bos_token_id: 128000,
  eos_token_id: [128001, 128008, 128009],
  head_dim: 64,
  hidden_act: 'silu',
  hidden_size: 2048,
  initializer_range: 0.02,
  intermediate_size: 8192,
  max_position_embeddings: 131072,
  mlp_bias: false,
  model_type: 'llama',
  num_attention_heads: 32,
  num_hidden_layers: 16,
  num_key_value_heads: 8,
  pretraining_tp: 1,
  rms_norm_eps: 1e-5,
  rope_scaling: { factor: 32.0, high_freq_factor: 4.0, low_freq_factor: 1.0, original_max_position_embeddings: 8192, rope_type: 'llama3' },
  rope_theta: 500000.0,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  transformers_version: '4.45.0.dev0',
  use_cache: true,
  vocab_size: 128256,
};

const parse = (o: unknown, source = 'src') => parseModelConfig(source, JSON.stringify(o));
const withoutRaw = ({ raw: _raw, ...rest }: ModelConfig) => rest;

const layoutError = (fn: () => unknown) => thrown(CheckpointLayoutError, fn);

describe('real configs', () => {
  it('Qwen2.5-1.5B-Instruct (transformers v4)', () => {
    const c = parse(QWEN25_15B_INSTRUCT_V4);
    expect(withoutRaw(c)).toEqual({
      form: 'v4',
      architecture: 'Qwen2ForCausalLM',
      modelType: 'qwen2',
      hiddenSize: 1536,
      intermediateSize: 8960,
      numLayers: 28,
      numHeads: 12,
      numKvHeads: 2,
      headDim: 128,
      vocabSize: 151936,
      maxPositionEmbeddings: 32768,
      rmsNormEps: 1e-6,
      ropeTheta: 1000000,
      ropeType: 'default',
      tieWordEmbeddings: true,
      dtype: 'bfloat16',
      eosTokenIds: [151645],
      bosTokenId: 151643,
    });
    expect(c.raw).toEqual(QWEN25_15B_INSTRUCT_V4);
  });

  it('the 1.5B saved by transformers v5 (rope_parameters, layer_types, no dtype)', () => {
    expect(withoutRaw(parse(QWEN25_15B_V5))).toEqual({
      form: 'v5',
      architecture: 'Qwen2ForCausalLM',
      modelType: 'qwen2',
      hiddenSize: 1536,
      intermediateSize: 8960,
      numLayers: 28,
      numHeads: 12,
      numKvHeads: 2,
      headDim: 128,
      vocabSize: 151936,
      maxPositionEmbeddings: 32768,
      rmsNormEps: 1e-6,
      ropeTheta: 1000000,
      ropeType: 'default',
      tieWordEmbeddings: true,
      dtype: undefined,
      eosTokenIds: [],
      bosTokenId: undefined,
    });
  });

  it('v5 with dtype: the declared dtype is read from "dtype"', () => {
    const c = parse({ ...QWEN25_15B_V5, dtype: 'bfloat16' });
    expect([c.form, c.dtype]).toEqual(['v5', 'bfloat16']);
  });

  it('v4 and v5 forms of the same model agree on everything but form and declared fields', () => {
    const v4 = withoutRaw(parse(QWEN25_15B_INSTRUCT_V4));
    const v5 = withoutRaw(parse({ ...QWEN25_15B_V5, dtype: 'bfloat16', eos_token_id: 151645, bos_token_id: 151643 }));
    expect({ ...v5, form: 'v4' }).toEqual(v4);
  });

  it('each v5 marker alone selects the v5 form', () => {
    const { rope_theta: _t, torch_dtype: _d, transformers_version: _v, ...bare } = QWEN25_15B_INSTRUCT_V4;
    expect(parse(bare).form).toBe('v4');
    expect(parse({ ...bare, dtype: 'float16' }).form).toBe('v5');
    expect(parse({ ...bare, layer_types: ['full_attention'] }).form).toBe('v5');
    expect(parse({ ...bare, rope_parameters: { rope_theta: 5 } }).form).toBe('v5');
    expect(parse({ ...bare, transformers_version: '5.0.0' }).form).toBe('v5');
    expect(parse({ ...bare, transformers_version: '4.99.0' }).form).toBe('v4');
  });

  it('DeepSeek-R1-Distill-Qwen-1.5B: untied head, rope theta 10000, long context', () => {
    const c = parse(DEEPSEEK_R1_DISTILL_QWEN_15B);
    expect([c.tieWordEmbeddings, c.ropeTheta, c.maxPositionEmbeddings, c.eosTokenIds, c.bosTokenId, c.form]).toEqual([
      false,
      10000,
      131072,
      [151643],
      151646,
      'v4',
    ]);
    expect([c.hiddenSize, c.numLayers, c.numHeads, c.numKvHeads, c.headDim, c.vocabSize]).toEqual([1536, 28, 12, 2, 128, 151936]);
  });

  it('Llama-style config: explicit head_dim, rope_scaling type, EOS list', () => {
    const c = parse(LLAMA_32_1B);
    expect(withoutRaw(c)).toEqual({
      form: 'v4',
      architecture: 'LlamaForCausalLM',
      modelType: 'llama',
      hiddenSize: 2048,
      intermediateSize: 8192,
      numLayers: 16,
      numHeads: 32,
      numKvHeads: 8,
      headDim: 64,
      vocabSize: 128256,
      maxPositionEmbeddings: 131072,
      rmsNormEps: 1e-5,
      ropeTheta: 500000,
      ropeType: 'llama3',
      tieWordEmbeddings: true,
      dtype: 'bfloat16',
      eosTokenIds: [128001, 128008, 128009],
      bosTokenId: 128000,
    });
  });

  it('head_dim that is not hidden/heads (Qwen3 style) is taken as given; null falls back', () => {
    expect(parse({ ...QWEN25_15B_INSTRUCT_V4, hidden_size: 2048, num_attention_heads: 16, head_dim: 128 }).headDim).toBe(128);
    expect(parse({ ...QWEN25_15B_INSTRUCT_V4, head_dim: null }).headDim).toBe(128);
  });

  it('defaults: num_key_value_heads → heads, rope_theta → 10000, rms_norm_eps → 1e-6, old rope_scaling.type', () => {
    const { num_key_value_heads: _k, rope_theta: _t, rms_norm_eps: _e, ...rest } = QWEN25_15B_INSTRUCT_V4;
    const c = parse({ ...rest, rope_scaling: { type: 'linear', factor: 2 } });
    expect([c.numKvHeads, c.ropeTheta, c.rmsNormEps, c.ropeType]).toEqual([12, 10000, 1e-6, 'linear']);
  });
});

describe('missing or bad fields', () => {
  const { raw: _r, ...base } = { raw: 0, ...QWEN25_15B_INSTRUCT_V4 };
  const drop = (key: string) => Object.fromEntries(Object.entries(base).filter(([k]) => k !== key));

  it.each(['hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'vocab_size', 'max_position_embeddings'])(
    'missing %s → CheckpointLayoutError naming config.json and the field',
    (key) => {
      const e = layoutError(() => parse(drop(key), 'hf:o/n@abc'));
      expect([e.source, e.file]).toEqual(['hf:o/n@abc', 'config.json']);
      expect(e.message).toBe(`hf:o/n@abc: config.json: "${key}" must be a positive integer (found undefined).`);
    },
  );

  it.each([
    ['hidden_size', 0, '0'],
    ['vocab_size', -3, '-3'],
    ['num_hidden_layers', 2.5, '2.5'],
    ['num_key_value_heads', '2', '"2"'],
  ])('%s = %j is refused', (key, value, shown) => {
    expect(layoutError(() => parse({ ...base, [key]: value })).message).toBe(`src: config.json: "${key}" must be a positive integer (found ${shown}).`);
  });

  it('missing architectures, model_type; bad rope theta and eps; not JSON; not an object', () => {
    expect(layoutError(() => parse(drop('architectures'))).message).toBe('src: config.json: has no "architectures" entry.');
    expect(layoutError(() => parse({ ...base, architectures: [] })).message).toBe('src: config.json: has no "architectures" entry.');
    expect(layoutError(() => parse(drop('model_type'))).message).toBe('src: config.json: has no "model_type".');
    expect(layoutError(() => parse({ ...base, rope_theta: -1 })).message).toBe('src: config.json: rope theta must be a positive number (found -1).');
    expect(layoutError(() => parse({ ...base, rope_theta: 'big' })).message).toBe('src: config.json: rope theta must be a positive number (found "big").');
    expect(layoutError(() => parse({ ...base, rms_norm_eps: 0 })).message).toBe('src: config.json: "rms_norm_eps" must be a positive number.');
    expect(layoutError(() => parse([1, 2])).message).toBe('src: config.json: is not a JSON object.');
    expect(layoutError(() => parse(null)).message).toBe('src: config.json: is not a JSON object.');
    expect(layoutError(() => parseModelConfig('src', '{"hidden_size": ')).message).toMatch(/^src: config\.json: is not valid JSON \(.+\)\.$/);
  });
});
