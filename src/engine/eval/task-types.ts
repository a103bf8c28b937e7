/** The shapes every task definition shares; each task file fills them from its lm-eval yaml. */

/**
 * The paper's conditions. `think` adds THINK_INSTRUCTION (conditions.ts) the way lm-eval adds a
 * `--system_instruction`; `chatTemplate` says whether the prompt goes through the model's chat
 * template (lm-eval's `--apply_chat_template`, few-shot examples as one user turn — lm-eval's
 * default `fewshot_as_multiturn=False`).
 */
export interface EvalCondition {
  mode: 'plain' | 'think';
  chatTemplate: boolean;
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/**
 * The text to give the model. `chat` messages are to be rendered with the tokenizer's chat
 * template and `add_generation_prompt=True` (lm-eval's HFLM.apply_chat_template); the rendered
 * string is what the tokenizer sees.
 */
export type TaskPrompt = { kind: 'text'; text: string } | { kind: 'chat'; messages: ChatMessage[] };

/** Where a definition comes from: a file of lm-evaluation-harness at a commit. */
export interface Provenance {
  repository: string;
  path: string;
  commit: string;
  note?: string;
}

/** One item's verdicts (0 or 1, keyed as lm-eval keys them) and what the filters extracted. */
export interface ItemScore {
  metrics: Record<string, 0 | 1>;
  extracted: Record<string, string>;
}

/**
 * Runs a Python program and says whether it passed. The Pyodide sandbox in ./python/ provides
 * one; tests may inject their own. A program that raises, exits or runs past `timeoutMs` fails.
 */
export type RunProgram = (program: string, timeoutMs: number) => Promise<{ passed: boolean; reason: string }>;

export interface ScoreContext {
  /** Needed by humaneval only. */
  runProgram?: RunProgram;
}

export interface GenerationKwargs {
  /** lm-eval's `until`: generation stops before the first of these strings. */
  until: readonly string[];
  /** lm-eval's `max_gen_toks` (HFLM's default 256 when a yaml does not set it). */
  maxGenToks: number;
  /** Every task here decodes greedily (`do_sample: false`). */
  doSample: false;
}

interface TaskCommon<Doc> {
  name: string;
  /** The Hub dataset lm-eval loads: `dataset_path`, `dataset_name`, `test_split`. */
  dataset: { path: string; name: string | null; split: string };
  /** The dataset's own field names each row must have. */
  fields: readonly (keyof Doc & string)[];
  /** The metric keys one item's score has, as lm-eval writes them. */
  metricKeys: readonly string[];
  /**
   * The filter name lm-eval's results file pairs with a metric key that names none (`"acc"` →
   * `"acc,none"`); humaneval's yaml filters through `create_test`, so it writes `"pass@1,create_test"`.
   */
  resultsFilter?: string;
  sources: readonly Provenance[];
  /** Checks one dataset row; `where` names it in errors (file:line or row index). */
  readDoc(row: unknown, where: string): Doc;
  /**
   * The studio's own tasks (not lm-eval's, e.g. demo_arith) generate their rows in code: when
   * present these are the rows and nothing is downloaded; `dataset` then only names them.
   */
  builtinRows?: () => readonly unknown[];
}

export interface GenerateTask<Doc> extends TaskCommon<Doc> {
  outputType: 'generate_until';
  generation: GenerationKwargs;
  buildPrompt(doc: Doc, condition: EvalCondition): TaskPrompt;
  /** The reference answer the metric compares with (lm-eval's doc_to_target). */
  target(doc: Doc): string;
  score(doc: Doc, output: string, ctx?: ScoreContext): Promise<ItemScore>;
}

export interface MultipleChoiceTask<Doc> extends TaskCommon<Doc> {
  outputType: 'multiple_choice';
  /** One context and one continuation per choice, in choice order (lm-eval's construct_requests). */
  buildRequests(doc: Doc, condition: EvalCondition): { context: TaskPrompt; continuations: string[] };
  choices(doc: Doc): string[];
  gold(doc: Doc): number;
  score(doc: Doc, loglikelihoods: readonly number[]): ItemScore;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyTask = GenerateTask<any> | MultipleChoiceTask<any>;
