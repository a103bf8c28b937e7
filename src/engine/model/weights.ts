import type { Checkpoint } from '../checkpoint/open-checkpoint.ts';
import { decodeToF32 } from '../merge/half-float.ts';
import { readElements, type MergePlan } from '../merge/merge-plan.ts';
import type { TensorMerger } from '../merge/tensor-merger.ts';
import { isSupportedDtype, type SupportedDtype } from '../safetensors/dtypes.ts';
import type { DecoderSpec } from './decoder-graph.ts';

/**
 * Weights as float32 arrays on the host, for the CPU providers (Node, or a page without WebGPU):
 * read from one checkpoint, or merged on the fly (θ_target + α·v) through a TensorMerger.
 * The page with WebGPU does not use this: it feeds ResidentMerge's GPU buffers.
 */

export async function checkpointWeightsF32(ckpt: Checkpoint, spec: DecoderSpec): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const w of spec.weights) {
    const t = ckpt.tensors.get(w.name)!;
    const n = w.shape.reduce((a, b) => a * b, 1);
    if (!isSupportedDtype(t.dtype)) throw new Error(`unsupported dtype ${t.dtype}`);
    out.set(w.name, decodeToF32(await ckpt.readTensorBytes(w.name), t.dtype as SupportedDtype, n, new Float32Array(n)));
  }
  return out;
}

/** θ(α) in float32 for every planned tensor (plan made with outDtype F32). */
export async function mergedWeightsF32(plan: MergePlan, merger: TensorMerger, alpha: number): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const t of plan.tensors) {
    const values = new Float32Array(t.elements);
    const bytes = new Uint8Array(values.buffer);
    for (let start = 0; start < t.mergedElements; start += merger.chunkElements) {
      const count = Math.min(merger.chunkElements, t.mergedElements - start);
      const [tb, sb, rb] = await Promise.all([readElements(t.target!, start, count), readElements(t.sft!, start, count), readElements(t.rl!, start, count)]);
      const res = await merger.mergeChunk({
        target: { dtype: t.target!.dtype, bytes: tb },
        sft: { dtype: t.sft!.dtype, bytes: sb },
        rl: { dtype: t.rl!.dtype, bytes: rb },
        count,
        alpha,
        outDtype: 'F32',
        label: t.name,
      });
      bytes.set(res.bytes, start * 4);
    }
    if (t.mergedElements < t.elements) {
      const rest = t.elements - t.mergedElements;
      const raw = await readElements(t.target!, t.mergedElements, rest);
      decodeToF32(raw, t.target!.dtype, rest, values.subarray(t.mergedElements));
    }
    out.set(t.name, values);
  }
  return out;
}
