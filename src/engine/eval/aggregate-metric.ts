/**
 * How lm-eval turns per-item values into a task score: `mean` aggregation, and its standard
 * error from `stderr_for_metric(mean)` = `mean_stderr` — the sample standard deviation (n − 1)
 * divided by √n (lm_eval/api/metrics.py, commit 001722ba6deac35c527d7d8e6c85ce823ed25fbb).
 * lm-eval writes "N/A" when there is a single item (TaskOutput.calculate_aggregate_metric only
 * calls the stderr function for len(items) > 1); here that is `null`.
 */
export interface MetricAggregate {
  mean: number;
  stderr: number | null;
  n: number;
}

export function aggregateMetric(values: readonly number[]): MetricAggregate {
  const n = values.length;
  if (n === 0) throw new Error('no items to aggregate');
  // lm-eval's mean is sum(arr) / len(arr) in float64 — the same sum order here.
  let sum = 0;
  for (const v of values) sum += v;
  const mean = sum / n;
  if (n < 2) return { mean, stderr: null, n };
  let ss = 0;
  for (const v of values) ss += (v - mean) ** 2;
  return { mean, stderr: Math.sqrt(ss / (n - 1)) / Math.sqrt(n), n };
}
