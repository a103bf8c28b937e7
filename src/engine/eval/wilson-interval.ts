/** The 97.5th percentile of the standard normal: a two-sided 95% interval. */
export const Z_95 = 1.959963984540054;

/**
 * Wilson score interval for `correct` successes out of `total` trials — the interval the page
 * draws around a task's accuracy. Unlike mean ± 1.96·stderr it stays inside [0, 1] and is not
 * zero-width at 0% or 100%, which matters for the small sample counts a browser run uses.
 */
export function wilsonInterval(correct: number, total: number, z: number = Z_95): { low: number; high: number } {
  if (!Number.isInteger(correct) || !Number.isInteger(total) || correct < 0 || total < 0 || correct > total) {
    throw new Error(`wilsonInterval needs 0 ≤ correct ≤ total, integers (got ${correct}/${total})`);
  }
  if (total === 0) return { low: 0, high: 1 };
  const p = correct / total;
  const z2 = z * z;
  const denom = 1 + z2 / total;
  const center = (p + z2 / (2 * total)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / total + z2 / (4 * total * total))) / denom;
  return { low: Math.max(0, center - half), high: Math.min(1, center + half) };
}
