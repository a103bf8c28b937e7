// Harness for e2e/page-q4.spec.ts: the page's LiveModel in its 4-bit weights mode (θ(α) merged on
// the GPU, each projection quantised there by quantize-q4.wgsl into MatMulNBits inputs), its
// logits at several α, and what it holds.
import * as ort from 'onnxruntime-web/webgpu';
import { openCheckpoint } from '../../src/engine/checkpoint/open-checkpoint.ts';
import { requestGpu } from '../../src/engine/gpu/request-device.ts';
import { LiveModel } from '../../src/engine/model/live-model.ts';
import type { Ort } from '../../src/engine/model/ort-runtime.ts';
import { httpFolderSource } from '../../src/engine/sources/http-folder-source.ts';
import { CpuTensorMerger } from '../../src/engine/merge/cpu-tensor-merger.ts';
import { mergedWeightsF32 } from '../../src/engine/model/weights.ts';
import { dequantizeQ4, quantizeQ4 } from '../../src/engine/quant/q4-quantize.ts';
import { q4InputNames } from '../../src/engine/quant/q4-weights.ts';
import { QWEN25_CONFIGS } from '../../test-support/model-shapes.ts';
import { randomQwen2Trio } from '../../test-support/random-checkpoint.ts';
import { referenceForward } from '../../test-support/reference-forward.ts';

const w = window as unknown as Record<string, unknown>;

w.runPageQ4 = async (o: { prefix: string; alphas: number[]; ids: number[]; budgetBytes: number; maxBufferBytes?: number; weights?: 'float' | 'q4' }) => {
  const open = async (n: string) => openCheckpoint(await httpFolderSource(`/demo/${o.prefix}-${n}/`, `${o.prefix}-${n}`));
  const [sft, rl, target] = await Promise.all(['sft', 'rl', 'target'].map(open));
  const { device } = await requestGpu();
  const errors: string[] = [];
  device.addEventListener('uncapturederror', (e) => errors.push((e as GPUUncapturedErrorEvent).error.message));
  // float16 asked for: the q4 mode computes in float32 regardless (its scales are float32).
  const live = await LiveModel.create({
    trio: { sft, rl, target },
    ort: ort as unknown as Ort,
    device,
    compute: o.weights === 'float' ? 'float32' : 'float16',
    weights: o.weights ?? 'q4',
    residency: { budgetBytes: o.budgetBytes, maxBufferBytes: o.maxBufferBytes },
  });
  const results: { alpha: number; dims: number[]; logits: number[]; ms: number }[] = [];
  try {
    for (const alpha of o.alphas) {
      const { ms } = await live.setAlpha(alpha);
      const out = await live.model.forward([o.ids]);
      results.push({ alpha, dims: [...out.dims], logits: [...out.data], ms });
    }
    const m = live.q4Memory ?? { bytes: 0, quantizedBytes: 0, floatBytes: 0, transientBytes: 0, stagingBytes: 0, floatModelBytes: 0 };
    return {
      weights: live.weights,
      held: live.q4Held,
      compute: live.compute,
      path: live.path,
      memory: { bytes: m.bytes, quantizedBytes: m.quantizedBytes, floatBytes: m.floatBytes, transientBytes: m.transientBytes, stagingBytes: m.stagingBytes, floatModelBytes: m.floatModelBytes },
      results,
      errors,
    };
  } finally {
    await live.dispose();
    device.destroy();
  }
};
/**
 * A Qwen2.5-0.5B-shaped trio (real vocabulary, hidden and layer sizes; `layers` of its 24) in the
 * 4-bit mode on a device with WebGPU's default limits (the 519 MiB f32 embedding in row blocks):
 * at each α every projection's 4-bit inputs against quantizeQ4 of the CPU merge (bytes), and at
 * the first α the logits against the float64 reference forward over the dequantised weights.
 */
w.runRealSizeQ4 = async (o: { layers: number; prompt: number[]; alphas: number[]; budgetBytes: number }) => {
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) throw new Error('no WebGPU adapter');
  const device = await adapter.requestDevice({ label: 'default limits' });
  const errors: string[] = [];
  device.addEventListener('uncapturederror', (e) => errors.push((e as GPUUncapturedErrorEvent).error.message));
  const config = { ...QWEN25_CONFIGS['0.5B'], num_hidden_layers: o.layers };
  const files = randomQwen2Trio(config, 7);
  const trio = { sft: await openCheckpoint(files.sft), rl: await openCheckpoint(files.rl), target: await openCheckpoint(files.target) };
  const live = await LiveModel.create({ trio, ort: ort as unknown as Ort, device, weights: 'q4', residency: { budgetBytes: o.budgetBytes } });
  const held = (live as unknown as { q4: { readOutput(n: string): Promise<Uint8Array>; blocksOf(n: string): unknown[] | undefined; quantized: ReadonlySet<string> } }).q4;
  const results = [];
  try {
    for (const alpha of o.alphas) {
      const { ms } = await live.setAlpha(alpha);
      const exact = await mergedWeightsF32(live.plan, new CpuTensorMerger(), alpha);
      let mismatchedBytes = 0;
      let projections = 0;
      const weights = new Map<string, Float32Array>();
      for (const t of live.plan.tensors) {
        const x = exact.get(t.name)!;
        if (!held.quantized.has(t.name)) {
          weights.set(t.name, x);
          continue;
        }
        projections++;
        const want = quantizeQ4(x, t.shape[0], t.shape[1], t.name);
        const names = q4InputNames(t.name);
        const parts: [string, Uint8Array][] = [
          [names.packed, want.packed],
          [names.scales, new Uint8Array(want.scales.buffer)],
          [names.zeroPoints, want.zeroPoints],
        ];
        for (const [name, bytes] of parts) {
          const got = await held.readOutput(name);
          for (let i = 0; i < bytes.length; i++) if (got[i] !== bytes[i]) mismatchedBytes++;
        }
        weights.set(t.name, dequantizeQ4(want));
      }
      const r: Record<string, unknown> = { alpha, ms, projections, mismatchedBytes };
      if (alpha === o.alphas[0]) {
        const fwd = await live.model.forward([o.prompt]);
        const ref = referenceForward({ ...trio.target.config }, weights, o.prompt);
        const V = trio.target.config.vocabSize;
        let maxDiff = 0;
        let scale = 0;
        ref.forEach((row, p) => row.forEach((v, i) => ((maxDiff = Math.max(maxDiff, Math.abs(fwd.data[p * V + i] - v))), (scale = Math.max(scale, Math.abs(v))))));
        Object.assign(r, { maxDiff, scale });
      }
      results.push(r);
    }
    const m = live.q4Memory!;
    return {
      limits: { maxBufferSize: device.limits.maxBufferSize, maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize },
      embedBlocks: held.blocksOf('model.embed_tokens.weight')?.length ?? 1,
      compute: live.compute,
      memory: { bytes: m.bytes, quantizedBytes: m.quantizedBytes, floatBytes: m.floatBytes, transientBytes: m.transientBytes, stagingBytes: m.stagingBytes, floatModelBytes: m.floatModelBytes },
      results,
      errors,
    };
  } finally {
    await live.dispose();
    device.destroy();
  }
};
document.getElementById('status')!.textContent = 'ready';
