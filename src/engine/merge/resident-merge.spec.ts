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

  it('refuses when not even θ(α) fits, or one tensor exceeds the per-buffer limit, naming it', () => {
    expect(() => planResidency(qwen15, { maxBufferSize: 4 * GiB }, { budgetBytes: 2 * GiB })).toThrow(/needs 5\.\d GiB of GPU memory as F32, more than the 2\.0 GiB budget/);
    expect(() => planResidency(qwen15, { maxBufferSize: 256 * 1024 ** 2 }, { budgetBytes: 64 * GiB })).toThrow(
      /model\.embed_tokens\.weight needs a 890\.\d MiB GPU buffer but this device allows at most 256\.0 MiB per buffer/,
    );
  });

  it('kept tensors (nothing merged) hold only their output; staging is sized by the largest tensor, not 16M elements', () => {
    const r = planResidency(plan([['a', 1000, 0]]), { maxBufferSize: GiB }, {});
    expect(r.residentBytes).toBe(4000 + 3 * 4 * 1024);
  });
});
