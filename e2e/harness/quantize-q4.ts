// Test harness page: shaders/quantize-q4.wgsl on the page's GPUDevice for weights sent by the
// Playwright test, which checks the bytes against the CPU quantiser (src/engine/quant/q4-quantize.ts).
import { requestGpu } from '../../src/engine/gpu/request-device.ts';
import { writeBufferPadded } from '../../src/engine/gpu/write-buffer.ts';
import { quantizeQ4OnGpu, readQ4 } from '../../src/engine/quant/quantize-q4-kernel.ts';
import type { SupportedDtype } from '../../src/engine/safetensors/dtypes.ts';

export interface Q4HarnessCase {
  n: number;
  k: number;
  dtype: SupportedDtype;
  /** The weight's stored bytes, row-major [n, k]. */
  bytes: number[];
}

const gpu = requestGpu();

(window as unknown as { runQ4Cases: unknown }).runQ4Cases = async (cases: Q4HarnessCase[]) => {
  const { device } = await gpu;
  const out = [];
  for (const c of cases) {
    const bytes = new Uint8Array(c.bytes);
    const weight = device.createBuffer({ label: `q4 harness [${c.n}, ${c.k}] ${c.dtype}`, size: Math.max(4, Math.ceil(bytes.length / 4) * 4), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
    writeBufferPadded(device.queue, weight, 0, bytes);
    device.pushErrorScope('validation');
    const q = quantizeQ4OnGpu(device, weight, c.n, c.k, c.dtype, `harness ${c.n}x${c.k}`, GPUBufferUsage.COPY_SRC);
    const r = await readQ4(device, q);
    const error = await device.popErrorScope();
    for (const b of [weight, q.packed, q.scales, q.zeroPoints]) b.destroy();
    out.push({ packed: [...r.packed], scales: [...new Uint8Array(r.scales.buffer)], zeroPoints: [...r.zeroPoints], errors: error ? [error.message] : [] });
  }
  return out;
};
document.getElementById('status')!.textContent = 'ready';
