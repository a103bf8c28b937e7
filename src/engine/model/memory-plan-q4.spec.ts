import { describe, expect, it } from 'vitest';
import { qwen25Config, qwen2Tensors } from '../../../test-support/model-shapes.ts';
import type { BufferLimits } from '../gpu/buffer-limits.ts';
import { budgetForGpuMemory, planQ4Memory } from './memory-plan.ts';

/**
 * The 4-bit plan on the real Qwen2.5 configs (../shared/reference/model-configs.md). Bytes written
 * out by hand: a projection [N, K] takes N·⌈K/32⌉ blocks of 16 bytes of codes + a 4-byte scale, and
 * N·⌈⌈K/32⌉/2⌉ bytes of zero points.
 */
const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const LARGE: BufferLimits = { maxBufferSize: 4 * GiB, maxStorageBufferBindingSize: 2 * GiB };
const STAGING = 3 * 4 * 16 * MiB;

/** One layer's projections in 4 bits, by hand (H hidden, I intermediate, KV·D key/value width). */
function layerQ4Bytes(H: number, I: number, kvWidth: number): number {
  const proj = (n: number, k: number) => n * Math.ceil(k / 32) * 20 + n * Math.ceil(Math.ceil(k / 32) / 2);
  return proj(H, H) * 2 + proj(kvWidth, H) * 2 + proj(I, H) * 2 + proj(H, I);
}

describe('planQ4Memory: the 4-bit plan on the real configs', () => {
  it('Qwen2.5-7B-Instruct fits a 16 GB GPU with 4-bit projections (and does not in float32 or 16 bits)', () => {
    const p = planQ4Memory(qwen2Tensors(qwen25Config('7B')), { limits: LARGE, budgetBytes: budgetForGpuMemory(16e9) });
    const V = 152064;
    const H = 3584;
    const I = 18944;
    expect(p.quantizedParameters).toBe(28 * (2 * H * H + 2 * 512 * H + 3 * I * H));
    expect(p.quantizedBytes).toBe(28 * layerQ4Bytes(H, I, 512));
    // Embedding and untied head in float32, norms and q/k/v biases.
    expect(p.floatParameters).toBe(2 * V * H + H + 28 * (2 * H + H + 2 * 512));
    expect(p.transientBytes).toBe(I * H * 4);
    expect(p.stagingBytes).toBe(STAGING);
    expect(p.bytes).toBe(p.quantizedBytes + p.floatParameters * 4 + I * H * 4 + STAGING);
    console.log(p.summary);
    // 4.18 GB of 4-bit projections + 4.36 GB of float32 embedding and head: 9.01 GB with the merge's buffers.
    expect(p.quantizedBytes / 1e9).toBeCloseTo(4.18, 2);
    expect(p.bytes / 1e9).toBeCloseTo(9.01, 2);
    expect(p.fits).toBe(true);
    expect(p.bytes).toBeLessThan(budgetForGpuMemory(16e9)); // 14.4 GB
    // The float32 weights alone are 30.5 GB; in 16 bits 15.2 GB — neither leaves room on 16 GB.
    expect(p.floatModelBytes / 1e9).toBeCloseTo(30.46, 2);
    expect(p.floatModelBytes / 2).toBeGreaterThan(budgetForGpuMemory(16e9));
    // The embedding and head in f16 instead: 6.83 GB, which fits even an 8 GB card's budget (7.0 GB).
    const f16 = planQ4Memory(qwen2Tensors(qwen25Config('7B')), { limits: LARGE, budgetBytes: budgetForGpuMemory(8e9) }, 'F16');
    expect(f16.bytes / 1e9).toBeCloseTo(6.83, 2);
    expect(f16.fits).toBe(true);
    expect(p.summary).toMatch(/^4-bit: 8\.4 GiB on the GPU — 3\.9 GiB of 4-bit projections \(6\.53 B parameters\), 4\.1 GiB of f32 embedding, head, norms and biases, 451\.0 MiB while merging — against 28\.4 GiB for the f32 weights; fits/);
  });

  it('Qwen2.5-0.5B and 1.5B: the tied embedding dominates, the projections shrink 6.2× against float32', () => {
    for (const [size, quantizedParameters, wantBytes] of [
      ['0.5B', 357_826_560, 0.99],
      ['1.5B', 1_310_195_712, 2.03],
    ] as const) {
      const p = planQ4Memory(qwen2Tensors(qwen25Config(size)), { limits: LARGE, budgetBytes: budgetForGpuMemory(8e9) });
      console.log(`${size}: ${p.summary}`);
      expect(p.quantizedParameters).toBe(quantizedParameters);
      expect((p.quantizedParameters * 4) / p.quantizedBytes).toBeCloseTo(6.24, 2);
      expect(p.bytes / 1e9).toBeCloseTo(wantBytes, 2);
      expect(p.fits).toBe(true);
    }
  });
});
