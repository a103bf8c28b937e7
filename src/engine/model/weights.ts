import type { Checkpoint } from '../checkpoint/open-checkpoint.ts';
import { StudioError, UnsupportedDtypeError } from '../errors.ts';
import { CPU_CHUNK_ELEMENTS } from '../merge/cpu-tensor-merger.ts';
import type { Chunk } from '../merge/chunks.ts';
import { decodeToF32 } from '../merge/half-float.ts';
import { executeMerge, type MergeSink } from '../merge/merge-executor.ts';
import type { MergePlan, PlannedTensor } from '../merge/merge-plan.ts';
import type { TensorMerger } from '../merge/tensor-merger.ts';
import { isSupportedDtype } from '../safetensors/dtypes.ts';
import type { DecoderSpec } from './decoder-graph.ts';

/**
 * Weights as float32 arrays on the host, for the CPU providers (Node, or a page without WebGPU):
 * read from one checkpoint, or merged on the fly (θ_target + α·v) through a TensorMerger. Both
 * run through the merge executor with host arrays as its sink, so reads are chunked (memory is
 * the arrays plus a few chunks) and failures and cancellation behave as for every other sink.
 * The page with WebGPU does not use this: it feeds ResidentMerge's GPU buffers.
 */

/** The model's weights do not match what the model needs: a config/weights mismatch the user can fix. */
export class WeightsMismatchError extends StudioError {
  constructor(
    readonly source: string,
    readonly tensor: string,
    detail: string,
  ) {
    super(`${source}: tensor "${tensor}" ${detail}`);
  }
}

const count = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
const fmt = (s: number[]) => `[${s.join(', ')}]`;

/**
 * Each chunk at its place in the tensor's float32 array: merged chunks arrive as float32 bytes,
 * kept chunks as the target's stored bytes (the executor runs with `castKept: false`), decoded
 * here straight into the array — exactly as a whole-tensor decode would.
 */
function hostArraySink(arrays: Map<string, Float32Array>): MergeSink {
  return {
    write(c: Chunk, bytes: Uint8Array) {
      const a = arrays.get(c.tensor.name)!;
      if (c.kind === 'kept') decodeToF32(bytes, c.tensor.target!.dtype, c.count, a.subarray(c.start, c.start + c.count));
      else new Uint8Array(a.buffer, a.byteOffset, a.byteLength).set(bytes, c.start * 4);
    },
  };
}

/** The spec's weights as stored in one checkpoint, each checked against what the model needs. */
export async function checkpointWeightsF32(ckpt: Checkpoint, spec: DecoderSpec, signal?: AbortSignal): Promise<Map<string, Float32Array>> {
  const tensors = checkpointTensors(ckpt, spec);
  const arrays = new Map(tensors.map((t) => [t.name, new Float32Array(t.elements)]));
  // Nothing is merged: only the kept (copied) parts run, cast to float32.
  await executeMerge({ tensors, chunkElements: CPU_CHUNK_ELEMENTS, compute: 'merge', alpha: 0, parts: { merged: false, kept: true }, outDtype: () => 'F32', castKept: false, sink: hostArraySink(arrays), signal });
  return arrays;
}

/**
 * The spec's weights in one checkpoint as float32 tensors the merge executor copies (kept parts
 * only, nothing merged), each checked against what the model needs: for any sink.
 */
export function checkpointTensors(ckpt: Checkpoint, spec: DecoderSpec): PlannedTensor[] {
  const label = ckpt.source.label;
  return spec.weights.map((w) => {
    const t = ckpt.tensors.get(w.name);
    if (!t) {
      throw new WeightsMismatchError(label, w.name, `is not in the checkpoint's weights, but the model needs it; check that config.json belongs to these safetensors files.`);
    }
    if (!isSupportedDtype(t.dtype)) throw new UnsupportedDtypeError(`${label}/${t.file}`, w.name, t.dtype);
    if (fmt(t.shape) !== fmt(w.shape)) {
      throw new WeightsMismatchError(
        label,
        w.name,
        `in ${t.file} has shape ${fmt(t.shape)}, but the model needs ${fmt(w.shape)}; check that config.json belongs to these safetensors files.`,
      );
    }
    const elements = count(w.shape);
    return { name: w.name, shape: w.shape, dtype: 'F32', elements, byteLength: elements * 4, target: { ckpt, name: w.name, dtype: t.dtype, shape: t.shape }, mergedElements: 0 };
  });
}

/** θ(α) in float32 for every planned tensor, whatever output dtype the plan names. */
export async function mergedWeightsF32(plan: MergePlan, merger: TensorMerger, alpha: number, signal?: AbortSignal): Promise<Map<string, Float32Array>> {
  if (plan.mode !== 'merge') throw new Error('mergedWeightsF32 needs a plan made with mode "merge"');
  const arrays = new Map(plan.tensors.map((t) => [t.name, new Float32Array(t.elements)]));
  await executeMerge({ tensors: plan.tensors, merger, compute: 'merge', alpha, parts: { merged: true, kept: true }, outDtype: () => 'F32', castKept: false, sink: hostArraySink(arrays), signal });
  return arrays;
}
