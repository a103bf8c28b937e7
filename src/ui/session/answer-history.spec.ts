import { describe, expect, it } from 'vitest';
import { ANSWER_HISTORY_LIMIT, AnswerHistory, type AnswerKey } from './answer-history.ts';

const key = (p: Partial<AnswerKey> = {}): AnswerKey => ({ model: 'trio-1|webgpu', prompt: 'plain:3+4=', alpha: 1, settings: 'max=4', ...p });

describe('AnswerHistory', () => {
  it('keys by model, prompt, α and settings: each differing part misses, the same four hit', () => {
    const h = new AnswerHistory<number[]>();
    h.put(key(), [22]);
    expect(h.get(key())).toEqual([22]);
    expect(h.get(key({ alpha: 0.5 }))).toBeUndefined();
    expect(h.get(key({ prompt: 'chat:3+4=' }))).toBeUndefined();
    expect(h.get(key({ settings: 'max=8' }))).toBeUndefined();
    expect(h.get(key({ model: 'trio-2|webgpu' }))).toBeUndefined();
    // The slider's −0 and a typed 0 are one α.
    h.put(key({ alpha: -0 }), [19]);
    expect(h.get(key({ alpha: 0 }))).toEqual([19]);
    // A second answer for the same key replaces the first.
    h.put(key(), [17]);
    expect(h.get(key())).toEqual([17]);
    expect(h.size).toBe(2);
  });

  it(`keeps the last ${ANSWER_HISTORY_LIMIT}: the least recently used answer goes first`, () => {
    const h = new AnswerHistory<number>();
    for (let i = 0; i < ANSWER_HISTORY_LIMIT; i++) h.put(key({ alpha: i / 4 }), i);
    expect(h.size).toBe(ANSWER_HISTORY_LIMIT);
    expect(h.get(key({ alpha: 0 }))).toBe(0); // read: now the most recent
    h.put(key({ alpha: 100 }), 100);
    expect(h.size).toBe(ANSWER_HISTORY_LIMIT);
    expect(h.get(key({ alpha: 0 }))).toBe(0);
    expect(h.get(key({ alpha: 0.25 }))).toBeUndefined(); // the oldest untouched one was dropped
    expect(h.get(key({ alpha: 0.5 }))).toBe(2);
    expect(h.get(key({ alpha: 100 }))).toBe(100);
    const small = new AnswerHistory<number>(2);
    small.put(key({ alpha: 1 }), 1);
    small.put(key({ alpha: 2 }), 2);
    small.put(key({ alpha: 3 }), 3);
    expect([1, 2, 3].map((a) => small.get(key({ alpha: a })))).toEqual([undefined, 2, 3]);
    expect(() => new AnswerHistory(0)).toThrow(RangeError);
  });

  it('a model change drops the other models\' answers; clear drops all', () => {
    const h = new AnswerHistory<string>();
    h.put(key({ model: 'a', alpha: -1 }), 'a-1');
    h.put(key({ model: 'a', alpha: 1 }), 'a1');
    h.put(key({ model: 'b', alpha: 1 }), 'b1');
    h.retainModel('b');
    expect(h.size).toBe(1);
    expect(h.get(key({ model: 'a', alpha: 1 }))).toBeUndefined();
    expect(h.get(key({ model: 'b', alpha: 1 }))).toBe('b1');
    h.clear();
    expect(h.size).toBe(0);
    expect(h.get(key({ model: 'b', alpha: 1 }))).toBeUndefined();
  });
});
