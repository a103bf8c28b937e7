import { describe, expect, it } from 'vitest';
import { encode, referenceMerge, seededValues, stored } from '../../../test-support/merge-reference.ts';
import { hasSystemVulkanDriver } from '../../cli/node-gpu.ts';
import type { SupportedDtype } from '../safetensors/dtypes.ts';

/**
 * The WGSL merge kernel in Node through Dawn (the `webgpu` package), bit for bit against the
 * reference. Runs where Dawn has GPU hardware (an NVIDIA device node or a DRI render node). On
 * machines without one — CI, and the Firecracker VM this was developed on, where Dawn over
 * SwiftShader aborts after a few mapAsync round trips (futex errors inside Dawn) — it is skipped,
 * and the same kernel is proven bit-exact in Chromium by e2e/merge-kernel.spec.ts.
 */
describe.skipIf(!hasSystemVulkanDriver())('GpuTensorMerger in Node (Dawn)', () => {
  it('every dtype pair, odd sizes and chunk boundaries, α ∈ {−1, 0, 0.5, 2}: bit-exact', async () => {
    const { nodeGpu } = await import('../../cli/node-gpu.ts');
    const { GpuTensorMerger } = await import('./gpu-tensor-merger.ts');
    const { device } = await nodeGpu();
    const merger = new GpuTensorMerger(device, 1024);
    const dts: SupportedDtype[] = ['F32', 'F16', 'BF16'];
    const size = (d: SupportedDtype) => (d === 'F32' ? 4 : 2);
    try {
      for (const inD of dts) {
        for (const outD of dts) {
          for (const n of [1, 3, 1023, 1025, 4097]) {
            const t = stored(seededValues(n, n + 1, 0.2), inD);
            const s = stored(seededValues(n, n + 2, 0.2), inD);
            const r = stored(seededValues(n, n + 3, 0.2), inD);
            for (const alpha of [-1, 0, 0.5, 2]) {
              const parts: Uint8Array[] = [];
              for (let start = 0; start < n; start += merger.chunkElements) {
                const end = Math.min(n, start + merger.chunkElements);
                const cut = (v: number[]) => ({ dtype: inD, bytes: encode(v, inD).subarray(start * size(inD), end * size(inD)) });
                parts.push((await merger.mergeChunk({ target: cut(t), sft: cut(s), rl: cut(r), count: end - start, alpha, outDtype: outD, label: 'node' })).bytes);
              }
              expect(Buffer.concat(parts).equals(Buffer.from(referenceMerge(t, s, r, alpha, outD))), `${inD}→${outD} n=${n} α=${alpha}`).toBe(true);
            }
          }
        }
      }
    } finally {
      merger.destroy();
    }
  });
});
