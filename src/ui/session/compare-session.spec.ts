import { describe, expect, it } from 'vitest';
import { conditionLabel } from '../../engine/eval/run/run-task.ts';
import type { BenchmarkItem } from '../store.ts';
import { conditionOf, itemKey, nextItemKey } from './compare-session.ts';

const sample = (task: string, index: number) => ({ task, index }) as BenchmarkItem;

describe('compare-session helpers', () => {
  it("reads back each sample's condition label as the condition it was prompted with", () => {
    for (const mode of ['plain', 'think'] as const) {
      for (const chatTemplate of [false, true]) expect(conditionOf(conditionLabel({ mode, chatTemplate }))).toEqual({ mode, chatTemplate });
    }
  });

  it('"Next item" steps through the samples in order and wraps; an unknown current item starts at the first', () => {
    const samples = [sample('gsm8k_cot_zeroshot', 0), sample('gsm8k_cot_zeroshot', 1), sample('sciq', 4)];
    expect(itemKey(samples[2])).toBe('sciq#4');
    expect(nextItemKey(samples, 'gsm8k_cot_zeroshot#0')).toBe('gsm8k_cot_zeroshot#1');
    expect(nextItemKey(samples, 'gsm8k_cot_zeroshot#1')).toBe('sciq#4');
    expect(nextItemKey(samples, 'sciq#4')).toBe('gsm8k_cot_zeroshot#0');
    expect(nextItemKey(samples, 'bbh#9')).toBe('gsm8k_cot_zeroshot#0');
    expect(nextItemKey([], undefined)).toBeUndefined();
  });
});
