import { describe, expect, it } from 'vitest';
import { getTask } from '../get-task.ts';
import { buildResultsDocument, type StudioRunRecord } from './results-document.ts';

const studio = {} as StudioRunRecord;
const run = (name: string, metrics: Record<string, number>, stderr: Record<string, number | null>, n: number) => ({
  task: getTask(name),
  summary: { task: name, n, metrics, stderr },
  originalSize: 200,
});

describe('buildResultsDocument: lm-eval\'s result keys', () => {
  it('"<metric>,<filter>" and "<metric>_stderr,<filter>", with lm-eval\'s filter names ("none", humaneval\'s "create_test")', () => {
    const doc = buildResultsDocument(
      [
        run('sciq', { acc: 0.5, acc_norm: 0.25 }, { acc: 0.1, acc_norm: null }, 4),
        run('humaneval', { 'pass@1': 0.5 }, { 'pass@1': 0.5 }, 2),
        run('gsm8k_cot', { 'exact_match,strict-match': 0.75, 'exact_match,flexible-extract': 1 }, { 'exact_match,strict-match': 0.25, 'exact_match,flexible-extract': 0 }, 4),
      ],
      studio,
    );
    expect(doc.results.sciq).toEqual({ alias: 'sciq', 'acc,none': 0.5, 'acc_stderr,none': 0.1, 'acc_norm,none': 0.25, 'acc_norm_stderr,none': 'N/A' });
    expect(doc.results.humaneval).toEqual({ alias: 'humaneval', 'pass@1,create_test': 0.5, 'pass@1_stderr,create_test': 0.5 });
    expect(doc.results.gsm8k_cot['exact_match,strict-match']).toBe(0.75);
    expect(doc.results.gsm8k_cot['exact_match_stderr,flexible-extract']).toBe(0);
    expect(doc['n-samples'].sciq).toEqual({ original: 200, effective: 4 });
    expect(doc.groups).toEqual({});
  });

  it('BBH: the unweighted mean of the subtasks that ran, as bbh_cot_fewshot, in results and groups', () => {
    const key = 'exact_match,get-answer';
    const doc = buildResultsDocument(
      [run('bbh_cot_fewshot_navigate', { [key]: 1 }, { [key]: 0 }, 2), run('bbh_cot_fewshot_web_of_lies', { [key]: 0.25 }, { [key]: 0.25 }, 4)],
      studio,
    );
    expect(doc.results.bbh_cot_fewshot[key]).toBeCloseTo(0.625, 12);
    expect(doc.groups.bbh_cot_fewshot).toEqual(doc.results.bbh_cot_fewshot);
    expect(doc.group_subtasks.bbh_cot_fewshot).toEqual(['bbh_cot_fewshot_navigate', 'bbh_cot_fewshot_web_of_lies']);
  });
});
