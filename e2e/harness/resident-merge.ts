// Harness: θ(α) held on the GPU (src/engine/merge/resident-merge.ts) against the CPU merge of the
// same tensors, for both strategies and several α, on the demo trio served by the studio.
import { openCheckpoint } from '../../src/engine/checkpoint/open-checkpoint.ts';
import { requestGpu } from '../../src/engine/gpu/request-device.ts';
import { CpuTensorMerger } from '../../src/engine/merge/cpu-tensor-merger.ts';
import { planMerge } from '../../src/engine/merge/merge-plan.ts';
import { ResidentMerge } from '../../src/engine/merge/resident-merge.ts';
import { httpFolderSource } from '../../src/engine/sources/http-folder-source.ts';

(window as unknown as { runResidentCheck: unknown }).runResidentCheck = async (opts: { budgetBytes: number; vectorDtype: 'F32' | 'F16'; alphas: number[] }) => {
  const { device } = await requestGpu();
  const open = async (n: string) => openCheckpoint(await httpFolderSource(`/demo/${n}/`, n));
  const [sft, rl, target] = await Promise.all(['tiny-qwen2-sft', 'tiny-qwen2-rl', 'tiny-qwen2-target'].map(open));
  const plan = planMerge({ sft, rl, target }, { mode: 'merge', outDtype: 'F32' });
  device.pushErrorScope('validation');
  const rm = await ResidentMerge.create(device, plan, { budgetBytes: opts.budgetBytes, vectorDtype: opts.vectorDtype });
  const cpu = new CpuTensorMerger();
  const results = [];
  for (const alpha of opts.alphas) {
    const { seconds, nan, inf } = await rm.setAlpha(alpha);
    let mismatched = 0;
    let maxAbsErr = 0;
    for (const t of plan.tensors) {
      const got = new Float32Array((await rm.readOutput(t.name)).buffer);
      const read = (r: typeof t.sft) => r!.ckpt.readTensorBytes(r!.name);
      const want = await cpu.mergeChunk({
        target: { dtype: t.target!.dtype, bytes: await read(t.target) },
        sft: { dtype: t.sft!.dtype, bytes: await read(t.sft) },
        rl: { dtype: t.rl!.dtype, bytes: await read(t.rl) },
        count: t.elements,
        alpha,
        outDtype: 'F32',
        label: t.name,
      });
      const w = new Float32Array(want.bytes.buffer, want.bytes.byteOffset, t.elements);
      for (let i = 0; i < t.elements; i++) {
        if (Object.is(got[i], w[i])) continue;
        mismatched++;
        maxAbsErr = Math.max(maxAbsErr, Math.abs(got[i] - w[i]));
      }
    }
    results.push({ alpha, seconds, nan, inf, mismatched, maxAbsErr });
  }
  const err = await device.popErrorScope();
  const out = { strategy: rm.residency.strategy, explanation: rm.residency.explanation, buffers: rm.outputs.size, results, errors: err ? [err.message] : [] };
  rm.destroy();
  return out;
};
document.getElementById('status')!.textContent = 'ready';
