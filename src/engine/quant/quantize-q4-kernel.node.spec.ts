import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NoGpuAdapterError } from '../../cli/gpu-child/dawn-child-merger.ts';
import { adapterRefusal, loadDawn, requestDawnAdapter } from '../../cli/node-gpu.ts';
import { SWIFTSHADER_ICD } from '../../../test-support/dawn-adapter.ts';
import { encode, stored } from '../../../test-support/merge-reference.ts';
import { deviceFor } from '../gpu/request-device.ts';
import { writeBufferPadded } from '../gpu/write-buffer.ts';
import type { SupportedDtype } from '../safetensors/dtypes.ts';
import { dequantizeQ4, quantizeQ4, Q4_ROUNDING_SLACK } from './q4-quantize.ts';
import { quantizeQ4OnGpu, readQ4 } from './quantize-q4-kernel.ts';
import { seededWeights } from '../../../test-support/seeded-weights.ts';

/**
 * shaders/quantize-q4.wgsl in Node through Dawn (SwiftShader where the machine has no GPU), bit for
 * bit against the CPU quantiser on odd shapes and all three input dtypes. Skipped only when Dawn
 * answers that there is no adapter; any validation error fails.
 */
let device: GPUDevice | undefined;
let noAdapter: string | undefined;
const savedIcd = process.env.VK_ICD_FILENAMES;

beforeAll(async () => {
  for (const icd of [savedIcd, SWIFTSHADER_ICD]) {
    if (icd === undefined) delete process.env.VK_ICD_FILENAMES;
    else process.env.VK_ICD_FILENAMES = icd;
    const found = await requestDawnAdapter(await loadDawn());
    const refusal = adapterRefusal(found?.description ?? null, true);
    if (!refusal && found) {
      device = (await deviceFor(found.adapter)).device;
      noAdapter = undefined;
      return;
    }
    noAdapter = new NoGpuAdapterError(`${icd ?? 'system drivers'}: ${refusal}`, null).message;
  }
}, 120_000);
afterAll(() => {
  device?.destroy();
  if (savedIcd === undefined) delete process.env.VK_ICD_FILENAMES;
  else process.env.VK_ICD_FILENAMES = savedIcd;
});

async function onGpu(d: GPUDevice, values: number[], n: number, k: number, dtype: SupportedDtype) {
  const bytes = encode(values, dtype);
  const weight = d.createBuffer({ label: 'q4 test weight', size: Math.ceil(bytes.length / 4) * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
  writeBufferPadded(d.queue, weight, 0, bytes);
  d.pushErrorScope('validation');
  const q = quantizeQ4OnGpu(d, weight, n, k, dtype, 'test', GPUBufferUsage.COPY_SRC);
  const out = await readQ4(d, q);
  const error = await d.popErrorScope();
  expect(error?.message).toBeUndefined();
  for (const b of [weight, q.packed, q.scales, q.zeroPoints]) b.destroy();
  return out;
}

const CASES: [number, number, SupportedDtype][] = [
  [1, 32, 'F32'],
  [3, 100, 'F32'],
  [257, 64, 'BF16'],
  [1, 33, 'F16'],
  [5, 896, 'F16'],
  [7, 31, 'BF16'],
  [258, 97, 'F32'],
];

describe('quantize-q4.wgsl (Dawn) against the CPU quantiser', () => {
  const need = (ctx: { skip(note: string): void }) => {
    if (noAdapter) ctx.skip(`Dawn answered that there is no adapter (${noAdapter})`);
    return device!;
  };

  for (const [n, k, dtype] of CASES) {
    it(`[${n}, ${k}] ${dtype}: packed codes, scales and zero points bit for bit; dequantised within scale·(1/2 + 2^-17)`, { timeout: 60_000 }, async (ctx) => {
      const d = need(ctx);
      const values = stored([...seededWeights(n * k, n * 31 + k)], dtype);
      const cpu = quantizeQ4(Float32Array.from(values), n, k);
      const gpu = await onGpu(d, values, n, k, dtype);
      expect(Buffer.from(gpu.packed).equals(Buffer.from(cpu.packed))).toBe(true);
      expect(Buffer.from(gpu.scales.buffer).equals(Buffer.from(cpu.scales.buffer))).toBe(true);
      expect([...gpu.zeroPoints]).toEqual([...cpu.zeroPoints]);
      const deq = dequantizeQ4(gpu);
      const blocks = gpu.layout.blocks;
      let worst = 0;
      for (let i = 0; i < n * k; i++) worst = Math.max(worst, Math.abs(values[i] - deq[i]) / gpu.scales[Math.floor(i / k) * blocks + Math.floor((i % k) / 32)]);
      expect(worst).toBeLessThanOrEqual(0.5 + Q4_ROUNDING_SLACK);
    });
  }

  it('edge values: zeros, subnormals, exact halves, a lone negative, huge and tiny blocks', { timeout: 60_000 }, async (ctx) => {
    const d = need(ctx);
    const k = 32 * 6 + 5;
    const v = new Float32Array(2 * k);
    v[40] = 1e-40; // block 1: subnormal only → all zeros
    for (let i = 64; i < 96; i++) v[i] = (i - 80) * 0.125; // block 2: codes on exact halves of a step
    v[100] = -0.75; // block 3: one negative, the rest zero → zp 15
    for (let i = 128; i < 160; i++) v[i] = (i % 2 ? 1 : -1) * 3e37; // block 4: near float32's top
    for (let i = 160; i < 192; i++) v[i] = (i - 170) * 2e-37; // block 5: near the smallest scale
    for (let i = k; i < 2 * k; i++) v[i] = Math.fround(Math.sin(i) * 1e-3);
    const values = [...v];
    const cpu = quantizeQ4(v, 2, k);
    const gpu = await onGpu(d, values, 2, k, 'F32');
    expect([...gpu.scales]).toEqual([...cpu.scales]);
    expect([...gpu.zeroPoints]).toEqual([...cpu.zeroPoints]);
    expect([...gpu.packed]).toEqual([...cpu.packed]);
    expect(cpu.scales[1]).toBe(0); // block 1: subnormal only
    expect(cpu.zeroPoints[1] >> 4).toBe(15); // block 3 (the high nibble of byte 1): one negative, zp 15
  });
});
