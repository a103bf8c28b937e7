import { StudioError } from '../../engine/errors.ts';
import { GenerationCancelledError, LiveModel, type BuildProgress, type LiveModelOptions } from '../../engine/model/live-model.ts';
import { EXPLORING_VECTOR_DTYPES } from '../../engine/model/memory-plan.ts';
import type { Ort } from '../../engine/model/ort-runtime.ts';
import { useExplorer } from '../explorer-store.ts';
import { useStudio } from '../store.ts';
import { AnswerHistory } from './answer-history.ts';
import { gpuContext, onGpuReset, pageGpuMessage } from './gpu.ts';
import { deviceProfile, planTrio } from './memory-plan-session.ts';
import { checkpointFor, loadIdentity, onCheckpointChange } from './slot-loader.ts';
import type { Checkpoint } from '../../engine/checkpoint/open-checkpoint.ts';

/**
 * The playground's model: the loaded trio merged at the slider's α and run by onnxruntime-web.
 * Built once per trio (WebGPU EP on the page's device, else the WASM EP with a notice); moving α
 * re-merges into the same weights and reuses the sessions. Runs are serialised: a slider moved
 * during a generation re-runs once with the latest α when the current one finishes.
 */

let live: { key: string; model: Promise<LiveModel> } | undefined;
let running = false;
let pending = false;
/** The pending run was asked for by Generate (regenerate even when an answer is kept). */
let pendingFresh = false;
/** The playground's generation in flight: Cancel (the work bar) aborts it after the token in flight. */
let generation: AbortController | undefined;

/** Stops the playground's generation after its current token; a regeneration queued behind it is dropped too. */
export function cancelPlayground(): void {
  pending = false;
  generation?.abort();
}

/** What the history keeps of an answer: enough to show it again as it was. */
export interface KeptAnswer {
  ids: number[];
  text: string | null;
  finishReason: string;
  remergeMs: number;
  generateMs: number;
  firstTokenMs?: number;
  extracted?: Record<string, string>;
  metrics?: Record<string, 0 | 1>;
  choices?: { text: string; loglikelihood: number; isGreedy: boolean }[];
}

/**
 * Answers kept while α moves, shared by the playground and the α explorer (the same prompt ids,
 * α and settings on the same model give the same greedy answer). Emptied when a slot changes.
 */
export const answers = new AnswerHistory<KeptAnswer>();

/**
 * The identity of a built model in the history's keys: the trio as loaded, the vocab policy, the
 * GPU budget (it may choose v's dtype), and where and in which precision it runs.
 */
export function modelIdentity(m: LiveModel): string {
  return `${live?.key ?? trioKey()}|${m.path}|${m.compute}|${m.weights}`;
}
/** Resolves when the playground's current generate loop ends. */
let playgroundIdle: Promise<void> = Promise.resolve();
/** A benchmark run (benchmark-session.ts) holding the model; the playground waits for it. */
let held: Promise<unknown> | undefined;

const st = () => useStudio.getState();

function trioKey(): string {
  return `${loadIdentity()}|${st().merge.vocabPolicy}|${st().settings.gpuBudgetGiB}|${st().settings.weights}`;
}

/** Frees the current model's GPU buffers and sessions (waiting for a running generation). */
async function disposeLive(after?: Promise<unknown>): Promise<void> {
  const old = live;
  live = undefined;
  await after?.catch(() => undefined);
  if (old) await (await old.model.catch(() => undefined))?.dispose();
}

// A slot loading another checkpoint: the old model's memory is released at once (or, while a
// benchmark run calls its DecoderModel directly, once that run has stopped), its answer cleared.
onCheckpointChange(() => {
  void disposeLive(held);
  answers.clear();
  useExplorer.getState().patch({ results: {}, build: undefined });
  st().patchPlayground({ output: undefined, path: undefined, residency: undefined, error: undefined, status: 'idle' });
});

// A new GPU device after a loss (gpu.ts): the old model's buffers and sessions died with the old
// device; the next run builds on the new one. Kept answers stay valid: the weights are the same.
onGpuReset(() => void disposeLive(held));

async function liveModel(): Promise<LiveModel> {
  const key = trioKey();
  if (live?.key === key) return live.model;
  await disposeLive();
  const trio = { sft: checkpointFor('sft'), rl: checkpointFor('rl'), target: checkpointFor('target') };
  if (!trio.sft || !trio.rl || !trio.target) throw new StudioError('Load all three checkpoints first.');
  // The first build is a step of its own in the page: what it is doing, and for how long.
  const t0 = performance.now();
  const build = (status: 'running' | 'done' | 'error', progress: BuildProgress) => {
    if (live?.model === model) useExplorer.getState().patch({ build: { status, progress, ms: performance.now() - t0 } });
  };
  const model: Promise<LiveModel> = Promise.resolve().then(() => createPageLiveModel({ sft: trio.sft!, rl: trio.rl!, target: trio.target! }, (p) => build('running', p), true));
  live = { key, model };
  model.then(
    () => build('done', { phase: 'ready' }),
    () => build('error', useExplorer.getState().build?.progress ?? { phase: 'tokenizer' }),
  );
  model.catch(() => live?.model === model && (live = undefined));
  return model;
}

/**
 * A LiveModel of any trio in the page's environment (WebGPU EP on the page's device, else WASM;
 * the vocab policy and GPU budget from the settings). The sweep (sweep-session.ts) builds its
 * control and donors-alone models with it; their owner disposes them.
 */
export async function createPageLiveModel(trio: LiveModelOptions['trio'], onProgress?: LiveModelOptions['onProgress'], warmUp = false): Promise<LiveModel> {
  const withGpu = st().gpu.status === 'ready';
  const ort = (withGpu ? await import('onnxruntime-web/webgpu') : await import('onnxruntime-web')) as unknown as Ort;
  const ctx = withGpu ? await gpuContext() : undefined;
  // Float or 4-bit weights, as the memory plan shows it (Settings' choice; auto: 4-bit when float does not fit).
  const weights = planTrio(trio, st().merge.vocabPolicy, deviceProfile(st().gpu, st().settings.gpuBudgetGiB), st().settings.weights).weights?.weights ?? 'float';
  return LiveModel.create({
    trio,
    ort,
    device: ctx?.device,
    compute: ctx?.hasShaderF16 ? 'float16' : 'float32',
    weights,
    vocabPolicy: st().merge.vocabPolicy,
    // Exploring: v in f16 where f32 does not fit (memory-plan.ts); exports never read these buffers.
    residency: { budgetBytes: st().settings.gpuBudgetGiB * 1024 ** 3, vectorDtype: EXPLORING_VECTOR_DTYPES },
    onProgress,
    warmUp,
  });
}

/**
 * Generates for the playground prompt at the current α. `fresh` (the Generate button) generates
 * even when the history keeps an answer for this α; a moved slider shows the kept one.
 */
export async function runPlayground(o: { fresh?: boolean } = {}): Promise<void> {
  if (running || held) {
    pending = true;
    pendingFresh ||= Boolean(o.fresh);
    return;
  }
  pendingFresh = Boolean(o.fresh);
  running = true;
  let idle!: () => void;
  playgroundIdle = new Promise((r) => (idle = r));
  try {
    do {
      pending = false;
      const regenerate = pendingFresh;
      pendingFresh = false;
      await runOnce(regenerate);
    } while (pending);
  } finally {
    running = false;
    idle();
  }
}

/**
 * Runs `fn` on the playground's model merged at `alpha` (built if needed), with the playground
 * held off meanwhile: the benchmarks panel measures the same θ(α) the playground answers with, and
 * calls the DecoderModel directly, so nothing may re-merge under it. A slider moved during the run
 * regenerates once it ends.
 */
export function withLiveModelAt<T>(alpha: number, fn: (m: LiveModel) => Promise<T>, onBuild?: () => void): Promise<T> {
  return withLiveModel(async (m) => {
    if (m.alpha !== alpha) await m.setAlpha(alpha);
    return fn(m);
  }, onBuild);
}

/** Whether the model is held (a benchmark run, a sweep or a comparison is using it). */
export function liveModelHeld(): boolean {
  return held !== undefined;
}

/**
 * Runs `fn` on the playground's model (built if needed) with the playground held off meanwhile;
 * `fn` sets α itself (the α explorer merges several in turn). `onBuild` is called when the model
 * has to be built first.
 */
export async function withLiveModel<T>(fn: (m: LiveModel) => Promise<T>, onBuild?: () => void): Promise<T> {
  if (held) throw new StudioError('The model is busy: a benchmark run, a sweep or an α comparison is using it. Wait for it to finish or cancel it.');
  const run = (async () => {
    while (running) await playgroundIdle;
    if (live?.key !== trioKey()) onBuild?.();
    const m = await liveModel();
    return fn(m);
  })();
  held = run;
  try {
    return await run;
  } finally {
    held = undefined;
    if (pending) void runPlayground();
  }
}

async function runOnce(regenerate: boolean): Promise<void> {
  const patch = st().patchPlayground;
  const alpha = st().merge.alpha;
  if (!Number.isFinite(alpha)) return patch({ status: 'error', error: 'α must be a finite number.' });
  try {
    // A target without tokenizer.json takes token ids (as `studio generate --ids`): read and checked
    // here, before anything is built or merged, so a typo costs nothing.
    const target = checkpointFor('target');
    const idsInput = target && !hasTokenizer(target) ? parsePromptIds(st().playground.idsText, target.config.vocabSize) : undefined;
    const fresh = live?.key !== trioKey();
    patch({ status: fresh ? 'loading' : 'generating', runningAlpha: alpha, error: undefined });
    const tBuild = performance.now();
    const m = await liveModel();
    const buildMs = fresh ? performance.now() - tBuild : undefined;
    patch({ status: 'generating', path: m.path, compute: m.compute, residency: m.residencyExplanation });
    const { maxNewTokens } = st().playground;
    const tok = m.tokenizer;
    const promptIds = idsInput ?? playgroundPromptIds(m);
    const key = { model: modelIdentity(m), prompt: promptIds.join(','), alpha, settings: playgroundSettings(maxNewTokens) };
    const kept = regenerate ? undefined : answers.get(key);
    if (kept) {
      patch({
        status: 'idle',
        output: { alpha, text: kept.text, ids: kept.ids, promptIds, finishReason: kept.finishReason, remergeMs: kept.remergeMs, generateMs: kept.generateMs, tokensPerSecond: kept.ids.length / (kept.generateMs / 1000), sessionReused: true, kept: true },
      });
      return;
    }
    const remerge = m.alpha === alpha ? { ms: 0 } : await m.setAlpha(alpha);
    const t0 = performance.now();
    // Without a tokenizer, EOS comes from config.json (as the CLI does) and the answer is ids only.
    generation = new AbortController();
    const [row] = await m.generate([promptIds], {
      maxNewTokens,
      eosTokenIds: tok?.eosTokenIds ?? m.model.config.eosTokenIds,
      decode: tok && ((ids) => tok.decode(ids)),
      signal: generation.signal,
    });
    const generateMs = performance.now() - t0;
    answers.put(key, { ids: row.ids, text: row.text ?? null, finishReason: row.finishReason, remergeMs: remerge.ms, generateMs });
    patch({
      status: 'idle',
      output: {
        alpha,
        text: row.text ?? null,
        ids: row.ids,
        promptIds,
        finishReason: row.finishReason,
        remergeMs: remerge.ms,
        generateMs,
        tokensPerSecond: row.ids.length / (generateMs / 1000),
        sessionReused: !fresh,
        buildMs,
      },
    });
  } catch (e) {
    if (e instanceof GenerationCancelledError) return patch({ status: 'idle', error: `Cancelled: the answer at α = ${alpha} was not finished (nothing kept). Generate starts it again.` });
    if (!(e instanceof StudioError)) console.error(e);
    patch({ status: 'error', error: pageGpuMessage(e) ?? (e as Error).message });
  } finally {
    generation = undefined;
  }
}

/** The playground's text prompt as ids: the chat template writes its own special tokens; a plain prompt gets the tokenizer's (e.g. BOS). */
export function playgroundPromptIds(m: LiveModel): number[] {
  const { prompt, chat } = st().playground;
  const tok = m.tokenizer;
  if (!tok) throw new StudioError('The target has no tokenizer.json, so text prompts cannot be encoded.');
  return chat && tok.hasChatTemplate ? tok.encode(tok.applyChatTemplate([{ role: 'user', content: prompt }])) : tok.encode(prompt, true);
}

/** The settings a free-prompt answer depends on, as the history keys them (greedy, EOS only). */
export function playgroundSettings(maxNewTokens: number): string {
  return `greedy|max ${maxNewTokens}|eos`;
}

/** Whether a checkpoint can encode text: tokenizer.json is what StudioTokenizer needs. */
export function hasTokenizer(ckpt: Checkpoint): boolean {
  return ckpt.files.some((f) => f.path === 'tokenizer.json');
}

/** "1, 2, 3" or "1 2 3" → [1, 2, 3]: non-negative integers inside the vocabulary, at least one. */
export function parsePromptIds(text: string, vocabSize: number): number[] {
  const parts = text.split(/[\s,]+/).filter(Boolean);
  if (parts.length === 0) throw new StudioError('The target has no tokenizer.json: type the prompt as token ids, e.g. 283, 10, 20.');
  const bad = parts.find((p) => !/^\d+$/.test(p));
  if (bad !== undefined) throw new StudioError(`Token ids must be whole numbers separated by commas or spaces, like 283, 10, 20; "${bad}" is not one.`);
  const ids = parts.map(Number);
  const outside = ids.find((id) => id >= vocabSize);
  if (outside !== undefined) throw new StudioError(`Token id ${outside} is outside the target's vocabulary (0 … ${vocabSize - 1}).`);
  return ids;
}
