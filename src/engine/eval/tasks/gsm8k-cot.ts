// Mirrors lm-evaluation-harness lm_eval/tasks/gsm8k/gsm8k-cot.yaml (task version 3.0) at commit
// b8d1d4fd057f6223c4490613f0a38cb5d75a3183: doc_to_text 'Q: {{question}}\nA:', the 8 fixed
// chain-of-thought exemplars (fewshot_config, sampler first_n, in ../data/gsm8k-cot-fewshot.json),
// target_delimiter " " and fewshot_delimiter "\n\n" (lm-eval's defaults), until
// ["Q:", "</s>", "<|im_end|>"], no max_gen_toks (HFLM's default 256), filters strict-match and
// flexible-extract, exact_match with ignore_case and regexes_to_ignore [",", "\$", "(?s).*#### ", "\.$"].
import fewshot from '../data/gsm8k-cot-fewshot.json';
import { buildFewshotPrompt } from '../build-fewshot-prompt.ts';
import type { GenerateTask } from '../task-types.ts';
import {
  GSM8K_COT_IGNORE,
  GSM8K_FIELDS,
  GSM8K_METRIC_KEYS,
  gsm8kFinalAnswer,
  readGsm8kDoc,
  scoreGsm8k,
  type Gsm8kDoc,
} from './gsm8k-shared.ts';

const LM_EVAL = 'EleutherAI/lm-evaluation-harness';

export const gsm8kCot: GenerateTask<Gsm8kDoc> = {
  name: 'gsm8k_cot',
  outputType: 'generate_until',
  dataset: { path: 'openai/gsm8k', name: 'main', split: 'test' },
  fields: GSM8K_FIELDS,
  metricKeys: GSM8K_METRIC_KEYS,
  sources: [
    { repository: LM_EVAL, path: 'lm_eval/tasks/gsm8k/gsm8k-cot.yaml', commit: 'b8d1d4fd057f6223c4490613f0a38cb5d75a3183' },
    { repository: LM_EVAL, path: 'lm_eval/filters/extraction.py', commit: '03ebd203ed6ca73757d671b57e9444a952a74b5b' },
    { repository: LM_EVAL, path: 'lm_eval/api/metrics.py', commit: '001722ba6deac35c527d7d8e6c85ce823ed25fbb' },
  ],
  generation: { until: ['Q:', '</s>', '<|im_end|>'], maxGenToks: 256, doSample: false },
  readDoc: (row, where) => readGsm8kDoc(row, where, 'gsm8k_cot'),
  buildPrompt(doc, condition) {
    return buildFewshotPrompt(
      {
        description: '',
        // doc_to_target of an exemplar: `answer` is not defined there, so `target`.
        examples: fewshot.samples.map((s) => ({ text: `Q: ${s.question}\nA:`, target: s.target })),
        question: `Q: ${doc.question}\nA:`,
        targetDelimiter: ' ',
        fewshotDelimiter: '\n\n',
      },
      condition,
    );
  },
  target: (doc) => gsm8kFinalAnswer(doc.answer),
  score: async (doc, output) => scoreGsm8k(output, gsm8kFinalAnswer(doc.answer), GSM8K_COT_IGNORE),
};
