import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BBH_SAMPLE_SUBTASKS, readBbhExamples, readBenchmarkJsonl } from '../../../test-support/benchmark-files.ts';
import { getTask } from './get-task.ts';
import { scoreMultipleChoice } from './score-multiple-choice.ts';
import type { AnyTask, EvalCondition, TaskPrompt } from './task-types.ts';
import { GSM8K_COT_IGNORE, GSM8K_ZEROSHOT_IGNORE, scoreGsm8k } from './tasks/gsm8k-shared.ts';

// Golden outputs from Python's re / jinja2 / numpy (scripts/golden/lm-eval-scoring.py): the
// JavaScript translations must give exactly what lm-eval's Python gives.
interface Golden {
  regex: (
    | {
        family: 'gsm8k';
        response: string;
        reference: string;
        extracted: Record<string, string>;
        cot: Record<string, number>;
        zeroshot: Record<string, number>;
      }
    | { family: 'bbh'; response: string; reference: string; extracted: Record<string, string>; verdict: number }
  )[];
  mc: { choices: string[]; loglikelihoods: (number | null)[]; acc: number; acc_norm: number; pred: number; pred_norm: number }[];
  prompts: Record<string, Record<string, string | number>>;
}
const golden = JSON.parse(readFileSync(new URL('../../../test-support/golden/lm-eval-scoring.json', import.meta.url), 'utf8')) as Golden;

describe('filters and exact_match against lm-eval in Python', () => {
  it('gsm8k strict-match / flexible-extract and both regexes_to_ignore sets', () => {
    const cases = golden.regex.filter((c) => c.family === 'gsm8k');
    expect(cases.length).toBeGreaterThan(200);
    for (const c of cases) {
      if (c.family !== 'gsm8k') continue;
      const cot = scoreGsm8k(c.response, c.reference, GSM8K_COT_IGNORE);
      const zs = scoreGsm8k(c.response, c.reference, GSM8K_ZEROSHOT_IGNORE);
      const ctx = JSON.stringify([c.response, c.reference]);
      expect(cot.extracted, ctx).toEqual(c.extracted);
      expect({ s: cot.metrics['exact_match,strict-match'], f: cot.metrics['exact_match,flexible-extract'] }, ctx).toEqual({
        s: c.cot['strict-match'],
        f: c.cot['flexible-extract'],
      });
      expect({ s: zs.metrics['exact_match,strict-match'], f: zs.metrics['exact_match,flexible-extract'] }, ctx).toEqual({
        s: c.zeroshot['strict-match'],
        f: c.zeroshot['flexible-extract'],
      });
    }
  });

  it('bbh get-answer and case-sensitive exact_match', async () => {
    const task = getTask('bbh_cot_fewshot_navigate');
    const cases = golden.regex.filter((c) => c.family === 'bbh');
    expect(cases.length).toBeGreaterThan(100);
    for (const c of cases) {
      if (c.family !== 'bbh') continue;
      const s = await (task as Extract<AnyTask, { outputType: 'generate_until' }>).score({ input: '', target: c.reference }, c.response);
      expect({ e: s.extracted, v: s.metrics['exact_match,get-answer'] }, JSON.stringify([c.response, c.reference])).toEqual({
        e: c.extracted,
        v: c.verdict,
      });
    }
  });

  it('acc / acc_norm: numpy argmax ties, NaN, length in code points', () => {
    for (const c of golden.mc) {
      const lls = c.loglikelihoods.map((x) => (x === null ? NaN : x));
      const s = scoreMultipleChoice(lls, c.choices, 3);
      expect({ acc: s.acc, acc_norm: s.acc_norm, pred: s.pred, pred_norm: s.predNorm }, JSON.stringify(c)).toEqual({
        acc: c.acc,
        acc_norm: c.acc_norm,
        pred: c.pred,
        pred_norm: c.pred_norm,
      });
    }
  });
});

function promptHash(p: TaskPrompt | string): string {
  const text =
    typeof p === 'string' ? `text\0${p}` : p.kind === 'text' ? `text\0${p.text}` : `chat\0${p.messages.map((m) => `${m.role}\0${m.content}\x01`).join('')}`;
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

function promptsOf(task: AnyTask, doc: unknown, condition: EvalCondition): TaskPrompt {
  return task.outputType === 'generate_until' ? task.buildPrompt(doc, condition) : task.buildRequests(doc, condition).context;
}

const SETS: [string, () => unknown[]][] = [
  ['gsm8k_cot', () => readBenchmarkJsonl('gsm8k/test_first200.jsonl')],
  ['gsm8k_cot_zeroshot', () => readBenchmarkJsonl('gsm8k/test_first200.jsonl')],
  ['sciq', () => readBenchmarkJsonl('sciq/test_first200.jsonl')],
  ['humaneval', () => readBenchmarkJsonl('humaneval/HumanEval.jsonl')],
  ...BBH_SAMPLE_SUBTASKS.map((s): [string, () => unknown[]] => [`bbh_cot_fewshot_${s}`, () => readBbhExamples(s)]),
];

describe('prompts of every development-sample item equal lm-eval fewshot_context (jinja2) in Python', () => {
  it.each(SETS)('%s', (name, read) => {
    const task = getTask(name);
    const docs = read().map((row, i) => task.readDoc(row, `row ${i}`));
    const expected = golden.prompts[name];
    expect(docs.length).toBe(expected.n);
    for (const mode of ['plain', 'think'] as const) {
      for (const chatTemplate of [false, true]) {
        const all = docs.map((d) => promptHash(promptsOf(task, d, { mode, chatTemplate }))).join('');
        const key = `${mode},${chatTemplate ? 'chat' : 'text'}`;
        expect(createHash('sha256').update(all).digest('hex'), key).toBe(expected[key]);
      }
    }
    if (task.outputType === 'multiple_choice') {
      const conts = docs.flatMap((d) => task.buildRequests(d, { mode: 'plain', chatTemplate: false }).continuations.map((c) => promptHash(c)));
      expect(createHash('sha256').update(conts.join('')).digest('hex')).toBe(expected['continuations,text']);
    }
  });
});
