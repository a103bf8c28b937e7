import { StudioError } from '../../errors.ts';
import type { DecoderModel } from '../../model/decoder-model.ts';
import type { StudioTokenizer } from '../../model/tokenizer.ts';
import { summarizeScores, type TaskSummary } from '../score-responses.ts';
import type { AnyTask, EvalCondition, ItemScore, RunProgram, TaskPrompt } from '../task-types.ts';

/**
 * Runs one task on a model, the way lm-evaluation-harness's HFLM runs it
 * (lm_eval/models/huggingface.py, v0.4.x):
 * - prompts are encoded without special tokens (HFLM's `add_bos_token=False` default; a chat
 *   template writes its own), contexts too long for the model are cut from the left, keeping
 *   room for `max_gen_toks` (generate_until) or the continuation (loglikelihood);
 * - generation is greedy, stops at the task's `until` strings and at EOS, and the text is cut
 *   at the first stop string;
 * - log-likelihood requests split `context + continuation` at the context's token count after
 *   moving the context's trailing spaces into the continuation (HFLM `_encode_pair`).
 * Items run in batches; finished items are reported one by one (`onSample`) as they complete.
 */

export interface EvalModel {
  model: DecoderModel;
  tokenizer: StudioTokenizer;
}

export interface RunTaskOptions {
  task: AnyTask;
  /** The chosen dataset rows (already read by `task.readDoc`) with their dataset indices. */
  items: { index: number; doc: unknown }[];
  condition: EvalCondition;
  /** Rows per model call (generation) / contexts per pass (log-likelihood). */
  batchSize?: number;
  /** Overrides the task's `max_gen_toks`. */
  maxNewTokens?: number;
  runProgram?: RunProgram;
  /** Recorded in each sample. */
  alpha?: number | null;
  onSample?: (s: EvalSample) => void;
  signal?: AbortSignal;
}

/** One line of `--samples` (lm-eval's `--log_samples`, in the studio's shape). */
export interface EvalSample {
  task: string;
  index: number;
  alpha: number | null;
  condition: string;
  /** The exact text given to the tokenizer (after few-shot and chat template). */
  prompt: string;
  /** Raw generated text before filtering (generation tasks). */
  output?: string;
  /** Log-likelihood tasks: the context's ids and every choice. */
  context_ids?: number[];
  continuations?: { text: string; ids: number[]; loglikelihood: number; is_greedy: boolean }[];
  /** Tokens cut from the left of a context longer than the model allows (as lm-eval does). */
  truncated_tokens?: number;
  extracted: Record<string, string>;
  metrics: Record<string, 0 | 1>;
}

export interface TaskRun {
  summary: TaskSummary;
  samples: EvalSample[];
}

/** "plain" / "think", "+chat" when the chat template is applied. */
export function conditionLabel(c: EvalCondition): string {
  return c.mode + (c.chatTemplate ? '+chat' : '');
}

export class EvalCancelledError extends StudioError {
  constructor() {
    super('the evaluation was cancelled.');
  }
}

export function renderPrompt(p: TaskPrompt, tok: StudioTokenizer, task: string): string {
  if (p.kind === 'text') return p.text;
  if (!tok.hasChatTemplate) {
    throw new StudioError(`${task}: the model's tokenizer_config.json has no chat_template; run without the chat template (no --chat).`);
  }
  return tok.applyChatTemplate(p.messages, true);
}

export async function runTask(m: EvalModel, o: RunTaskOptions): Promise<TaskRun> {
  const batchSize = Math.max(1, o.batchSize ?? 8);
  const samples: EvalSample[] = [];
  const scores: ItemScore[] = [];
  const maxSequence = m.model.spec.maxSequence;
  const head = (index: number) => ({ task: o.task.name, index, alpha: o.alpha ?? null, condition: conditionLabel(o.condition) });
  const finish = (s: EvalSample, score: ItemScore) => {
    s.extracted = score.extracted;
    s.metrics = score.metrics;
    samples.push(s);
    scores.push(score);
    o.onSample?.(s);
  };

  for (let start = 0; start < o.items.length; start += batchSize) {
    if (o.signal?.aborted) throw new EvalCancelledError();
    const batch = o.items.slice(start, start + batchSize);
    const task = o.task;
    if (task.outputType === 'generate_until') {
      const maxNew = o.maxNewTokens ?? task.generation.maxGenToks;
      if (maxNew >= maxSequence) throw new StudioError(`${task.name}: ${maxNew} new tokens leave no room for a prompt in this model's ${maxSequence} positions; lower --max-new-tokens.`);
      const prompts = batch.map((it) => renderPrompt(task.buildPrompt(it.doc, o.condition), m.tokenizer, task.name));
      const encoded = prompts.map((p) => leftTruncate(m.tokenizer.encode(p, false), maxSequence - maxNew));
      const rows = await m.model.generate(
        encoded.map((e) => e.ids),
        {
          maxNewTokens: maxNew,
          eosTokenIds: m.tokenizer.eosTokenIds,
          stopStrings: task.generation.until.filter((u) => u.length > 0),
          decode: (ids) => m.tokenizer.decode(ids),
        },
      );
      for (let i = 0; i < batch.length; i++) {
        const output = rows[i].text ?? '';
        const score = await task.score(batch[i].doc, output, { runProgram: o.runProgram });
        const s: EvalSample = { ...head(batch[i].index), prompt: prompts[i], output, extracted: {}, metrics: {} };
        if (encoded[i].cut) s.truncated_tokens = encoded[i].cut;
        finish(s, score);
      }
    } else {
      const built = batch.map((it) => {
        const r = task.buildRequests(it.doc, o.condition);
        const context = renderPrompt(r.context, m.tokenizer, task.name);
        return { context, pairs: r.continuations.map((c) => encodePair(m.tokenizer, context, c, maxSequence)) };
      });
      const flat = built.flatMap((b) => b.pairs.map((p) => ({ context: p.contextIds, continuation: p.continuationIds })));
      const lls = await m.model.loglikelihood(flat, { batchSize });
      let k = 0;
      for (let i = 0; i < batch.length; i++) {
        const continuations = built[i].pairs.map((p) => {
          const r = lls[k++];
          return { text: p.continuation, ids: p.continuationIds, loglikelihood: r.loglikelihood, is_greedy: r.isGreedy };
        });
        const score = task.score(batch[i].doc, continuations.map((c) => c.loglikelihood));
        const s: EvalSample = { ...head(batch[i].index), prompt: built[i].context, context_ids: built[i].pairs[0].contextIds, continuations, extracted: {}, metrics: {} };
        const cut = Math.max(...built[i].pairs.map((p) => p.cut));
        if (cut) s.truncated_tokens = cut;
        finish(s, score);
      }
    }
  }
  return { summary: summarizeScores(o.task, scores), samples };
}

function leftTruncate(ids: number[], max: number): { ids: number[]; cut: number } {
  return ids.length > max ? { ids: ids.slice(ids.length - max), cut: ids.length - max } : { ids, cut: 0 };
}

/**
 * HFLM `_encode_pair`: trailing spaces of the context move to the continuation; the whole string
 * is encoded and split at the context's token count (so a merge across the boundary is kept
 * the way the model would see it). Then `(context + continuation)[-(max_length + 1):]`.
 */
/** What Python's str.rstrip() removes (str.isspace characters). */
const PYTHON_TRAILING_SPACE = /[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/u;

export function encodePair(tok: StudioTokenizer, context: string, continuation: string, maxSequence: number) {
  const spaces = context.length - context.replace(PYTHON_TRAILING_SPACE, '').length;
  if (spaces > 0) {
    continuation = context.slice(context.length - spaces) + continuation;
    context = context.slice(0, context.length - spaces);
  }
  const whole = tok.encode(context + continuation, false);
  const contextLength = tok.encode(context, false).length;
  let contextIds = whole.slice(0, contextLength);
  const continuationIds = whole.slice(contextLength);
  if (continuationIds.length === 0) throw new StudioError(`the continuation "${continuation}" encodes to no tokens after the context.`);
  if (contextIds.length === 0) throw new StudioError('a log-likelihood request with an empty context needs an EOT prefix, which this model does not define.');
  let cut = 0;
  // lm-eval keeps (context + continuation)[-(max_length + 1):]; we keep max_length (the last
  // continuation token is never fed, but every id is checked against the vocabulary).
  const over = contextIds.length + continuationIds.length - maxSequence;
  if (over > 0) {
    if (over >= contextIds.length) throw new StudioError(`a continuation of ${continuationIds.length} tokens does not fit this model's ${maxSequence} positions.`);
    contextIds = contextIds.slice(over);
    cut = over;
  }
  return { contextIds, continuationIds, continuation, cut };
}
