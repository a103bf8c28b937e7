import { describe, expect, it } from 'vitest';
import type { MergePlan, PlannedTensor } from './merge-plan.ts';
import { planResidency } from './resident-merge.ts';

/** A plan shaped like Qwen2.5-1.5B's largest tensors, without any checkpoint behind it. */
function plan(tensors: Array<[string, number, number?]>): MergePlan {
  const ts = tensors.map(([name, elements, merged]) => ({
    name,
    shape: [elements],
    dtype: 'BF16',
    elements,
    byteLength: elements * 2,
    target: { name, dtype: 'BF16', shape: [elements] },
    sft: { name, dtype: 'BF16', shape: [elements] },
    rl: { name, dtype: 'BF16', shape: [elements] },
    mergedElements: merged ?? elements,
  })) as unknown as PlannedTensor[];
  return { mode: 'merge', files: [], sharded: false, tensors: ts, totalBytes: 0, largestTensorBytes: 0, notes: [] };
}

const GiB = 1024 ** 3;

describe('planResidency', () => {
  const LAYER = 46_800_000; // ≈ one Qwen2.5-1.5B decoder layer
  const qwen15 = plan([['model.embed_tokens.weight', 151936 * 1536], ...Array.from({ length: 28 }, (_, i) => [`model.layers.${i}`, LAYER] as [string, number])]);
  const params = 151936 * 1536 + 28 * LAYER;
  const STAGING = 3 * 4 * 16 * 1024 * 1024; // three f32 staging chunks of 16M elements

  it('resident when target (bf16) + v (f32) + θ(α) (f32) fit the budget: 10 bytes per parameter', () => {
    const r = planResidency(qwen15, { maxBufferSize: 4 * GiB }, { budgetBytes: 20 * GiB });
    expect(r.strategy).toBe('resident');
    expect(r.bytes).toBe(params * 10 + STAGING);
  });

  it('v in f16 and θ(α) in f16 take 6 bytes per parameter', () => {
    const r = planResidency(qwen15, { maxBufferSize: 4 * GiB }, { budgetBytes: 20 * GiB, vectorDtype: 'F16', outDtype: 'F16' });
    expect(r.bytes).toBe(params * 6 + STAGING);
  });

  it('streaming fallback when only θ(α) fits, and it says why', () => {
    const r = planResidency(qwen15, { maxBufferSize: 4 * GiB }, { budgetBytes: 8 * GiB });
    expect(r.strategy).toBe('streaming');
    expect(r.bytes).toBe(params * 4 + STAGING);
    expect(r.explanation).toMatch(/need 14\.\d GiB, more than the 8\.0 GiB GPU budget: only θ\(α\) \(5\.\d GiB\) stays on the GPU/);
  });

  it('refuses when not even θ(α) fits, naming the budget', () => {
    expect(() => planResidency(qwen15, { maxBufferSize: 4 * GiB }, { budgetBytes: 2 * GiB })).toThrow(/needs 5\.\d GiB of GPU memory as F32, more than the 2\.0 GiB budget/);
  });

  it('a tensor larger than one buffer may be is split into row blocks, not refused; the bytes stay the same', () => {
    const embed = (rows: number, cols: number) => ({ name: 'model.embed_tokens.weight', shape: [rows, cols], elements: rows * cols, mergedElements: rows * cols, target: { dtype: 'BF16' as const } });
    // WebGPU's defaults: 128 MiB per binding. v and θ(α) in f32 make the blocks' widest buffer 4 bytes per element.
    const r = planResidency({ tensors: [embed(151936, 1536)] }, { maxBufferSize: 256 * 1024 ** 2, maxStorageBufferBindingSize: 128 * 1024 ** 2 }, { budgetBytes: 64 * GiB });
    expect(r.maxBufferBytes).toBe(128 * 1024 ** 2);
    expect(r.split).toHaveLength(1);
    const blocks = r.split[0].blocks;
    expect(blocks.length).toBe(7); // 890 MiB / 128 MiB → 7 blocks: six of 21,706 rows, the last 21,700
    expect(blocks.map((b) => b.rows)).toEqual([21706, 21706, 21706, 21706, 21706, 21706, 21700]);
    expect(blocks.reduce((a, b) => a + b.rows, 0)).toBe(151936);
    expect(Math.max(...blocks.map((b) => b.rows * 1536 * 4))).toBe(r.largestBufferBytes);
    expect(r.largestBufferBytes).toBeLessThanOrEqual(128 * 1024 ** 2);
    const whole = planResidency({ tensors: [embed(151936, 1536)] }, { maxBufferSize: 4 * GiB }, { budgetBytes: 64 * GiB });
    expect(whole.split).toEqual([]);
    // Same buffers, cut differently; staging (three 16M-element chunks) is the same too.
    expect(r.bytes).toBe(whole.bytes);
    expect(r.explanation).toContain('model.embed_tokens.weight ×7');
    // A row wider than a buffer cannot be split: named.
    expect(() => planResidency({ tensors: [embed(2, 40 * 1024 ** 2)] }, { maxBufferSize: 128 * 1024 ** 2 }, {})).toThrow(/model\.embed_tokens\.weight: one row of shape \[2, 41943040\] is 160\.0 MiB/);
  });

  it('v in the first preferred dtype that fits: F32 when it fits, else F16 (6 + 2 bytes per parameter), else streaming', () => {
    const prefs = { vectorDtype: ['F32', 'F16'] as const, outDtype: 'F32' as const };
    expect(planResidency(qwen15, { maxBufferSize: 4 * GiB }, { ...prefs, budgetBytes: 16 * GiB })).toMatchObject({ strategy: 'resident', vectorDtype: 'F32' });
    const f16 = planResidency(qwen15, { maxBufferSize: 4 * GiB }, { ...prefs, budgetBytes: 12 * GiB });
    expect(f16).toMatchObject({ strategy: 'resident', vectorDtype: 'F16', bytes: params * 8 + STAGING });
    expect(f16.explanation).toMatch(/^target, v in f16 \(θ\(α\) within f16 rounding of α·v\) and θ\(α\) in f32 stay on the GPU \(11\.\d GiB\)/);
    const s = planResidency(qwen15, { maxBufferSize: 4 * GiB }, { ...prefs, budgetBytes: 8 * GiB });
    expect(s).toMatchObject({ strategy: 'streaming', vectorDtype: null });
    // The message names the smallest resident layout it tried (v in f16), not the f32 one.
    expect(s.explanation).toMatch(/^target \+ v \+ θ\(α\) need 11\.\d GiB, more than the 8\.0 GiB GPU budget/);
    // A new α: the resident pass reads target (bf16) and v and writes θ(α); streaming reads three bf16 checkpoints.
    expect(f16.alphaGpuBytes).toBe(params * (2 + 2 + 4));
    expect(s.alphaReadBytes).toBe(params * 3 * 2);
  });

  it('kept tensors (nothing merged) hold only their output; staging is sized by the largest tensor, not 16M elements', () => {
    const r = planResidency(plan([['a', 1000, 0]]), { maxBufferSize: GiB }, {});
    expect(r.residentBytes).toBe(4000 + 3 * 4 * 1024);
  });
});
