import { BBH_GROUP, TASK_CHOICES, type EvalCondition, type ItemSelection, type RunProgram } from '../../engine/eval/index.ts';
import { buildResultsDocument, type StudioRunRecord } from '../../engine/eval/run/results-document.ts';
import { conditionLabel, runTask, type EvalSample } from '../../engine/eval/run/run-task.ts';
import { MODEL_FLAGS, WEIGHTS_FLAG, UsageError, type CliIO, type Command } from '../command.ts';
import { stringFlag } from '../merge-flags.ts';
import { intFlag, openModelForRun } from '../model-flags.ts';
import { openPythonSandbox } from '../python-sandbox.ts';
import { loadTaskItems, taskList } from '../task-items.ts';
import { checkOutputFile, openJsonLinesFile, writeTextAtomically } from '../write-json-atomically.ts';

/**
 * `studio eval`: runs lm-eval's tasks on a model (or on a merge made on the fly) and writes an
 * lm-eval-shaped results file; `--samples` logs every item as lm-eval's `--log_samples` does.
 */
export const evalCommand: Command = {
  usage:
    'studio eval --model <src> | --sft <src> --rl <src> --target <src> --alpha <a>  --task <task>[,<task>…] [--limit N] [--seed S] [--condition plain|think] [--chat] [--data items.jsonl|items.parquet] [--batch-size B] [--max-new-tokens N] --out results.json [--samples samples.jsonl] [--weights float|q4]',
  flags: {
    ...MODEL_FLAGS,
    ...WEIGHTS_FLAG,
    task: { type: 'string', help: `task names, comma-separated: ${TASK_CHOICES}; bbh_cot_fewshot runs its ${BBH_GROUP.subtasks.length} subtasks` },
    limit: { type: 'string', help: 'items per task (default: all)' },
    seed: { type: 'string', help: 'pick the items by a seeded shuffle instead of the first N' },
    condition: { type: 'string', help: 'plain|think — the paper\'s conditions (default plain)' },
    chat: { type: 'boolean', help: 'apply the model\'s chat template' },
    data: { type: 'string', help: 'a local .jsonl or .parquet file of items (the dataset\'s own fields) instead of the Hub dataset' },
    'batch-size': { type: 'string', help: 'items per model call (default 8)' },
    'max-new-tokens': { type: 'string', help: 'overrides the task\'s max_gen_toks' },
    out: { type: 'string', help: 'results.json (lm-eval\'s shape)' },
    samples: { type: 'string', help: 'samples.jsonl: one line per item' },
  },
  async run(args, io) {
    const tasks = taskList(stringFlag(args, 'task', true));
    const data = stringFlag(args, 'data');
    if (data && tasks.length !== 1) throw new UsageError(`--data holds the items of one task; give one --task (got ${tasks.length}).`);
    const limit = args.flags.has('limit') ? intFlag(args, 'limit', undefined, 1) : undefined;
    const seed = args.flags.has('seed') ? intFlag(args, 'seed') : undefined;
    const conditionRaw = stringFlag(args, 'condition') ?? 'plain';
    if (conditionRaw !== 'plain' && conditionRaw !== 'think') throw new UsageError(`--condition must be plain or think, got "${conditionRaw}".`);
    const condition: EvalCondition = { mode: conditionRaw, chatTemplate: args.flags.has('chat') };
    const batchSize = intFlag(args, 'batch-size', 8, 1);
    const maxNewTokens = args.flags.has('max-new-tokens') ? intFlag(args, 'max-new-tokens', undefined, 1) : undefined;
    const outPath = stringFlag(args, 'out', true);
    const samplesPath = stringFlag(args, 'samples');
    await checkOutputFile(outPath);
    if (samplesPath) await checkOutputFile(samplesPath, '--samples');

    // Items first (a bad file or dataset is refused before the model is built).
    const selection: ItemSelection = seed !== undefined ? { mode: 'shuffle', count: limit ?? Number.MAX_SAFE_INTEGER, seed } : { mode: 'first-n', count: limit ?? Number.MAX_SAFE_INTEGER };
    const inputs = [];
    for (const task of tasks) inputs.push(await loadTaskItems(task, data, selection));

    const started = performance.now();
    const m = await openModelForRun(args, io);
    const samplesOut = samplesPath ? await openJsonLinesFile<EvalSample>(samplesPath) : undefined;
    let sandbox: { runProgram: RunProgram; dispose(): void } | undefined;
    try {
      const tok = await m.tokenizer();
      const runs = [];
      for (const input of inputs) {
        const { task, items } = input;
        if (task.name === 'humaneval' && !sandbox) sandbox = await openPythonSandbox(io);
        const progress = progressLine(io, task.name, items.length);
        const run = await runTask(
          { model: m.model, tokenizer: tok },
          {
            task,
            items,
            condition,
            batchSize,
            maxNewTokens,
            alpha: m.alpha,
            runProgram: sandbox?.runProgram,
            onSample: (s) => {
              samplesOut?.write(s);
              progress();
            },
          },
        );
        const [metric, value] = Object.entries(run.summary.metrics)[0];
        io.stderr(`${task.name}: ${metric} = ${value.toFixed(4)} over ${run.summary.n} items`);
        runs.push({ task, summary: run.summary, originalSize: input.originalSize });
      }
      const studio: StudioRunRecord = {
        sources: m.sources,
        alpha: m.alpha,
        condition: { ...condition, label: conditionLabel(condition) },
        selection: { mode: selection.mode, count: limit ?? null, seed: seed ?? null },
        generation: { batchSize, maxNewTokens: maxNewTokens ?? null, greedy: true },
        data: Object.fromEntries(inputs.map((i) => [i.task.name, { source: i.source, revision: i.revision, rows: i.originalSize, indices: i.items.map((x) => x.index) }])),
        runtime: { provider: m.provider, seconds: Math.round((performance.now() - started) / 10) / 100 },
      };
      const doc = buildResultsDocument(runs, studio);
      await writeTextAtomically(outPath, [JSON.stringify(doc, null, 2) + '\n']);
      await samplesOut?.commit();
      io.stdout(JSON.stringify({ out: outPath, results: doc.results }));
    } catch (e) {
      await samplesOut?.abort();
      throw e;
    } finally {
      sandbox?.dispose();
      await m.dispose();
    }
  },
};

/** Items/s and ETA on stderr, at most once a second and at the end. */
function progressLine(io: CliIO, task: string, total: number) {
  const start = performance.now();
  let done = 0;
  let last = 0;
  return () => {
    done++;
    const now = performance.now();
    if (done < total && now - last < 1000) return;
    last = now;
    const rate = done / ((now - start) / 1000);
    const eta = rate > 0 ? (total - done) / rate : 0;
    io.stderr(`${task}: ${done}/${total} items, ${rate.toFixed(2)} items/s${done < total ? `, ETA ${Math.ceil(eta)} s` : ''}`);
  };
}

