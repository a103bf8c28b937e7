/**
 * A deliberately naive safetensors reader for tests (whole file in memory, no validation): an
 * independent way to look at what the engine wrote, sharing no code with src/engine/safetensors.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface RawTensor {
  dtype: string;
  shape: number[];
  bytes: Uint8Array;
}

export function readSafetensorsFile(path: string): { tensors: Map<string, RawTensor>; metadata?: Record<string, string> } {
  const buf = readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  const tensors = new Map<string, RawTensor>();
  for (const [name, e] of Object.entries<{ dtype: string; shape: number[]; data_offsets: [number, number] }>(header)) {
    if (name === '__metadata__') continue;
    tensors.set(name, { dtype: e.dtype, shape: e.shape, bytes: new Uint8Array(buf.subarray(8 + n + e.data_offsets[0], 8 + n + e.data_offsets[1])) });
  }
  return { tensors, metadata: header.__metadata__ };
}

/** Every tensor of a model folder, single-file or sharded, with the file it came from. */
export function readModelFolder(dir: string): Map<string, RawTensor & { file: string }> {
  const out = new Map<string, RawTensor & { file: string }>();
  const index = join(dir, 'model.safetensors.index.json');
  const files = existsSync(index)
    ? [...new Set(Object.values<string>(JSON.parse(readFileSync(index, 'utf8')).weight_map))]
    : ['model.safetensors'];
  for (const f of files) for (const [name, t] of readSafetensorsFile(join(dir, f)).tensors) out.set(name, { ...t, file: f });
  return out;
}

/** The reference forward pass's config, read from a model folder's config.json (v4 form). */
export function refConfigOf(dir: string) {
  const c = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  return {
    hiddenSize: c.hidden_size as number,
    intermediateSize: c.intermediate_size as number,
    numLayers: c.num_hidden_layers as number,
    numHeads: c.num_attention_heads as number,
    numKvHeads: c.num_key_value_heads as number,
    headDim: (c.head_dim ?? c.hidden_size / c.num_attention_heads) as number,
    vocabSize: c.vocab_size as number,
    rmsNormEps: c.rms_norm_eps as number,
    ropeTheta: (c.rope_theta ?? c.rope_parameters?.rope_theta) as number,
  };
}
