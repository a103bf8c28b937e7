import { aggregateGroup } from '../aggregate-group.ts';
import type { TaskSummary } from '../score-responses.ts';
import { BBH_GROUP } from '../tasks/bbh-cot-fewshot.ts';
import type { AnyTask } from '../task-types.ts';

/**
 * `studio eval --out`: shaped like lm-evaluation-harness's results file (lm_eval/evaluator.py and
 * lm_eval/loggers/evaluation_tracker.py, v0.4.x) — `results[task]["<metric>,<filter>"]` and
 * `"<metric>_stderr,<filter>"`, `groups`, `group_subtasks`, `n-samples`, `higher_is_better` —
 * so a number here can be put next to lm-eval's, plus a `studio` section that says exactly what
 * ran: the model sources with pinned revisions, α, the condition, the item selection, the
 * datasets with their commits, and the generation settings.
 */

export interface ModelSourceRecord {
  role: 'model' | 'sft' | 'rl' | 'target';
  /** As given (`hf:owner/name@rev` or a folder). Never a token. */
  spec: string;
  /** The commit an `hf:` source resolved to. */
  revision?: string;
}

export interface StudioRunRecord {
  sources: ModelSourceRecord[];
  alpha: number | null;
  condition: { mode: 'plain' | 'think'; chatTemplate: boolean; label: string };
  selection: { mode: 'first-n' | 'shuffle'; count: number | null; seed: number | null };
  generation: { batchSize: number; maxNewTokens: number | null; greedy: true };
  /** Per task: where its items came from and which rows were used. */
  data: Record<string, { source: string; revision: string | null; rows: number; indices: number[] }>;
  runtime: { provider: string; seconds: number };
}

export interface ResultsDocument {
  results: Record<string, Record<string, number | string | null>>;
  groups: Record<string, Record<string, number | string | null>>;
  group_subtasks: Record<string, string[]>;
  'n-samples': Record<string, { original: number; effective: number }>;
  higher_is_better: Record<string, Record<string, boolean>>;
  studio: StudioRunRecord;
}

/** "exact_match,strict-match" → ["exact_match", "strict-match"]; "acc" → ["acc", "none"] (lm-eval's filter name when there is none). */
function splitKey(key: string, filter = 'none'): [string, string] {
  const i = key.indexOf(',');
  return i < 0 ? [key, filter] : [key.slice(0, i), key.slice(i + 1)];
}

function resultEntry(alias: string, metrics: Record<string, number>, stderr: Record<string, number | null>, filterName?: string) {
  const entry: Record<string, number | string | null> = { alias };
  for (const key of Object.keys(metrics)) {
    const [metric, filter] = splitKey(key, filterName);
    entry[`${metric},${filter}`] = metrics[key];
    entry[`${metric}_stderr,${filter}`] = stderr[key] ?? 'N/A';
  }
  return entry;
}

export function buildResultsDocument(
  runs: { task: AnyTask; summary: TaskSummary; originalSize: number }[],
  studio: StudioRunRecord,
): ResultsDocument {
  const doc: ResultsDocument = { results: {}, groups: {}, group_subtasks: {}, 'n-samples': {}, higher_is_better: {}, studio };
  for (const r of runs) {
    doc.results[r.task.name] = resultEntry(r.task.name, r.summary.metrics, r.summary.stderr, r.task.resultsFilter);
    doc['n-samples'][r.task.name] = { original: r.originalSize, effective: r.summary.n };
    doc.higher_is_better[r.task.name] = Object.fromEntries(r.task.metricKeys.map((k) => [splitKey(k)[0], true]));
  }
  // BBH: the unweighted mean of the subtasks that ran, as `bbh_cot_fewshot`.
  const bbh = runs.filter((r) => r.task.name.startsWith(`${BBH_GROUP.name}_`));
  if (bbh.length) {
    const key = 'exact_match,get-answer';
    const agg = aggregateGroup(
      bbh.map((r) => ({ mean: r.summary.metrics[key], stderr: r.summary.stderr[key], n: r.summary.n })),
      { weightBySize: false },
    );
    const entry = resultEntry(BBH_GROUP.name, { [key]: agg.mean }, { [key]: agg.stderr });
    doc.results[BBH_GROUP.name] = entry;
    doc.groups[BBH_GROUP.name] = entry;
    doc.group_subtasks[BBH_GROUP.name] = bbh.map((r) => r.task.name);
    doc.higher_is_better[BBH_GROUP.name] = { exact_match: true };
  }
  return doc;
}
