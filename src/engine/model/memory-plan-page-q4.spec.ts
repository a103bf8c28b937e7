import { describe, expect, it } from 'vitest';
import { qwen25Config, qwen2Tensors } from '../../../test-support/model-shapes.ts';
import type { BufferLimits } from '../gpu/buffer-limits.ts';
import { budgetForGpuMemory, planMemory, planPageWeights, planQ4Memory, type DeviceProfile } from './memory-plan.ts';

/**
 * The page's weights choice (planPageWeights): 'auto' keeps the float weights while their plan can
 * run, and takes the 4-bit plan (float32 compute, as the page's q4 mode runs) when it cannot and
 * 4-bit fits; Settings can force either; no WebGPU means float.
 */
const GiB = 1024 ** 3;
const LARGE: BufferLimits = { maxBufferSize: 4 * GiB, maxStorageBufferBindingSize: 2 * GiB };
const DEFAULT_LIMITS: BufferLimits = { maxBufferSize: 256 * 1024 ** 2, maxStorageBufferBindingSize: 128 * 1024 ** 2 };
const gpu = (limits: BufferLimits, shaderF16: boolean, budgetBytes: number): DeviceProfile => ({ gpu: { limits, shaderF16 }, budgetBytes });

describe('planPageWeights: the page picks 4-bit when the float plan does not fit', () => {
  it('Qwen2.5-7B on a 16 GB card with shader-f16: float (15.2 GB even in f16) cannot run, 4-bit (9.0 GB) is chosen', () => {
    const tensors = qwen2Tensors(qwen25Config('7B'));
    const device = gpu(LARGE, true, budgetForGpuMemory(16e9));
    const p = planPageWeights(tensors, device);
    expect(p.float.kind).toBe('none');
    expect(p.weights).toBe('q4');
    // The q4 plan is planQ4Memory's with float32 embedding and head (the page's q4 mode computes in f32).
    expect(p.q4).toEqual(planQ4Memory(tensors, { limits: LARGE, budgetBytes: device.budgetBytes }, 'F32'));
    expect(p.q4!.bytes / 1e9).toBeCloseTo(9.01, 2);
    expect(p.q4!.errors[0].bound).toMatch(/scale·\(1\/2 \+ 2⁻¹⁷\)/);
    expect(p.why).toMatch(/do not fit the 13\.4 GiB budget; their 4-bit form \(8\.4 GiB\) does/);
    // α time: re-reading 3 × 7.07 G merged bf16 elements at 95 MB/s dominates (≈ 7.4 min).
    expect(p.q4AlphaSeconds! / 60).toBeGreaterThan(7);
  });

  it('Qwen2.5-7B on an adapter with only the default limits: its 259 MiB float32 MLP projections exceed the 128 MiB binding the quantiser needs, said before any download', () => {
    const tensors = qwen2Tensors(qwen25Config('7B'));
    const q4 = planQ4Memory(tensors, { limits: DEFAULT_LIMITS, budgetBytes: budgetForGpuMemory(16e9) }, 'F32');
    expect(q4.fits).toBe(false);
    expect(q4.unsupported).toMatch(/^model\.layers\.0\.mlp\.(gate|up|down)_proj\.weight is 259\.0 MiB in float32, more than this GPU's 128\.0 MiB per storage binding/);
    expect(q4.summary).toContain('cannot run here');
    const auto = planPageWeights(tensors, gpu(DEFAULT_LIMITS, true, budgetForGpuMemory(16e9)));
    expect(auto.weights).toBe('float');
    expect(auto.why).toMatch(/and 4-bit weights cannot run on this GPU: model\.layers\.0\.mlp/);
    expect(planPageWeights(tensors, gpu(DEFAULT_LIMITS, true, budgetForGpuMemory(16e9)), 'q4').why).toMatch(/^4-bit weights cannot run on this GPU/);
    // With the adapter's larger limits (what the page requests) the same model runs 4-bit.
    expect(planQ4Memory(tensors, { limits: LARGE, budgetBytes: budgetForGpuMemory(16e9) }, 'F32').unsupported).toBeUndefined();
  });

  it('Qwen2.5-7B on an 8 GB card: neither fits, the page stays on float and says why', () => {
    const p = planPageWeights(qwen2Tensors(qwen25Config('7B')), gpu(LARGE, true, budgetForGpuMemory(8e9)));
    expect([p.weights, p.float.kind, p.q4!.fits]).toEqual(['float', 'none', false]);
    expect(p.why).toMatch(/^neither the float weights nor their 4-bit form \(8\.4 GiB\) fit the 6\.5 GiB budget/);
  });

  it('Qwen2.5-0.5B on default WebGPU limits without shader-f16, 1.2 GiB budget: float32 (1.98 GB) does not fit, 4-bit (0.99 GB) does', () => {
    const tensors = qwen2Tensors(qwen25Config('0.5B'));
    const device = gpu(DEFAULT_LIMITS, false, 1.2 * GiB);
    expect(planMemory(tensors, device).kind).toBe('none');
    const auto = planPageWeights(tensors, device);
    expect(auto.weights).toBe('q4');
    expect(auto.q4!.fits).toBe(true);
    expect(auto.q4!.bytes).toBe(auto.q4!.quantizedBytes + auto.q4!.floatBytes + auto.q4!.transientBytes + auto.q4!.stagingBytes);
    expect(auto.q4!.bytes / 1e9).toBeCloseTo(0.99, 2);
    // The user's choice wins either way.
    expect(planPageWeights(tensors, device, 'float').weights).toBe('float');
    // With a budget the float plan fits, auto keeps float; Settings can still pick 4-bit.
    const roomy = gpu(DEFAULT_LIMITS, false, 4 * GiB);
    expect(planPageWeights(tensors, roomy).weights).toBe('float');
    expect(planPageWeights(tensors, roomy, 'q4').weights).toBe('q4');
  });

  it('no WebGPU: float, even when 4-bit is asked for', () => {
    const p = planPageWeights(qwen2Tensors(qwen25Config('0.5B')), { gpu: null, budgetBytes: 4 * GiB }, 'q4');
    expect([p.weights, p.q4]).toEqual(['float', undefined]);
    expect(p.why).toMatch(/need WebGPU/);
  });
});
