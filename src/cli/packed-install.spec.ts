/**
 * The CLI through the door users open: `npm pack`, install the tarball into an empty project,
 * run `npx studio …` there. Through npm's bin link argv[1] is `.bin/studio`, which is how a
 * guess about "am I the entry point?" once turned every command into a silent exit 0.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFixtureDir, type FixtureDir } from '../../test-support/fixture-dir.ts';

const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const run = promisify(execFile);

/** npm's own variables from an enclosing `npm test` would point the inner npm at this repo. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
  return { ...env, HF_ENDPOINT: '', HF_TOKEN: '', ...extra };
}

let work: string;
let app: string;
let fx: FixtureDir;

async function npx(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('npx', ['--no-install', 'studio', ...args], {
      cwd: app,
      env: cleanEnv({ STUDIO_CACHE_DIR: join(work, 'cache') }),
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout: string; stderr: string };
    return { code: err.code ?? -1, stdout: err.stdout, stderr: err.stderr };
  }
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'studio-packed-'));
  fx = makeFixtureDir('studio-packed-fixtures-', { demo: true });
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', work], { cwd: REPO_ROOT, env: cleanEnv(), maxBuffer: 64 << 20 });
  const tarball = join(work, (JSON.parse(stdout) as { filename: string }[])[0].filename);
  app = join(work, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'uses-studio', private: true }));
  // --prefer-offline: the dependencies come from npm's cache, filled by the `npm ci` before the tests.
  // onnxruntime-node's postinstall fetches GPU provider binaries the CPU path does not need
  // (and this machine cannot reach); users offline do the same (README).
  await run('npm', ['install', tarball, '--prefer-offline', '--no-audit', '--no-fund'], { cwd: app, env: cleanEnv({ ONNXRUNTIME_NODE_INSTALL: 'skip' }), timeout: 300_000 });
}, 360_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
  fx?.cleanup();
});

describe('npx studio from an installed tarball', () => {
  it('--help prints the commands on stdout, exit 0', async () => {
    const r = await npx('--help');
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    for (const c of ['inspect', 'merge', 'vector', 'forward', 'generate']) expect(r.stdout).toContain(`studio ${c} `);
  });

  it('inspect <fixture>: the JSON summary, exit 0', async () => {
    const r = await npx('inspect', fx.model('tiny-qwen2-sharded'));
    expect([r.code, r.stderr]).toEqual([0, '']);
    const s = JSON.parse(r.stdout);
    expect([s.architecture, s.dtypes, s.sharded, s.shards.length, s.tensors.length]).toEqual(['Qwen2ForCausalLM', { BF16: 26 }, true, 3, 26]);
  });

  it('merge …: writes the folder, byte-identical to the repo checkout; a misspelt flag exits 2', async () => {
    const trio = ['--sft', fx.model('tiny-qwen2-sft'), '--rl', fx.model('tiny-qwen2-rl'), '--target', fx.model('tiny-qwen2-target')];
    const out = join(work, 'merged');
    const r = await npx('merge', ...trio, '--alpha', '-0.5', '--out', out, '--device', 'cpu');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout.trim().split('\n').at(-1)!)).toMatchObject({ out, alpha: -0.5, mergedTensors: 26 });
    expect(readdirSync(out).sort()).toEqual(['config.json', 'generation_config.json', 'mergekit_config.yml', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);

    const reference = join(work, 'merged-in-repo');
    await run(process.execPath, [join(REPO_ROOT, 'bin/studio.js'), 'merge', ...trio, '--alpha=-0.5', '--out', reference, '--device', 'cpu'], { cwd: REPO_ROOT, env: cleanEnv() });
    expect(readFileSync(join(out, 'model.safetensors')).equals(readFileSync(join(reference, 'model.safetensors')))).toBe(true);

    const typo = join(work, 'typo');
    const bad = await npx('merge', ...trio, '--alpha', '1', '--out', typo, '--dtpye', 'f32');
    expect([bad.code, bad.stdout, bad.stderr]).toEqual([2, '', 'studio merge: unknown flag --dtpye; did you mean --dtype? (--help lists the flags).\n']);
    expect(existsSync(typo)).toBe(false);
  });

  it("sweep --plot and eval: the page's plot component and the eval engine work from the installed package", async () => {
    const trio = { sft: fx.model('demo-arith-sft'), rl: fx.model('demo-arith-rl'), target: fx.model('demo-arith-target') };
    writeFileSync(join(work, 'sweep.json'), JSON.stringify({ ...trio, alphas: [0, 1], tasks: [{ task: 'demo_arith', limit: 20, conditions: ['plain'] }] }));
    const sweep = await npx('sweep', '--config', join(work, 'sweep.json'), '--out', join(work, 'sweep-results.json'), '--plot', join(work, 'plot.svg'));
    expect(sweep.code, sweep.stderr).toBe(0);
    const svg = readFileSync(join(work, 'plot.svg'), 'utf8');
    expect(svg).toMatch(/^(<\?xml[^>]*>\s*)?<svg[\s\S]*<\/svg>\s*$/);
    expect(svg).toContain('data-series="v|demo_arith|plain|acc"');
    const ev = await npx('eval', '--model', fx.model('demo-arith-target'), '--task', 'demo_arith', '--limit', '10', '--out', join(work, 'eval.json'));
    expect(ev.code, ev.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(work, 'eval.json'), 'utf8')).results.demo_arith['acc,none']).toBeTypeOf('number');
  }, 300_000);
});
