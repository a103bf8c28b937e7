import type { ModelConfig } from './model-config.ts';
import type { Checkpoint } from './open-checkpoint.ts';

/** The config facts a summary carries (and `studio inspect` prints), in this order. */
const SUMMARY_CONFIG_FIELDS = [
  'hiddenSize',
  'intermediateSize',
  'numLayers',
  'numHeads',
  'numKvHeads',
  'headDim',
  'vocabSize',
  'maxPositionEmbeddings',
  'ropeTheta',
  'ropeType',
  'rmsNormEps',
  'eosTokenIds',
] as const;

/** What `studio inspect` prints and each slot in the page shows. Plain JSON. */
export interface CheckpointSummary {
  source: string;
  revision: string | null;
  architecture: string;
  modelType: string;
  configForm: 'v4' | 'v5';
  configDtype: string | null;
  parameters: number;
  totalTensorBytes: number;
  dtypes: Record<string, number>;
  tiedEmbeddings: boolean;
  sharded: boolean;
  shards: Array<{ file: string; bytes: number; tensors: number }>;
  config: Pick<ModelConfig, (typeof SUMMARY_CONFIG_FIELDS)[number]>;
  tokenizerFiles: string[];
  tensors: Array<{ name: string; dtype: string; shape: number[]; file: string }>;
}

export function summarizeCheckpoint(ckpt: Checkpoint): CheckpointSummary {
  const c = ckpt.config;
  const dtypes: Record<string, number> = {};
  let parameters = 0;
  let totalTensorBytes = 0;
  for (const t of ckpt.tensors.values()) {
    dtypes[t.dtype] = (dtypes[t.dtype] ?? 0) + 1;
    parameters += t.shape.reduce((a, b) => a * b, 1);
    totalTensorBytes += t.byteLength;
  }
  return {
    source: ckpt.source.label,
    revision: ckpt.source.revision ?? null,
    architecture: c.architecture,
    modelType: c.modelType,
    configForm: c.form,
    configDtype: c.dtype ?? null,
    parameters,
    totalTensorBytes,
    dtypes,
    tiedEmbeddings: ckpt.tiedHead,
    sharded: ckpt.sharded,
    shards: ckpt.shards.map((s) => ({ file: s.file, bytes: s.fileSize, tensors: s.tensors.length })),
    config: Object.fromEntries(SUMMARY_CONFIG_FIELDS.map((k) => [k, c[k]])) as CheckpointSummary['config'],
    tokenizerFiles: ckpt.tokenizerFiles,
    tensors: [...ckpt.tensors.values()].map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, file: t.file })),
  };
}

/** "1.54B", "12.3M", "4.1K" */
export function formatParameterCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}K`;
  return String(n);
}
