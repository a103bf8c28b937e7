/**
 * `--device` on the commands that run a model (generate, forward, eval), through the real binary.
 * The flag chooses where the *merge* runs; the model always runs on onnxruntime-node. When nothing
 * is merged (θ(α) from the model cache, or one --model checkpoint) an explicit gpu|cpu has no
 * effect, and the run says so in one stderr line instead of passing or failing by the cache's
 * state without a word; `auto` (asked for nothing) stays quiet.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const FIXTURES = join(REPO_ROOT, 'fixtures/models');
const work = mkdtempSync(join(tmpdir(), 'studio-device-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function studio(cache: string, ...args: string[]) {
  const env: NodeJS.ProcessEnv = { ...process.env, HF_ENDPOINT: '', HF_TOKEN: '', STUDIO_CACHE_DIR: cache };
  // The GPU path must see this machine as it is: no software adapter counted as a GPU.
  delete env.STUDIO_ALLOW_FALLBACK_ADAPTER;
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [join(REPO_ROOT, 'bin/studio.js'), ...args], { cwd: REPO_ROOT, env, timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

const trio = ['--sft', join(FIXTURES, 'demo-arith-sft'), '--rl', join(FIXTURES, 'demo-arith-rl'), '--target', join(FIXTURES, 'demo-arith-target'), '--alpha', '1'];
/** demo-arith at α = 1 answers 3+4= with "7" (token 22): the prompt is [18, 10, 19, 28]. */
const generate = ['generate', ...trio, '--prompt', '3+4=', '--max-new-tokens', '1'];
const SEVEN = '{"ids":[22],"text":"7","prompt_ids":[18,10,19,28],"finish_reason":"length"}\n';
const fromCache = (d: string) => `studio: --device ${d}: nothing to merge (θ(α) came from the model cache); the model runs on onnxruntime-node (cpu).\n`;

describe('--device when θ(α) comes from the model cache', () => {
  const cache = join(work, 'cache-generate');

  it('generate: a fresh cache merges on the device asked for; then gpu and cpu say they had no effect, auto stays quiet', async () => {
    // Fresh cache, --device gpu: the merge needs the GPU. Without one (here) that is exit 2 with
    // the reason; with one it merges there and says so. Either way the outcome is said.
    const gpu = await studio(cache, ...generate, '--device', 'gpu');
    if (gpu.code === 2) {
      expect([gpu.stdout, gpu.stderr]).toEqual(['', expect.stringMatching(/^studio generate: --device gpu: .+ Use --device cpu \(bit-identical\) or auto\.\n$/)]);
    } else {
      expect([gpu.code, gpu.stdout, gpu.stderr]).toEqual([0, SEVEN, expect.stringMatching(/^studio: merging on the GPU: .+ \(Dawn, in a child process\)\.\n$/)]);
    }

    // --device cpu merges when nothing is cached (silently: it did what was asked) …
    const cpuFirst = await studio(cache, ...generate, '--device', 'cpu');
    expect([cpuFirst.code, cpuFirst.stdout, cpuFirst.stderr]).toEqual([0, SEVEN, gpu.code === 2 ? '' : fromCache('cpu')]);
    // … and the identical command again merges nothing, and says so.
    const cpuAgain = await studio(cache, ...generate, '--device', 'cpu');
    expect([cpuAgain.code, cpuAgain.stdout, cpuAgain.stderr]).toEqual([0, SEVEN, fromCache('cpu')]);
    // --device gpu now passes on any machine, because no merge runs: said, not silent.
    const gpuAgain = await studio(cache, ...generate, '--device', 'gpu');
    expect([gpuAgain.code, gpuAgain.stdout, gpuAgain.stderr]).toEqual([0, SEVEN, fromCache('gpu')]);
    // auto asked for nothing in particular: quiet.
    const auto = await studio(cache, ...generate, '--device', 'auto');
    expect([auto.code, auto.stdout, auto.stderr]).toEqual([0, SEVEN, '']);
    const unset = await studio(cache, ...generate);
    expect([unset.code, unset.stdout, unset.stderr]).toEqual([0, SEVEN, '']);
  });

  it('forward and eval: the same line when θ(α) is cached', async () => {
    const c = join(work, 'cache-forward');
    const out = join(work, 'logits.json');
    const first = await studio(c, 'forward', ...trio, '--ids', '18,10,19,28', '--out', out, '--device', 'cpu');
    expect([first.code, first.stderr]).toEqual([0, '']);
    const logits = readFileSync(out, 'utf8');
    const again = await studio(c, 'forward', ...trio, '--ids', '18,10,19,28', '--out', out, '--device', 'gpu');
    expect([again.code, again.stdout, again.stderr]).toEqual([0, `{"out":${JSON.stringify(out)},"shape":[4,${JSON.parse(logits).shape[1]}]}\n`, fromCache('gpu')]);
    expect(readFileSync(out, 'utf8')).toBe(logits);

    const results = join(work, 'results.json');
    const ev = await studio(c, 'eval', ...trio, '--task', 'demo_arith', '--limit', '2', '--out', results, '--device', 'gpu');
    expect(ev.code, ev.stderr).toBe(0);
    const lines = ev.stderr.trimEnd().split('\n');
    expect(lines[0] + '\n').toBe(fromCache('gpu'));
    // Then eval's own progress lines (as many as the timing gives) and its result.
    expect(lines.slice(1).every((l) => /^demo_arith: [12]\/2 items, /.test(l) || l === 'demo_arith: acc = 1.0000 over 2 items')).toBe(true);
    expect(lines.at(-1)).toBe('demo_arith: acc = 1.0000 over 2 items');
  });
});

describe('--device with one --model checkpoint (nothing is ever merged)', () => {
  it.each(['gpu', 'cpu'])('generate --model … --device %s: exit 0 and one line saying the flag had no effect', async (d) => {
    const r = await studio(join(work, `cache-model-${d}`), 'generate', '--model', join(FIXTURES, 'demo-arith-target'), '--prompt', '3+4=', '--max-new-tokens', '1', '--device', d);
    expect([r.code, r.stderr]).toEqual([0, `studio: --device ${d}: nothing to merge (--model is one checkpoint, run as it is); the model runs on onnxruntime-node (cpu).\n`]);
    expect(JSON.parse(r.stdout).prompt_ids).toEqual([18, 10, 19, 28]);
  });

  it('generate --model … --device auto (and no --device): quiet', async () => {
    for (const extra of [['--device', 'auto'], []]) {
      const r = await studio(join(work, 'cache-model-auto'), 'generate', '--model', join(FIXTURES, 'demo-arith-target'), '--ids', '18,10,19,28', '--max-new-tokens', '1', ...extra);
      expect([r.code, r.stderr]).toEqual([0, '']);
    }
  });
});
