import * as v from 'valibot';
import { StudioError } from '../errors.ts';
import { BBH_GROUP, getTask, UnknownTaskError, type AnyTask, type EvalCondition, type ItemSelection } from '../eval/index.ts';
import { VOCAB_POLICIES, type VocabPolicy } from '../merge/decide-merge.ts';
import { normalizeAlphas } from './alpha-grid.ts';
import type { ConditionLabel } from './results-document.ts';

/**
 * `sweep.json`, the input of `studio sweep` (and what the page's sweep panel holds):
 *
 * ```json
 * { "sft": "<src>", "rl": "<src>", "target": "<src>",
 *   "alphas": [-1, -0.5, 0, 0.5, 1],
 *   "tasks": [{ "task": "gsm8k_cot", "limit": 100, "seed": 1234,
 *               "conditions": ["plain", "think"], "chat": false, "data": "items.jsonl" }],
 *   "generation": { "batch_size": 8, "max_new_tokens": 256 },
 *   "controls": { "donors": true, "random_vector_seed": 0 },
 *   "vocab_policy": "refuse" }
 * ```
 * Defaults: `alphas` −1 … 1.5 by 0.25 (0 and 1 always added); per task all items (`limit`),
 * first-n unless `seed` is given (then a seeded shuffle), `conditions` ["plain"], `chat` false,
 * the Hub dataset unless `data`; `batch_size` 8, each task's own max new tokens; donors run alone
 * and the control vector with seed 0 (`random_vector_seed: null` for none). `bbh_cot_fewshot`
 * stands for its 27 subtasks. Anything else is refused (SweepConfigError naming the field).
 */

export class SweepConfigError extends StudioError {
  constructor(
    readonly file: string,
    /** The field at fault, as `tasks[1].limit`. */
    readonly field: string | undefined,
    detail: string,
  ) {
    super(`${file}: ${field ? `${field}: ` : ''}${detail}`);
  }
}

const source = v.pipe(v.string('must be a source: hf:owner/name[@revision] or a folder'), v.minLength(1, 'must not be empty'));
const positiveInt = v.pipe(v.number('must be a number'), v.integer('must be an integer'), v.minValue(1, 'must be at least 1'));

const ConfigSchema = v.strictObject({
  sft: source,
  rl: source,
  target: source,
  alphas: v.optional(v.pipe(v.array(v.number('must be a number'), 'must be a list of numbers'), v.minLength(1, 'must list at least one α'))),
  tasks: v.pipe(
    v.array(
      v.strictObject({
        task: v.string('must be a task name'),
        limit: v.optional(positiveInt),
        seed: v.optional(v.pipe(v.number('must be a number'), v.integer('must be an integer'), v.minValue(0, 'must be ≥ 0'), v.maxValue(0xffffffff, 'must be < 2^32'))),
        conditions: v.optional(v.pipe(v.array(v.picklist(['plain', 'think'], 'must be "plain" or "think"'), 'must be a list'), v.minLength(1, 'must list at least one condition'))),
        chat: v.optional(v.boolean('must be true or false')),
        data: v.optional(v.pipe(v.string('must be a file path'), v.minLength(1, 'must not be empty'))),
      }, 'must be an object {"task", "limit", "seed", "conditions", "chat", "data"}'),
      'must be a list of tasks',
    ),
    v.minLength(1, 'must list at least one task'),
  ),
  generation: v.optional(
    v.strictObject({
      batch_size: v.optional(positiveInt),
      max_new_tokens: v.optional(positiveInt),
    }),
  ),
  controls: v.optional(
    v.strictObject({
      donors: v.optional(v.boolean('must be true or false')),
      random_vector_seed: v.optional(v.nullable(v.pipe(v.number('must be a number or null'), v.integer('must be an integer'), v.minValue(0, 'must be ≥ 0'), v.maxValue(0xffffffff, 'must be < 2^32')))),
    }),
  ),
  vocab_policy: v.optional(v.picklist(VOCAB_POLICIES, `must be one of ${VOCAB_POLICIES.join(', ')}`)),
});

export interface SweepTaskConfig {
  task: AnyTask;
  selection: ItemSelection;
  /** As asked (null = all items), for the record. */
  limit: number | null;
  seed: number | null;
  conditions: EvalCondition[];
  /** A local items file (relative paths are the caller's to resolve). */
  data?: string;
}

export interface SweepConfig {
  sources: { sft: string; rl: string; target: string };
  alphas: number[];
  tasks: SweepTaskConfig[];
  generation: { batchSize: number; maxNewTokens: number | null };
  controls: { donors: boolean; randomVectorSeed: number | null };
  vocabPolicy?: VocabPolicy;
}

export const DEFAULT_BATCH_SIZE = 8;
export const DEFAULT_CONTROL_SEED = 0;

export function conditionLabelOf(c: EvalCondition): ConditionLabel {
  return `${c.mode}${c.chatTemplate ? '+chat' : ''}` as ConditionLabel;
}

/** Checks a parsed sweep.json; `file` names it in errors. */
export function parseSweepConfig(value: unknown, file = 'sweep.json'): SweepConfig {
  const parsed = v.safeParse(ConfigSchema, value);
  if (!parsed.success) {
    const issue = parsed.issues[0];
    const field = fieldPath(issue.path);
    if (issue.type === 'strict_object' && issue.expected === 'never') {
      throw new SweepConfigError(file, field, `is not a sweep.json field (${knownFields(issue.path)}).`);
    }
    if (issue.type === 'strict_object' && issue.input === undefined) {
      const source = issue.path?.length === 1 && ['sft', 'rl', 'target'].includes(field ?? '');
      throw new SweepConfigError(file, field, `is missing${source ? '; sweep.json names the SFT donor, the RL donor and the target (hf:owner/name[@revision] or a folder)' : ''}.`);
    }
    const got = issue.received && !/must/.test(issue.received) ? ` (got ${issue.received})` : '';
    throw new SweepConfigError(file, field, `${issue.message}${got}.`);
  }
  const c = parsed.output;
  let alphas: number[];
  try {
    alphas = normalizeAlphas(c.alphas);
  } catch (e) {
    throw new SweepConfigError(file, undefined, (e as Error).message);
  }
  const tasks: SweepTaskConfig[] = [];
  const seen = new Set<string>();
  c.tasks.forEach((t, i) => {
    const field = `tasks[${i}]`;
    let expanded: AnyTask[];
    try {
      expanded = (t.task === BBH_GROUP.name ? BBH_GROUP.subtasks : [t.task]).map(getTask);
    } catch (e) {
      if (e instanceof UnknownTaskError) throw new SweepConfigError(file, `${field}.task`, e.message);
      throw e;
    }
    if (t.data !== undefined && expanded.length > 1) throw new SweepConfigError(file, `${field}.data`, `holds the items of one task; ${t.task} is a group of ${expanded.length}.`);
    const modes = t.conditions ?? ['plain'];
    if (new Set(modes).size !== modes.length) throw new SweepConfigError(file, `${field}.conditions`, 'lists a condition twice.');
    const conditions = modes.map((mode) => ({ mode, chatTemplate: t.chat ?? false }));
    for (const task of expanded) {
      for (const cond of conditions) {
        const key = `${task.name} ${conditionLabelOf(cond)}`;
        if (seen.has(key)) throw new SweepConfigError(file, `${field}.task`, `${task.name} under ${conditionLabelOf(cond)} is already in the sweep.`);
        seen.add(key);
      }
      const count = t.limit ?? Number.MAX_SAFE_INTEGER;
      tasks.push({
        task,
        selection: t.seed !== undefined ? { mode: 'shuffle', count, seed: t.seed } : { mode: 'first-n', count },
        limit: t.limit ?? null,
        seed: t.seed ?? null,
        conditions,
        data: t.data,
      });
    }
  });
  return {
    sources: { sft: c.sft, rl: c.rl, target: c.target },
    alphas,
    tasks,
    generation: { batchSize: c.generation?.batch_size ?? DEFAULT_BATCH_SIZE, maxNewTokens: c.generation?.max_new_tokens ?? null },
    controls: { donors: c.controls?.donors ?? true, randomVectorSeed: c.controls?.random_vector_seed === undefined ? DEFAULT_CONTROL_SEED : c.controls.random_vector_seed },
    vocabPolicy: c.vocab_policy,
  };
}

/** valibot's issue path as `tasks[1].limit`. */
function fieldPath(path: v.BaseIssue<unknown>['path']): string | undefined {
  if (!path?.length) return undefined;
  let out = '';
  for (const item of path) {
    const key = (item as { key: unknown }).key;
    out += typeof key === 'number' ? `[${key}]` : `${out ? '.' : ''}${String(key)}`;
  }
  return out;
}

function knownFields(path: v.BaseIssue<unknown>['path']): string {
  const parent = (path ?? []).slice(0, -1).map((p) => (p as { key: unknown }).key);
  if (parent.length === 0) return 'known: sft, rl, target, alphas, tasks, generation, controls, vocab_policy';
  if (parent[0] === 'tasks') return 'known: task, limit, seed, conditions, chat, data';
  if (parent[0] === 'generation') return 'known: batch_size, max_new_tokens';
  if (parent[0] === 'controls') return 'known: donors, random_vector_seed';
  return 'unknown key';
}
