// Mirrors lm-evaluation-harness lm_eval/tasks/gsm8k/gsm8k-cot-zeroshot.yaml (task version 3.0) at
// commit 0775929d8d6a8527e68bcb9e38f9edf588481aa7: doc_to_text "Q: {{question}}\nA: Let's think
// step by step.", no few-shot, doc_to_target "{{answer}}" (the whole answer; the "(?s).*#### "
// regex leaves its final number), until ["Q:", "</s>", "<|im_end|>"], HFLM's default 256 new
// tokens, the same two filters as gsm8k_cot, exact_match with ignore_case and regexes_to_ignore
// [",", "\$", "(?s).*#### ", "\.$", "\.0+$"].
import { buildFewshotPrompt } from '../build-fewshot-prompt.ts';
import type { GenerateTask } from '../task-types.ts';
import {
  GSM8K_FIELDS,
  GSM8K_METRIC_KEYS,
  GSM8K_ZEROSHOT_IGNORE,
  readGsm8kDoc,
  scoreGsm8k,
  type Gsm8kDoc,
} from './gsm8k-shared.ts';

export const gsm8kCotZeroshot: GenerateTask<Gsm8kDoc> = {
  name: 'gsm8k_cot_zeroshot',
  outputType: 'generate_until',
  dataset: { path: 'openai/gsm8k', name: 'main', split: 'test' },
  fields: GSM8K_FIELDS,
  metricKeys: GSM8K_METRIC_KEYS,
  sources: [
    {
      repository: 'EleutherAI/lm-evaluation-harness',
      path: 'lm_eval/tasks/gsm8k/gsm8k-cot-zeroshot.yaml',
      commit: '0775929d8d6a8527e68bcb9e38f9edf588481aa7',
    },
  ],
  generation: { until: ['Q:', '</s>', '<|im_end|>'], maxGenToks: 256, doSample: false },
  readDoc: (row, where) => readGsm8kDoc(row, where, 'gsm8k_cot_zeroshot'),
  buildPrompt: (doc, condition) =>
    buildFewshotPrompt(
      {
        description: '',
        examples: [],
        question: `Q: ${doc.question}\nA: Let's think step by step.`,
        targetDelimiter: ' ',
        fewshotDelimiter: '\n\n',
      },
      condition,
    ),
  target: (doc) => doc.answer,
  score: async (doc, output) => scoreGsm8k(output, doc.answer, GSM8K_ZEROSHOT_IGNORE),
};
