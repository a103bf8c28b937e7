import { readFile } from 'node:fs/promises';
import {
  BBH_GROUP,
  EvalDataError,
  getTask,
  readJsonl,
  readResponse,
  scoreItem,
  summarizeScores,
  TASK_CHOICES,
  type AnyTask,
  type ItemScore,
  type RunProgram,
} from '../../engine/eval/index.ts';
import { UsageError, type Command } from '../command.ts';
import { stringFlag } from '../merge-flags.ts';
import { openPythonSandbox } from '../python-sandbox.ts';

/**
 * `studio score`: lm-eval's verdicts for outputs a model already gave, without a model.
 * Stdout: one JSON line per item `{"index", "metrics", "extracted"}`, then
 * `{"task", "n", "metrics": {key: mean}}`.
 */
export const score: Command = {
  usage: 'studio score --task <task> --items items.jsonl --responses responses.jsonl',
  flags: {
    task: { type: 'string', help: `one task name: ${TASK_CHOICES}` },
    items: { type: 'string', help: "the dataset's rows, one JSON object a line, with the dataset's own field names" },
    responses: {
      type: 'string',
      help: 'one JSON object a line, same order: {"text": …} (generation tasks) or {"loglikelihoods": [4 numbers]} (sciq)',
    },
  },
  async run(args, io) {
    const taskName = stringFlag(args, 'task', true);
    const itemsPath = stringFlag(args, 'items', true);
    const responsesPath = stringFlag(args, 'responses', true);
    if (taskName === BBH_GROUP.name) {
      throw new UsageError(`--task ${taskName} is a group: score each subtask (bbh_cot_fewshot_<subtask>) with its own items.`);
    }
    const task = getTask(taskName);
    const items = readJsonl(await readText(itemsPath, '--items'), itemsPath);
    const responses = readJsonl(await readText(responsesPath, '--responses'), responsesPath);
    if (items.length !== responses.length) {
      throw new EvalDataError(
        responsesPath,
        `${responses.length} responses for ${items.length} items in ${itemsPath}; give one response line per item, in the same order.`,
      );
    }
    if (items.length === 0) throw new EvalDataError(itemsPath, 'no items: the file has no JSON lines.');

    // Check every line before running anything (a HumanEval run can take minutes).
    const docs = items.map((r) => task.readDoc(r.value, `${itemsPath}:${r.line}`));
    const answers = responses.map((r, i) =>
      readResponse(task, r.value, `${responsesPath}:${r.line}`, task.outputType === 'multiple_choice' ? task.choices(docs[i]).length : undefined),
    );

    const sandbox = await openSandbox(task);
    try {
      const scores: ItemScore[] = [];
      for (let i = 0; i < docs.length; i++) {
        const s = await scoreItem(task, docs[i], answers[i], { runProgram: sandbox?.runProgram });
        scores.push(s);
        io.stdout(JSON.stringify({ index: i, metrics: s.metrics, extracted: s.extracted }));
      }
      const summary = summarizeScores(task, scores);
      io.stdout(JSON.stringify({ task: summary.task, n: summary.n, metrics: summary.metrics }));
    } finally {
      sandbox?.dispose();
    }
  },
};

async function readText(path: string, flag: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`${flag} ${path}: cannot read it (${code ?? (e as Error).message}).`);
  }
}

async function openSandbox(task: AnyTask) {
  return task.name === 'humaneval' ? openPythonSandbox() : undefined;
}
