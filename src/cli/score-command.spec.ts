import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BBH_SAMPLE_SUBTASKS, readBbhExamples, readBenchmarkJsonl } from '../../test-support/benchmark-files.ts';

// `studio score` through the user's door: `node bin/studio.js score …` as a subprocess, on
// items written to a temp folder from ../shared/benchmarks (never copied into the repo).
const STUDIO = fileURLToPath(new URL('../../bin/studio.js', import.meta.url));

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'cli-score-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

let n = 0;
function jsonl(name: string, rows: unknown[]): string {
  const path = join(work, `${++n}-${name}`);
  writeFileSync(path, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return path;
}

function studio(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [STUDIO, ...args], { timeout: 240_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

function lines(stdout: string): Record<string, unknown>[] {
  return stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** GSM8K's reference solution in the exemplars' form: the reasoning, then "The answer is N." */
function gsm8kCanonical(answer: string): string {
  const [body, final] = answer.split('####');
  return `${body.trim()} The answer is ${final.trim()}.`;
}

describe('studio score', () => {
  it('gsm8k_cot: the 200 reference solutions, reformatted as "… The answer is N.", score 1.0 on both filters', async () => {
    const items = readBenchmarkJsonl('gsm8k/test_first200.jsonl');
    const r = await studio(
      'score',
      '--task',
      'gsm8k_cot',
      '--items',
      jsonl('gsm8k.jsonl', items),
      '--responses',
      jsonl('gsm8k-responses.jsonl', items.map((it) => ({ text: gsm8kCanonical(it.answer as string) }))),
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = lines(r.stdout);
    expect(out).toHaveLength(201);
    expect(out[0]).toEqual({
      index: 0,
      metrics: { 'exact_match,strict-match': 1, 'exact_match,flexible-extract': 1 },
      extracted: { 'strict-match': '18', 'flexible-extract': '18.' },
    });
    expect(out[200]).toEqual({ task: 'gsm8k_cot', n: 200, metrics: { 'exact_match,strict-match': 1, 'exact_match,flexible-extract': 1 } });
  });

  it('gsm8k_cot_zeroshot: wrong, missing and "$1,000.00"-style answers', async () => {
    const items = readBenchmarkJsonl('gsm8k/test_first200.jsonl').slice(0, 3); // finals 18, 3, 70000
    const texts = ['So she makes $18.00 a day. The answer is $18.00.', 'I cannot tell.', 'The profit is $70,000. The answer is 70,000.'];
    const r = await studio(
      'score',
      '--task',
      'gsm8k_cot_zeroshot',
      '--items',
      jsonl('zs.jsonl', items),
      '--responses',
      jsonl('zs-r.jsonl', texts.map((text) => ({ text }))),
    );
    expect(r.code).toBe(0);
    const out = lines(r.stdout);
    // "$18.00" has no place in strict-match's [0-9.,] right after "The answer is ", so [invalid];
    // flexible-extract takes "$18.00." → "$" and "," and the final "." and ".00" removed → "18".
    expect(out[0]).toEqual({
      index: 0,
      metrics: { 'exact_match,strict-match': 0, 'exact_match,flexible-extract': 1 },
      extracted: { 'strict-match': '[invalid]', 'flexible-extract': '$18.00.' },
    });
    expect(out[1]).toEqual({
      index: 1,
      metrics: { 'exact_match,strict-match': 0, 'exact_match,flexible-extract': 0 },
      extracted: { 'strict-match': '[invalid]', 'flexible-extract': '[invalid]' },
    });
    expect(out[2].metrics).toEqual({ 'exact_match,strict-match': 1, 'exact_match,flexible-extract': 1 });
    expect(out[3]).toEqual({ task: 'gsm8k_cot_zeroshot', n: 3, metrics: { 'exact_match,strict-match': 1 / 3, 'exact_match,flexible-extract': 2 / 3 } });
  });

  it.each(BBH_SAMPLE_SUBTASKS)('bbh_cot_fewshot_%s: "So the answer is <target>." scores 1.0; a lower-cased one only where the target is', async (sub) => {
    const items = readBbhExamples(sub);
    const items_ = jsonl(`${sub}.jsonl`, items);
    const right = await studio('score', '--task', `bbh_cot_fewshot_${sub}`, '--items', items_, '--responses',
      jsonl(`${sub}-r.jsonl`, items.map((it) => ({ text: `Let me see.\nSo the answer is ${it.target}.\n\nQ` }))));
    expect(right.code).toBe(0);
    const out = lines(right.stdout);
    expect(out[1]).toEqual({ index: 1, metrics: { 'exact_match,get-answer': 1 }, extracted: { 'get-answer': items[1].target } });
    expect(out[items.length]).toEqual({ task: `bbh_cot_fewshot_${sub}`, n: items.length, metrics: { 'exact_match,get-answer': 1 } });
    // exact_match is case-sensitive in the template: "true" is not "True", "(a)" is not "(A)".
    const lower = await studio('score', '--task', `bbh_cot_fewshot_${sub}`, '--items', items_, '--responses',
      jsonl(`${sub}-l.jsonl`, items.map((it) => ({ text: `So the answer is ${it.target.toLowerCase()}.` }))));
    const expected = items.filter((it) => it.target === it.target.toLowerCase()).length / items.length;
    expect(lines(lower.stdout)[items.length].metrics).toEqual({ 'exact_match,get-answer': expected });
  });

  it('sciq: acc and acc_norm from log-likelihoods; ties go to the first choice', async () => {
    const items = readBenchmarkJsonl('sciq/test_first200.jsonl').slice(0, 3);
    // item 0 (antioxidants, Oxygen, residues | oxidants): the gold, index 3, is best on both.
    // item 1 (adult, male, phenotype | clone): four equal log-likelihoods → acc's argmax takes the
    // first ("adult"); divided by length the longest, "phenotype", wins → wrong on both.
    // item 2 (Bones, Muscles, Thumbs | backbone): −2 per character for the distractors, −1.5 per
    // character for "backbone": "Bones" (−10) wins on raw log-likelihood, "backbone" (−12/8 = −1.5
    // per character) wins once divided by the choice's length.
    const r = await studio('score', '--task', 'sciq', '--items', jsonl('sciq.jsonl', items), '--responses',
      jsonl('sciq-r.jsonl', [{ loglikelihoods: [-5, -6, -7, -1] }, { loglikelihoods: [-2, -2, -2, -2] }, { loglikelihoods: [-10, -14, -12, -12] }]));
    expect(r.stderr).toBe('');
    const out = lines(r.stdout);
    expect(out[0]).toEqual({ index: 0, metrics: { acc: 1, acc_norm: 1 }, extracted: { acc: items[0].correct_answer, acc_norm: items[0].correct_answer } });
    expect(out[1]).toEqual({ index: 1, metrics: { acc: 0, acc_norm: 0 }, extracted: { acc: 'adult', acc_norm: 'phenotype' } });
    expect(out[2]).toEqual({ index: 2, metrics: { acc: 0, acc_norm: 1 }, extracted: { acc: 'Bones', acc_norm: 'backbone' } });
    expect(out[3]).toEqual({ task: 'sciq', n: 3, metrics: { acc: 1 / 3, acc_norm: 2 / 3 } });
  });

  it('humaneval: a canonical solution behind a ```python fence passes, a wrong one fails', async () => {
    // Two items only: each program runs in the Pyodide sandbox (its own tests cover all 164
    // canonical solutions, exits and loops); this checks the command wires it in.
    const items = readBenchmarkJsonl('humaneval/HumanEval.jsonl').slice(0, 2);
    const texts = ['```python\n' + (items[0].canonical_solution as string), '    return None\n'];
    const r = await studio('score', '--task', 'humaneval', '--items', jsonl('he.jsonl', items), '--responses',
      jsonl('he-r.jsonl', texts.map((text) => ({ text }))));
    expect(r.code).toBe(0);
    const out = lines(r.stdout);
    expect(out.slice(0, 2).map((o) => (o.metrics as Record<string, number>)['pass@1'])).toEqual([1, 0]);
    expect((out[0].extracted as Record<string, string>).create_test).toBe((items[0].prompt as string) + (items[0].canonical_solution as string));
    expect(out[2]).toEqual({ task: 'humaneval', n: 2, metrics: { 'pass@1': 0.5 } });
  }, 240_000);

  it('bad input: unknown task (nearest name), length mismatch, malformed line, missing field — exit 2, one line naming it', async () => {
    const items = jsonl('i.jsonl', readBenchmarkJsonl('gsm8k/test_first200.jsonl').slice(0, 2));
    const two = jsonl('r2.jsonl', [{ text: 'a' }, { text: 'b' }]);

    const unknown = await studio('score', '--task', 'gsm8k_cto', '--items', items, '--responses', two);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown task "gsm8k_cto"; did you mean "gsm8k_cot"?');

    const short = await studio('score', '--task', 'gsm8k_cot', '--items', items, '--responses', jsonl('r1.jsonl', [{ text: 'a' }]));
    expect(short.code).toBe(2);
    expect(short.stderr).toMatch(/1 responses for 2 items/);

    const badPath = join(work, 'bad.jsonl');
    writeFileSync(badPath, '{"text": "a"}\n{"text": oops}\n');
    const malformed = await studio('score', '--task', 'gsm8k_cot', '--items', items, '--responses', badPath);
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toContain(`${badPath}:2: not valid JSON`);

    const missing = await studio('score', '--task', 'gsm8k_cot', '--items', jsonl('m.jsonl', [{ question: 'q', answer: '#### 1' }, { question: 'q' }]), '--responses', two);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/m\.jsonl:2: missing field "answer"/);

    const noText = await studio('score', '--task', 'gsm8k_cot', '--items', items, '--responses', jsonl('nt.jsonl', [{ text: 'a' }, { output: 'b' }]));
    expect(noText.code).toBe(2);
    expect(noText.stderr).toMatch(/nt\.jsonl:2: missing field "text"/);

    const sciqWrong = await studio('score', '--task', 'sciq', '--items', jsonl('s.jsonl', readBenchmarkJsonl('sciq/test_first200.jsonl').slice(0, 1)), '--responses', jsonl('s-r.jsonl', [{ loglikelihoods: [-1, -2] }]));
    expect(sciqWrong.code).toBe(2);
    expect(sciqWrong.stderr).toMatch(/has 2 numbers; sciq has 4 choices/);
    for (const r of [unknown, short, malformed, missing, noText, sciqWrong]) expect(r.stderr.trim().split('\n')).toHaveLength(1);
  }, 120_000);
});
