import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFixtureDir, type FixtureDir } from '../../../../test-support/fixture-dir.ts';
import { thrown } from '../../../../test-support/rejection.ts';
import { openCheckpoint } from '../../checkpoint/open-checkpoint.ts';
import { StudioTokenizer } from '../../model/tokenizer.ts';
import { localFolderSource } from '../../sources/local-folder-source.ts';
import { EvalDataError } from '../eval-errors.ts';
import { getTask } from '../get-task.ts';
import { PLAIN } from '../conditions.ts';
import { encodePair, renderPrompt } from '../run/run-task.ts';
import { demoArith, demoArithRows } from './demo-arith.ts';

let fx: FixtureDir;
let tok: StudioTokenizer;
let demo: { prompts: { text: string; ids: number[]; answer: string; answerId: number }[]; digitIds: number[] };

beforeAll(async () => {
  fx = makeFixtureDir('studio-demo-task-', { demo: true });
  tok = await StudioTokenizer.load(await openCheckpoint(await localFolderSource(fx.model('demo-arith-target'))));
  demo = JSON.parse(readFileSync(`${fx.model('demo-arith-target')}/demo.json`, 'utf8'));
}, 60_000);
afterAll(() => fx?.cleanup());

describe('demo_arith (the studio\'s own task)', () => {
  it('is registered and generates demo.json\'s 100 prompts in its order', () => {
    expect(getTask('demo_arith')).toBe(demoArith);
    expect(demoArithRows().map((r) => [r.question, r.answer])).toEqual(demo.prompts.map((p) => [p.text, p.answer]));
  });

  it('asks each item as demo.json measures it: the prompt ids, then one digit token, no leading space', () => {
    for (const [i, row] of demoArithRows().entries()) {
      const doc = demoArith.readDoc(row, `row ${i}`);
      const r = demoArith.buildRequests(doc, PLAIN);
      const context = renderPrompt(r.context, tok, 'demo_arith');
      expect(context).toBe(demo.prompts[i].text);
      const pairs = r.continuations.map((c) => encodePair(tok, context, c, 128));
      expect(pairs.map((p) => p.contextIds)).toEqual(r.continuations.map(() => demo.prompts[i].ids));
      expect(pairs.map((p) => p.continuationIds)).toEqual(demo.digitIds.map((d) => [d]));
      expect(demoArith.gold(doc)).toBe(demo.digitIds.indexOf(demo.prompts[i].answerId));
    }
  });

  it('scores acc as the argmax of the ten log-likelihoods (ties to the lowest digit)', () => {
    const doc = { question: '3+4=', answer: '7' };
    const lls = Array.from({ length: 10 }, (_, d) => (d === 7 ? -0.1 : -3));
    expect(demoArith.score(doc, lls)).toEqual({ metrics: { acc: 1 }, extracted: { acc: '7' } });
    expect(demoArith.score(doc, Array(10).fill(-1))).toEqual({ metrics: { acc: 0 }, extracted: { acc: '0' } });
  });

  it('refuses rows that are not items of the task, naming the row', () => {
    expect(thrown(EvalDataError, () => demoArith.readDoc({ question: '1+1=' }, 'items.jsonl:3')).message).toBe(
      'items.jsonl:3: missing field "answer": a demo_arith item needs question, answer (the dataset\'s own field names).',
    );
    expect(thrown(EvalDataError, () => demoArith.readDoc({ question: '5+5=', answer: '10' }, 'items.jsonl:4')).message).toBe('items.jsonl:4: field "answer" must be one digit 0–9, got "10".');
  });
});
