/**
 * `studio inspect <folder>` through the door: its errors name the folder by the path as typed,
 * as merge/vector/export-onnx do (three donors are often a/ckpt, b/ckpt, c/ckpt, and "ckpt"
 * names none), while the JSON summary's `source` stays the folder's name.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFixtureDir, type FixtureDir } from '../../test-support/fixture-dir.ts';

const BIN = resolve(fileURLToPath(new URL('../../bin/studio.js', import.meta.url)));
let fx: FixtureDir;
let work: string;

beforeAll(() => {
  fx = makeFixtureDir('studio-inspect-path-');
  work = mkdtempSync(join(tmpdir(), 'studio-inspect-path-'));
  // a/ckpt is a good checkpoint, b/ckpt one with an f8 tensor, c/ckpt one without config.json.
  cpSync(fx.model('tiny-qwen2-v5'), join(work, 'a', 'ckpt'), { recursive: true });
  cpSync(fx.bad('f8-dtype'), join(work, 'b', 'ckpt'), { recursive: true });
  cpSync(fx.bad('missing-config'), join(work, 'c', 'ckpt'), { recursive: true });
  mkdirSync(join(work, 'cache'));
}, 120_000);
afterAll(() => {
  fx?.cleanup();
  rmSync(work, { recursive: true, force: true });
});

/** `node bin/studio.js inspect <path>` run from `work`, so a relative path is typed relative to it. */
async function inspect(path: string): Promise<{ code: number | undefined; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [BIN, 'inspect', path], {
      cwd: work,
      env: { ...process.env, HF_ENDPOINT: '', HF_TOKEN: '', STUDIO_CACHE_DIR: join(work, 'cache') },
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

const F8 = 'model.safetensors: tensor "model.layers.0.mlp.up_proj.weight" has dtype F8_E4M3; the studio merges BF16, F16 and F32 only. Use an unquantised checkpoint (or convert it to bf16/f16/f32 first).';
const NO_CONFIG = 'config.json: is missing; a checkpoint needs the config.json saved next to its safetensors (use the whole model folder, not only its weight files).';

describe('studio inspect names a folder by the path as typed', () => {
  it.each([
    ['b/ckpt', `studio inspect: b/ckpt/${F8}\n`],
    ['./b/ckpt/', `studio inspect: ./b/ckpt/${F8}\n`],
    ['c/ckpt', `studio inspect: c/ckpt: ${NO_CONFIG}\n`],
    ['c/ckpt//', `studio inspect: c/ckpt: ${NO_CONFIG}\n`],
    ['d/ckpt', 'studio inspect: d/ckpt: no such folder. Give a checkpoint folder or hf:owner/name.\n'],
  ])('%s: exit 2, one line naming the path as typed (a trailing slash dropped)', async (typed, line) => {
    expect(await inspect(typed)).toEqual({ code: 2, stdout: '', stderr: line });
  });

  it('an absolute path is named whole', async () => {
    const abs = join(work, 'b', 'ckpt');
    expect(await inspect(abs)).toEqual({ code: 2, stdout: '', stderr: `studio inspect: ${abs}/${F8}\n` });
  });

  it("a good folder's summary keeps source = the folder's name", async () => {
    const r = await inspect('a/ckpt/');
    expect([r.code, r.stderr]).toEqual([0, '']);
    const s = JSON.parse(r.stdout) as { source: string; architecture: string; tensors: unknown[] };
    expect([s.source, s.architecture, s.tensors.length]).toEqual(['ckpt', 'Qwen2ForCausalLM', 26]);
  });
});
