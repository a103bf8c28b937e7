import { pastName, presentName, type ComputeDtype, type DecoderSpec } from './decoder-graph.ts';
import { GraphBuilder } from './onnx-builder.ts';

/**
 * A one-op-per-tensor graph that repeats rows of a KV cache: inputs present.N.key/value
 * [G, KV, P, D] (one row per context) and `rows` int64 [R] (which context each output row
 * continues), outputs past_key_values.N.key/value [R, KV, P, D] = Gather(axis 0). The
 * log-likelihood pass (DecoderModel.loglikelihood) runs it on the same provider as the decoder,
 * so on WebGPU a context's cache goes from one run to the next without leaving the GPU — it was
 * downloaded, tiled on the host and uploaded again before.
 */
export function buildCacheGatherGraph(spec: DecoderSpec, compute: ComputeDtype): Uint8Array {
  const g = new GraphBuilder();
  const { numLayers: L, numKvHeads: KV, headDim: D } = spec;
  const rows = g.input('rows', 'int64', ['rows']);
  for (let l = 0; l < L; l++) {
    for (const kind of ['key', 'value'] as const) {
      const x = g.input(presentName(l, kind), compute, ['contexts', KV, 'past_sequence', D]);
      g.output(g.op('Gather', [x, rows], { axis: 0 }), pastName(l, kind), compute, ['rows', KV, 'past_sequence', D]);
    }
  }
  return g.toBytes('KV cache row gather');
}
