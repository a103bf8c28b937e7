import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFixtureDir, type FixtureDir } from '../../test-support/fixture-dir.ts';
import { decode, referenceMerge } from '../../test-support/merge-reference.ts';
import { startMockHub, type MockHub } from '../../test-support/mock-hub/server.ts';
import { readModelFolder } from '../../test-support/read-safetensors.ts';
import type { SupportedDtype } from '../engine/safetensors/dtypes.ts';
import { cli } from '../../test-support/cli.ts';

const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const TOKEN = 'hf_mock_gated_token';
let fx: FixtureDir;
let work: string;
let mock: MockHub;
let n = 0;
const out = () => join(work, `o${++n}`);

beforeAll(async () => {
  fx = makeFixtureDir();
  work = mkdtempSync(join(tmpdir(), 'cli-merge-'));
  process.env.STUDIO_CACHE_DIR = join(work, 'cache');
  mock = await startMockHub({
    repos: {
      'studio-fixtures/tiny-qwen2-sft': fx.model('tiny-qwen2-sft'),
      'studio-fixtures/tiny-qwen2-rl': fx.model('tiny-qwen2-rl'),
      'studio-fixtures/gated-model': fx.model('tiny-qwen2-target'),
    },
    gated: { 'studio-fixtures/gated-model': TOKEN },
  });
});
afterAll(async () => {
  delete process.env.STUDIO_CACHE_DIR;
  delete process.env.HF_ENDPOINT;
  delete process.env.HF_TOKEN;
  await mock?.close();
  fx?.cleanup();
  rmSync(work, { recursive: true, force: true });
});

const trio = () => ['--sft', fx.model('tiny-qwen2-sft'), '--rl', fx.model('tiny-qwen2-rl'), '--target', fx.model('tiny-qwen2-target')];

describe('studio merge', () => {
  it('merges the fixture trio: exit 0, a summary JSON on stdout, every tensor bit-exact against the reference', async () => {
    const dir = out();
    const { code, stdout, stderr } = await cli('merge', ...trio(), '--alpha', '-0.5', '--out', dir, '--device', 'cpu');
    expect([code, stderr]).toEqual([0, []]);
    const summary = JSON.parse(stdout.at(-1)!);
    expect(summary).toMatchObject({ out: dir, alpha: -0.5, merger: 'cpu', tensors: 26, mergedTensors: 26, nonFinite: [] });
    const [S, R, T, O] = [fx.model('tiny-qwen2-sft'), fx.model('tiny-qwen2-rl'), fx.model('tiny-qwen2-target'), dir].map(readModelFolder);
    for (const [name, t] of T) {
      const d = (x: { bytes: Uint8Array; dtype: string }) => decode(x.bytes, x.dtype as SupportedDtype);
      expect(Buffer.from(O.get(name)!.bytes).equals(Buffer.from(referenceMerge(d(t), d(S.get(name)!), d(R.get(name)!), -0.5, 'BF16'))), name).toBe(true);
    }
    const recipe = parse(readFileSync(join(dir, 'mergekit_config.yml'), 'utf8'));
    expect(recipe.base_model).toBe(fx.model('tiny-qwen2-target'));
    expect(recipe.models.map((m: { parameters: { weight: number } }) => m.parameters.weight)).toEqual([1, 0.5, -0.5]);
  });

  it('without --device: auto, which says once on stderr which path it took (src/cli/gpu-child/device-flag.spec.ts checks which is right)', async () => {
    const { code, stderr } = await cli('merge', ...trio(), '--alpha', '1', '--out', out());
    expect(code).toBe(0);
    expect(stderr).toHaveLength(1);
    expect(stderr[0]).toMatch(/^studio: (no usable GPU: .*; merging with the CPU path \(bit-identical to the WGSL kernels\)|merging on the GPU: .* \(Dawn, in a child process\))\.$/);
  });

  for (const bad of ['nan', 'NaN', 'inf', '-Infinity', 'abc', '', '1e999', '0x']) {
    it(`--alpha "${bad}": exit 2, one line, nothing written`, async () => {
      const dir = out();
      const { code, stdout, stderr } = await cli('merge', ...trio(), `--alpha=${bad}`, '--out', dir);
      expect([code, stdout, stderr.length]).toEqual([2, [], 1]);
      expect(stderr[0]).toMatch(/^studio merge: --alpha must be a finite number/);
      expect(existsSync(dir)).toBe(false);
    });
  }

  it('bad flags: missing --target, bad --dtype, bad --vocab-policy, non-empty --out: exit 2, one line each', async () => {
    const cases = [
      [['merge', '--sft', fx.model('tiny-qwen2-sft'), '--rl', fx.model('tiny-qwen2-rl'), '--alpha', '1', '--out', out()], /--target is required/],
      [['merge', ...trio(), '--alpha', '1', '--out', out(), '--dtype', 'fp8'], /--dtype must be bf16, f16 or f32, got "fp8"/],
      [['merge', ...trio(), '--alpha', '1', '--out', out(), '--vocab-policy', 'pad'], /--vocab-policy must be refuse or overlap/],
      [['merge', ...trio(), '--alpha', '1', '--out', fx.model('tiny-qwen2-sft')], /exists and is not empty/],
    ] as const;
    for (const [argv, msg] of cases) {
      const r = await cli(...argv);
      expect([r.code, r.stderr.length], argv.join(' ')).toEqual([2, 1]);
      expect(r.stderr[0]).toMatch(msg);
    }
  });

  it('a resized target vocabulary: exit 2 naming the tensor and shapes; --vocab-policy overlap merges', async () => {
    const args = ['--sft', fx.model('tiny-qwen2-sft'), '--rl', fx.model('tiny-qwen2-rl'), '--target', fx.model('tiny-qwen2-vocab320-target'), '--alpha', '1'];
    const dir = out();
    const refused = await cli('merge', ...args, '--out', dir);
    expect(refused.code).toBe(2);
    expect(refused.stderr[0]).toMatch(/"model\.embed_tokens\.weight" shapes differ: SFT \[288, 16\], RL \[288, 16\], target \[320, 16\]/);
    expect(existsSync(dir)).toBe(false);
    const ok = await cli('merge', ...args, '--out', dir, '--vocab-policy', 'overlap', '--device', 'cpu');
    expect(ok.code).toBe(0);
    expect(ok.stderr.join('\n')).toMatch(/note: model\.embed_tokens\.weight: vocab policy "overlap"/);
    expect(readModelFolder(dir).get('model.embed_tokens.weight')!.shape).toEqual([320, 16]);
  });

  it('over the (mock) Hub with a gated target: recipe names repos pinned to their commit, the token appears nowhere', async () => {
    process.env.HF_ENDPOINT = mock.url;
    process.env.HF_TOKEN = TOKEN;
    const dir = out();
    const { code, stdout, stderr } = await cli(
      'merge', '--sft', 'hf:studio-fixtures/tiny-qwen2-sft', '--rl', 'hf:studio-fixtures/tiny-qwen2-rl', '--target', 'hf:studio-fixtures/gated-model', '--alpha', '1', '--out', dir, '--device', 'cpu',
    );
    delete process.env.HF_TOKEN;
    delete process.env.HF_ENDPOINT;
    expect([code, stderr]).toEqual([0, []]);
    const recipe = parse(readFileSync(join(dir, 'mergekit_config.yml'), 'utf8'));
    expect(recipe.base_model).toMatch(/^studio-fixtures\/gated-model@[0-9a-f]{40}$/);
    expect(recipe.models[1].model).toMatch(/^studio-fixtures\/tiny-qwen2-sft@[0-9a-f]{40}$/);
    for (const f of readdirSync(dir)) expect(readFileSync(join(dir, f)).includes(TOKEN), f).toBe(false);
    expect(stdout.join('\n')).not.toContain(TOKEN);
    // Same bytes as merging the local folders.
    const local = out();
    expect((await cli('merge', ...trio(), '--alpha', '1', '--out', local, '--device', 'cpu')).code).toBe(0);
    expect(readFileSync(join(dir, 'model.safetensors')).equals(readFileSync(join(local, 'model.safetensors')))).toBe(true);
  });
});

describe('studio vector', () => {
  it('writes the vector in F32 with reasoning_vector.json; `studio inspect` opens the folder', async () => {
    const dir = out();
    const { code, stdout } = await cli('vector', '--sft', fx.model('tiny-qwen2-sft'), '--rl', fx.model('tiny-qwen2-rl'), '--out', dir, '--device', 'cpu');
    expect(code).toBe(0);
    const summary = JSON.parse(stdout.at(-1)!);
    expect(summary.vector.normV).toBeGreaterThan(0);
    expect(readdirSync(dir).sort()).toEqual(['config.json', 'model.safetensors', 'reasoning_vector.json']);
    const inspected = await cli('inspect', dir);
    expect(inspected.code).toBe(0);
    expect(JSON.parse(inspected.stdout[0]).dtypes).toEqual({ F32: 26 });
  });
});

describe('the real binary', () => {
  it('node bin/studio.js merge: exit 0 and a folder; --alpha nan: exit 2', async () => {
    const run = promisify(execFile);
    const dir = out();
    const ok = await run(process.execPath, [join(REPO_ROOT, 'bin/studio.js'), 'merge', ...trio(), '--alpha', '0.25', '--out', dir, '--device', 'cpu'], { cwd: REPO_ROOT });
    expect(JSON.parse(ok.stdout.trim().split('\n').at(-1)!).alpha).toBe(0.25);
    const bad = await run(process.execPath, [join(REPO_ROOT, 'bin/studio.js'), 'merge', ...trio(), '--alpha', 'nan', '--out', out()], { cwd: REPO_ROOT }).catch((e) => e);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe('--device', () => {
  // gpu and auto on this machine, with and without a GPU: src/cli/gpu-child/device-flag.spec.ts.
  it('a bad value: exit 2', async () => {
    const bad = await cli('merge', ...trio(), '--alpha', '1', '--out', out(), '--device', 'tpu');
    expect([bad.code, bad.stderr]).toEqual([2, ['studio merge: --device must be auto, gpu or cpu, got "tpu".']]);
  });
});
