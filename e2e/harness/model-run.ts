// Harness: the demo trio merged on the page's GPU (ResidentMerge) and run by onnxruntime-web's
// WebGPU EP with the merged buffers as weight inputs — no copy, no session rebuild on a new α.
import * as ort from 'onnxruntime-web/webgpu';
import { openCheckpoint } from '../../src/engine/checkpoint/open-checkpoint.ts';
import { requestGpu } from '../../src/engine/gpu/request-device.ts';
import { planMerge } from '../../src/engine/merge/merge-plan.ts';
import { ResidentMerge } from '../../src/engine/merge/resident-merge.ts';
import { decoderSpec } from '../../src/engine/model/decoder-graph.ts';
import { DecoderModel } from '../../src/engine/model/decoder-model.ts';
import { OrtRuntime, type Ort } from '../../src/engine/model/ort-runtime.ts';
import { httpFolderSource } from '../../src/engine/sources/http-folder-source.ts';

(window as unknown as { runModelCheck: unknown }).runModelCheck = async (o: { alphas: number[]; prompts: number[][]; newTokens: number }) => {
  const { device } = await requestGpu();
  const errors: string[] = [];
  device.addEventListener('uncapturederror', (e) => errors.push((e as GPUUncapturedErrorEvent).error.message));
  const open = async (n: string) => openCheckpoint(await httpFolderSource(`/demo/${n}/`, n));
  const [sft, rl, target] = await Promise.all(['tiny-qwen2-sft', 'tiny-qwen2-rl', 'tiny-qwen2-target'].map(open));
  const plan = planMerge({ sft, rl, target }, { mode: 'merge', outDtype: 'F32' });
  const resident = await ResidentMerge.create(device, plan);
  const spec = decoderSpec(target.config, new Map([...target.tensors].map(([n, t]) => [n, t.shape])), target.source.label);
  const outputs = resident.outputs;
  const weights = Object.fromEntries(
    spec.weights.map((w) => [w.name, ort.Tensor.fromGpuBuffer(outputs.get(w.name)!.buffer, { dataType: 'float32', dims: w.shape })]),
  );
  const runtime = new OrtRuntime({ ort: ort as unknown as Ort, provider: 'webgpu', device });
  const model = new DecoderModel(runtime, target.config, spec, { kind: 'inputs', tensors: weights });
  const results = [];
  for (const alpha of o.alphas) {
    const t0 = performance.now();
    await resident.setAlpha(alpha);
    const forward = await model.forward(o.prompts);
    const generated = await model.generate(o.prompts, { maxNewTokens: o.newTokens, eosTokenIds: [] });
    results.push({ alpha, dims: forward.dims, logits: Array.from(forward.data), generated: generated.map((g) => g.ids), ms: performance.now() - t0 });
  }
  await model.dispose();
  await runtime.dispose();
  resident.destroy();
  return { results, errors, sessions: 2 };
};
document.getElementById('status')!.textContent = 'ready';
