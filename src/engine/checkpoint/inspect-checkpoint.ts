import type { Checkpoint } from './open-checkpoint.ts';

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
  config: {
    hiddenSize: number;
    intermediateSize: number;
    numLayers: number;
    numHeads: number;
    numKvHeads: number;
    headDim: number;
    vocabSize: number;
    maxPositionEmbeddings: number;
    ropeTheta: number;
    ropeType: string;
    rmsNormEps: number;
    eosTokenIds: number[];
  };
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
    config: {
      hiddenSize: c.hiddenSize,
      intermediateSize: c.intermediateSize,
      numLayers: c.numLayers,
      numHeads: c.numHeads,
      numKvHeads: c.numKvHeads,
      headDim: c.headDim,
      vocabSize: c.vocabSize,
      maxPositionEmbeddings: c.maxPositionEmbeddings,
      ropeTheta: c.ropeTheta,
      ropeType: c.ropeType,
      rmsNormEps: c.rmsNormEps,
      eosTokenIds: c.eosTokenIds,
    },
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
