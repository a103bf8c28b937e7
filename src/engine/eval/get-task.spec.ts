import { describe, expect, it } from 'vitest';
import { EvalDataError, UnknownTaskError } from './eval-errors.ts';
import { exactMatch } from './exact-match.ts';
import { TASK_NAMES, getTask } from './get-task.ts';
import { readJsonl } from './read-jsonl.ts';

describe('getTask', () => {
  it("knows lm-eval's 31 names and the studio's demo_arith", () => {
    expect(TASK_NAMES).toHaveLength(32);
    expect(TASK_NAMES).toContain('demo_arith');
    expect(getTask('bbh_cot_fewshot_word_sorting').name).toBe('bbh_cot_fewshot_word_sorting');
  });
  it('an unknown name is an UnknownTaskError naming the nearest one', () => {
    expect(() => getTask('bbh_cot_fewshot_navigat')).toThrow(UnknownTaskError);
    expect(() => getTask('bbh_cot_fewshot_navigat')).toThrow('did you mean "bbh_cot_fewshot_navigate"?');
    expect(() => getTask('SCIQ')).toThrow('did you mean "sciq"?');
    expect(() => getTask('mmlu_pro_plus')).toThrow(/^unknown task "mmlu_pro_plus" \(tasks:/);
  });
});

describe('readJsonl', () => {
  it('skips blank lines but counts them; a bad line is named file:line', () => {
    expect(readJsonl('{"a":1}\n\n{"a":2}\r\n', 'x.jsonl')).toEqual([
      { value: { a: 1 }, line: 1 },
      { value: { a: 2 }, line: 3 },
    ]);
    expect(() => readJsonl('{"a":1}\n\n{"a":\n', 'x.jsonl')).toThrow(EvalDataError);
    expect(() => readJsonl('{"a":1}\n\n{"a":\n', 'x.jsonl')).toThrow(/^x\.jsonl:3: not valid JSON/);
  });
});

describe('exactMatch options', () => {
  it('ignore_punctuation removes ASCII punctuation only; regexes must be global', () => {
    expect(exactMatch('(A).', 'A', { ignorePunctuation: true })).toBe(1);
    expect(exactMatch('A…', 'A', { ignorePunctuation: true })).toBe(0);
    expect(() => exactMatch('a', 'a', { regexesToIgnore: [/,/] })).toThrow(/must be global/);
  });
});
