/**
 * `numpy.argmax` on a 1-D float array: the index of the first maximum (ties go to the lowest
 * index), and a NaN counts as the maximum (the first NaN wins), as numpy does.
 */
export function numpyArgmax(values: readonly number[]): number {
  if (values.length === 0) throw new Error('argmax of an empty sequence');
  let best = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Number.isNaN(v)) return i;
    if (v > values[best]) best = i;
  }
  return best;
}
