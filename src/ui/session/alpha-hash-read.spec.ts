import { describe, expect, it } from 'vitest';
import { readAlphaHash } from './alpha-hash.ts';

describe("the hash's a= part, read for the notice", () => {
  it('tells none, a finite α and an unreadable one apart, quoting what the link held', () => {
    expect(readAlphaHash('')).toEqual({ none: true });
    expect(readAlphaHash('#r=1.abc')).toEqual({ none: true });
    expect(readAlphaHash('#r=1.abc&a=0.5')).toEqual({ alpha: 0.5 });
    expect(readAlphaHash('#a=abc')).toEqual({ text: 'abc', problem: 'is not a number' });
    expect(readAlphaHash('#a=')).toEqual({ text: '', problem: 'is not a number' });
    expect(readAlphaHash('#a=1e999')).toEqual({ text: '1e999', problem: 'is not a finite number' });
    expect(readAlphaHash('#a=%3Cb%3E')).toEqual({ text: '<b>', problem: 'is not a number' });
    expect(readAlphaHash(`#a=${'1'.repeat(30)}`)).toEqual({ text: `${'1'.repeat(24)}…`, problem: 'is longer than 24 characters' });
  });
});
