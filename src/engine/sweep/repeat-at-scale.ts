import { THINK_INSTRUCTION, getTask, selectItems } from '../eval/index.ts';
import { mergekitRecipe } from '../merge/export-files.ts';
import type { SupportedDtype } from '../safetensors/dtypes.ts';
import type { ConditionLabel, SourceRecord, SweepResultsDocument } from './results-document.ts';

/**
 * Repeating a sweep's finding at full scale with the engines people already trust: an
 * lm-evaluation-harness command line (HF or vLLM backend) for the same models, tasks, conditions
 * and items, and the mergekit recipe of the best α. The studio's prompts, filters and metrics
 * mirror lm-eval's task configs (src/engine/eval/tasks), so the numbers are comparable.
 *
 * Conditions map to lm-eval flags: `think` → `--system_instruction "Let's think step by step."`
 * (conditions.ts), `+chat` → `--apply_chat_template`. Items: first-n → `--limit N`; a seeded
 * shuffle → `--samples '{"task": [indices]}'` (lm-eval ≥ 0.4.8, "doc indices of selected examples").
 * Tasks lm-eval cannot run are listed, not silently dropped: the studio's own demo_arith, and items
 * read from a local file.
 */

export type LmEvalBackend = 'hf' | 'vllm';

export interface LmEvalModel {
  /** `pretrained=`: a Hub repo id or a local folder. */
  pretrained: string;
  revision?: string | null;
}

export interface LmEvalCommand {
  condition: ConditionLabel;
  tasks: string[];
  command: string;
}

export interface LmEvalPlan {
  commands: LmEvalCommand[];
  /** Tasks left out, each with the reason. */
  skipped: { task: string; reason: string }[];
}

/** A source as lm-eval's `pretrained=`/`revision=` (hf:owner/name@rev → owner/name, the pinned commit). */
export function lmEvalModelOf(s: SourceRecord): LmEvalModel {
  if (s.spec.startsWith('hf:')) {
    const [repo, rev] = s.spec.slice(3).split('@');
    return { pretrained: repo, revision: s.revision ?? rev ?? null };
  }
  return { pretrained: s.spec, revision: null };
}

/** POSIX shell single quotes, only where needed. */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The lm_eval command lines that measure `model` on the document's tasks: one per condition
 * (lm-eval takes one `--system_instruction` / chat setting per run).
 */
export function lmEvalCommands(doc: SweepResultsDocument, model: LmEvalModel, o: { backend: LmEvalBackend; outputPath?: string }): LmEvalPlan {
  const skipped: LmEvalPlan['skipped'] = [];
  const byCondition = new Map<ConditionLabel, { task: string; limit: number | null; indices?: number[] }[]>();
  for (const t of doc.tasks) {
    let known = true;
    try {
      known = getTask(t.task).builtinRows === undefined;
    } catch {
      known = false;
    }
    if (!known) {
      skipped.push({ task: t.task, reason: "the studio's own task; lm-eval has no equivalent" });
      continue;
    }
    if (!t.data.source.startsWith('hf:datasets/')) {
      skipped.push({ task: t.task, reason: `items from a local file (${t.data.source}); lm-eval reads the task's Hub dataset` });
      continue;
    }
    const count = t.selection.count;
    const entry =
      t.selection.mode === 'shuffle'
        ? { task: t.task, limit: null, indices: selectItems(t.data.rows, { mode: 'shuffle', count: count ?? t.data.rows, seed: t.selection.seed ?? 0 }) }
        : { task: t.task, limit: count !== null && count < t.data.rows ? count : null };
    for (const c of t.conditions) byCondition.set(c, [...(byCondition.get(c) ?? []), entry]);
  }
  const commands: LmEvalCommand[] = [];
  for (const [condition, entries] of byCondition) {
    const modelArgs = [`pretrained=${model.pretrained}`];
    if (model.revision) modelArgs.push(`revision=${model.revision}`);
    modelArgs.push(...(o.backend === 'vllm' ? ['dtype=auto', 'gpu_memory_utilization=0.8'] : ['dtype=auto']));
    const args = ['lm_eval', '--model', o.backend, '--model_args', modelArgs.join(','), '--tasks', entries.map((e) => e.task).join(','), '--batch_size', 'auto'];
    // lm-eval takes one --limit for all tasks: used when every first-n task asks the same count.
    const limits = new Set(entries.filter((e) => !e.indices).map((e) => e.limit));
    const shuffled = entries.filter((e) => e.indices);
    if (shuffled.length || limits.size > 1) {
      // Per-task items: --samples lists every task's indices (first-n ones as 0…n−1).
      const samples = Object.fromEntries(
        entries.map((e) => {
          const t = doc.tasks.find((x) => x.task === e.task)!;
          return [e.task, e.indices ?? selectItems(t.data.rows, { mode: 'first-n', count: e.limit ?? t.data.rows })];
        }),
      );
      args.push('--samples', JSON.stringify(samples));
    } else {
      const [limit] = limits;
      if (limit !== null && limit !== undefined) args.push('--limit', String(limit));
    }
    if (condition.startsWith('think')) args.push('--system_instruction', THINK_INSTRUCTION);
    if (condition.endsWith('+chat')) args.push('--apply_chat_template');
    if (doc.generation.max_new_tokens !== null) args.push('--gen_kwargs', `max_gen_toks=${doc.generation.max_new_tokens}`);
    if (entries.some((e) => e.task === 'humaneval')) args.push('--confirm_run_unsafe_code');
    args.push('--log_samples', '--output_path', `${o.outputPath ?? 'lm-eval-results'}/${condition.replace('+', '-')}`);
    commands.push({ condition, tasks: entries.map((e) => e.task), command: args.map(shellQuote).join(' ') });
  }
  return { commands, skipped };
}

/**
 * The α of the v series with the best mean accuracy over the document's tasks and conditions
 * (each task's first metric, e.g. `exact_match,strict-match`, `acc`); ties go to the α closest
 * to 0 (the smaller change to the target). Undefined when no v point is complete.
 */
export function bestAlpha(doc: SweepResultsDocument): { alpha: number; mean: number } | undefined {
  const primary = new Map(doc.tasks.map((t) => [t.task, doc.points.find((p) => p.task === t.task)?.metric]));
  let best: { alpha: number; mean: number } | undefined;
  for (const alpha of doc.alphas) {
    const pts = doc.points.filter((p) => p.series === 'v' && p.alpha === alpha && p.metric === primary.get(p.task));
    if (pts.length === 0) continue;
    const mean = pts.reduce((a, p) => a + p.correct / p.total, 0) / pts.length;
    if (!best || mean > best.mean + 1e-12 || (Math.abs(mean - best.mean) <= 1e-12 && Math.abs(alpha) < Math.abs(best.alpha))) best = { alpha, mean };
  }
  return best;
}

/** How mergekit names a source: `owner/name@<commit>` for the Hub (pinned), the path otherwise. */
export function mergekitReferenceOf(s: SourceRecord): string {
  const m = lmEvalModelOf(s);
  return m.revision ? `${m.pretrained}@${m.revision}` : m.pretrained;
}

/** The mergekit YAML that builds θ(best α) at full scale (export-files.ts's recipe). */
export function bestAlphaRecipe(doc: SweepResultsDocument, outDtype: SupportedDtype = 'BF16'): { alpha: number; yaml: string } | undefined {
  const best = bestAlpha(doc);
  if (!best) return undefined;
  const refs = { target: mergekitReferenceOf(doc.sources.target), sft: mergekitReferenceOf(doc.sources.sft), rl: mergekitReferenceOf(doc.sources.rl) };
  return { alpha: best.alpha, yaml: mergekitRecipe(refs, best.alpha, outDtype) };
}
