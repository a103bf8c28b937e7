import type { ConditionLabel, SweepResultsDocument } from '../../engine/sweep/index.ts';
import { normalizeAlphas } from '../../engine/sweep/alpha-grid.ts';
import type { SlotState, SweepSettings } from '../store.ts';

/**
 * The sweep panel's settings as data: the α grid as typed, the sweep.json they stand for (the
 * same file `studio sweep --config` reads, parsed by the engine's parseSweepConfig), and the
 * settings a results document implies (Re-run). Pure functions, no page state.
 */

type Role = 'sft' | 'rl' | 'target';

/** Numbers as a person types them: commas, spaces or semicolons between, "−" as well as "-". */
export function parseAlphaText(text: string): { alphas: number[] } | { error: string } {
  const parts = text
    .replace(/[\u2212\u2013]/g, '-')
    .split(/[\s,;]+/)
    .filter(Boolean);
  if (parts.length === 0) return { error: 'Give at least one α (0 and 1 are always added).' };
  const values: number[] = [];
  for (const p of parts) {
    const x = Number(p);
    if (!/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(p) || !Number.isFinite(x)) return { error: `"${p}" is not a finite number; α values are numbers like -1, 0.25 or 1.5.` };
    values.push(x);
  }
  try {
    return { alphas: normalizeAlphas(values) };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

const DEMO_TASK = 'demo_arith';

/**
 * Whether the target can run demo_arith: 'demo' — its tokenizer is the demo's (slot-loader.ts
 * checks the vocabulary, not where the trio came from: the Hub's published demo trio is the same
 * files); 'other'; 'checking' — loaded, being checked; 'none' — no target loaded.
 */
export type DemoVocabulary = 'demo' | 'other' | 'checking' | 'none';

export function demoVocabularyOf(target: Pick<SlotState, 'status' | 'demoVocabulary'>): DemoVocabulary {
  if (target.status !== 'ready') return 'none';
  return target.demoVocabulary === undefined ? 'checking' : target.demoVocabulary ? 'demo' : 'other';
}

/**
 * The one rule for demo_arith, used by the Sweep and Benchmarks panels and their sessions: the
 * task scores the ten digits as one-token continuations of "a+b=", which holds for the demo's
 * tokenizer; on another target it would measure something else.
 */
export function demoTaskProblem(tasks: readonly string[], vocabulary: DemoVocabulary): string | undefined {
  if (!tasks.includes(DEMO_TASK) || vocabulary === 'demo') return undefined;
  if (vocabulary === 'checking') return `${DEMO_TASK}: checking whether the target's tokenizer is the demo's…`;
  if (vocabulary === 'none') return `${DEMO_TASK} is the demo trio's own task: load the demo trio, or untick it.`;
  return `${DEMO_TASK} is the demo trio's own task and needs the demo's tokenizer (each digit, "+" and "=" one token); this target's tokenizer is not the demo's: load the demo trio, or untick it.`;
}

/** Why Run cannot start with these choices, or undefined. */
export function sweepProblem(s: SweepSettings, vocabulary: DemoVocabulary): string | undefined {
  if (s.tasks.length === 0) return 'Choose at least one task.';
  if (s.conditions.length === 0) return 'Choose at least one condition.';
  return demoTaskProblem(s.tasks, vocabulary);
}

/**
 * What the page says when a share link is refused. The engine's reason already begins with where
 * the document came from ("the share URL: …", ResultsDocumentError), so it is its own sentence:
 * joined with a colon it read "…is shown: the share URL: does not start…".
 */
export function shareRefusalText(reason: string): string {
  const sentence = reason.charAt(0).toUpperCase() + reason.slice(1);
  return `This share link was refused and nothing from it is shown. ${sentence}`;
}

/** The page's choices as `studio sweep`'s sweep.json (the CLI runs the same configuration with its own sources). */
export function sweepJsonOf(s: SweepSettings, alphas: number[], sources: Record<Role, string>): Record<string, unknown> {
  // sweep.json gives one chat flag per task entry: a task asked with and without the template is two entries.
  const byChat = new Map<boolean, ('plain' | 'think')[]>();
  for (const c of s.conditions) {
    const chat = c.endsWith('+chat');
    byChat.set(chat, [...(byChat.get(chat) ?? []), c.startsWith('think') ? 'think' : 'plain']);
  }
  const tasks = s.tasks.flatMap((task) => [...byChat].map(([chat, conditions]) => ({ task, limit: s.count, ...(s.selection === 'shuffle' ? { seed: s.seed } : {}), conditions, chat })));
  return {
    sft: sources.sft,
    rl: sources.rl,
    target: sources.target,
    alphas,
    tasks,
    generation: { batch_size: s.batchSize, ...(s.maxNewTokens !== null ? { max_new_tokens: s.maxNewTokens } : {}) },
    controls: { donors: s.donors, random_vector_seed: s.control ? s.controlSeed : null },
  };
}

/** The page's settings back from a results document (Re-run). */
export function settingsFromDocument(doc: SweepResultsDocument, fallback: Pick<SweepSettings, 'seed' | 'controlSeed'>): Partial<SweepSettings> {
  const first = doc.tasks[0];
  const conditions = [...new Set(doc.tasks.flatMap((t) => t.conditions))] as ConditionLabel[];
  const bbh = doc.tasks.filter((t) => t.task.startsWith('bbh_cot_fewshot_')).length;
  const names = [...new Set(doc.tasks.map((t) => t.task))];
  return {
    alphasText: doc.alphas.join(', '),
    // All 27 BBH subtasks come back as the group; a few of them as themselves.
    tasks: bbh === 27 ? [...names.filter((n) => !n.startsWith('bbh_cot_fewshot_')), 'bbh_cot_fewshot'] : names,
    conditions,
    count: first.selection.count ?? first.data.rows,
    selection: first.selection.mode,
    seed: first.selection.seed ?? fallback.seed,
    batchSize: doc.generation.batch_size,
    maxNewTokens: doc.generation.max_new_tokens,
    donors: doc.controls.donors,
    control: doc.controls.random_vector_seed !== null,
    controlSeed: doc.controls.random_vector_seed ?? fallback.controlSeed,
  };
}

