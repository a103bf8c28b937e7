// Mirrors lm-evaluation-harness lm_eval/tasks/sciq/sciq.yaml (task version 1.0) at commit
// 0f9afc7a454238604e3929c216544ae326a4fe87: multiple_choice, doc_to_text
// "{{support.lstrip()}}\nQuestion: {{question}}\nAnswer:", doc_to_choice
// [distractor1, distractor2, distractor3, correct_answer], doc_to_target 3, no few-shot, metrics
// acc and acc_norm (ConfigurableTask.process_results in lm_eval/api/task.py: argmax of the
// log-likelihoods, and of log-likelihood ÷ len(choice) with the choice as doc_to_choice gives it).
// Each continuation is target_delimiter + choice: " " + choice, or choice alone with the chat
// template (construct_requests sets target_delimiter to "" when apply_chat_template is on).
import { buildFewshotPrompt } from '../build-fewshot-prompt.ts';
import { readStringFields } from '../read-doc.ts';
import { scoreMultipleChoice } from '../score-multiple-choice.ts';
import type { MultipleChoiceTask } from '../task-types.ts';

/** A row of allenai/sciq: the dataset's own fields. */
export interface SciqDoc {
  question: string;
  distractor1: string;
  distractor2: string;
  distractor3: string;
  correct_answer: string;
  support: string;
}

const FIELDS = ['question', 'distractor1', 'distractor2', 'distractor3', 'correct_answer', 'support'] as const;

/** Python's str.lstrip() with no argument (str.isspace characters). */
function pythonLstrip(s: string): string {
  return s.replace(/^[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/u, '');
}

export const sciq: MultipleChoiceTask<SciqDoc> = {
  name: 'sciq',
  outputType: 'multiple_choice',
  dataset: { path: 'allenai/sciq', name: null, split: 'test' },
  fields: FIELDS,
  metricKeys: ['acc', 'acc_norm'],
  sources: [
    { repository: 'EleutherAI/lm-evaluation-harness', path: 'lm_eval/tasks/sciq/sciq.yaml', commit: '0f9afc7a454238604e3929c216544ae326a4fe87' },
    { repository: 'EleutherAI/lm-evaluation-harness', path: 'lm_eval/api/task.py', commit: '44406dc3a40ef3f74cb82e967fa31cd1880ed525', note: 'construct_requests / process_results for multiple_choice' },
  ],
  readDoc: (row, where) => readStringFields(row, FIELDS, where, 'sciq'),
  choices: (doc) => [doc.distractor1, doc.distractor2, doc.distractor3, doc.correct_answer],
  gold: () => 3,
  buildRequests(doc, condition) {
    const context = buildFewshotPrompt(
      {
        description: '',
        examples: [],
        question: `${pythonLstrip(doc.support)}\nQuestion: ${doc.question}\nAnswer:`,
        targetDelimiter: ' ',
        fewshotDelimiter: '\n\n',
      },
      condition,
    );
    const delimiter = condition.chatTemplate ? '' : ' ';
    return { context, continuations: this.choices(doc).map((c) => delimiter + c) };
  },
  score(doc, loglikelihoods) {
    const choices = this.choices(doc);
    const s = scoreMultipleChoice(loglikelihoods, choices, this.gold(doc));
    return { metrics: { acc: s.acc, acc_norm: s.acc_norm }, extracted: { acc: choices[s.pred], acc_norm: choices[s.predNorm] } };
  },
};
