import { CheckpointLayoutError } from '../errors.ts';

/**
 * config.json normalised across transformers v4 (`rope_theta`, `torch_dtype`) and v5
 * (`rope_parameters`, `dtype`, `layer_types`). The raw object is kept for export: a merged
 * model ships the target's config.json unchanged.
 */
export interface ModelConfig {
  form: 'v4' | 'v5';
  architecture: string;
  modelType: string;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  vocabSize: number;
  maxPositionEmbeddings: number;
  rmsNormEps: number;
  ropeTheta: number;
  ropeType: string;
  tieWordEmbeddings: boolean;
  /** Declared storage dtype (`torch_dtype` or `dtype`), e.g. "bfloat16"; undefined if absent. */
  dtype?: string;
  eosTokenIds: number[];
  bosTokenId?: number;
  raw: Record<string, unknown>;
}

export function parseModelConfig(source: string, text: string): ModelConfig {
  const fail = (detail: string): never => {
    throw new CheckpointLayoutError(source, 'config.json', detail);
  };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return fail(`is not valid JSON (${(e as Error).message}).`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return fail('is not a JSON object.');
  const c = raw as Record<string, unknown>;

  const int = (key: string, fallback?: number): number => {
    const v = c[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) {
      return fail(`"${key}" must be a positive integer (found ${JSON.stringify(c[key])}).`);
    }
    return v;
  };

  const ropeParameters = c.rope_parameters as Record<string, unknown> | undefined;
  const form: 'v4' | 'v5' =
    ropeParameters !== undefined || 'dtype' in c || 'layer_types' in c || majorVersion(c.transformers_version) >= 5 ? 'v5' : 'v4';

  const architectures = c.architectures;
  const architecture =
    Array.isArray(architectures) && typeof architectures[0] === 'string' ? architectures[0] : fail('has no "architectures" entry.');
  const numHeads = int('num_attention_heads');
  const hiddenSize = int('hidden_size');
  const ropeScaling = c.rope_scaling as Record<string, unknown> | null | undefined;
  const ropeTheta = ropeParameters?.rope_theta ?? c.rope_theta ?? 10000;
  if (typeof ropeTheta !== 'number' || !(ropeTheta > 0)) fail(`rope theta must be a positive number (found ${JSON.stringify(ropeTheta)}).`);
  const ropeType = String(ropeParameters?.rope_type ?? ropeScaling?.rope_type ?? ropeScaling?.type ?? 'default');

  const dtype = (c.dtype ?? c.torch_dtype) as unknown;
  const eps = c.rms_norm_eps ?? 1e-6;
  if (typeof eps !== 'number' || !(eps > 0)) fail(`"rms_norm_eps" must be a positive number.`);

  return {
    form,
    architecture,
    modelType: typeof c.model_type === 'string' ? c.model_type : fail('has no "model_type".'),
    hiddenSize,
    intermediateSize: int('intermediate_size'),
    numLayers: int('num_hidden_layers'),
    numHeads,
    numKvHeads: int('num_key_value_heads', numHeads),
    headDim: int('head_dim', hiddenSize / numHeads),
    vocabSize: int('vocab_size'),
    maxPositionEmbeddings: int('max_position_embeddings'),
    rmsNormEps: eps as number,
    ropeTheta: ropeTheta as number,
    ropeType,
    tieWordEmbeddings: c.tie_word_embeddings === true,
    dtype: typeof dtype === 'string' ? dtype : undefined,
    eosTokenIds: tokenIds(c.eos_token_id),
    bosTokenId: typeof c.bos_token_id === 'number' ? c.bos_token_id : undefined,
    raw: c,
  };
}

function tokenIds(v: unknown): number[] {
  if (typeof v === 'number') return [v];
  if (Array.isArray(v)) return v.filter((x): x is number => typeof x === 'number');
  return [];
}

function majorVersion(v: unknown): number {
  return typeof v === 'string' ? Number.parseInt(v, 10) || 0 : 0;
}
