import { describe, expect, it } from 'vitest';
import { aggregateGroup } from './aggregate-group.ts';
import { aggregateMetric } from './aggregate-metric.ts';
import { numpyArgmax } from './numpy-argmax.ts';
import { scoreMultipleChoice } from './score-multiple-choice.ts';
import { selectItems } from './select-items.ts';
import { wilsonInterval } from './wilson-interval.ts';

describe('aggregateMetric: mean and lm-eval mean_stderr', () => {
  it('[1,0,1,1]: mean 0.75, sample sd 0.5, stderr 0.25', () => {
    expect(aggregateMetric([1, 0, 1, 1])).toEqual({ mean: 0.75, stderr: 0.25, n: 4 });
  });
  it('one item: stderr is N/A (null), as lm-eval writes it', () => {
    expect(aggregateMetric([1])).toEqual({ mean: 1, stderr: null, n: 1 });
  });
  it('all equal: stderr 0', () => {
    expect(aggregateMetric([0, 0, 0])).toEqual({ mean: 0, stderr: 0, n: 3 });
  });
});

describe('aggregateGroup', () => {
  const a = { mean: 0.75, stderr: 0.25, n: 4 };
  const b = { mean: 0.5, stderr: 0.1, n: 10 };
  it('unweighted mean of subtask means; weighted by size on request', () => {
    expect(aggregateGroup([a, b], { weightBySize: false }).mean).toBe(0.625);
    expect(aggregateGroup([a, b], { weightBySize: true }).mean).toBeCloseTo((0.75 * 4 + 0.5 * 10) / 14, 15);
  });
  it('pooled sample stderr (numpy value 0.0991031208965115)', () => {
    expect(aggregateGroup([a, b], { weightBySize: false }).stderr).toBeCloseTo(0.0991031208965115, 15);
  });
});

describe('numpy argmax and acc / acc_norm', () => {
  it('ties go to the first index; NaN wins', () => {
    expect(numpyArgmax([-2, -1, -1, -3])).toBe(1);
    expect(numpyArgmax([-2, -2, -2, -2])).toBe(0);
    expect(numpyArgmax([-1, NaN, 0])).toBe(1);
  });
  it('acc_norm divides by the choice length without the leading space, in code points', () => {
    // raw: "a" (−2) beats "dddd" (−4); per character "dddd" −1 beats "a" −2.
    expect(scoreMultipleChoice([-2, -9, -9, -4], ['a', 'bbb', 'cc', 'dddd'], 3)).toEqual({ acc: 0, acc_norm: 1, pred: 0, predNorm: 3 });
    // The leading space matters: −3/len("xx") = −1.5 vs −6/len("yyyyy") = −1.2, the gold wins;
    // counting the space, −3/3 = −1 vs −6/6 = −1 would tie and index 0 would win.
    expect(scoreMultipleChoice([-3, -99, -99, -6], ['xx', 'z', 'z', 'yyyyy'], 3).acc_norm).toBe(1);
    // "😀" is 1 character in Python (2 UTF-16 units): −1.5/1 loses to "ab" −2/2 = −1; counting
    // UTF-16 units (−0.75) it would wrongly win.
    expect(scoreMultipleChoice([-2, -99, -99, -1.5], ['ab', 'z', 'z', '😀'], 3).predNorm).toBe(0);
  });
  it('equal log-likelihoods: acc picks choice 0', () => {
    expect(scoreMultipleChoice([-1, -1, -1, -1], ['a', 'b', 'c', 'd'], 3)).toEqual({ acc: 0, acc_norm: 0, pred: 0, predNorm: 0 });
  });
});

describe('wilsonInterval (z = 1.959963984540054)', () => {
  it('matches the closed form at 0/10, 5/10, 10/10, 160/200', () => {
    const close = (r: { low: number; high: number }, low: number, high: number) => {
      expect(r.low).toBeCloseTo(low, 12);
      expect(r.high).toBeCloseTo(high, 12);
    };
    close(wilsonInterval(0, 10), 0, 0.2775327998628892);
    close(wilsonInterval(5, 10), 0.236593090512564, 0.7634069094874361);
    close(wilsonInterval(10, 10), 0.7224672001371107, 1);
    close(wilsonInterval(160, 200), 0.7391448134346212, 0.8495479907390189);
  });
  it('no items: the whole [0, 1]; impossible counts throw', () => {
    expect(wilsonInterval(0, 0)).toEqual({ low: 0, high: 1 });
    expect(() => wilsonInterval(3, 2)).toThrow(/0 ≤ correct ≤ total/);
  });
});

describe('selectItems', () => {
  it('first-n is lm-eval --limit: rows 0…n−1; a count past the end takes all', () => {
    expect(selectItems(10, { mode: 'first-n', count: 3 })).toEqual([0, 1, 2]);
    expect(selectItems(3, { mode: 'first-n', count: 10 })).toEqual([0, 1, 2]);
  });
  it('shuffle is deterministic per seed, distinct indices, and seeds differ', () => {
    const a = selectItems(1319, { mode: 'shuffle', count: 50, seed: 1234 });
    expect(selectItems(1319, { mode: 'shuffle', count: 50, seed: 1234 })).toEqual(a);
    expect(new Set(a).size).toBe(50);
    expect(a.every((i) => i >= 0 && i < 1319)).toBe(true);
    expect(selectItems(1319, { mode: 'shuffle', count: 50, seed: 1235 })).not.toEqual(a);
    // Pinned: the selection is recorded with results, so it must never change between versions.
    expect(selectItems(10, { mode: 'shuffle', count: 10, seed: 0 })).toEqual(PINNED_SEED_0);
  });
});
// mulberry32 + Fisher–Yates re-implemented in Python (32-bit integer arithmetic) gives the same.
const PINNED_SEED_0 = [3, 8, 6, 4, 5, 9, 7, 1, 0, 2];
