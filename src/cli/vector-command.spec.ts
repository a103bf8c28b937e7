/**
 * `studio vector` (and the refusal every command that plans a merge shares) through the real
 * binary, `node bin/studio.js`, from the repo root as a user runs it:
 * - a donor pair of two architecture sizes is refused in one line: which checkpoints, the first
 *   three differences, how many more, what to do — not one sentence per config field and tensor
 *   (it was ~4,500 characters); merge, export-onnx, eval and sweep say it in the same words;
 * - the vector's summary and reasoning_vector.json have no target: normTarget is null, not 0.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { studioBinary } from '../../test-support/cli.ts';

const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const work = mkdtempSync(join(tmpdir(), 'studio-vector-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const studio = studioBinary(join(work, 'cache'), { timeout: 120_000 });

// demo-arith is 128 wide (intermediate 256, head dim 32); tiny-qwen2 is 16 wide (32, 4).
const DEMO_SFT = 'fixtures/models/demo-arith-sft';
const DEMO_RL = 'fixtures/models/demo-arith-rl';
const DEMO_TARGET = 'fixtures/models/demo-arith-target';
const TINY_SFT = 'fixtures/models/tiny-qwen2-sft';
const TINY_RL = 'fixtures/models/tiny-qwen2-rl';

describe('checkpoints of two architecture sizes: one summary line', () => {
  it('vector: the two donors, the first three differences, how many more, what to do (exit 2, nothing written)', async () => {
    const out = join(work, 'vx');
    const r = await studio('vector', '--sft', DEMO_SFT, '--rl', TINY_RL, '--out', out);
    expect([r.code, r.stdout]).toEqual([2, '']);
    expect(r.stderr).toBe(
      `studio vector: the SFT donor (${DEMO_SFT}) and the RL donor (${TINY_RL}) are not the same architecture size (31 problems: ` +
        'config hiddenSize differs: SFT donor 128, RL donor 16; config intermediateSize differs: SFT donor 256, RL donor 32; ' +
        'config headDim differs: SFT donor 32, RL donor 4; and 28 more). Use checkpoints of one architecture size: a donor pair fine-tuned from one base.\n',
    );
    expect(existsSync(out)).toBe(false);
  });

  it('merge, export-onnx, eval and sweep name the one checkpoint of three that differs, in the same words', async () => {
    const summary =
      `the target (${DEMO_TARGET}) is not the same architecture size as the SFT donor (${TINY_SFT}) and the RL donor (${TINY_RL}) (31 problems: ` +
      'config hiddenSize differs: SFT donor 16, RL donor 16, target 128; config intermediateSize differs: SFT donor 32, RL donor 32, target 256; ' +
      'config headDim differs: SFT donor 4, RL donor 4, target 32; and 28 more). Use checkpoints of one architecture size: a donor pair fine-tuned from one base, and a target of that size.\n';
    const trio = ['--sft', TINY_SFT, '--rl', TINY_RL, '--target', DEMO_TARGET, '--alpha', '1'];
    const runs = {
      merge: await studio('merge', ...trio, '--out', join(work, 'mx')),
      'export-onnx': await studio('export-onnx', ...trio, '--out', join(work, 'ox')),
      eval: await studio('eval', ...trio, '--task', 'demo_arith', '--out', join(work, 'ex.json')),
    };
    for (const [command, r] of Object.entries(runs)) expect([command, r.code, r.stderr]).toEqual([command, 2, `studio ${command}: ${summary}`]);
    // sweep.json's folder paths are resolved against its folder: the labels are those paths.
    const config = join(work, 'mismatched.json');
    const abs = (p: string) => join(REPO_ROOT, p);
    writeFileSync(config, JSON.stringify({ sft: abs(TINY_SFT), rl: abs(TINY_RL), target: abs(DEMO_TARGET), alphas: [1], tasks: [{ task: 'demo_arith', limit: 2 }] }));
    const sweep = await studio('sweep', '--config', config, '--out', join(work, 'sx.json'));
    expect([sweep.code, sweep.stderr]).toEqual([2, `studio sweep: ${summary.replace(DEMO_TARGET, abs(DEMO_TARGET)).replace(TINY_SFT, abs(TINY_SFT)).replace(TINY_RL, abs(TINY_RL))}`]);
    for (const f of ['mx', 'ox', 'ex.json', 'sx.json']) expect(existsSync(join(work, f))).toBe(false);
  }, 120_000);

  it('a refusal with few problems is spelt out whole, as before (the resized vocabulary)', async () => {
    const r = await studio('vector', '--sft', TINY_SFT, '--rl', 'fixtures/models/tiny-qwen2-vocab320-target', '--out', join(work, 'vv'));
    expect([r.code, r.stderr]).toEqual([
      2,
      'studio vector: tensor "model.embed_tokens.weight" shapes differ: SFT [288, 16], RL [320, 16] (vocabulary sizes differ). ' +
        'Choose the vocab policy "overlap" (CLI: --vocab-policy overlap) to keep the rows both donors share in the vector.\n',
    ]);
  });
});

describe('the vector has no target', () => {
  it('normTarget is null in the summary on stdout and in reasoning_vector.json (total and every tensor)', async () => {
    const out = join(work, 'v');
    const r = await studio('vector', '--sft', DEMO_SFT, '--rl', DEMO_RL, '--out', out, '--device', 'cpu');
    expect([r.code, r.stderr]).toEqual([0, '']);
    const summary = JSON.parse(r.stdout);
    const report = JSON.parse(readFileSync(join(out, 'reasoning_vector.json'), 'utf8'));
    // The demo's RL donor differs from its SFT donor in the head only (a fitted head update).
    expect(summary.vector).toEqual({ elements: 369792, normV: report.total.normV, normTarget: null, ratio: null, cosine: null, nearZeroFraction: report.total.nearZeroFraction });
    expect(report.total).toEqual(summary.vector);
    expect(report.total.normV).toBeCloseTo(107.6544, 3);
    expect(report.tensors).toHaveLength(27);
    expect(report.tensors.map((t: { normTarget: unknown }) => t.normTarget)).toEqual(new Array(27).fill(null));
    expect(report.tensors.filter((t: { normV: number }) => t.normV > 0).map((t: { name: string }) => t.name)).toEqual(['lm_head.weight']);
  });
});
