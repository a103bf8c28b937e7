import { describe, expect, it } from 'vitest';
import { argmax, pickToken, seededRandom } from './sampling.ts';

describe('pickToken', () => {
  const logits = Float32Array.from([0, 2, 1, 3, 3, -5]);

  it('greedy is argmax with the lowest id on ties', () => {
    expect(argmax(logits)).toBe(3);
    expect(pickToken(logits, {}, seededRandom(1))).toBe(3);
  });

  it('sampling follows softmax(logits / T): frequencies within 2% over 20k draws', () => {
    const random = seededRandom(42);
    const counts = new Array(logits.length).fill(0);
    const n = 20000;
    for (let i = 0; i < n; i++) counts[pickToken(logits, { temperature: 0.7 }, random)]++;
    const e = Array.from(logits, (x) => Math.exp(x / 0.7));
    const z = e.reduce((a, b) => a + b, 0);
    e.forEach((v, i) => expect(Math.abs(counts[i] / n - v / z), `token ${i}`).toBeLessThan(0.02));
  });

  it('top-p keeps the smallest most-probable set reaching p; the rest is never drawn', () => {
    const random = seededRandom(7);
    const seen = new Set<number>();
    for (let i = 0; i < 5000; i++) seen.add(pickToken(logits, { temperature: 1, topP: 0.6 }, random));
    // softmax: tokens 3 and 4 have ≈ 0.39 each, so {3, 4} reaches 0.6 and nothing else is kept.
    expect([...seen].sort()).toEqual([3, 4]);
  });

  it('a seed reproduces the draws', () => {
    const draw = (seed: number) => {
      const r = seededRandom(seed);
      return Array.from({ length: 50 }, () => pickToken(logits, { temperature: 1.3, topP: 0.95 }, r));
    };
    expect(draw(5)).toEqual(draw(5));
    expect(draw(5)).not.toEqual(draw(6));
  });
});
