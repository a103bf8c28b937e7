import type { MetricAggregate } from './aggregate-metric.ts';

/**
 * A group score from its subtasks' scores, as lm-eval's evaluator consolidates a group
 * (lm_eval/api/metrics.py `aggregate_subtask_metrics` and `pooled_sample_stderr`, commit
 * 001722ba6deac35c527d7d8e6c85ce823ed25fbb):
 * - the mean is Σ mean·size / Σ size, with every size taken as 1 when `weightBySize` is false;
 * - the stderr is the pooled sample stderr, whatever the weighting — lm-eval does the same.
 *
 * lm-eval's bbh_cot_fewshot group yaml says `weight_by_size: true`; the studio's issue 9 asks
 * for the unweighted mean of the subtasks. With equal item counts per subtask (a --limit run)
 * both agree; the caller decides and records which it used.
 */
export function aggregateGroup(subtasks: readonly MetricAggregate[], opts: { weightBySize: boolean }): MetricAggregate {
  if (subtasks.length === 0) throw new Error('a group needs at least one subtask');
  const sizes = subtasks.map((s) => (opts.weightBySize ? s.n : 1));
  const total = sizes.reduce((a, b) => a + b, 0);
  const mean = subtasks.reduce((acc, s, i) => acc + s.mean * sizes[i], 0) / total;
  const n = subtasks.reduce((a, s) => a + s.n, 0);
  const stderr = subtasks.some((s) => s.stderr === null) ? null : pooledSampleStderr(subtasks);
  return { mean, stderr, n };
}

/** lm-eval's pooled_sample_stderr: √(Σ (nᵢ−1)·seᵢ²·nᵢ / (Σnᵢ − k) / Σnᵢ). */
function pooledSampleStderr(subtasks: readonly MetricAggregate[]): number {
  const sizes = subtasks.map((s) => s.n);
  const sumSizes = sizes.reduce((a, b) => a + b, 0);
  const pooledVar =
    subtasks.reduce((acc, s) => acc + (s.n - 1) * (s.stderr as number) ** 2 * s.n, 0) / (sumSizes - sizes.length);
  return Math.sqrt(pooledVar / sumSizes);
}
