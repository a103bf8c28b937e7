import { StudioError } from '../errors.ts';
import { MAX_ALPHAS } from './results-document.ts';

/** The default grid: −1 to 1.5 by 0.25 (11 values: subtracting the vector is part of the science). */
export const DEFAULT_ALPHAS: readonly number[] = Object.freeze(Array.from({ length: 11 }, (_, i) => -1 + 0.25 * i));

/**
 * A sweep's α grid: the values given (any finite ones), sorted, repeats dropped, with 0 (the
 * target alone, the baseline every curve is read against) and 1 (the vector as trained) always
 * included.
 */
export function normalizeAlphas(values: readonly number[] = DEFAULT_ALPHAS, field = 'alphas'): number[] {
  values.forEach((a, i) => {
    if (typeof a !== 'number' || !Number.isFinite(a)) throw new StudioError(`${field}[${i}]: α must be a finite number, got ${JSON.stringify(a)}.`);
  });
  // -0 and 0 are one α.
  const grid = [...new Set([...values.map((a) => (a === 0 ? 0 : a)), 0, 1])].sort((a, b) => a - b);
  if (grid.length > MAX_ALPHAS) throw new StudioError(`${field}: ${grid.length} α values; at most ${MAX_ALPHAS}.`);
  return grid;
}
