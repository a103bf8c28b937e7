import { openHubDataset, parseDatasetFile } from '../../engine/datasets/index.ts';
import { StudioError } from '../../engine/errors.ts';
import {
  aggregateGroup,
  BBH_GROUP,
  HUMANEVAL_TIME_LIMIT_MS,
  getTask,
  gsm8kFinalAnswer,
  selectItems,
  summarizeScores,
  type AnyTask,
  type EvalCondition,
  type ItemSelection,
  type RunProgram,
  type TaskSummary,
} from '../../engine/eval/index.ts';
import { buildResultsDocument, type ModelSourceRecord, type StudioRunRecord } from '../../engine/eval/run/results-document.ts';
import { conditionLabel, EvalCancelledError, runTask, type EvalSample } from '../../engine/eval/run/run-task.ts';
import { opfsCacheStore } from '../../engine/sources/cache/opfs-cache-store.ts';
import { useStudio, type BenchmarkItem, type BenchmarkRun, type BenchmarkTaskState } from '../store.ts';
import { withLiveModelAt } from './model-session.ts';
import { demoVocabularyChecked, onCheckpointChange } from './slot-loader.ts';
import { pageGpuMessage } from './gpu.ts';
import { demoTaskProblem, demoVocabularyOf, type DemoVocabulary } from './sweep-settings.ts';

/**
 * The Benchmarks panel's run: lm-eval's tasks on the playground's merged model at the current α,
 * the page's counterpart of `studio eval` (src/cli/commands/eval.ts) — items from the Hub (cached
 * in OPFS, pinned to a commit) or from a dropped file, chosen by count and seed, scored by the
 * same engine. This module owns what the store must not hold: the abort controller, the dropped
 * file's bytes, the Pyodide sandbox and the task objects of the last run.
 */

const st = () => useStudio.getState();

let controller: AbortController | undefined;
/** Bumped when a slot changes: a run of the old trio stops publishing. */
let runId = 0;
let dataFile: { name: string; bytes: Uint8Array } | undefined;
/** Pyodide loads once per page (seconds) and is kept for later humaneval runs. */
let python: Promise<{ runProgram: RunProgram; startupMs: number }> | undefined;
/** The dataset rows behind the panel's samples (`task#index` → doc): the α explorer re-asks and re-scores one item. */
const itemDocs = new Map<string, unknown>();

/** A sample's dataset row as the task read it, while the panel shows that sample. */
export function benchmarkItemDoc(task: string, index: number): unknown {
  return itemDocs.get(`${task}#${index}`);
}

/** What results.json needs from the last completed run. */
let lastResults: { runs: { task: AnyTask; summary: TaskSummary; originalSize: number }[]; record: StudioRunRecord } | undefined;

/** The chosen names as tasks: `bbh_cot_fewshot` is its 27 subtasks; duplicates dropped, order kept. */
export function expandTasks(names: readonly string[]): AnyTask[] {
  const out = new Map<string, AnyTask>();
  for (const n of names) for (const e of n === BBH_GROUP.name ? BBH_GROUP.subtasks : [n]) out.set(e, getTask(e));
  return [...out.values()];
}

/** Why Run cannot start with these choices, or undefined. */
export function choiceProblem(names: readonly string[], withFile: boolean, vocabulary: DemoVocabulary = demoVocabularyOf(st().slots.target)): string | undefined {
  const n = expandTasks(names).length;
  if (n === 0) return 'Choose at least one task.';
  if (withFile && n !== 1) return `A dropped file holds the items of one task; choose one task (${n} are chosen) or remove the file.`;
  // The Sweep panel's rule (sweep-settings.ts), so both panels agree on the same trio.
  return demoTaskProblem(names, vocabulary);
}

// Results of another trio are void: stop a run and clear what it showed.
onCheckpointChange(() => {
  runId++;
  controller?.abort();
  lastResults = undefined;
  itemDocs.clear();
  st().patchBenchmarks({ run: undefined, samples: [] });
});

/** A dropped or picked .jsonl/.parquet file: read now (so a bad file is named at once), checked against the task's fields at Run. */
export async function setDataFile(file: File): Promise<void> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  dataFile = { name: file.name, bytes };
  try {
    const rows = await parseDatasetFile(file.name, bytes);
    st().patchBenchmarks({ dataFile: { name: file.name, bytes: bytes.length, rows: rows.length } });
  } catch (e) {
    dataFile = undefined;
    st().patchBenchmarks({ dataFile: { name: file.name, bytes: bytes.length, error: message(e) } });
  }
}

export function clearDataFile(): void {
  dataFile = undefined;
  st().patchBenchmarks({ dataFile: undefined });
}

/** Stops the run: the batch in flight finishes, its items are kept, nothing further runs. */
export function cancelBenchmarks(): void {
  controller?.abort();
}

export async function runBenchmarks(): Promise<void> {
  if (controller) return;
  await demoVocabularyChecked();
  if (controller) return;
  const b = st().benchmarks;
  const alpha = st().merge.alpha;
  const problem = choiceProblem(b.tasks, Boolean(dataFile));
  const patch = st().patchBenchmarks;
  if (problem || !Number.isFinite(alpha)) {
    patch({ run: { ...emptyRun(alpha, b), status: 'error', error: problem ?? 'α must be a finite number.' } });
    return;
  }
  const tasks = expandTasks(b.tasks);
  const condition: EvalCondition = { mode: b.condition, chatTemplate: b.chat };
  const selection: ItemSelection = b.selection === 'shuffle' ? { mode: 'shuffle', count: b.count, seed: b.seed } : { mode: 'first-n', count: b.count };
  const file = dataFile;
  const mine = new AbortController();
  controller = mine;
  const id = ++runId;
  const signal = mine.signal;
  const started = performance.now();
  lastResults = undefined;

  const states: BenchmarkTaskState[] = tasks.map((t) => ({ task: t.name, status: 'waiting', total: 0, done: 0 }));
  const samples: BenchmarkItem[] = [];
  let run: BenchmarkRun = { ...emptyRun(alpha, b), tasks: states };
  const publish = (p: Partial<BenchmarkRun> = {}) => {
    if (id !== runId) return;
    run = { ...run, ...p, tasks: [...states] };
    patch({ run });
  };
  const setTask = (i: number, p: Partial<BenchmarkTaskState>) => {
    states[i] = { ...states[i], ...p };
    publish();
  };
  patch({ run, samples: [] });
  itemDocs.clear();

  try {
    // Items first, as `studio eval` does: a task whose data cannot be read is named before the model is built.
    const inputs: { i: number; task: AnyTask; items: { index: number; doc: unknown }[]; source: string; shown: string; revision: string | null; rows: number }[] = [];
    for (let i = 0; i < tasks.length; i++) {
      const task = tasks[i];
      setTask(i, { status: 'loading' });
      publish({ phase: `reading ${task.name}'s items` });
      try {
        const data = await loadItems(task, file, selection, signal, (download) => setTask(i, { download }));
        inputs.push({ i, task, ...data });
        setTask(i, { status: 'waiting', download: undefined, source: data.shown, revision: data.revision, rows: data.rows, total: data.items.length });
      } catch (e) {
        if (signal.aborted) throw new EvalCancelledError();
        setTask(i, { status: 'error', download: undefined, error: message(e) });
      }
    }
    if (inputs.length === 0) throw new StudioError('No task could read its items; each task above says why.');
    const totalOf = () => states.reduce((a, s) => a + (s.status === 'error' ? s.done : s.total), 0);
    publish({ itemsTotal: totalOf(), phase: 'merging θ(α)' });

    const finished: { task: AnyTask; summary: TaskSummary; originalSize: number }[] = [];
    let path: BenchmarkRun['path'];
    await withLiveModelAt(
      alpha,
      async (m) => {
        path = m.path;
        const tokenizer = m.tokenizer;
        if (!tokenizer) throw new StudioError("The target has no tokenizer.json, so the benchmarks' prompts cannot be encoded.");
        const maxSequence = m.model.spec.maxSequence;
        const tRun = performance.now();
        let done = 0;
        for (const { i, task, items, rows } of inputs) {
          if (signal.aborted) throw new EvalCancelledError();
          const maxNewTokens = task.outputType === 'generate_until' ? (b.maxNewTokens ?? task.generation.maxGenToks) : undefined;
          if (maxNewTokens !== undefined && maxNewTokens >= maxSequence) {
            // The runner refuses it in the CLI's words (--max-new-tokens); say it in the panel's.
            setTask(i, { status: 'error', maxNewTokens, error: `${maxNewTokens} new tokens leave no room for a prompt in this model's ${maxSequence} positions; set max new tokens below ${maxSequence}.` });
            publish({ itemsTotal: totalOf() });
            continue;
          }
          let runProgram: RunProgram | undefined;
          if (task.name === 'humaneval') {
            publish({ phase: 'starting the Python sandbox (Pyodide)' });
            const py = await pythonSandbox();
            runProgram = py.runProgram;
            publish({ pythonStartupMs: py.startupMs });
          }
          setTask(i, { status: 'running', maxNewTokens });
          publish({ status: 'running', path, phase: `running ${task.name}` });
          const own: EvalSample[] = [];
          const docs = new Map(items.map((it) => [it.index, it.doc]));
          try {
            const r = await runTask(
              { model: m.model, tokenizer },
              {
                task,
                items,
                condition,
                batchSize: b.batchSize,
                maxNewTokens: b.maxNewTokens ?? undefined,
                runProgram,
                alpha,
                signal,
                onSample: (s) => {
                  if (id !== runId) return;
                  own.push(s);
                  itemDocs.set(`${s.task}#${s.index}`, docs.get(s.index));
                  samples.push({ ...s, reference: referenceOf(task, docs.get(s.index)) });
                  done++;
                  const rate = done / ((performance.now() - tRun) / 1000);
                  const itemsTotal = totalOf();
                  states[i] = { ...states[i], done: own.length };
                  publish({ itemsDone: done, itemsTotal, itemsPerSecond: rate, etaSeconds: rate > 0 ? (itemsTotal - done) / rate : undefined });
                  patch({ samples: [...samples] });
                },
              },
            );
            setTask(i, { status: 'done', summary: r.summary });
            finished.push({ task, summary: r.summary, originalSize: rows });
          } catch (e) {
            // What finished before a cancel or a failure keeps its (partial) score.
            const summary = own.length ? summarizeScores(task, own) : undefined;
            setTask(i, { status: e instanceof EvalCancelledError ? 'cancelled' : 'error', summary, error: e instanceof EvalCancelledError ? undefined : message(e) });
            throw e;
          }
        }
      },
      () => publish({ phase: 'building the merged model and its sessions' }),
    );

    const record: StudioRunRecord = {
      sources: modelSources(),
      alpha,
      condition: { ...condition, label: conditionLabel(condition) },
      selection: { mode: selection.mode, count: b.count, seed: selection.mode === 'shuffle' ? selection.seed : null },
      generation: { batchSize: b.batchSize, maxNewTokens: b.maxNewTokens, greedy: true },
      data: Object.fromEntries(inputs.map((x) => [x.task.name, { source: x.source, revision: x.revision, rows: x.rows, indices: x.items.map((it) => it.index) }])),
      runtime: { provider: path === 'gpu-zero-copy' ? 'onnxruntime-web (webgpu)' : 'onnxruntime-web (wasm)', seconds: Math.round(performance.now() - started) / 1000 },
    };
    if (id === runId && finished.length) lastResults = { runs: finished, record };
    const failed = states.some((x) => x.status === 'error');
    publish({
      status: failed ? 'error' : 'done',
      phase: 'done',
      etaSeconds: undefined,
      seconds: (performance.now() - started) / 1000,
      error: failed ? 'Some tasks did not run; each says why.' : undefined,
      group: bbhGroup(finished),
    });
  } catch (e) {
    const cancelled = e instanceof EvalCancelledError || signal.aborted;
    for (let i = 0; i < states.length; i++) if (states[i].status === 'waiting' || states[i].status === 'loading') states[i] = { ...states[i], status: cancelled ? 'cancelled' : states[i].status, download: undefined };
    publish({
      status: cancelled ? 'cancelled' : 'error',
      phase: cancelled ? 'cancelled' : 'stopped',
      etaSeconds: undefined,
      seconds: (performance.now() - started) / 1000,
      error: cancelled ? undefined : message(e),
    });
  } finally {
    if (controller === mine) controller = undefined;
  }
}

/** What an item is judged against, for the reader: the gold choice, or the target text after lm-eval's own reduction. */
function referenceOf(task: AnyTask, doc: unknown): BenchmarkItem['reference'] {
  if (task.outputType === 'multiple_choice') {
    const gold = task.gold(doc);
    return { text: task.choices(doc)[gold], choice: gold };
  }
  if (task.name === 'humaneval') return undefined; // pass@1 runs the dataset's tests: there is no answer text
  const target = task.target(doc);
  // gsm8k's target is the whole worked solution; exact_match's "(?s).*#### " leaves the final number.
  return { text: task.dataset.path === 'openai/gsm8k' ? gsm8kFinalAnswer(target) : target };
}

/** bbh_cot_fewshot over the subtasks that ran: the unweighted mean and pooled stderr, as results.json has it. */
function bbhGroup(finished: { task: AnyTask; summary: TaskSummary }[]): BenchmarkRun['group'] {
  const key = BBH_GROUP.metricKey;
  const bbh = finished.filter((f) => f.task.name.startsWith(`${BBH_GROUP.name}_`));
  if (bbh.length === 0) return undefined;
  const agg = aggregateGroup(
    bbh.map((f) => ({ mean: f.summary.metrics[key], stderr: f.summary.stderr[key], n: f.summary.n })),
    { weightBySize: false },
  );
  return { name: BBH_GROUP.name, mean: agg.mean, stderr: agg.stderr, n: agg.n, subtasks: bbh.length };
}

function emptyRun(alpha: number, b: ReturnType<typeof st>['benchmarks']): BenchmarkRun {
  const condition = conditionLabel({ mode: b.condition, chatTemplate: b.chat });
  const selection = b.selection === 'shuffle' ? `${b.count} items by a seeded shuffle (seed ${b.seed})` : `the first ${b.count} items`;
  return { status: 'loading', phase: 'starting', alpha, condition, selection, itemsDone: 0, itemsTotal: 0, tasks: [] };
}

export async function loadItems(
  task: AnyTask,
  file: { name: string; bytes: Uint8Array } | undefined,
  selection: ItemSelection,
  signal: AbortSignal,
  onDownload: (d: { file: string; bytesDone: number; bytesTotal: number }) => void,
) {
  let rows: readonly unknown[];
  /** As `studio eval` records it (results.json), and as the panel shows it (the commit beside it). */
  let source: string;
  let shown: string;
  let revision: string | null = null;
  if (file) {
    rows = await parseDatasetFile(file.name, file.bytes, { requiredFields: task.fields, purpose: task.name });
    source = shown = `dropped file ${file.name}`;
  } else if (task.builtinRows) {
    // The studio's own tasks (demo_arith) make their rows in code: nothing to download.
    rows = task.builtinRows();
    source = shown = `built-in (${task.dataset.path})`;
  } else {
    const { hubUrl, token } = st().settings;
    const ds = await openHubDataset({
      repo: task.dataset.path,
      config: task.dataset.name ?? undefined,
      split: task.dataset.split,
      hubUrl,
      accessToken: token || undefined,
      cache: opfsCacheStore(),
      requiredFields: task.fields,
      purpose: task.name,
      onProgress: (p) => onDownload({ file: p.file, bytesDone: p.bytesDone, bytesTotal: p.bytesTotal }),
      signal,
    });
    rows = ds.rows;
    source = `${ds.label} (config ${ds.config}, split ${ds.split})`;
    shown = `hf:datasets/${ds.repo} ${ds.config}/${ds.split}`;
    revision = ds.revision;
  }
  const where = (i: number) => `${file?.name ?? `${task.dataset.path} ${task.dataset.split}`} row ${i}`;
  const items = selectItems(rows.length, selection).map((index) => ({ index, doc: task.readDoc(rows[index], where(index)) }));
  if (items.length === 0) throw new StudioError(`${task.name}: ${file?.name ?? task.dataset.path} has no items.`);
  return { items, source, shown, revision, rows: rows.length };
}

/** The Pyodide sandbox in a Web Worker (src/engine/eval/python/), loaded on the first humaneval run. */
export function pythonSandbox(): Promise<{ runProgram: RunProgram; startupMs: number }> {
  python ??= (async () => {
    const { createPythonExecutor } = await import('../../engine/eval/python/index.ts');
    const executor = await createPythonExecutor({ timeoutMs: HUMANEVAL_TIME_LIMIT_MS });
    const runProgram: RunProgram = async (program, timeoutMs) => {
      // The sandbox's limit is fixed when it starts; the task asks for the same 3 s.
      if (timeoutMs !== HUMANEVAL_TIME_LIMIT_MS) throw new Error(`sandbox limit ${HUMANEVAL_TIME_LIMIT_MS} ms, task asks ${timeoutMs} ms`);
      const r = await executor.run(program);
      return { passed: r.passed, reason: r.reason };
    };
    return { runProgram, startupMs: executor.startupMs };
  })();
  const p = python;
  p.catch(() => python === p && (python = undefined));
  return p;
}

/** The trio as results.json records it: each slot's label (a Hub label carries its commit). */
function modelSources(): ModelSourceRecord[] {
  const slots = st().slots;
  return (['sft', 'rl', 'target'] as const).map((role) => {
    const spec = slots[role].label ?? role;
    const rev = /@([0-9a-f]{40})$/.exec(spec)?.[1];
    return rev ? { role, spec, revision: rev } : { role, spec };
  });
}

/** results.json of the last completed run, shaped as `studio eval --out` writes it. */
export function resultsJson(): string | undefined {
  return lastResults ? JSON.stringify(buildResultsDocument(lastResults.runs, lastResults.record), null, 2) + '\n' : undefined;
}

/** samples.jsonl of what the panel shows, one line per item as `studio eval --samples` writes it. */
export function samplesJsonl(): string {
  return st()
    .benchmarks.samples.map(({ reference: _, ...s }) => JSON.stringify(s) + '\n')
    .join('');
}

function message(e: unknown): string {
  const lost = pageGpuMessage(e); // a lost device: the page's own wording (the engine's is the CLI's)
  if (lost) return lost;
  if (e instanceof StudioError) return e.message;
  console.error(e);
  return `Unexpected error: ${(e as Error)?.message ?? String(e)}`;
}
