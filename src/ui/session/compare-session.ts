import { StudioError } from '../../engine/errors.ts';
import { getTask, type AnyTask, type EvalCondition, type RunProgram } from '../../engine/eval/index.ts';
import { EvalCancelledError, runTask } from '../../engine/eval/run/run-task.ts';
import { GenerationCancelledError, type LiveModel } from '../../engine/model/live-model.ts';
import { useExplorer, type ColumnResult, type ColumnSpec } from '../explorer-store.ts';
import { useStudio, type BenchmarkItem } from '../store.ts';
import { benchmarkItemDoc, pythonSandbox } from './benchmark-session.ts';
import { answers, hasTokenizer, modelIdentity, parsePromptIds, playgroundPromptIds, playgroundSettings, withLiveModel, type KeptAnswer } from './model-session.ts';
import { checkpointFor } from './slot-loader.ts';
import { pageGpuMessage } from './gpu.ts';

/**
 * The α explorer's run: one prompt (the playground's, or a benchmark item from the loaded samples)
 * answered at several α, one column after another on the playground's one model — re-merge θ(α)
 * for the column, generate (each token shown as it comes), score it with the task's own filters
 * and metrics when it is an item, then the next column. Answers already in the history are shown
 * as kept, without re-merging or generating. Owns the abort controller; the store holds results.
 */

const st = () => useStudio.getState();
const ex = () => useExplorer.getState();

let controller: AbortController | undefined;
/** Columns asked for while a comparison ran (a moved slider): run when it ends. */
let queued: number[] | undefined;

/** A column's α now: a slider column takes the page's α. */
export function columnAlpha(c: ColumnSpec): number {
  return c.alpha ?? st().merge.alpha;
}

/** `task#index`: how the explorer names a benchmark sample. */
export function itemKey(s: Pick<BenchmarkItem, 'task' | 'index'>): string {
  return `${s.task}#${s.index}`;
}

/** The sample after the chosen one (wrapping), for "next item". */
export function nextItemKey(samples: readonly BenchmarkItem[], current: string | undefined): string | undefined {
  if (samples.length === 0) return undefined;
  const i = samples.findIndex((s) => itemKey(s) === current);
  return itemKey(samples[(i + 1) % samples.length]);
}

/** Stops the comparison: the column in flight stops after its current token; later columns do not run. */
export function cancelCompare(): void {
  if (!controller) return;
  queued = undefined;
  controller.abort();
  ex().patch({ status: 'cancelling' });
}

/** What every column answers: prompt ids, how to generate, how to key and score the answer. */
interface Question {
  promptIds: number[];
  maxNewTokens: number;
  stopStrings: string[];
  decode?: (ids: number[]) => string;
  eosTokenIds: number[];
  /** History key parts (with the model and α added per column). */
  prompt: string;
  settings: string;
  item?: { sample: BenchmarkItem; task: AnyTask; doc: unknown; condition: EvalCondition; runProgram?: RunProgram };
}

/** The chosen benchmark sample, its task and its dataset row. */
function chosenItem(): { sample: BenchmarkItem; task: AnyTask; doc: unknown } {
  const samples = st().benchmarks.samples;
  if (samples.length === 0) throw new StudioError('No benchmark items are loaded: run the Benchmarks panel first; its items can then be compared here.');
  const key = ex().item ?? itemKey(samples[0]);
  const sample = samples.find((s) => itemKey(s) === key);
  if (!sample) throw new StudioError(`The item ${key} is no longer among the benchmark samples; pick another.`);
  const doc = benchmarkItemDoc(sample.task, sample.index);
  if (doc === undefined) throw new StudioError(`The dataset row of ${key} is not in memory any more; run the benchmark again.`);
  return { sample, task: getTask(sample.task), doc };
}

/** "plain+chat" → { mode: 'plain', chatTemplate: true }: the condition a sample was prompted with. */
export function conditionOf(label: string): EvalCondition {
  const [mode, chat] = label.split('+');
  return { mode: mode === 'think' ? 'think' : 'plain', chatTemplate: chat === 'chat' };
}

async function question(m: LiveModel): Promise<Question> {
  const tok = m.tokenizer;
  const eosTokenIds = tok?.eosTokenIds ?? m.model.config.eosTokenIds;
  const decode = tok && ((ids: number[]) => tok.decode(ids));
  if (ex().source === 'prompt') {
    const target = checkpointFor('target');
    const promptIds = target && !hasTokenizer(target) ? parsePromptIds(st().playground.idsText, target.config.vocabSize) : playgroundPromptIds(m);
    const maxNewTokens = st().playground.maxNewTokens;
    return { promptIds, maxNewTokens, stopStrings: [], decode, eosTokenIds, prompt: promptIds.join(','), settings: playgroundSettings(maxNewTokens) };
  }
  const { sample, task, doc } = chosenItem();
  if (!tok) throw new StudioError("The target has no tokenizer.json, so a benchmark item's prompt cannot be encoded.");
  const condition = conditionOf(sample.condition);
  if (task.outputType !== 'generate_until') {
    // Log-likelihood tasks generate nothing: each column scores the choices, as the benchmark did.
    return { promptIds: [], maxNewTokens: 0, stopStrings: [], eosTokenIds, prompt: `item:${itemKey(sample)}|${sample.prompt}`, settings: `loglikelihood|${sample.condition}`, item: { sample, task, doc, condition } };
  }
  // As runTask prompts a generate_until item: the sample's exact prompt text, no special tokens
  // added, cut from the left to leave room for the new tokens; the run's max new tokens.
  const maxNewTokens = st().benchmarks.run?.tasks.find((t) => t.task === task.name)?.maxNewTokens ?? task.generation.maxGenToks;
  const room = m.model.spec.maxSequence - maxNewTokens;
  if (room < 1) throw new StudioError(`${task.name}: ${maxNewTokens} new tokens leave no room for a prompt in this model's ${m.model.spec.maxSequence} positions.`);
  const encoded = tok.encode(sample.prompt, false);
  const promptIds = encoded.length > room ? encoded.slice(encoded.length - room) : encoded;
  const stopStrings = task.generation.until.filter((u) => u.length > 0);
  const runProgram = task.name === 'humaneval' ? (await pythonSandbox()).runProgram : undefined;
  return {
    promptIds,
    maxNewTokens,
    stopStrings,
    decode,
    eosTokenIds,
    prompt: promptIds.join(','),
    settings: `greedy|max ${maxNewTokens}|stop ${JSON.stringify(stopStrings)}|scored as ${task.name}`,
    item: { sample, task, doc, condition, runProgram },
  };
}

/** Answers the question at one column's α: from the history, or re-merged and generated now. */
async function runColumn(m: LiveModel, q: Question, col: ColumnSpec, signal: AbortSignal): Promise<void> {
  const set = (r: Partial<ColumnResult>) => ex().setResult(col.id, r);
  const alpha = columnAlpha(col);
  if (!Number.isFinite(alpha)) return set({ alpha, status: 'error', error: 'α must be a finite number.', ids: [], text: null, kept: false });
  const key = { model: modelIdentity(m), prompt: q.prompt, alpha, settings: q.settings };
  const kept = answers.get(key);
  if (kept) return set({ ...blank(alpha), ...kept, status: 'done', kept: true });
  set({ ...blank(alpha), status: 'merging' });
  const remergeMs = m.alpha === alpha ? 0 : (await m.setAlpha(alpha)).ms;
  if (signal.aborted) throw new GenerationCancelledError();
  set({ status: 'generating', remergeMs });
  const t0 = performance.now();
  let answer: KeptAnswer;
  const it = q.item;
  if (it && it.task.outputType !== 'generate_until') {
    if (!m.tokenizer) throw new StudioError("The target has no tokenizer.json, so a benchmark item's choices cannot be encoded.");
    const r = await runTask({ model: m.model, tokenizer: m.tokenizer }, { task: it.task, items: [{ index: it.sample.index, doc: it.doc }], condition: it.condition, alpha, signal });
    const s = r.samples[0];
    const choices = (s.continuations ?? []).map((c) => ({ text: c.text, loglikelihood: c.loglikelihood, isGreedy: c.is_greedy }));
    const best = choices.reduce((b, c, i) => (c.loglikelihood > choices[b].loglikelihood ? i : b), 0);
    answer = { ids: [], text: choices[best]?.text ?? null, finishReason: 'log-likelihood', remergeMs, generateMs: performance.now() - t0, extracted: s.extracted, metrics: s.metrics, choices };
  } else {
    let first: number | undefined;
    const row = await m.generateStreaming(q.promptIds, {
      maxNewTokens: q.maxNewTokens,
      eosTokenIds: q.eosTokenIds,
      stopStrings: q.stopStrings,
      decode: q.decode,
      signal,
      onToken: (ids) => {
        first ??= performance.now() - t0;
        set({ ids: [...ids], text: q.decode ? q.decode([...ids]) : null, firstTokenMs: first });
      },
    });
    const generateMs = performance.now() - t0;
    answer = { ids: row.ids, text: row.text ?? null, finishReason: row.finishReason, remergeMs, generateMs, firstTokenMs: first ?? generateMs };
    if (it && it.task.outputType === 'generate_until') {
      set({ ...answer, status: 'scoring' });
      const score = await it.task.score(it.doc, row.text ?? '', { runProgram: it.runProgram });
      answer = { ...answer, extracted: score.extracted, metrics: score.metrics };
    }
  }
  answers.put(key, answer);
  set({ ...answer, status: 'done', tokensPerSecond: answer.ids.length / (answer.generateMs / 1000) });
}

function blank(alpha: number): ColumnResult {
  return {
    alpha,
    status: 'waiting',
    ids: [],
    text: null,
    kept: false,
    finishReason: undefined,
    remergeMs: undefined,
    firstTokenMs: undefined,
    generateMs: undefined,
    tokensPerSecond: undefined,
    extracted: undefined,
    metrics: undefined,
    choices: undefined,
    error: undefined,
  };
}

/**
 * Answers the question in every column (or only the given ones, e.g. the slider's column after
 * the slider moved), left to right. A second call while one runs is queued (its columns run next).
 */
export async function runCompare(only?: number[]): Promise<void> {
  if (controller) {
    queued = [...new Set([...(queued ?? []), ...(only ?? ex().columns.map((c) => c.id))])];
    return;
  }
  const mine = new AbortController();
  controller = mine;
  const signal = mine.signal;
  const cols = ex().columns.filter((c) => !only || only.includes(c.id));
  ex().patch({ status: 'running', engaged: true, error: undefined });
  for (const c of cols) ex().setResult(c.id, { ...blank(columnAlpha(c)) });
  try {
    await withLiveModel(async (m) => {
      ex().patch({ path: m.path });
      const q = await question(m);
      for (const col of cols) {
        if (signal.aborted) throw new GenerationCancelledError();
        try {
          await runColumn(m, q, col, signal);
        } catch (e) {
          if (e instanceof GenerationCancelledError || e instanceof EvalCancelledError || signal.aborted) throw e;
          ex().setResult(col.id, { status: 'error', error: message(e) });
        }
      }
    });
  } catch (e) {
    const cancelled = e instanceof GenerationCancelledError || e instanceof EvalCancelledError || signal.aborted;
    for (const c of cols) {
      const r = ex().results[c.id];
      if (r && r.status !== 'done' && r.status !== 'error') ex().setResult(c.id, cancelled ? { status: 'cancelled' } : { status: 'error', error: message(e) });
    }
    if (!cancelled) ex().patch({ error: message(e) });
  } finally {
    controller = undefined;
    ex().patch({ status: 'idle' });
  }
  const next = queued;
  queued = undefined;
  if (next && !signal.aborted) {
    const live = new Set(ex().columns.map((c) => c.id));
    const ids = next.filter((id) => live.has(id));
    if (ids.length) await runCompare(ids);
  }
}

function message(e: unknown): string {
  const lost = pageGpuMessage(e); // a lost device: the page's own wording (the engine's is the CLI's)
  if (lost) return lost;
  if (e instanceof StudioError) return e.message;
  console.error(e);
  return `Unexpected error: ${(e as Error)?.message ?? String(e)}`;
}
