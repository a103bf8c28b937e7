// Benchmark harness page for `npm run bench:fused -- --page`: standard vs fused graph on the
// WebGPU EP, weights in GPU buffers fed as inputs (the page's real path).
import * as ort from 'onnxruntime-web/webgpu';
import { requestGpu } from '../../src/engine/gpu/request-device.ts';
import { weightInputs } from '../../src/engine/model/decoder-graph.ts';
import { DecoderModel } from '../../src/engine/model/decoder-model.ts';
import { OrtRuntime, type Ort, type OrtTensor } from '../../src/engine/model/ort-runtime.ts';
import { benchFused, benchSpec, randomWeights, SMALL, type BenchShape, type Variant } from '../../scripts/bench/fused-bench.ts';

(window as unknown as { runFusedBench: unknown }).runFusedBench = async (o: { promptTokens: number; decodeTokens: number; batches: number[]; rounds: number; variants: Variant[]; shape?: BenchShape }) => {
  const { device, adapterInfo } = await requestGpu();
  const { config, spec } = benchSpec(o.shape ?? SMALL);
  const arrays = randomWeights(spec);
  const buffers: GPUBuffer[] = [];
  const tensors: Record<string, OrtTensor> = {};
  for (const i of weightInputs(spec)) {
    const data = arrays.get(i.name)!;
    const b = device.createBuffer({ label: i.name, size: Math.ceil(data.byteLength / 16) * 16, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    device.queue.writeBuffer(b, 0, data as Float32Array<ArrayBuffer>);
    buffers.push(b);
    tensors[i.name] = ort.Tensor.fromGpuBuffer(b, { dataType: 'float32', dims: i.shape }) as unknown as OrtTensor;
  }
  const runtime = new OrtRuntime({ ort: ort as unknown as Ort, provider: 'webgpu', device });
  // First generation on fresh sessions: what a user waits for once (WGSL compiled per program).
  const first = { standard: 0, fused: 0 };
  const prompt = Array.from({ length: o.promptTokens }, (_, i) => (i * 7 + 1) % spec.vocabSize);
  for (const fused of [false, true]) {
    const m = new DecoderModel(runtime, config, spec, { kind: 'inputs', tensors }, 'float32', { fused });
    await m.prepare('last');
    const t = performance.now();
    await m.generate([prompt], { maxNewTokens: 1 + o.decodeTokens, eosTokenIds: [] });
    first[fused ? 'fused' : 'standard'] = (performance.now() - t) / 1000;
    await m.dispose();
  }
  const rows = await benchFused(runtime, config, spec, { kind: 'inputs', tensors }, o);
  await runtime.dispose();
  buffers.forEach((b) => b.destroy());
  return { adapter: [adapterInfo.vendor, adapterInfo.architecture, adapterInfo.description].filter(Boolean).join(' / '), rows, firstGeneration: first, software: adapterInfo.isFallbackAdapter || /swiftshader/i.test(adapterInfo.description + adapterInfo.vendor + adapterInfo.architecture) };
};
document.getElementById('status')!.textContent = 'ready';
