/**
 * Errors about a command's sources, through the real binary: a folder is named by its path as
 * typed (three donors are often a/ckpt, b/ckpt, c/ckpt, and "ckpt" names none of them) and the
 * role's flag comes first, so the line says which of the sources to fix. The advice is the CLI's
 * (give the whole folder), not the page's.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockHub, type MockHub } from '../../test-support/mock-hub/server.ts';

const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const FIXTURES = join(REPO_ROOT, 'fixtures/models');
const work = mkdtempSync(join(tmpdir(), 'studio-source-errors-'));
/** The commands run here, so the sources are the relative paths ../a/ckpt, ../b/ckpt, … */
const cwd = join(work, 'run');
let mock: MockHub;
/** What the truncated b/ckpt/model.safetensors must be reported as, from its own header. */
let truncated: { tensor: string; offsets: [number, number]; dataBytes: number };

beforeAll(async () => {
  mkdirSync(cwd);
  mkdirSync(join(work, 'empty'));
  for (const [dir, fixture] of [['a', 'tiny-qwen2-sft'], ['b', 'tiny-qwen2-rl'], ['c', 'tiny-qwen2-target'], ['d', 'tiny-qwen2-target']]) {
    cpSync(join(FIXTURES, fixture), join(work, dir, 'ckpt'), { recursive: true });
  }
  unlinkSync(join(work, 'd/ckpt/config.json'));
  // Cut half of the last-stored tensor off b's weights: only that tensor runs past the end then.
  const file = join(work, 'b/ckpt/model.safetensors');
  const bytes = readFileSync(file);
  const headerBytes = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + headerBytes).toString('utf8')) as Record<string, { data_offsets: [number, number] }>;
  const [tensor, { data_offsets }] = Object.entries(header)
    .filter(([k]) => k !== '__metadata__')
    .reduce((a, b) => (b[1].data_offsets[1] > a[1].data_offsets[1] ? b : a));
  const cut = Math.floor((data_offsets[1] - data_offsets[0]) / 2);
  expect(cut).toBeGreaterThan(0);
  truncateSync(file, statSync(file).size - cut);
  truncated = { tensor, offsets: data_offsets, dataBytes: bytes.length - cut - 8 - headerBytes };
  mock = await startMockHub({ repos: { 'studio-fixtures/tiny-qwen2-sft': join(FIXTURES, 'tiny-qwen2-sft') } });
});
afterAll(async () => {
  await mock?.close();
  rmSync(work, { recursive: true, force: true });
});

async function studio(...args: string[]) {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [join(REPO_ROOT, 'bin/studio.js'), ...args], {
      cwd,
      env: { ...process.env, HF_ENDPOINT: mock.url, HF_TOKEN: '', STUDIO_CACHE_DIR: join(work, 'cache') },
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

const truncatedLine = (command: string, flag: string) =>
  `studio ${command}: ${flag} ../b/ckpt: model.safetensors: tensor "${truncated.tensor}": data_offsets [${truncated.offsets.join(', ')}] run past the end of the data (${truncated.dataBytes} bytes); the file is truncated — re-download it.\n`;
const MISSING_CONFIG = 'config.json: is missing; a checkpoint needs the config.json saved next to its safetensors (use the whole model folder, not only its weight files).';

describe('an error about one of three folders that share a name names its flag and its path', () => {
  const out = () => join(work, `out-${Math.random().toString(36).slice(2)}`);

  it('merge: the truncated --rl, by its flag and ../b/ckpt', async () => {
    const r = await studio('merge', '--sft', '../a/ckpt', '--rl', '../b/ckpt', '--target', '../c/ckpt', '--alpha', '1', '--out', out(), '--device', 'cpu');
    expect([r.code, r.stdout, r.stderr]).toEqual([2, '', truncatedLine('merge', '--rl')]);
  });

  it('vector, generate --model, forward: the same line with their flag', async () => {
    const vector = await studio('vector', '--sft', '../a/ckpt', '--rl', '../b/ckpt', '--out', out(), '--device', 'cpu');
    expect([vector.code, vector.stdout, vector.stderr]).toEqual([2, '', truncatedLine('vector', '--rl')]);
    const generate = await studio('generate', '--model', '../b/ckpt', '--ids', '1,2', '--max-new-tokens', '1');
    expect([generate.code, generate.stdout, generate.stderr]).toEqual([2, '', truncatedLine('generate', '--model')]);
    const forward = await studio('forward', '--sft', '../b/ckpt', '--rl', '../a/ckpt', '--target', '../c/ckpt', '--alpha', '1', '--ids', '1,2', '--out', join(work, 'f.json'));
    expect([forward.code, forward.stdout, forward.stderr]).toEqual([2, '', truncatedLine('forward', '--sft')]);
  });

  it('a folder with no config.json: its flag and path (a trailing slash dropped), and advice for the command line', async () => {
    const r = await studio('merge', '--sft', '../a/ckpt', '--rl', '../c/ckpt', '--target', '../d/ckpt/', '--alpha', '1', '--out', out());
    expect([r.code, r.stdout, r.stderr]).toEqual([2, '', `studio merge: --target ../d/ckpt: ${MISSING_CONFIG}\n`]);
    expect(r.stderr).not.toContain('drop');
  });

  it('an absolute path that is not a checkpoint (--sft /…/empty): named whole, not by its last component', async () => {
    const empty = join(work, 'empty');
    const r = await studio('merge', '--sft', empty, '--rl', '../b/ckpt/', '--target', '../c/ckpt', '--alpha', '1', '--out', out());
    // Both --sft and --rl are bad here; which is met first is a race, and either line is exact.
    expect([r.code, r.stdout]).toEqual([2, '']);
    expect([`studio merge: --sft ${empty}: ${MISSING_CONFIG}\n`, truncatedLine('merge', '--rl')]).toContain(r.stderr);
    const alone = await studio('generate', '--model', empty, '--ids', '1', '--max-new-tokens', '1');
    expect([alone.code, alone.stdout, alone.stderr]).toEqual([2, '', `studio generate: --model ${empty}: ${MISSING_CONFIG}\n`]);
  });

  it('a folder that is not there, or a file: the flag, then the path', async () => {
    const missing = await studio('merge', '--sft', '../a/ckpt', '--rl', '../a/ckpt', '--target', '../nope', '--alpha', '1', '--out', out());
    expect([missing.code, missing.stderr]).toEqual([2, 'studio merge: --target ../nope: no such folder. Give a checkpoint folder or hf:owner/name.\n']);
    const file = await studio('generate', '--model', '../a/ckpt/config.json', '--ids', '1', '--max-new-tokens', '1');
    expect([file.code, file.stderr]).toEqual([2, 'studio generate: --model ../a/ckpt/config.json is a file; give the folder that holds config.json and the safetensors.\n']);
  });

  it('a Hub source: the flag, then the repo once', async () => {
    const r = await studio('merge', '--sft', 'hf:studio-fixtures/tiny-qwen2-sft', '--rl', 'hf:studio-fixtures/nothing-here', '--target', '../c/ckpt', '--alpha', '1', '--out', out());
    expect([r.code, r.stdout, r.stderr]).toEqual([2, '', 'studio merge: --rl studio-fixtures/nothing-here: not found on the Hub (HTTP 404). Check the owner/name spelling and the revision.\n']);
  });

  it('inspect (one source, no flag) names the folder by the path as typed', async () => {
    const r = await studio('inspect', '../d/ckpt');
    expect([r.code, r.stderr]).toEqual([2, `studio inspect: ../d/ckpt: ${MISSING_CONFIG}\n`]);
  });
});
