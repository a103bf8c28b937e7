/**
 * The CLI on native onnxruntime (onnxruntime-node, weights as ONNX external data in the cache
 * folder), through the binary users run: its logits against the page's no-WebGPU path
 * (onnxruntime-web's WASM build, STUDIO_ORT_PROVIDER=wasm) and the float64 reference forward
 * pass; the cached model reused while its sources are unchanged and rebuilt when they change;
 * and a Qwen2.5-0.5B-shaped trio merged on the fly within its memory bound.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureRealSizeTrio, realSizeStats } from '../../scripts/bench/real-size-trio.ts';
import { makeFixtureDir, type FixtureDir } from '../../test-support/fixture-dir.ts';
import { decode, referenceMerge } from '../../test-support/merge-reference.ts';
import { readModelFolder, refConfigOf } from '../../test-support/read-safetensors.ts';
import { referenceForward } from '../../test-support/reference-forward.ts';
import type { SupportedDtype } from '../engine/safetensors/dtypes.ts';

const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

let fx: FixtureDir;
let work: string;
let n = 0;
const tmp = (name: string) => join(work, `${++n}-${name}`);
beforeAll(() => {
  fx = makeFixtureDir();
  work = mkdtempSync(join(tmpdir(), 'native-runtime-'));
});
afterAll(() => {
  fx?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  /** Peak resident memory of the command, bytes. */
  peakRss: number;
}

/** `node bin/studio.js …` as a child process, with its peak RSS (test-support/peak-rss.mjs). */
function studio(args: string[], env: Record<string, string>, timeout = 60_000): Promise<Run> {
  const rssFile = tmp('rss');
  return new Promise((done) => {
    execFile(
      process.execPath,
      ['--import', join(REPO_ROOT, 'test-support/peak-rss.mjs'), join(REPO_ROOT, 'bin/studio.js'), ...args],
      { cwd: REPO_ROOT, env: { ...process.env, HF_ENDPOINT: '', HF_TOKEN: '', PEAK_RSS_FILE: rssFile, ...env }, timeout, maxBuffer: 64 << 20 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        done({ code, stdout, stderr, peakRss: existsSync(rssFile) ? Number(readFileSync(rssFile, 'utf8')) : NaN });
      },
    );
  });
}

/** `studio forward` on one provider; the logits it wrote. */
async function forward(provider: 'cpu' | 'wasm', model: string[], ids: number[], cache: string, stderr = ''): Promise<{ shape: [number, number]; data: number[] }> {
  const out = tmp(`${provider}.json`);
  const r = await studio(['forward', ...model, '--ids', ids.join(','), '--out', out], { STUDIO_ORT_PROVIDER: provider, STUDIO_CACHE_DIR: cache });
  expect([r.code, r.stderr]).toEqual([0, stderr]);
  return JSON.parse(readFileSync(out, 'utf8'));
}

/** The line an explicit --device prints when θ(α) comes from the model cache (no merge runs). */
const CACHED_CPU = 'studio: --device cpu: nothing to merge (θ(α) came from the model cache); the model runs on onnxruntime-node (cpu).\n';

function maxDiff(got: number[], want: ArrayLike<number>[]): number {
  const V = want[0].length;
  let m = 0;
  want.forEach((row, t) => {
    for (let i = 0; i < V; i++) m = Math.max(m, Math.abs(got[t * V + i] - row[i]));
  });
  return m;
}

const weightsOf = (dir: string) => new Map([...readModelFolder(dir)].map(([k, t]) => [k, Float64Array.from(decode(t.bytes, t.dtype as SupportedDtype))]));

/** θ(α) as the merge defines it (float32 compute), for the reference forward pass. */
function mergedWeights(sft: string, rl: string, target: string, alpha: number) {
  const [s, r, t] = [sft, rl, target].map(readModelFolder);
  const out = new Map<string, Float64Array>();
  for (const [name, tt] of t) {
    const bytes = referenceMerge(decode(tt.bytes, tt.dtype as SupportedDtype), decode(s.get(name)!.bytes, s.get(name)!.dtype as SupportedDtype), decode(r.get(name)!.bytes, r.get(name)!.dtype as SupportedDtype), alpha, 'F32');
    out.set(name, Float64Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4)));
  }
  return out;
}

// Fixture logits are O(0.4); float32 ORT vs the float64 reference agree to ~1e-7 (decoder-model.spec.ts).
const TOL = 1e-5;
const IDS = [283, 10, 20, 30, 284, 7];

describe('studio forward: onnxruntime-node (external data) against onnxruntime-web WASM and the float64 reference', () => {
  for (const name of ['tiny-qwen2-target', 'tiny-qwen2-untied-target', 'tiny-qwen2-v5']) {
    it(`${name}: both providers within ${TOL} of each other and of the reference`, async () => {
      const dir = fx.model(name);
      const cache = tmp('cache');
      const [cpu, wasm] = await Promise.all([forward('cpu', ['--model', dir], IDS, cache), forward('wasm', ['--model', dir], IDS, cache)]);
      expect(cpu.shape).toEqual([IDS.length, 288]);
      expect(wasm.shape).toEqual(cpu.shape);
      const want = referenceForward(refConfigOf(dir), weightsOf(dir), IDS);
      expect(maxDiff(cpu.data, want)).toBeLessThan(TOL);
      expect(maxDiff(wasm.data, want)).toBeLessThan(TOL);
      const rows = Array.from({ length: IDS.length }, (_, t) => wasm.data.slice(t * 288, (t + 1) * 288));
      expect(maxDiff(cpu.data, rows)).toBeLessThan(TOL);
      // Only the native path writes a model into the cache.
      expect(readdirSync(join(cache, 'models'))).toHaveLength(1);
    });
  }

  it('merged on the fly (α = 2): both providers within the tolerance of the reference merge + forward', async () => {
    const trio = { sft: fx.model('tiny-qwen2-sft'), rl: fx.model('tiny-qwen2-rl'), target: fx.model('tiny-qwen2-target') };
    const flags = ['--sft', trio.sft, '--rl', trio.rl, '--target', trio.target, '--alpha', '2', '--device', 'cpu'];
    const cache = tmp('cache');
    const [cpu, wasm] = await Promise.all([forward('cpu', flags, IDS, cache), forward('wasm', flags, IDS, cache)]);
    const want = referenceForward(refConfigOf(trio.target), mergedWeights(trio.sft, trio.rl, trio.target, 2), IDS);
    expect(maxDiff(cpu.data, want)).toBeLessThan(TOL);
    expect(maxDiff(wasm.data, want)).toBeLessThan(TOL);
  });
});

describe('the model cache ($STUDIO_CACHE_DIR/models)', () => {
  const trio = () => ['--sft', fx.model('tiny-qwen2-sft'), '--rl', fx.model('tiny-qwen2-rl'), '--target', fx.model('tiny-qwen2-target'), '--device', 'cpu'];
  const entries = (cache: string) => readdirSync(join(cache, 'models')).sort();
  const dataOf = (cache: string, key: string) => join(cache, 'models', key, 'model.onnx.data');

  it('is reused while the sources and α are unchanged; a new α or a changed source file makes a new entry', async () => {
    const cache = tmp('cache');
    const first = await forward('cpu', [...trio(), '--alpha', '0.5'], IDS, cache);
    const [key] = entries(cache);
    expect(readdirSync(join(cache, 'models', key)).sort()).toEqual(['manifest.json', 'model.onnx', 'model.onnx.data']);
    const manifest = JSON.parse(readFileSync(join(cache, 'models', key, 'manifest.json'), 'utf8'));
    // Every weight the graph reads, float32, page-aligned, and nothing else in the file.
    expect(manifest.layout.tensors).toHaveLength(26);
    for (const t of manifest.layout.tensors) {
      expect(t.offset % 4096).toBe(0);
      expect(t.length).toBe(t.shape.reduce((a: number, b: number) => a * b, 1) * 4);
    }
    expect(statSync(dataOf(cache, key)).size).toBe(manifest.layout.bytes);
    expect(manifest.identity.alpha).toBe('0.5');
    expect(manifest.identity.sources.map((s: { role: string }) => s.role)).toEqual(['sft', 'rl', 'target']);

    // Same command again: the data file is not rewritten (same inode and mtime), the logits are identical.
    const before = statSync(dataOf(cache, key), { bigint: true });
    // (--device cpu was given, but nothing is merged: said on stderr.)
    const again = await forward('cpu', [...trio(), '--alpha', '0.5'], IDS, cache, CACHED_CPU);
    const after = statSync(dataOf(cache, key), { bigint: true });
    expect([after.ino, after.mtimeNs]).toEqual([before.ino, before.mtimeNs]);
    expect(again.data).toEqual(first.data);

    // Another α: a second entry with other weights.
    const other = await forward('cpu', [...trio(), '--alpha', '-1'], IDS, cache);
    expect(entries(cache)).toHaveLength(2);
    expect(maxDiff(other.data, [first.data.slice(0, 288)])).toBeGreaterThan(1e-3);

    // A checkpoint file re-saved (its mtime changes): not reused, a third entry.
    const target = join(fx.model('tiny-qwen2-target'), 'model.safetensors');
    const t = statSync(target);
    utimesSync(target, t.atime, new Date(t.mtimeMs + 5000));
    const resaved = await forward('cpu', [...trio(), '--alpha', '0.5'], IDS, cache);
    expect(entries(cache)).toHaveLength(3);
    expect(resaved.data).toEqual(first.data);
  });

  it('a bad --device is refused even when θ(α) is cached and no merger would be made', async () => {
    const cache = tmp('cache');
    const merge = ['--sft', fx.model('tiny-qwen2-sft'), '--rl', fx.model('tiny-qwen2-rl'), '--target', fx.model('tiny-qwen2-target'), '--alpha', '3'];
    await forward('cpu', [...merge, '--device', 'cpu'], IDS, cache);
    const r = await studio(['forward', ...merge, '--device', 'tpu', '--ids', '1,2', '--out', tmp('o.json')], { STUDIO_CACHE_DIR: cache });
    expect([r.code, r.stderr]).toEqual([2, 'studio forward: --device must be auto, gpu or cpu, got "tpu".\n']);
  });

  it('a partial left by an interrupted run is discarded and written afresh', async () => {
    const cache = tmp('cache');
    const first = await forward('cpu', ['--model', fx.model('tiny-qwen2-f32')], IDS, cache);
    const [key] = entries(cache);
    const data = dataOf(cache, key);
    const size = statSync(data).size;
    rmSync(data);
    writeFileSync(`${data}.partial`, new Uint8Array(1000).fill(0x7f));
    const again = await forward('cpu', ['--model', fx.model('tiny-qwen2-f32')], IDS, cache);
    expect(again.data).toEqual(first.data);
    expect(statSync(data).size).toBe(size);
    expect(existsSync(`${data}.partial`)).toBe(false);
  });

  it('STUDIO_MODEL_CACHE_GB bounds it: older entries are evicted, the one in use is kept', async () => {
    const cache = tmp('cache');
    for (const alpha of ['0', '1', '2']) {
      const r = await studio(['forward', ...trio(), '--alpha', alpha, '--ids', '1,2', '--out', tmp('o.json')], { STUDIO_CACHE_DIR: cache, STUDIO_MODEL_CACHE_GB: '0.0003' });
      expect(r.code).toBe(0);
    }
    // 0.0003 GB = 300 KB: room for two of these 140 KB models; the oldest (α = 0) went.
    const kept = entries(cache).map((k) => JSON.parse(readFileSync(join(cache, 'models', k, 'manifest.json'), 'utf8')).identity.alpha);
    expect(kept.sort()).toEqual(['1', '2']);
  });
});

describe('studio sweep on onnxruntime-node (each point streamed into the model cache)', () => {
  let demo: FixtureDir;
  beforeAll(() => {
    demo = makeFixtureDir('native-sweep-', { demo: true });
  }, 60_000);
  afterAll(() => demo?.cleanup());

  it('studio eval (sciq: contexts once, multi-token continuations after their cache): log-likelihoods as on onnxruntime-web, provider recorded', async () => {
    const flags = ['--sft', demo.model('demo-arith-sft'), '--rl', demo.model('demo-arith-rl'), '--target', demo.model('demo-arith-target'), '--alpha', '1'];
    const items = tmp('sciq.jsonl');
    const row = (i: number) => ({ question: `What is ${i} + ${i}?`, distractor1: `${i} apples`, distractor2: 'the moon', distractor3: `${i * 3} or so`, correct_answer: `${i * 2}`, support: `Adding ${i} to itself gives ${i * 2}.` });
    writeFileSync(items, [1, 2, 3, 4, 5].map((i) => JSON.stringify(row(i))).join('\n') + '\n');
    const runs = [];
    for (const provider of ['cpu', 'wasm'] as const) {
      const out = tmp(`${provider}-eval.json`);
      const samples = tmp(`${provider}-samples.jsonl`);
      const r = await studio(['eval', ...flags, '--task', 'sciq', '--data', items, '--batch-size', '2', '--out', out, '--samples', samples], { STUDIO_ORT_PROVIDER: provider, STUDIO_CACHE_DIR: tmp('cache') });
      expect(r.code, r.stderr).toBe(0);
      const lines = readFileSync(samples, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      const continuations = lines.flatMap((l) => l.continuations as { ids: number[]; loglikelihood: number }[]);
      runs.push({ doc: JSON.parse(readFileSync(out, 'utf8')), continuations });
    }
    const [cpu, wasm] = runs;
    expect([cpu.doc.studio.runtime.provider, wasm.doc.studio.runtime.provider]).toEqual(['onnxruntime-node (cpu)', 'onnxruntime-web (wasm)']);
    expect(cpu.doc.results).toEqual(wasm.doc.results);
    expect(cpu.continuations).toHaveLength(20);
    // Most choices are several tokens: the second pass (every position's logits) runs too.
    expect(cpu.continuations.filter((c) => c.ids.length > 1).length).toBeGreaterThan(10);
    expect(Math.max(...cpu.continuations.map((c, i) => Math.abs(c.loglikelihood - wasm.continuations[i].loglikelihood)))).toBeLessThan(1e-4);
  }, 240_000);

  it('gives the host backend\'s points on onnxruntime-web, verdict for verdict: v, the control vector and the donors alone', async () => {
    const config = tmp('sweep.json');
    writeFileSync(
      config,
      JSON.stringify({
        sft: demo.model('demo-arith-sft'),
        rl: demo.model('demo-arith-rl'),
        target: demo.model('demo-arith-target'),
        alphas: [-1, 0, 1],
        tasks: [{ task: 'demo_arith', limit: 40 }],
        generation: { batch_size: 20 },
        controls: { donors: true, random_vector_seed: 7 },
      }),
    );
    const docs = [];
    const cache = tmp('cache');
    for (const provider of ['cpu', 'wasm'] as const) {
      const out = tmp(`${provider}-results.json`);
      const r = await studio(['sweep', '--config', config, '--out', out], { STUDIO_ORT_PROVIDER: provider, STUDIO_CACHE_DIR: cache }, 240_000);
      expect(r.code, r.stderr).toBe(0);
      docs.push(JSON.parse(readFileSync(out, 'utf8')));
    }
    const [cpu, wasm] = docs;
    expect(cpu.runtime.provider).toMatch(/^onnxruntime-node \(cpu\)/);
    expect(wasm.runtime.provider).toMatch(/^onnxruntime-web \(wasm\)/);
    // v at 3 α, the control at 2 (its α = 0 is v's), the SFT and RL donors: one cached model each.
    expect(readdirSync(join(cache, 'models'))).toHaveLength(7);
    expect(cpu.points.length).toBeGreaterThan(0);
    expect(cpu.points).toEqual(wasm.points);
  }, 300_000);
});

describe('a Qwen2.5-0.5B-shaped trio (real config, random bf16 weights) merged on the fly', () => {
  const size = '0.5b';
  const f32Bytes = realSizeStats(size).f32Bytes;
  it(
    'generate --alpha 0.5 --ids … --max-new-tokens 2: greedy ids as forward picks them, peak RSS below 1.5 × the float32 weights',
    async () => {
      const dirs = ensureRealSizeTrio(join(REPO_ROOT, 'fixtures', 'real-size', size), size);
      const cache = tmp('cache');
      const flags = ['--sft', dirs.sft, '--rl', dirs.rl, '--target', dirs.target, '--alpha', '0.5', '--device', 'cpu'];
      const gen = await studio(['generate', ...flags, '--ids', '1,2,3', '--max-new-tokens', '2'], { STUDIO_CACHE_DIR: cache }, 240_000);
      expect(gen.code, gen.stderr).toBe(0);
      expect(gen.stderr).toMatch(/writing the model's float32 weights \(1\.98 GB\)/);
      const out = JSON.parse(gen.stdout.trim().split('\n').at(-1)!);
      expect(out.ids).toHaveLength(2);
      expect(gen.peakRss / f32Bytes).toBeLessThan(1.5);

      // forward over the prompt and the first new token, reusing the cached weights: its argmaxes are the generated ids.
      const logits = tmp('logits.json');
      const fwd = await studio(['forward', ...flags, '--ids', [1, 2, 3, out.ids[0]].join(','), '--out', logits], { STUDIO_CACHE_DIR: cache }, 240_000);
      expect([fwd.code, fwd.stderr]).toEqual([0, CACHED_CPU]);
      const { shape, data } = JSON.parse(readFileSync(logits, 'utf8')) as { shape: [number, number]; data: number[] };
      expect(shape).toEqual([4, 151_936]);
      const argmax = (row: number) => {
        let best = 0;
        for (let i = 1; i < shape[1]; i++) if (data[row * shape[1] + i] > data[row * shape[1] + best]) best = i;
        return best;
      };
      expect([argmax(2), argmax(3)]).toEqual(out.ids);
      expect(fwd.peakRss / f32Bytes).toBeLessThan(1.5);
    },
    300_000,
  );
});
