import { describe, expect, it } from 'vitest';
import { typicalSweepDocument } from '../../../test-support/sweep-document.ts';
import { decodeShareHash, encodeShareHash } from '../../engine/sweep/share-url.ts';
import { alphaFromHash, hashWithAlpha } from './alpha-hash.ts';

describe('α in the URL hash', () => {
  it('reads a plain decimal α and nothing else', () => {
    expect(alphaFromHash('#a=0.5')).toBe(0.5);
    expect(alphaFromHash('a=-1.25')).toBe(-1.25);
    expect(alphaFromHash('#r=1.abc&a=3')).toBe(3);
    expect(alphaFromHash('#a=1e-3')).toBe(0.001);
    for (const bad of ['#a=', '#a=abc', '#a=<script>', '#a=Infinity', '#a=NaN', '#a=0x10', '#a=1,5', `#a=${'1'.repeat(30)}`, '#ab=1', '']) {
      expect(alphaFromHash(bad), bad).toBeUndefined();
    }
  });

  it('sets, replaces and removes only the a= part, keeping the rest byte for byte', () => {
    expect(hashWithAlpha('', 0.5)).toBe('#a=0.5');
    expect(hashWithAlpha('#a=0.5', -2)).toBe('#a=-2');
    expect(hashWithAlpha('#r=1.A-b_c&a=1', 0.25)).toBe('#r=1.A-b_c&a=0.25');
    expect(hashWithAlpha('#r=1.A-b_c&a=1', NaN)).toBe('#r=1.A-b_c');
    expect(hashWithAlpha('#a=1', NaN)).toBe('');
    expect(alphaFromHash(hashWithAlpha('#x=%3Cb%3E', -0.75))).toBe(-0.75);
    expect(hashWithAlpha('#x=%3Cb%3E', -0.75)).toBe('#x=%3Cb%3E&a=-0.75');
  });

  it('a share link with α beside it still opens the same document', async () => {
    const { hash } = await encodeShareHash(typicalSweepDocument());
    const withAlpha = hashWithAlpha(`#${hash}`, 0.5);
    expect(withAlpha.startsWith(`#${hash}&`)).toBe(true);
    expect(await decodeShareHash(withAlpha)).toEqual(await decodeShareHash(`#${hash}`));
  });
});
