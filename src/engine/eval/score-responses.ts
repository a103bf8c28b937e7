import { aggregateMetric, type MetricAggregate } from './aggregate-metric.ts';
import { EvalDataError } from './eval-errors.ts';
import type { AnyTask, ItemScore, ScoreContext } from './task-types.ts';

/** A model's answer to one item: generated text, or one log-likelihood per choice. */
export type TaskResponse = { text: string } | { loglikelihoods: number[] };

/**
 * Checks a response row against what the task needs: `{"text": …}` for generation tasks,
 * `{"loglikelihoods": [numbers, one per choice]}` for multiple-choice ones.
 */
export function readResponse(task: AnyTask, row: unknown, where: string, choiceCount?: number): TaskResponse {
  const rec = typeof row === 'object' && row !== null && !Array.isArray(row) ? (row as Record<string, unknown>) : undefined;
  if (task.outputType === 'generate_until') {
    if (!rec || !('text' in rec)) throw new EvalDataError(where, `missing field "text": a ${task.name} response is {"text": "<the model's output>"}.`);
    if (typeof rec.text !== 'string') throw new EvalDataError(where, `field "text" must be a string.`);
    return { text: rec.text };
  }
  if (!rec || !('loglikelihoods' in rec)) {
    throw new EvalDataError(where, `missing field "loglikelihoods": a ${task.name} response is {"loglikelihoods": [one number per choice]}.`);
  }
  const lls = rec.loglikelihoods;
  if (!Array.isArray(lls) || lls.some((x) => typeof x !== 'number')) {
    throw new EvalDataError(where, `field "loglikelihoods" must be an array of numbers.`);
  }
  if (choiceCount !== undefined && lls.length !== choiceCount) {
    throw new EvalDataError(where, `"loglikelihoods" has ${lls.length} numbers; ${task.name} has ${choiceCount} choices per item.`);
  }
  return { loglikelihoods: lls as number[] };
}

export async function scoreItem(task: AnyTask, doc: unknown, response: TaskResponse, ctx?: ScoreContext): Promise<ItemScore> {
  if (task.outputType === 'generate_until') {
    if (!('text' in response)) throw new Error(`${task.name} scores generated text`);
    return task.score(doc, response.text, ctx);
  }
  if (!('loglikelihoods' in response)) throw new Error(`${task.name} scores log-likelihoods`);
  return task.score(doc, response.loglikelihoods);
}

export interface TaskSummary {
  task: string;
  n: number;
  /** Mean of each metric key over the items. */
  metrics: Record<string, number>;
  /** lm-eval's `<metric>_stderr` (null where lm-eval writes "N/A": a single item). */
  stderr: Record<string, number | null>;
}

/** Means and stderrs of per-item scores, keyed as the task's metric keys. */
export function summarizeScores(task: AnyTask, scores: readonly ItemScore[]): TaskSummary {
  const metrics: Record<string, number> = {};
  const stderr: Record<string, number | null> = {};
  for (const key of task.metricKeys) {
    const agg: MetricAggregate = aggregateMetric(scores.map((s) => s.metrics[key]));
    metrics[key] = agg.mean;
    stderr[key] = agg.stderr;
  }
  return { task: task.name, n: scores.length, metrics, stderr };
}
