// Mirrors lm-evaluation-harness lm_eval/tasks/humaneval/humaneval.yaml (task version 1.0, the
// greedy pass@1 form shipped with lm-eval 0.4.9: doc_to_text "{{prompt}}", until ["\nclass",
// "\ndef", "\n#", "\nif", "\nprint"], max_gen_toks 1024, do_sample false, repeats 1, filter
// create_test = utils.build_predictions, metric pass_at_k with k [1]) and utils.py at commit
// 16d043adb2b03afd1c1cfce219fc6c6950965ae9 (build_predictions strips "```python\n" and
// SentencePiece "▁" indents; see ../humaneval-program.ts). pass@1 of one greedy sample is 1 when
// the program passes. code_eval's time limit is 3.0 s per program.
import { buildFewshotPrompt } from '../build-fewshot-prompt.ts';
import { buildHumanEvalProgram, cleanHumanEvalCompletion } from '../humaneval-program.ts';
import { readStringFields } from '../read-doc.ts';
import type { GenerateTask } from '../task-types.ts';

/** A row of openai/openai_humaneval: the dataset's own fields. */
export interface HumanEvalDoc {
  task_id: string;
  prompt: string;
  canonical_solution: string;
  test: string;
  entry_point: string;
}

const FIELDS = ['task_id', 'prompt', 'canonical_solution', 'test', 'entry_point'] as const;

/** HF evaluate code_eval's default `timeout=3.0` (human-eval's evaluation.py uses the same). */
export const HUMANEVAL_TIME_LIMIT_MS = 3000;

export const humaneval: GenerateTask<HumanEvalDoc> = {
  name: 'humaneval',
  outputType: 'generate_until',
  // lm-eval's yaml sets no dataset_name; `datasets` then takes the repo's only config, which is
  // `openai_humaneval` (its parquet lives in openai_humaneval/test-*.parquet). Named here so the
  // Hub reader does not look for a `default` config that this repo does not have.
  dataset: { path: 'openai/openai_humaneval', name: 'openai_humaneval', split: 'test' },
  fields: FIELDS,
  metricKeys: ['pass@1'],
  resultsFilter: 'create_test',
  sources: [
    { repository: 'EleutherAI/lm-evaluation-harness', path: 'lm_eval/tasks/humaneval/humaneval.yaml', commit: 'v0.4.9.2', note: 'greedy pass@1 form' },
    { repository: 'EleutherAI/lm-evaluation-harness', path: 'lm_eval/tasks/humaneval/utils.py', commit: '16d043adb2b03afd1c1cfce219fc6c6950965ae9' },
  ],
  generation: { until: ['\nclass', '\ndef', '\n#', '\nif', '\nprint'], maxGenToks: 1024, doSample: false },
  readDoc: (row, where) => readStringFields(row, FIELDS, where, 'humaneval'),
  buildPrompt: (doc, condition) =>
    buildFewshotPrompt({ description: '', examples: [], question: doc.prompt, targetDelimiter: ' ', fewshotDelimiter: '\n\n' }, condition),
  target: (doc) => `${doc.test}\ncheck(${doc.entry_point})`,
  async score(doc, output, ctx) {
    // A caller bug, not bad data: whoever scores humaneval must pass the sandbox.
    if (!ctx?.runProgram) throw new Error('humaneval scoring needs ctx.runProgram (a Python sandbox)');
    const result = await ctx.runProgram(buildHumanEvalProgram(doc, output), HUMANEVAL_TIME_LIMIT_MS);
    return {
      metrics: { 'pass@1': result.passed ? 1 : 0 },
      extracted: { 'create_test': doc.prompt + cleanHumanEvalCompletion(output), reason: result.reason },
    };
  },
};
