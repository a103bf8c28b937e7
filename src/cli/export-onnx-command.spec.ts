/**
 * `studio export-onnx` through the door (the real binary, a subprocess), and the folder it writes
 * loaded by transformers.js 4.x — an independent loader, tokenizer, cache feeder and greedy loop —
 * in this process on onnxruntime-node, with remote models off: its greedy tokens must be
 * `studio generate`'s token for token, and its logits `studio forward`'s.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { AutoModelForCausalLM, AutoTokenizer, env, type PreTrainedModel, type Tensor } from '@huggingface/transformers';
import onnxProto from 'onnx-proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFixtureDir, type FixtureDir } from '../../test-support/fixture-dir.ts';
import { readSafetensorsFile } from '../../test-support/read-safetensors.ts';
import { serializeSafetensors } from '../engine/safetensors/serialize-safetensors.ts';

const { onnx } = onnxProto;
const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
let fx: FixtureDir;
let work: string;

beforeAll(() => {
  fx = makeFixtureDir('studio-export-onnx-', { demo: true });
  work = mkdtempSync(join(tmpdir(), 'studio-export-onnx-'));
  // Nothing but the folder on disk: no Hub, no downloads.
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = work;
  // The demo trio is fitted (ridge regression) when the fixtures are made: seconds on a busy machine.
}, 120_000);
afterAll(() => {
  fx?.cleanup();
  rmSync(work, { recursive: true, force: true });
});

async function studio(...args: string[]) {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [join(REPO_ROOT, 'bin/studio.js'), ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, HF_ENDPOINT: 'http://127.0.0.1:9', HF_TOKEN: '', STUDIO_CACHE_DIR: join(work, '.cache') },
      timeout: 120_000,
      maxBuffer: 64 * 2 ** 20,
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}
const lastJson = (stdout: string) => JSON.parse(stdout.trim().split('\n').at(-1)!);

const trioOf = (name: string) => ['--sft', fx.model(`${name}-sft`), '--rl', fx.model(`${name}-rl`), '--target', fx.model(`${name}-target`)];

/** transformers.js's logits for one prompt: rows [T][V]. */
async function logitsOf(model: PreTrainedModel, ids: number[]): Promise<Float32Array[]> {
  const input_ids = new (await import('@huggingface/transformers')).Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, ids.length]);
  const attention_mask = new (await import('@huggingface/transformers')).Tensor('int64', new BigInt64Array(ids.length).fill(1n), [1, ids.length]);
  const { logits } = (await model({ input_ids, attention_mask })) as { logits: Tensor };
  const [, T, V] = logits.dims;
  const data = logits.data as Float32Array;
  return Array.from({ length: T }, (_, t) => data.slice(t * V, (t + 1) * V));
}

async function studioLogits(args: string[], ids: number[]): Promise<Float32Array[]> {
  const out = join(work, `logits-${Math.random().toString(36).slice(2)}.json`);
  const r = await studio('forward', ...args, '--ids', ids.join(','), '--out', out);
  expect(r.code).toBe(0);
  // Nothing on stderr but, where the merged weights come from the cache, the line saying --device had nothing to merge.
  expect(r.stderr).toMatch(/^(studio: --device cpu: nothing to merge \(θ\(α\) came from the model cache\); the model runs on onnxruntime-node \(cpu\)\.\n)?$/);
  const { shape, data } = JSON.parse(readFileSync(out, 'utf8')) as { shape: [number, number]; data: number[] };
  return Array.from({ length: shape[0] }, (_, t) => Float32Array.from(data.slice(t * shape[1], (t + 1) * shape[1])));
}

const maxAbsDiff = (a: Float32Array[], b: Float32Array[]) => {
  expect(a.map((r) => r.length)).toEqual(b.map((r) => r.length));
  let max = 0;
  a.forEach((row, t) => row.forEach((v, i) => (max = Math.max(max, Math.abs(v - b[t][i])))));
  return max;
};
/** The largest |logit|: float32 rounding differences scale with it. */
const scaleOf = (a: Float32Array[]) => Math.max(1, ...a.map((r) => r.reduce((m, v) => Math.max(m, Math.abs(v)), 0)));

describe('studio export-onnx → transformers.js', () => {
  // The demo trio (untied head, 128 wide, a tokenizer): at α = 1 its greedy text is not one token repeated.
  const demo = () => [...trioOf('demo-arith'), '--alpha', '1', '--device', 'cpu'];

  it('writes the Optimum layout transformers.js looks for, and nothing else', async () => {
    const r = await studio('export-onnx', ...demo(), '--out', join(work, 'demo-f32'));
    expect([r.code, r.stderr]).toEqual([0, '']);
    const summary = lastJson(r.stdout);
    expect(summary).toMatchObject({ alpha: 1, dtype: 'fp32', merger: 'cpu', nonFinite: [] });
    expect([...summary.files].sort()).toEqual(['config.json', 'generation_config.json', 'onnx/model.onnx', 'onnx/model.onnx_data', 'tokenizer.json', 'tokenizer_config.json']);
    expect(readdirSync(join(work, 'demo-f32', 'onnx')).sort()).toEqual(['model.onnx', 'model.onnx_data']);
    const config = JSON.parse(readFileSync(join(work, 'demo-f32', 'config.json'), 'utf8'));
    expect(config['transformers.js_config']).toEqual({ dtype: 'fp32', use_external_data_format: { 'model.onnx': 1 } });
    expect(config.model_type).toBe('qwen2');
    expect(config.studio_export).toMatchObject({ alpha: 1 });
    // Every weight in float32 (demo: 288×128 embedding and head, 2 layers), page-aligned: more than 4 bytes × parameters.
    expect(summary.dataBytes).toBe(readFileSync(join(work, 'demo-f32', 'onnx', 'model.onnx_data')).length);
    // No temporary sibling left behind.
    expect(readdirSync(work).filter((f) => f.includes('partial'))).toEqual([]);
  });

  it('greedy tokens from transformers.js equal `studio generate` at the same α, token for token; logits equal `studio forward`', async () => {
    const prompt = '3+4=';
    const n = 12;
    const gen = await studio('generate', ...demo(), '--prompt', prompt, '--max-new-tokens', String(n));
    expect(gen.code).toBe(0);
    const ours = lastJson(gen.stdout) as { ids: number[]; prompt_ids: number[]; finish_reason: string };
    expect(ours.ids).toHaveLength(n);
    // Not a degenerate sequence: the comparison means something.
    expect(new Set(ours.ids).size).toBeGreaterThan(3);

    const tokenizer = await AutoTokenizer.from_pretrained('demo-f32', { local_files_only: true });
    const model = await AutoModelForCausalLM.from_pretrained('demo-f32', { local_files_only: true, device: 'cpu' });
    try {
      const enc = tokenizer(prompt);
      const promptIds = (enc.input_ids as Tensor).tolist()[0].map(Number);
      expect(promptIds).toEqual(ours.prompt_ids);
      const out = (await model.generate({ ...enc, max_new_tokens: n, do_sample: false })) as Tensor;
      const theirs = out.tolist()[0].map(Number).slice(promptIds.length);
      expect(theirs).toEqual(ours.ids);
      expect(tokenizer.decode(theirs)).toBe(JSON.parse(gen.stdout.trim().split('\n').at(-1)!).text);

      // Logits of prompt + generated tokens at every position, fed by two different loops. The CLI
      // may run the fused-op form of the graph (com.microsoft ops on the CPU provider), which
      // reassociates float32 sums: within 1e-6 of the largest |logit| (measured 4.6e-5 absolute here).
      const ids = [...promptIds, ...ours.ids];
      const mine = await studioLogits(demo(), ids);
      expect(maxAbsDiff(await logitsOf(model, ids), mine)).toBeLessThanOrEqual(1e-6 * scaleOf(mine));
    } finally {
      await model.dispose();
    }
  });

  it('--dtype f16 writes onnx/model_fp16.onnx that transformers.js picks from config.json; logits within f16 rounding of the float32 model', async () => {
    const trio = [...trioOf('tiny-qwen2'), '--alpha', '0.5', '--device', 'cpu'];
    const r = await studio('export-onnx', ...trio, '--dtype', 'f16', '--out', join(work, 'tiny-f16'));
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(readdirSync(join(work, 'tiny-f16', 'onnx')).sort()).toEqual(['model_fp16.onnx', 'model_fp16.onnx_data']);
    const config = JSON.parse(readFileSync(join(work, 'tiny-f16', 'config.json'), 'utf8'));
    expect(config['transformers.js_config']).toEqual({ dtype: 'fp16', use_external_data_format: { 'model_fp16.onnx': 1 } });
    const model = await AutoModelForCausalLM.from_pretrained('tiny-f16', { local_files_only: true, device: 'cpu' });
    try {
      const ids = [283, 10, 20, 30, 40, 50, 284];
      const diff = maxAbsDiff(await logitsOf(model, ids), await studioLogits(trio, ids));
      // Weights, activations and KV cache in f16 (relative precision 2⁻¹¹ ≈ 4.9e-4) over logits of
      // magnitude < 0.4 and two layers: measured 1.0e-4; 1e-3 absolute leaves ten times that.
      expect(diff).toBeGreaterThan(0); // really the f16 model, not the f32 one
      expect(diff).toBeLessThan(1e-3);
    } finally {
      await model.dispose();
    }
  });

  it('--model exports one checkpoint as it is: logits equal `studio forward --model`', async () => {
    const src = fx.model('tiny-qwen2-untied-target');
    const r = await studio('export-onnx', '--model', src, '--out', join(work, 'single'));
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(lastJson(r.stdout)).toMatchObject({ dtype: 'fp32', merger: null });
    const model = await AutoModelForCausalLM.from_pretrained('single', { local_files_only: true, device: 'cpu' });
    try {
      const ids = [283, 10, 20, 30, 284];
      const mine = await studioLogits(['--model', src], ids);
      expect(maxAbsDiff(await logitsOf(model, ids), mine)).toBeLessThanOrEqual(1e-6 * scaleOf(mine));
    } finally {
      await model.dispose();
    }
  });
});

describe('studio export-onnx: weights over --max-data-file are split into data chunks transformers.js loads', () => {
  it('--max-data-file 40KB: model.onnx_data, _data_1, … each within the limit (a larger tensor alone in its own), the count in config.json; transformers.js generates `studio generate`\'s tokens and gives the one-file export\'s logits exactly', async () => {
    const args = [...trioOf('demo-arith'), '--alpha', '1', '--device', 'cpu'];
    const r = await studio('export-onnx', ...args, '--max-data-file', '40KB', '--out', join(work, 'demo-split'));
    expect(r.code).toBe(0);
    const summary = lastJson(r.stdout) as { dataFiles: number[]; dataBytes: number; files: string[]; notes: string[] };
    const n = summary.dataFiles.length;
    expect(n).toBeGreaterThan(2);
    const names = summary.dataFiles.map((_, i) => (i === 0 ? 'model.onnx_data' : `model.onnx_data_${i}`));
    expect(readdirSync(join(work, 'demo-split', 'onnx')).sort()).toEqual(['model.onnx', ...names].sort());
    const sizes = names.map((f) => readFileSync(join(work, 'demo-split', 'onnx', f)).length);
    expect(sizes).toEqual(summary.dataFiles);
    // A chunk over the limit holds one tensor that alone is larger (an initializer is never cut).
    const graph = onnx.ModelProto.decode(readFileSync(join(work, 'demo-split', 'onnx', 'model.onnx')));
    const where = graph.graph!.initializer!.filter((i) => i.externalData?.length).map((i) => Object.fromEntries(i.externalData!.map((e) => [e.key, e.value])));
    names.forEach((name, i) => {
      const inside = where.filter((w) => w.location === name);
      expect(inside.length).toBeGreaterThan(0);
      if (sizes[i] > 40_000) expect(inside.map((w) => Number(w.length))).toEqual([sizes[i]]);
    });
    expect(where.every((w) => names.includes(w.location))).toBe(true);
    const config = JSON.parse(readFileSync(join(work, 'demo-split', 'config.json'), 'utf8'));
    expect(config['transformers.js_config']).toEqual({ dtype: 'fp32', use_external_data_format: { 'model.onnx': n } });
    // Said on stderr, one note per fact: the split, and each tensor larger than one chunk, in units
    // that fit (the limit as typed). No chunk is near the 2 GB a browser's ArrayBuffer takes, so
    // nothing says a browser cannot load one.
    const total = `${Number((summary.dataBytes / 1e6).toPrecision(3))} MB`;
    expect(total).toMatch(/^1\.\d\d MB$/);
    expect(r.stderr).toContain(`note: The weights (${total}) are split over ${n} data files of at most 40 KB each, each small enough for a browser to load (config.json's transformers.js_config.use_external_data_format says how many).\n`);
    // The 288 × 128 float32 embedding and head: 147 456 bytes.
    for (const t of ['model.embed_tokens.weight', 'lm_head.weight']) {
      expect(r.stderr).toContain(`note: ${t} alone is 147 KB, more than one data file may hold (40 KB); it has a data file of its own.\n`);
    }
    expect(r.stderr).not.toMatch(/browser cannot|GB/);

    const prompt = '3+4=';
    const gen = await studio('generate', ...args, '--prompt', prompt, '--max-new-tokens', '8');
    const ours = lastJson(gen.stdout) as { ids: number[]; prompt_ids: number[] };
    const tokenizer = await AutoTokenizer.from_pretrained('demo-split', { local_files_only: true });
    const split = await AutoModelForCausalLM.from_pretrained('demo-split', { local_files_only: true, device: 'cpu' });
    const whole = await studio('export-onnx', ...args, '--out', join(work, 'demo-whole'));
    expect(whole.code).toBe(0);
    const one = await AutoModelForCausalLM.from_pretrained('demo-whole', { local_files_only: true, device: 'cpu' });
    try {
      const enc = tokenizer(prompt);
      const out = (await split.generate({ ...enc, max_new_tokens: 8, do_sample: false })) as Tensor;
      expect(out.tolist()[0].map(Number).slice(ours.prompt_ids.length)).toEqual(ours.ids);
      const ids = [...ours.prompt_ids, ...ours.ids];
      expect(maxAbsDiff(await logitsOf(split, ids), await logitsOf(one, ids))).toBe(0);
    } finally {
      await split.dispose();
      await one.dispose();
    }
  });

  it('more data files than transformers.js loads (100): exit 2 naming the least --max-data-file that works, no folder and no partial sibling; that size then exports', async () => {
    // tiny-qwen2 with 9 layers (layers 2–8 copies of 0 and 1): 9 × 12 + 2 = 110 weights, each
    // alone in a data file of at most 4096 bytes (each starts on a 4096-byte page).
    const src = join(work, 'nine-layers');
    cpSync(fx.model('tiny-qwen2-target'), src, { recursive: true });
    const { tensors } = readSafetensorsFile(join(src, 'model.safetensors'));
    const layered = [...tensors].flatMap(([name, t]) => {
      const m = /^model\.layers\.(\d+)\.(.*)$/.exec(name);
      if (!m) return [{ name, ...t }];
      return m[1] === '0' || m[1] === '1' ? Array.from({ length: 9 }, (_, l) => l).filter((l) => l % 2 === Number(m[1])).map((l) => ({ name: `model.layers.${l}.${m[2]}`, ...t })) : [];
    });
    writeFileSync(join(src, 'model.safetensors'), serializeSafetensors(layered.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, data: t.bytes }))));
    const config = JSON.parse(readFileSync(join(src, 'config.json'), 'utf8'));
    writeFileSync(join(src, 'config.json'), JSON.stringify({ ...config, num_hidden_layers: 9, max_window_layers: 9 }));
    expect(layered).toHaveLength(110);

    const out = join(work, 'too-many');
    const r = await studio('export-onnx', '--model', src, '--max-data-file', '4096', '--out', out);
    expect([r.code, r.stdout]).toEqual([2, '']);
    const m = /^studio export-onnx: the weights \((\d+(?:\.\d+)? KB)\) need 110 data files of at most 4,096 bytes; transformers\.js loads at most 100\. Allow larger data files: at least (\d+(?:\.\d+)?KB) \(the CLI's --max-data-file\)\.\n$/.exec(r.stderr);
    expect(m, r.stderr).not.toBeNull();
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(work).filter((f) => f.includes('partial'))).toEqual([]);

    const fits = await studio('export-onnx', '--model', src, '--max-data-file', m![2], '--out', out);
    expect(fits.code).toBe(0);
    const summary = lastJson(fits.stdout) as { dataFiles: number[] };
    expect(summary.dataFiles.length).toBeLessThanOrEqual(100);
    expect(readdirSync(join(out, 'onnx'))).toHaveLength(summary.dataFiles.length + 1);
  });

  it('a size that is not one: exit 2 naming the flag, nothing written', async () => {
    const out = join(work, 'bad-size');
    const r = await studio('export-onnx', ...trioOf('tiny-qwen2'), '--alpha', '1', '--max-data-file', '2 lots', '--out', out);
    expect([r.code, r.stdout]).toEqual([2, '']);
    expect(r.stderr).toBe('studio export-onnx: --max-data-file must be a size of at least 4096 bytes, e.g. 2GB, 500MB or 1000000; got "2 lots".\n');
    expect(existsSync(out)).toBe(false);
  });
});

describe('studio export-onnx: NaN in the weights is said, as merge says it', () => {
  it('--model with 32 NaN at the start of the embedding: one warning line, nonFinite [{ tensor, nan: 32, inf: 0 }] like merge\'s, and the data file holds those 32 NaN', async () => {
    const src = join(work, 'nan-target');
    cpSync(fx.model('tiny-qwen2-target'), src, { recursive: true });
    const file = join(src, 'model.safetensors');
    const bytes = readFileSync(file);
    const header = 8 + Number(bytes.readBigUInt64LE(0));
    bytes.fill(0xff, header, header + 64); // 32 bf16 NaN (0xFFFF) at data offset 0: the embedding's first values
    writeFileSync(file, bytes);
    const entries = JSON.parse(bytes.subarray(8, header).toString('utf8')) as Record<string, { data_offsets?: [number, number] }>;
    expect(Object.keys(entries).filter((k) => entries[k].data_offsets?.[0] === 0)).toEqual(['model.embed_tokens.weight']);
    const warning = 'warning: model.embed_tokens.weight: 32 NaN and 0 Inf values in the output.\n';
    const expected = [{ tensor: 'model.embed_tokens.weight', nan: 32, inf: 0 }];

    const out = join(work, 'nan-onnx');
    const r = await studio('export-onnx', '--model', src, '--out', out);
    expect([r.code, r.stderr]).toEqual([0, warning]);
    expect(lastJson(r.stdout).nonFinite).toEqual(expected);
    // Independently: the embedding's float32 bytes in the data file.
    const graph = onnx.ModelProto.decode(readFileSync(join(out, 'onnx', 'model.onnx')));
    const embed = Object.fromEntries(graph.graph!.initializer!.find((i) => i.name === 'model.embed_tokens.weight')!.externalData!.map((e) => [e.key, e.value]));
    const data = readFileSync(join(out, 'onnx', 'model.onnx_data'));
    const floats = new Float32Array(data.buffer.slice(data.byteOffset + Number(embed.offset), data.byteOffset + Number(embed.offset) + Number(embed.length)));
    expect(floats.filter((x) => Number.isNaN(x)).length).toBe(32);

    // merge and the merged export say the same, under the same key.
    const trio = ['--sft', fx.model('tiny-qwen2-sft'), '--rl', fx.model('tiny-qwen2-rl'), '--target', src, '--alpha', '1', '--device', 'cpu'];
    const merged = await studio('merge', ...trio, '--out', join(work, 'nan-merge'));
    expect([merged.code, merged.stderr]).toEqual([0, warning]);
    expect(lastJson(merged.stdout).nonFinite).toEqual(expected);
    const exported = await studio('export-onnx', ...trio, '--out', join(work, 'nan-merge-onnx'));
    expect([exported.code, exported.stderr]).toEqual([0, warning]);
    expect(lastJson(exported.stdout).nonFinite).toEqual(expected);
  });
});

describe('studio export-onnx: what the folder cannot carry is said', () => {
  it('a sliding window shorter than max_position_embeddings: a note with the window, the folder still written', async () => {
    const src = join(work, 'windowed');
    cpSync(fx.model('tiny-qwen2-untied-target'), src, { recursive: true });
    const config = JSON.parse(readFileSync(join(src, 'config.json'), 'utf8'));
    writeFileSync(join(src, 'config.json'), JSON.stringify({ ...config, use_sliding_window: true, sliding_window: 64 }));
    const r = await studio('export-onnx', '--model', src, '--out', join(work, 'windowed-onnx'));
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('note: The model attends within a sliding window of 64 tokens, which the exported graph does not implement: keep prompt + generation within 64 tokens in transformers.js.\n');
    expect(lastJson(r.stdout).notes).toHaveLength(1);
    expect(existsSync(join(work, 'windowed-onnx', 'onnx', 'model.onnx_data'))).toBe(true);
  });
});

describe('studio export-onnx: bad input is exit 2 with one line, and nothing is written', () => {
  const cases: [string, () => string[], RegExp][] = [
    ['an unknown dtype', () => [...trioOf('tiny-qwen2'), '--alpha', '1', '--dtype', 'bf16'], /^studio export-onnx: --dtype must be f32 or f16 \(ONNX exports fp32, fp16\), got "bf16"\.\n$/],
    ['no α', () => trioOf('tiny-qwen2'), /^studio export-onnx: --alpha is required\.\n$/],
    ['both --model and the trio', () => ['--model', fx.model('tiny-qwen2-target'), ...trioOf('tiny-qwen2'), '--alpha', '1'], /^studio export-onnx: give either --model <src> or the merge flags/],
    ['a missing source folder', () => ['--model', join(work, 'no-such-model')], /^studio export-onnx: .*no-such-model.*\n$/],
    ['a resized vocabulary', () => ['--sft', fx.model('tiny-qwen2-sft'), '--rl', fx.model('tiny-qwen2-rl'), '--target', fx.model('tiny-qwen2-vocab320-target'), '--alpha', '1'], /^studio export-onnx: .*model\.embed_tokens\.weight.*\n$/],
  ];
  it.each(cases)('%s', async (_, args, message) => {
    const out = join(work, `bad-${Math.random().toString(36).slice(2)}`);
    const r = await studio('export-onnx', ...args(), '--out', out);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(work).filter((f) => f.includes('partial'))).toEqual([]);
  });

  it('an --out folder that is not empty is refused and left as it was', async () => {
    const out = join(work, 'occupied');
    mkdirSync(out);
    writeFileSync(join(out, 'keep.txt'), 'mine');
    const r = await studio('export-onnx', ...trioOf('tiny-qwen2'), '--alpha', '1', '--out', out);
    expect([r.code, r.stdout]).toEqual([2, '']);
    expect(r.stderr).toBe(`studio export-onnx: --out ${out} exists and is not empty; name a new folder (nothing is overwritten).\n`);
    expect(readdirSync(out)).toEqual(['keep.txt']);
  });
});
