/**
 * Which dataset rows a run uses, recorded with its results so a run can be repeated.
 * - `first-n`: rows 0 … count−1, what lm-eval's `--limit N` takes.
 * - `shuffle`: a Fisher–Yates shuffle of all row indices driven by mulberry32(seed), then the
 *   first `count`, returned in shuffled order. mulberry32 is a 32-bit integer generator, so the
 *   same seed gives the same indices in every JavaScript engine (Math.random would not).
 * `count` larger than the dataset takes every row.
 */
export type ItemSelection = { mode: 'first-n'; count: number } | { mode: 'shuffle'; count: number; seed: number };

export function selectItems(datasetSize: number, selection: ItemSelection): number[] {
  if (!Number.isInteger(datasetSize) || datasetSize < 0) throw new Error(`bad dataset size ${datasetSize}`);
  if (!Number.isInteger(selection.count) || selection.count < 0) {
    throw new RangeError(`the item count must be a non-negative integer (got ${selection.count})`);
  }
  const count = Math.min(selection.count, datasetSize);
  const indices = Array.from({ length: datasetSize }, (_, i) => i);
  if (selection.mode === 'first-n') return indices.slice(0, count);
  if (!Number.isInteger(selection.seed)) throw new RangeError(`the seed must be an integer (got ${selection.seed})`);
  const next = mulberry32(selection.seed >>> 0);
  for (let i = datasetSize - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [indices[i], indices[j]] = [indices[j], indices[i]];
  }
  return indices.slice(0, count);
}

/** mulberry32 (Tommy Ettinger): uniform floats in [0, 1) from a 32-bit state. */
function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
