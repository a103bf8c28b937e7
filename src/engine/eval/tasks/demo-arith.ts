// The studio's own task, NOT an lm-evaluation-harness task: the demo trio's skill
// (scripts/fixtures/demo-arithmetic.ts, fixtures/models/demo-arith-*). lm-eval has nothing like
// it, so `lm_eval` cannot repeat it; it exists so the offline demo measures a real effect of α
// through the same engine as the real benchmarks.
//
// Items: the 100 prompts "a+b=" for a, b ∈ 0…9, generated here (no dataset download), answer the
// digit (a + b) mod 10. Scoring: multiple choice by log-likelihood over the ten digit
// continuations "0"…"9" — no leading space (target delimiter ""), because demo.json measures
// the argmax of the ten digit tokens right after "=" (its `digitsOnly` column), and in the demo
// tokenizer every digit, "+" and "=" is one token of its own (the pre-tokenizer splits each
// \p{N}), so "3+4=" + "7" encodes as the prompt's ids followed by the digit's id. The score is
// lm-eval's multiple_choice `acc` (argmax of the log-likelihoods, ties to the lowest choice);
// with one token per choice that is the argmax of the digit logits, exactly demo.json's measure.
import { EvalDataError } from '../eval-errors.ts';
import { buildFewshotPrompt } from '../build-fewshot-prompt.ts';
import { numpyArgmax } from '../numpy-argmax.ts';
import { readStringFields } from '../read-doc.ts';
import type { MultipleChoiceTask } from '../task-types.ts';

/** One item: the prompt text and the answer digit. */
export interface DemoArithDoc {
  question: string;
  answer: string;
}

const FIELDS = ['question', 'answer'] as const;
const DIGITS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

/** The 100 items in the demo's order (a major, b minor), as demo.json lists its prompts. */
export function demoArithRows(): DemoArithDoc[] {
  const rows: DemoArithDoc[] = [];
  for (let a = 0; a < 10; a++) for (let b = 0; b < 10; b++) rows.push({ question: `${a}+${b}=`, answer: String((a + b) % 10) });
  return rows;
}

export const demoArith: MultipleChoiceTask<DemoArithDoc> = {
  name: 'demo_arith',
  outputType: 'multiple_choice',
  dataset: { path: 'studio/demo_arith', name: null, split: 'test' },
  fields: FIELDS,
  metricKeys: ['acc'],
  // Mirrors no lm-eval file: the trio it measures is built by scripts/fixtures/demo-arithmetic.ts.
  sources: [],
  builtinRows: demoArithRows,
  readDoc(row, where) {
    const doc = readStringFields(row, FIELDS, where, 'demo_arith');
    if (!DIGITS.includes(doc.answer)) throw new EvalDataError(where, `field "answer" must be one digit 0–9, got "${doc.answer}".`);
    return doc;
  },
  choices: () => DIGITS,
  gold: (doc) => DIGITS.indexOf(doc.answer),
  buildRequests(doc, condition) {
    const context = buildFewshotPrompt({ description: '', examples: [], question: doc.question, targetDelimiter: '', fewshotDelimiter: '\n\n' }, condition);
    return { context, continuations: DIGITS };
  },
  score(doc, loglikelihoods) {
    const pred = numpyArgmax(loglikelihoods);
    return { metrics: { acc: pred === this.gold(doc) ? 1 : 0 }, extracted: { acc: DIGITS[pred] } };
  },
};
