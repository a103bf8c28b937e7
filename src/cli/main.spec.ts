import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BAD_FIXTURES, makeFixtureDir, MODEL_FIXTURES, type FixtureDir } from '../../test-support/fixture-dir.ts';
import { startMockHub, type MockHub } from '../../test-support/mock-hub/server.ts';
import type { CheckpointSummary } from '../engine/checkpoint/inspect-checkpoint.ts';
import { cli } from '../../test-support/cli.ts';

const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const TOKEN = 'hf_mock_gated_token';
const ENV_KEYS = ['STUDIO_CACHE_DIR', 'HF_ENDPOINT', 'HF_TOKEN'] as const;

let fx: FixtureDir;
let mock: MockHub;
let cacheDir: string;
const savedEnv: Partial<Record<(typeof ENV_KEYS)[number], string>> = {};

beforeAll(async () => {
  for (const k of ENV_KEYS) savedEnv[k] = process.env[k];
  fx = makeFixtureDir();
  cacheDir = mkdtempSync(join(tmpdir(), 'cli-cache-'));
  process.env.STUDIO_CACHE_DIR = cacheDir;
  delete process.env.HF_ENDPOINT;
  delete process.env.HF_TOKEN;
  mock = await startMockHub({
    repos: {
      'studio-fixtures/tiny-qwen2-sharded': fx.model('tiny-qwen2-sharded'),
      'studio-fixtures/gated-model': fx.model('tiny-qwen2-target'),
    },
    gated: { 'studio-fixtures/gated-model': TOKEN },
  });
});

afterEach(() => {
  delete process.env.HF_ENDPOINT;
  delete process.env.HF_TOKEN;
  process.env.STUDIO_CACHE_DIR = cacheDir;
});

afterAll(async () => {
  for (const k of ENV_KEYS) {
    if (savedEnv[k] === undefined) delete process.env[k];
    else process.env[k] = savedEnv[k];
  }
  await mock?.close();
  fx?.cleanup();
  rmSync(cacheDir, { recursive: true, force: true });
});

const EXPECTED: Record<(typeof MODEL_FIXTURES)[number], { dtype: string; sharded: boolean; tied: boolean; form: 'v4' | 'v5'; vocab: number }> = {
  'tiny-qwen2-sft': { dtype: 'BF16', sharded: false, tied: true, form: 'v4', vocab: 288 },
  'tiny-qwen2-rl': { dtype: 'BF16', sharded: false, tied: true, form: 'v4', vocab: 288 },
  'tiny-qwen2-target': { dtype: 'BF16', sharded: false, tied: true, form: 'v4', vocab: 288 },
  'tiny-qwen2-f16': { dtype: 'F16', sharded: false, tied: true, form: 'v4', vocab: 288 },
  'tiny-qwen2-f32': { dtype: 'F32', sharded: false, tied: true, form: 'v4', vocab: 288 },
  'tiny-qwen2-sharded': { dtype: 'BF16', sharded: true, tied: true, form: 'v4', vocab: 288 },
  'tiny-qwen2-untied-sft': { dtype: 'BF16', sharded: false, tied: false, form: 'v4', vocab: 288 },
  'tiny-qwen2-untied-rl': { dtype: 'BF16', sharded: false, tied: false, form: 'v4', vocab: 288 },
  'tiny-qwen2-untied-target': { dtype: 'BF16', sharded: false, tied: false, form: 'v4', vocab: 288 },
  'tiny-qwen2-v5': { dtype: 'BF16', sharded: false, tied: true, form: 'v5', vocab: 288 },
  'tiny-qwen2-vocab320-target': { dtype: 'BF16', sharded: false, tied: true, form: 'v4', vocab: 320 },
};

const TORCH: Record<string, string> = { BF16: 'bfloat16', F16: 'float16', F32: 'float32' };

describe('studio inspect on fixtures', () => {
  it.each(MODEL_FIXTURES)('%s: exit 0 and the right summary', async (name) => {
    const exp = EXPECTED[name];
    const { code, stdout, stderr } = await cli('inspect', fx.model(name));
    expect([code, stderr]).toEqual([0, []]);
    expect(stdout.length).toBe(1);
    const s = JSON.parse(stdout[0]) as CheckpointSummary;
    const count = exp.tied ? 26 : 27;
    const bytesPer = exp.dtype === 'F32' ? 4 : 2;
    // hidden 16, 4 heads × 4, 2 KV heads (8 wide), intermediate 32, 2 layers.
    const perLayer = 16 * 16 + 16 /* q */ + 2 * (8 * 16 + 8) /* k, v */ + 16 * 16 /* o */ + 3 * 32 * 16 /* mlp */ + 2 * 16; /* norms */
    const params = 2 * perLayer + 16 /* final norm */ + exp.vocab * 16 * (exp.tied ? 1 : 2);
    expect({
      source: s.source,
      revision: s.revision,
      architecture: s.architecture,
      modelType: s.modelType,
      configForm: s.configForm,
      configDtype: s.configDtype,
      dtypes: s.dtypes,
      sharded: s.sharded,
      tiedEmbeddings: s.tiedEmbeddings,
      shards: s.shards.map((x) => [x.file, x.tensors]),
      parameters: s.parameters,
      totalTensorBytes: s.totalTensorBytes,
      tensors: s.tensors.length,
      vocab: s.config.vocabSize,
      layers: s.config.numLayers,
      tokenizerFiles: s.tokenizerFiles,
    }).toEqual({
      source: name,
      revision: null,
      architecture: 'Qwen2ForCausalLM',
      modelType: 'qwen2',
      configForm: exp.form,
      configDtype: TORCH[exp.dtype],
      dtypes: { [exp.dtype]: count },
      sharded: exp.sharded,
      tiedEmbeddings: exp.tied,
      shards: exp.sharded
        ? readdirSync(fx.model(name))
            .filter((f) => f.endsWith('.safetensors'))
            .sort()
            .map((f) => [f, expect.any(Number)])
        : [['model.safetensors', count]],
      parameters: params,
      totalTensorBytes: params * bytesPer,
      tensors: count,
      vocab: exp.vocab,
      layers: 2,
      tokenizerFiles: ['tokenizer.json', 'tokenizer_config.json', 'generation_config.json'],
    });
    if (exp.sharded) expect(s.shards.reduce((a, x) => a + x.tensors, 0)).toBe(26);
  });

  const BAD_LINES: Record<(typeof BAD_FIXTURES)[number], RegExp> = {
    'header-too-long': /^studio inspect: header-too-long\/model\.safetensors: header length field says \d+ bytes, so header and prefix need \d+, but the file has only \d+: it is truncated or not safetensors; re-download it\.$/,
    'bad-json': /^studio inspect: bad-json\/model\.safetensors: header is not valid UTF-8 JSON \(.+\); the file is corrupt\.$/,
    'f8-dtype': /^studio inspect: f8-dtype\/model\.safetensors: tensor "model\.layers\.0\.mlp\.up_proj\.weight" has dtype F8_E4M3; the studio merges BF16, F16 and F32 only\. Use an unquantised checkpoint \(or convert it to bf16\/f16\/f32 first\)\.$/,
    'shape-size-mismatch': /^studio inspect: shape-size-mismatch\/model\.safetensors: tensor "model\.layers\.0\.self_attn\.k_proj\.bias": shape \[9\] × BF16 needs 18 bytes but data_offsets \[\d+, \d+\] span 16; the file is corrupt\.$/,
    'overlapping-spans': /^studio inspect: overlapping-spans\/model\.safetensors: tensor "model\.norm\.weight": data overlaps tensor "model\.layers\.1\.self_attn\.v_proj\.weight"; the file is corrupt\.$/,
    'out-of-range-span': /^studio inspect: out-of-range-span\/model\.safetensors: tensor "model\.norm\.weight": data_offsets \[\d+, \d+\] run past the end of the data \(\d+ bytes\); the file is truncated — re-download it\.$/,
    'missing-config': /^studio inspect: missing-config: config\.json: is missing; a checkpoint needs the config\.json saved next to its safetensors \(use the whole model folder, not only its weight files\)\.$/,
    'missing-shard': /^studio inspect: missing-shard: model\.safetensors\.index\.json: names shard "model-00002-of-00003\.safetensors", which is not in the checkpoint; re-download the missing shard or fix the index\.$/,
  };

  it.each(BAD_FIXTURES)('bad/%s: exit 2 and exactly one stderr line naming the file', async (name) => {
    const { code, stdout, stderr } = await cli('inspect', fx.bad(name));
    expect(code).toBe(2);
    expect(stdout).toEqual([]);
    expect(stderr.length).toBe(1);
    expect(stderr[0]).not.toContain('\n');
    // The folder is named by the path as typed (here absolute); the rest of the line as below.
    const typed = `studio inspect: ${fx.bad(name)}`;
    expect(stderr[0].startsWith(typed)).toBe(true);
    expect(`studio inspect: ${name}${stderr[0].slice(typed.length)}`).toMatch(BAD_LINES[name]);
  });
});

describe('usage errors', () => {
  it('unknown command: exit 2, one line pointing at --help', async () => {
    expect(await cli('frobnicate', 'x')).toEqual({
      code: 2,
      stdout: [],
      stderr: ['studio: unknown command "frobnicate" (studio --help lists the commands).'],
    });
  });

  it('missing or extra arguments: exit 2, one line', async () => {
    expect(await cli('inspect')).toEqual({ code: 2, stdout: [], stderr: ['studio inspect: inspect takes exactly one source.'] });
    expect(await cli('inspect', 'a', 'b')).toEqual({ code: 2, stdout: [], stderr: ['studio inspect: unexpected argument "b".'] });
    const none = await cli();
    expect([none.code, none.stdout, none.stderr[0].split('\n')[0]]).toEqual([2, [], 'usage: studio <command> [flags]   (studio <command> --help for its flags)']);
    const help = await cli('--help');
    expect([help.code, help.stderr, help.stdout[0].split('\n')[0]]).toEqual([0, [], 'usage: studio <command> [flags]   (studio <command> --help for its flags)']);
  });

  it('a nonexistent folder and a malformed hub id: exit 2, one line', async () => {
    const missing = join(fx.root, 'nope');
    expect(await cli('inspect', missing)).toEqual({
      code: 2,
      stdout: [],
      stderr: [`studio inspect: ${missing}: no such folder. Give a checkpoint folder or hf:owner/name.`],
    });
    expect(await cli('inspect', 'hf:not a repo')).toEqual({
      code: 2,
      stdout: [],
      stderr: ['studio inspect: "hf:not a repo" is not a Hugging Face model id: expected owner/name or owner/name@revision.'],
    });
  });
});

describe('studio inspect over the Hub (HF_ENDPOINT → mock)', () => {
  it('hf:studio-fixtures/tiny-qwen2-sharded: exit 0, revision is the mock commit', async () => {
    process.env.HF_ENDPOINT = mock.url;
    const res = await fetch(`${mock.url}/api/models/studio-fixtures/tiny-qwen2-sharded/revision/main`);
    const sha = ((await res.json()) as { sha: string }).sha;
    const { code, stdout, stderr } = await cli('inspect', 'hf:studio-fixtures/tiny-qwen2-sharded');
    expect([code, stderr]).toEqual([0, []]);
    const s = JSON.parse(stdout[0]) as CheckpointSummary;
    expect(s.revision).toBe(sha);
    expect(s.revision).toMatch(/^[0-9a-f]{40}$/);
    expect(s.source).toBe(`hf:studio-fixtures/tiny-qwen2-sharded@${sha}`);
    expect([s.sharded, s.tensors.length]).toEqual([true, 26]);
    const pinned = await cli('inspect', `hf:studio-fixtures/tiny-qwen2-sharded@${sha}`);
    expect(pinned.code).toBe(0);
    expect(JSON.parse(pinned.stdout[0])).toEqual(s);
  });

  it('a gated repo: exit 2 mentioning the licence without HF_TOKEN, exit 0 with it; the token is never printed', async () => {
    process.env.HF_ENDPOINT = mock.url;
    const denied = await cli('inspect', 'hf:studio-fixtures/gated-model');
    expect(denied.code).toBe(2);
    expect(denied.stderr).toEqual([
      'studio inspect: studio-fixtures/gated-model: access denied (HTTP 401). The repo is gated or private: accept its licence on the Hub page of studio-fixtures/gated-model and provide a token with read access (Settings, or HF_TOKEN).',
    ]);
    process.env.HF_TOKEN = TOKEN;
    const ok = await cli('inspect', 'hf:studio-fixtures/gated-model');
    expect([ok.code, ok.stderr]).toEqual([0, []]);
    expect(JSON.parse(ok.stdout[0]).tensors.length).toBe(26);
    expect(ok.stdout.join('\n')).not.toContain(TOKEN);
    expect(JSON.stringify(mock.requests)).not.toContain(TOKEN);
  });

  it('an unknown repo: exit 2 saying not found', async () => {
    process.env.HF_ENDPOINT = mock.url;
    expect(await cli('inspect', 'hf:studio-fixtures/nothing-here')).toEqual({
      code: 2,
      stdout: [],
      stderr: ['studio inspect: studio-fixtures/nothing-here: not found on the Hub (HTTP 404). Check the owner/name spelling and the revision.'],
    });
  });
});

describe('the real binary', () => {
  const run = promisify(execFile);
  const studio = async (...args: string[]) => {
    try {
      const { stdout, stderr } = await run(process.execPath, [join(REPO_ROOT, 'bin/studio.js'), ...args], {
        cwd: REPO_ROOT,
        env: { ...process.env, STUDIO_CACHE_DIR: cacheDir, HF_ENDPOINT: '', HF_TOKEN: '' },
        timeout: 30_000,
      });
      return { code: 0, stdout, stderr };
    } catch (e) {
      const err = e as { code?: number; stdout: string; stderr: string };
      return { code: err.code, stdout: err.stdout, stderr: err.stderr };
    }
  };

  it('node bin/studio.js inspect: exit 0 on a fixture, 2 on a bad one', async () => {
    const [good, bad] = await Promise.all([studio('inspect', fx.model('tiny-qwen2-v5')), studio('inspect', fx.bad('f8-dtype'))]);
    expect([good.code, good.stderr]).toEqual([0, '']);
    const s = JSON.parse(good.stdout) as CheckpointSummary;
    expect([s.source, s.configForm, s.architecture, s.tensors.length]).toEqual(['tiny-qwen2-v5', 'v5', 'Qwen2ForCausalLM', 26]);
    expect([bad.code, bad.stdout]).toEqual([2, '']);
    expect(bad.stderr).toBe(
      `studio inspect: ${fx.bad('f8-dtype')}/model.safetensors: tensor "model.layers.0.mlp.up_proj.weight" has dtype F8_E4M3; the studio merges BF16, F16 and F32 only. Use an unquantised checkpoint (or convert it to bf16/f16/f32 first).\n`,
    );
  });
});
