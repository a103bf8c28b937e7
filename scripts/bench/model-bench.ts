/**
 * The measurements of `npm run bench:model`, shared by the page (WebGPU EP, zero-copy weights)
 * and Node (WASM EP): prefill and decode tokens/s at batch 1 and 8, and α change → first new
 * token, against rebuilding a session from an ONNX model with the weights inside.
 */
import type { Checkpoint } from '../../src/engine/checkpoint/open-checkpoint.ts';
import { CpuTensorMerger } from '../../src/engine/merge/cpu-tensor-merger.ts';
import { buildDecoderGraph, pastName } from '../../src/engine/model/decoder-graph.ts';
import { LiveModel } from '../../src/engine/model/live-model.ts';
import type { Ort } from '../../src/engine/model/ort-runtime.ts';
import { mergedWeightsF32 } from '../../src/engine/model/weights.ts';

export interface ModelBenchResult {
  path: string;
  prefill: { batch: number; tokens: number; seconds: number; tokensPerSecond: number }[];
  decode: { batch: number; tokens: number; seconds: number; tokensPerSecond: number }[];
  /** GPU only: the WASM provider has no zero-copy path (both ways rebuild a session there). */
  alphaChange?: { zeroCopySeconds: number; rebuildSeconds: number; ratio: number; zeroCopyLabel: string };
}

const now = () => performance.now() / 1000;

export async function benchModel(
  trio: { sft: Checkpoint; rl: Checkpoint; target: Checkpoint },
  ort: Ort,
  device: GPUDevice | undefined,
  o: { promptTokens: number; decodeTokens: number; batches: number[] },
): Promise<ModelBenchResult> {
  const live = await LiveModel.create({ trio, ort, device, residency: { budgetBytes: 2 * 1024 ** 3 } });
  await live.setAlpha(1);
  const V = live.spec.vocabSize;
  const prompt = (b: number) => Array.from({ length: o.promptTokens }, (_, i) => (i * 7 + b * 13 + 1) % V);
  const gen = (rows: number[][], n: number) => live.generate(rows, { maxNewTokens: n, eosTokenIds: [] });
  await gen([prompt(0)], 2); // warm-up: sessions, pipelines
  const prefill = [];
  const decode = [];
  for (const batch of o.batches) {
    const rows = Array.from({ length: batch }, (_, b) => prompt(b));
    await gen(rows, 2);
    let t = now();
    await gen(rows, 1);
    const one = now() - t;
    t = now();
    await gen(rows, 1 + o.decodeTokens);
    const many = now() - t;
    prefill.push({ batch, tokens: batch * o.promptTokens, seconds: one, tokensPerSecond: (batch * o.promptTokens) / one });
    decode.push({ batch, tokens: batch * o.decodeTokens, seconds: many - one, tokensPerSecond: (batch * o.decodeTokens) / (many - one) });
  }

  if (!device) {
    await live.dispose();
    return { path: live.path, prefill, decode };
  }
  // α change → first new token. Zero-copy: re-merge into the weights the session already reads.
  const rows = [prompt(0)];
  let t = now();
  await live.setAlpha(0.5);
  const first = await gen(rows, 1);
  const zeroCopySeconds = now() - t;

  // Conventional: merge on the host, build an ONNX model with the weights inside, new session, run.
  t = now();
  const weights = await mergedWeightsF32(live.plan, new CpuTensorMerger(), 0.5);
  const graph = buildDecoderGraph(trio.target.config, live.spec, { logits: 'last', embedWeights: weights });
  const session = await live.runtime.createSession(graph);
  const S = rows[0].length;
  const { numKvHeads: KV, headDim: D, numLayers: L } = live.spec;
  const feeds: Record<string, InstanceType<Ort['Tensor']>> = {
    input_ids: new ort.Tensor('int64', BigInt64Array.from(rows[0].map(BigInt)), [1, S]),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(S).fill(1n), [1, S]),
    position_ids: new ort.Tensor('int64', BigInt64Array.from(rows[0].map((_, i) => BigInt(i))), [1, S]),
  };
  for (let l = 0; l < L; l++) {
    feeds[pastName(l, 'key')] = new ort.Tensor('float32', new Float32Array(0), [1, KV, 0, D]);
    feeds[pastName(l, 'value')] = new ort.Tensor('float32', new Float32Array(0), [1, KV, 0, D]);
  }
  const out = await session.run(feeds);
  const logits = (await out.logits.getData()) as Float32Array;
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  const rebuildSeconds = now() - t;
  for (const v of Object.values(out)) v.dispose();
  await session.release();
  if (best !== first[0].ids[0]) throw new Error(`the two paths disagree on the first token (${best} vs ${first[0].ids[0]})`);
  await live.dispose();
  return {
    path: live.path,
    prefill,
    decode,
    alphaChange: {
      zeroCopySeconds,
      rebuildSeconds,
      ratio: rebuildSeconds / zeroCopySeconds,
      zeroCopyLabel: 'GPU re-merge into the weight buffers the live session reads',
    },
  };
}
