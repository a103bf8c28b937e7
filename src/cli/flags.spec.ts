/**
 * Strict flags, through the real binary: a misspelt or unknown flag is bad input (exit 2, one
 * line naming it and the nearest known flag), never silently ignored.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { studioBinary } from '../../test-support/cli.ts';
import { nearestFlag, parseFlags, UsageError } from './parse-flags.ts';

const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const FIXTURES = join(REPO_ROOT, 'fixtures/models');
const work = mkdtempSync(join(tmpdir(), 'studio-flags-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const studio = studioBinary(join(work, 'cache'));

const trio = ['--sft', `${FIXTURES}/tiny-qwen2-sft`, '--rl', `${FIXTURES}/tiny-qwen2-rl`, '--target', `${FIXTURES}/tiny-qwen2-target`];

describe('an unknown flag on each command: exit 2 naming it and the nearest known one', () => {
  const cases: [string, string[], string][] = [
    ['merge', [...trio, '--alpha', '1', '--out', join(work, 'm'), '--dtpye', 'f32'], 'studio merge: unknown flag --dtpye; did you mean --dtype? (--help lists the flags).'],
    ['merge', [...trio, '--alpha', '1', '--out', join(work, 'm2'), '--vocab_policy', 'overlap'], 'studio merge: unknown flag --vocab_policy; did you mean --vocab-policy? (--help lists the flags).'],
    ['vector', ['--sft', `${FIXTURES}/tiny-qwen2-sft`, '--rl', `${FIXTURES}/tiny-qwen2-rl`, '--out', join(work, 'v'), '--target', 'x', '--alpah', '1'], 'studio vector: unknown flag --target (--help lists the flags).'],
    ['inspect', [`${FIXTURES}/tiny-qwen2-sft`, '--json'], 'studio inspect: unknown flag --json (--help lists the flags).'],
    ['forward', ['--model', `${FIXTURES}/tiny-qwen2-sft`, '--ids', '1,2', '--out', join(work, 'f.json'), '--id', '3'], 'studio forward: unknown flag --id; did you mean --ids? (--help lists the flags).'],
    ['generate', ['--model', `${FIXTURES}/tiny-qwen2-sft`, '--ids', '1,2', '--max-new-token', '2'], 'studio generate: unknown flag --max-new-token; did you mean --max-new-tokens? (--help lists the flags).'],
    ['export-onnx', [...trio, '--alpha', '1', '--out', join(work, 'x'), '--dtpye', 'f16'], 'studio export-onnx: unknown flag --dtpye; did you mean --dtype? (--help lists the flags).'],
  ];
  it.each(cases)('%s', async (cmd, args, message) => {
    const r = await studio(cmd, ...args);
    expect([r.code, r.stdout, r.stderr]).toEqual([2, '', message + '\n']);
  });

  it('nothing is written by a refused merge', () => {
    expect(existsSync(join(work, 'm'))).toBe(false);
    expect(existsSync(join(work, 'm2'))).toBe(false);
    expect(existsSync(join(work, 'x'))).toBe(false);
  });

  it('an unknown command names the nearest one; <command> --help prints its flags on stdout', async () => {
    const bad = await studio('merg');
    expect([bad.code, bad.stderr]).toEqual([2, 'studio: unknown command "merg"; did you mean "merge"? (studio --help lists the commands).\n']);
    const help = await studio('merge', '--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^usage: studio merge /);
    for (const f of ['--sft', '--rl', '--target', '--alpha', '--out', '--dtype', '--vocab-policy', '--device']) expect(help.stdout).toContain(`  ${f} <value>`);
  });
});

describe('numbers are decimal: hexadecimal, binary, octal and padded values are refused (exit 2, one line)', () => {
  const merge = (alpha: string) => ['merge', ...trio, `--alpha=${alpha}`, '--out', join(work, `n-${alpha.trim()}`), '--device', 'cpu'];
  const model = ['--model', `${FIXTURES}/tiny-qwen2-sft`, '--ids', '1,2'];
  const cases: [string[], string][] = [
    [merge('0x10'), 'studio merge: --alpha must be a finite number (decimal, e.g. 1, -0.5 or 1e-3), got "0x10".'],
    [merge('0b11'), 'studio merge: --alpha must be a finite number (decimal, e.g. 1, -0.5 or 1e-3), got "0b11".'],
    [merge('0o7'), 'studio merge: --alpha must be a finite number (decimal, e.g. 1, -0.5 or 1e-3), got "0o7".'],
    [merge(' 1'), 'studio merge: --alpha must be a finite number (decimal, e.g. 1, -0.5 or 1e-3), got " 1".'],
    [['generate', ...model, '--max-new-tokens', '1', '--temperature', '0x1'], 'studio generate: --temperature must be a number ≥ 0, got "0x1".'],
    [['generate', ...model, '--max-new-tokens', '1', '--top-p', '0b1'], 'studio generate: --top-p must be in (0, 1], got "0b1".'],
    [['generate', ...model, '--max-new-tokens', '0x10'], 'studio generate: --max-new-tokens must be an integer ≥ 1, got "0x10".'],
    [['generate', ...model, '--max-new-tokens', '1', '--seed', '0b1'], 'studio generate: --seed must be an integer ≥ 0, got "0b1".'],
    [['eval', '--model', `${FIXTURES}/demo-arith-target`, '--task', 'demo_arith', '--limit', '0x2', '--out', join(work, 'e.json')], 'studio eval: --limit must be an integer ≥ 1, got "0x2".'],
  ];
  it.each(cases)('%j', async (argv, message) => {
    const r = await studio(...argv);
    expect([r.code, r.stdout, r.stderr]).toEqual([2, '', message + '\n']);
  });

  it('decimal spellings are taken as written: .5, -0.5, 1e-3, +2', async () => {
    for (const [alpha, value] of [['.5', 0.5], ['-0.5', -0.5], ['1e-3', 0.001], ['+2', 2]] as const) {
      const r = await studio(...merge(alpha));
      expect([r.code, r.stderr]).toEqual([0, '']);
      expect(JSON.parse(r.stdout).alpha).toBe(value);
    }
    const g = await studio('generate', ...model, '--max-new-tokens', '1', '--temperature', '.5', '--top-p', '5e-1', '--seed', '3');
    expect([g.code, g.stderr]).toEqual([0, '']);
    expect(JSON.parse(g.stdout).ids).toHaveLength(1);
  });
});

describe('a flag given twice is refused, naming it and both values (parseArgs would keep the last)', () => {
  const cases: [string, string[], string][] = [
    ['merge', [...trio, '--alpha', '1', '--alpha', '2', '--out', join(work, 'twice')], 'studio merge: --alpha is given twice ("1" and "2"); give it once.'],
    ['merge', [...trio, '--alpha=1', '--alpha', '-0.5', '--out', join(work, 'twice')], 'studio merge: --alpha is given twice ("1" and "-0.5"); give it once.'],
    ['merge', ['--sft', `${FIXTURES}/tiny-qwen2-sft`, ...trio, '--alpha', '1', '--out', join(work, 'twice')], `studio merge: --sft is given twice (${JSON.stringify(`${FIXTURES}/tiny-qwen2-sft`)} and ${JSON.stringify(`${FIXTURES}/tiny-qwen2-sft`)}); give it once.`],
    ['generate', ['--model', `${FIXTURES}/tiny-qwen2-sft`, '--prompt', 'hi', '--chat', '--chat', '--max-new-tokens', '1'], 'studio generate: --chat is given twice; give it once.'],
    ['forward', ['--model', `${FIXTURES}/tiny-qwen2-sft`, '--ids', '1', '--ids', '2', '--out', join(work, 'f2.json')], 'studio forward: --ids is given twice ("1" and "2"); give it once.'],
  ];
  it.each(cases)('%s %j', async (cmd, args, message) => {
    const r = await studio(cmd, ...args);
    expect([r.code, r.stdout, r.stderr]).toEqual([2, '', message + '\n']);
  });

  it('nothing is written', () => {
    expect(existsSync(join(work, 'twice'))).toBe(false);
    expect(existsSync(join(work, 'f2.json'))).toBe(false);
  });
});

describe('generate --ids with --chat', () => {
  it('is refused: a chat template wraps --prompt text, not token ids', async () => {
    const r = await studio('generate', '--model', `${FIXTURES}/demo-arith-target`, '--ids', '1,2', '--chat', '--max-new-tokens', '1');
    expect([r.code, r.stdout, r.stderr]).toEqual([2, '', 'studio generate: --chat applies the model\'s chat template to --prompt text, not to token ids; drop --chat, or give --prompt "…" instead of --ids.\n']);
  });
});

describe('parseFlags', () => {
  const specs = { alpha: { type: 'string' as const }, chat: { type: 'boolean' as const }, out: { type: 'string' as const } };
  const thrown = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(UsageError);
      return (e as Error).message;
    }
    throw new Error('did not throw');
  };

  it('a negative number is a value, in either spelling', () => {
    for (const argv of [['--alpha', '-0.5'], ['--alpha=-0.5']]) expect(parseFlags(argv, specs).flags.get('alpha')).toBe('-0.5');
    expect(parseFlags(['--alpha', '-1e-3', '--chat'], specs).flags).toEqual(new Map<string, string | true>([['alpha', '-1e-3'], ['chat', true]]));
  });

  it('a missing value, a value for a switch, stray positionals: refused with the reason', () => {
    expect(thrown(() => parseFlags(['--alpha'], specs))).toBe('--alpha needs a value.');
    expect(thrown(() => parseFlags(['--alpha', '--chat'], specs))).toBe('--alpha needs a value.');
    expect(thrown(() => parseFlags(['--out', '-x'], specs))).toBe('--out needs a value; to give one that starts with "-", write --out=-x.');
    expect(thrown(() => parseFlags(['--chat=yes'], specs))).toBe('--chat takes no value.');
    expect(thrown(() => parseFlags(['a', 'b'], specs, { maxPositionals: 1 }))).toBe('unexpected argument "b".');
    expect(thrown(() => parseFlags(['stray'], specs))).toBe('unexpected argument stray (this command takes only --flags).');
  });

  it('a repeated flag, in any spelling: refused naming it', () => {
    expect(thrown(() => parseFlags(['--alpha', '1', '--alpha=2'], specs))).toBe('--alpha is given twice ("1" and "2"); give it once.');
    expect(thrown(() => parseFlags(['--out', 'a', '--alpha', '1', '--out', 'a'], specs, { context: 'merge' }))).toBe('merge: --out is given twice ("a" and "a"); give it once.');
    expect(thrown(() => parseFlags(['--chat', '--chat'], specs))).toBe('--chat is given twice; give it once.');
  });

  it('nearestFlag: typos, swapped letters and underscores; nothing for an unrelated word', () => {
    const known = ['sft', 'rl', 'target', 'alpha', 'out', 'dtype', 'vocab-policy', 'device', 'max-new-tokens'];
    expect(nearestFlag('dtpye', known)).toBe('dtype');
    expect(nearestFlag('vocab_policy', known)).toBe('vocab-policy');
    expect(nearestFlag('alhpa', known)).toBe('alpha');
    expect(nearestFlag('max-tokens', known)).toBe('max-new-tokens');
    expect(nearestFlag('json', known)).toBeUndefined();
  });
});
