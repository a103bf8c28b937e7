// Harness: where the KV cache lives between decode steps on onnxruntime-web's WebGPU EP, how many
// GPU tensors are alive, and the fused contrib-op graph against the standard one on WebGPU.
import * as ort from 'onnxruntime-web/webgpu';
import { openCheckpoint } from '../../src/engine/checkpoint/open-checkpoint.ts';
import { requestGpu } from '../../src/engine/gpu/request-device.ts';
import { buildDecoderGraph, decoderSpec, presentName, weightInputs } from '../../src/engine/model/decoder-graph.ts';
import { DecoderModel } from '../../src/engine/model/decoder-model.ts';
import { OrtRuntime, type Ort, type OrtTensor, type RunTrace } from '../../src/engine/model/ort-runtime.ts';
import { httpFolderSource } from '../../src/engine/sources/http-folder-source.ts';
import { checkpointWeightsF32 } from '../../src/engine/model/weights.ts';
import { decodeRun, fusedTestLayout, LAYOUTS, realPositions, relDiff } from '../../test-support/fused-layouts.ts';

type W = { runKvCacheCheck: unknown; runFusedCheck: unknown };

/** Weights as GPU buffers fed by reference (the page's real path), on `device`. */
function gpuWeights(device: GPUDevice, arrays: Map<string, Float32Array>, inputs: { name: string; shape: number[] }[]) {
  const buffers: GPUBuffer[] = [];
  const tensors: Record<string, OrtTensor> = {};
  for (const i of inputs) {
    const data = arrays.get(i.name)!;
    const buffer = device.createBuffer({ label: i.name, size: Math.max(16, Math.ceil(data.byteLength / 16) * 16), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    device.queue.writeBuffer(buffer, 0, data as Float32Array<ArrayBuffer>);
    buffers.push(buffer);
    tensors[i.name] = ort.Tensor.fromGpuBuffer(buffer, { dataType: 'float32', dims: i.shape }) as unknown as OrtTensor;
  }
  return { tensors, destroy: () => buffers.forEach((b) => b.destroy()) };
}

const summary = (t: RunTrace) => {
  const where = (r: Record<string, string>, prefix: string) => [...new Set(Object.entries(r).filter(([n]) => n.startsWith(prefix)).map(([, l]) => l))].sort();
  return {
    past: where(t.inputs, 'past_key_values.'),
    present: where(t.outputs, 'present.'),
    // The log-likelihood's cache gather (cache-gather.ts) takes presents and gives pasts.
    presentIn: where(t.inputs, 'present.'),
    pastOut: where(t.outputs, 'past_key_values.'),
    logits: t.outputs.logits,
    live: t.liveGpuTensors,
    pastCount: Object.keys(t.inputs).filter((n) => n.startsWith('past_key_values.')).length,
  };
};

(window as unknown as W).runKvCacheCheck = async (o: { prompts: number[][]; newTokens: number }) => {
  const { device } = await requestGpu();
  const errors: string[] = [];
  device.addEventListener('uncapturederror', (e) => errors.push((e as GPUUncapturedErrorEvent).error.message));
  const target = await openCheckpoint(await httpFolderSource('/demo/tiny-qwen2-target/', 'tiny-qwen2-target'));
  const spec = decoderSpec(target.config, new Map([...target.tensors].map(([n, t]) => [n, t.shape])), target.source.label);
  const w = gpuWeights(device, await checkpointWeightsF32(target, spec), weightInputs(spec));
  const runtime = new OrtRuntime({ ort: ort as unknown as Ort, provider: 'webgpu', device });
  const out = [];
  for (const fused of [false, true]) {
    const model = new DecoderModel(runtime, target.config, spec, { kind: 'inputs', tensors: w.tensors }, 'float32', { fused });
    await model.prepare('last');
    const traces: ReturnType<typeof summary>[] = [];
    runtime.onRun = (t) => traces.push(summary(t));
    const first = await model.generate(o.prompts, { maxNewTokens: o.newTokens, eosTokenIds: [] });
    const liveAfterFirst = runtime.liveGpuTensors;
    const second = await model.generate(o.prompts, { maxNewTokens: o.newTokens, eosTokenIds: [] });
    const liveAfterSecond = runtime.liveGpuTensors;
    const llTraces: ReturnType<typeof summary>[] = [];
    runtime.onRun = (t) => llTraces.push(summary(t));
    const ll = await model.loglikelihood([{ context: [283, 10, 20], continuation: [30, 284] }, { context: [283, 10, 20], continuation: [31, 285] }, { context: [7], continuation: [8, 9, 10] }]);
    const liveAfterLoglikelihood = runtime.liveGpuTensors;
    runtime.onRun = undefined;
    const forward = await model.forward(o.prompts);
    out.push({
      fused,
      traces,
      liveAfterFirst,
      liveAfterSecond,
      llTraces,
      liveAfterLoglikelihood,
      liveAfterAll: runtime.liveGpuTensors,
      generated: first.map((r) => r.ids),
      generatedAgain: second.map((r) => r.ids),
      dims: forward.dims,
      logits: Array.from(forward.data),
      loglikelihood: ll.map((r) => r.loglikelihood),
    });
    await model.dispose();
  }
  await runtime.dispose();
  w.destroy();
  return { results: out, errors, layers: spec.numLayers };
};

(window as unknown as W).runFusedCheck = async (o: { prompts: number[][]; steps: number }) => {
  const { device, adapterInfo } = await requestGpu();
  const errors: string[] = [];
  device.addEventListener('uncapturederror', (e) => errors.push((e as GPUUncapturedErrorEvent).error.message));
  const runtime = new OrtRuntime({ ort: ort as unknown as Ort, provider: 'webgpu', device });
  const results = [];
  for (const kind of LAYOUTS) {
    const { config, spec, weights } = fusedTestLayout(kind);
    const w = gpuWeights(device, weights, weightInputs(spec));
    const onGpu = Array.from({ length: spec.numLayers }, (_, l) => [presentName(l, 'key'), presentName(l, 'value')]).flat();
    const plain = await runtime.createSession(buildDecoderGraph(config, spec, { logits: 'last' }), onGpu);
    const fused = await runtime.createSession(buildDecoderGraph(config, spec, { logits: 'last', fused: true }), onGpu);
    const t0 = performance.now();
    const want = await decodeRun(ort as unknown as Ort, plain, spec, o.prompts, o.steps, w.tensors);
    const t1 = performance.now();
    const got = await decodeRun(ort as unknown as Ort, fused, spec, o.prompts, o.steps, w.tensors);
    console.info(`[kv-cache] ${kind}: standard ${(t1 - t0).toFixed(0)} ms, fused ${(performance.now() - t1).toFixed(0)} ms`);
    results.push({
      kind,
      steps: want.map((s, i) => ({
        logits: relDiff(got[i].logits, s.logits),
        presents: Math.max(...s.presents.map((p, j) => relDiff(realPositions(got[i].presents[j], o.prompts, s.presentDims[2], spec), realPositions(p, o.prompts, s.presentDims[2], spec)))),
        finite: got[i].presents.every((p) => p.every(Number.isFinite)),
        dims: [s.presentDims, got[i].presentDims],
        tokens: [Array.from({ length: o.prompts.length }, (_, b) => argmax(s.logits, b, spec.vocabSize)), Array.from({ length: o.prompts.length }, (_, b) => argmax(got[i].logits, b, spec.vocabSize))],
      })),
    });
    await plain.release();
    await fused.release();
    w.destroy();
  }
  const live = runtime.liveGpuTensors;
  await runtime.dispose();
  return { results, errors, live, adapter: adapterInfo.description || adapterInfo.vendor };
};

function argmax(x: Float32Array, row: number, V: number): number {
  const r = x.subarray(row * V, (row + 1) * V);
  return r.indexOf(Math.max(...r));
}

document.getElementById('status')!.textContent = 'ready';
