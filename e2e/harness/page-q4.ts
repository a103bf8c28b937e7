// Harness for e2e/page-q4.spec.ts: the page's LiveModel in its 4-bit weights mode (θ(α) merged on
// the GPU, each projection quantised there by quantize-q4.wgsl into MatMulNBits inputs), its
// logits at several α, and what it holds.
import * as ort from 'onnxruntime-web/webgpu';
import { openCheckpoint } from '../../src/engine/checkpoint/open-checkpoint.ts';
import { requestGpu } from '../../src/engine/gpu/request-device.ts';
import { LiveModel } from '../../src/engine/model/live-model.ts';
import type { Ort } from '../../src/engine/model/ort-runtime.ts';
import { httpFolderSource } from '../../src/engine/sources/http-folder-source.ts';

const w = window as unknown as Record<string, unknown>;

w.runPageQ4 = async (o: { prefix: string; alphas: number[]; ids: number[]; budgetBytes: number; maxBufferBytes?: number }) => {
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
    compute: 'float16',
    weights: 'q4',
    residency: { budgetBytes: o.budgetBytes, maxBufferBytes: o.maxBufferBytes },
  });
  const results: { alpha: number; dims: number[]; logits: number[]; ms: number }[] = [];
  try {
    for (const alpha of o.alphas) {
      const { ms } = await live.setAlpha(alpha);
      const out = await live.model.forward([o.ids]);
      results.push({ alpha, dims: [...out.dims], logits: [...out.data], ms });
    }
    const m = live.q4Memory!;
    return {
      weights: live.weights,
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
document.getElementById('status')!.textContent = 'ready';
