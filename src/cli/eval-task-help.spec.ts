/**
 * `--task` in the help of `studio eval` and `studio score`, through the real binary: it lists
 * every task the command runs (demo_arith was missing from eval's help while eval ran it), in the
 * words the unknown-task error uses — one list (engine/eval/get-task.ts's TASK_CHOICES).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { studioBinary } from '../../test-support/cli.ts';
import { BBH_SUBTASKS } from '../engine/eval/index.ts';

const work = mkdtempSync(join(tmpdir(), 'studio-task-help-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const studio = studioBinary(join(work, 'cache'));

const CHOICES = "gsm8k_cot, gsm8k_cot_zeroshot, bbh_cot_fewshot_<subtask>, sciq, humaneval, and the studio's demo_arith";
const helpLine = (help: string) => help.split('\n').find((l) => l.trimStart().startsWith('--task '))!.replace(/^\s*--task <value>\s+/, '');

describe('--task lists every task the command accepts, as the unknown-task error does', () => {
  it('eval --help', async () => {
    const r = await studio('eval', '--help');
    expect(r.code).toBe(0);
    expect(helpLine(r.stdout + r.stderr)).toBe(`task names, comma-separated: ${CHOICES}; bbh_cot_fewshot runs its ${BBH_SUBTASKS.length} subtasks`);
    expect(BBH_SUBTASKS.length).toBe(27);
  });

  it('score --help', async () => {
    const r = await studio('score', '--help');
    expect(r.code).toBe(0);
    expect(helpLine(r.stdout + r.stderr)).toBe(`one task name: ${CHOICES}`);
  });

  it('the unknown-task error of eval, score and sweep.json names the same list', async () => {
    const ev = await studio('eval', '--model', 'fixtures/models/demo-arith-target', '--task', 'demo_arithm', '--out', join(work, 'x.json'));
    expect([ev.code, ev.stderr]).toEqual([2, `studio eval: unknown task "demo_arithm"; did you mean "demo_arith"? (tasks: ${CHOICES}).\n`]);
    writeFileSync(join(work, 'i.jsonl'), '{"question":"3+4=","answer":"7"}\n');
    const sc = await studio('score', '--task', 'nope', '--items', join(work, 'i.jsonl'), '--responses', join(work, 'i.jsonl'));
    expect([sc.code, sc.stderr]).toEqual([2, `studio score: unknown task "nope" (tasks: ${CHOICES}).\n`]);
    const config = join(work, 'sweep.json');
    writeFileSync(config, JSON.stringify({ sft: 'a', rl: 'b', target: 'c', tasks: [{ task: 'gsm8k_cott' }] }));
    const sw = await studio('sweep', '--config', config, '--out', join(work, 'r.json'));
    expect([sw.code, sw.stderr]).toEqual([2, `studio sweep: ${config}: tasks[0].task: unknown task "gsm8k_cott"; did you mean "gsm8k_cot"? (tasks: ${CHOICES}).\n`]);
  });

  it('every task in the list runs: score takes demo_arith (the studio\'s own task)', async () => {
    writeFileSync(join(work, 'items.jsonl'), '{"question":"3+4=","answer":"7"}\n');
    // Log-likelihoods of the ten digits, "7" the most likely.
    writeFileSync(join(work, 'responses.jsonl'), JSON.stringify({ loglikelihoods: [-9, -9, -9, -9, -9, -9, -9, -0.1, -9, -9] }) + '\n');
    const r = await studio('score', '--task', 'demo_arith', '--items', join(work, 'items.jsonl'), '--responses', join(work, 'responses.jsonl'));
    expect([r.code, r.stdout]).toEqual([0, '{"index":0,"metrics":{"acc":1},"extracted":{"acc":"7"}}\n{"task":"demo_arith","n":1,"metrics":{"acc":1}}\n']);
  });
});
