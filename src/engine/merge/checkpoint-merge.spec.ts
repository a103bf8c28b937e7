import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFixtureDir, type FixtureDir } from '../../../test-support/fixture-dir.ts';
import { decode, referenceMerge, referenceStats } from '../../../test-support/merge-reference.ts';
import { readModelFolder, readSafetensorsFile, type RawTensor } from '../../../test-support/read-safetensors.ts';
import { openCheckpoint, type Checkpoint } from '../checkpoint/open-checkpoint.ts';
import type { SupportedDtype } from '../safetensors/dtypes.ts';
import { localFolderSource } from '../sources/local-folder-source.ts';
import { CpuTensorMerger } from './cpu-tensor-merger.ts';
import { saveMergedModel, saveVector } from './merge-checkpoints.ts';
import { MergePlanError, planMerge } from './merge-plan.ts';
import { nodeOutputFolder } from './output/node-output-folder.ts';
import { memoryOutputFolder } from './output/output-folder.ts';

let fx: FixtureDir;
let work: string;
beforeAll(() => {
  fx = makeFixtureDir();
  work = mkdtempSync(join(tmpdir(), 'merge-out-'));
});
afterAll(() => {
  fx?.cleanup();
  rmSync(work, { recursive: true, force: true });
});

const open = async (name: string) => openCheckpoint(await localFolderSource(fx.model(name)));
let outCount = 0;
const freshOut = () => join(work, `out-${++outCount}`);

/** The expected output tensor, computed with the test-suite reference from the raw fixture files. */
function expected(t: RawTensor | undefined, s: RawTensor, r: RawTensor, alpha: number, out: SupportedDtype, vector = false): Uint8Array {
  const dv = (x: RawTensor) => decode(x.bytes, x.dtype as SupportedDtype);
  return referenceMerge(vector ? undefined : dv(t!), dv(s), dv(r), alpha, out);
}

async function mergeTrio(names: { sft: string; rl: string; target: string }, alpha: number, opts: { outDtype?: SupportedDtype; chunk?: number; maxShardBytes?: number } = {}) {
  const [sft, rl, target] = await Promise.all([open(names.sft), open(names.rl), open(names.target)]);
  const dir = freshOut();
  const res = await saveMergedModel({ sft, rl, target }, { sft: names.sft, rl: names.rl, target: names.target }, alpha, {
    merger: new CpuTensorMerger(opts.chunk ?? 100),
    out: await nodeOutputFolder(dir),
    outDtype: opts.outDtype,
    maxShardBytes: opts.maxShardBytes,
  });
  return { dir, ...res };
}

describe('saveMergedModel (CPU path) against the reference, tensor by tensor', () => {
  for (const alpha of [-1, 0, 0.5, 1, 2]) {
    it(`tied bf16 trio, α = ${alpha}: every tensor bit-exact, a loadable folder`, async () => {
      const { dir, report } = await mergeTrio({ sft: 'tiny-qwen2-sft', rl: 'tiny-qwen2-rl', target: 'tiny-qwen2-target' }, alpha);
      const out = readModelFolder(dir);
      const [S, R, T] = ['sft', 'rl', 'target'].map((n) => readModelFolder(fx.model(`tiny-qwen2-${n}`)));
      expect([...out.keys()].sort()).toEqual([...T.keys()].sort());
      expect(out.has('lm_head.weight')).toBe(false);
      for (const [name, t] of T) {
        const o = out.get(name)!;
        expect(o.shape, name).toEqual(t.shape);
        expect(o.dtype, name).toBe('BF16');
        expect(Buffer.from(o.bytes).equals(Buffer.from(expected(t, S.get(name)!, R.get(name)!, alpha, 'BF16'))), name).toBe(true);
      }
      expect(readSafetensorsFile(join(dir, 'model.safetensors')).metadata).toEqual({ format: 'pt' });
      expect(readdirSync(dir).sort()).toEqual(['config.json', 'generation_config.json', 'mergekit_config.yml', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
      expect(readFileSync(join(dir, 'tokenizer.json'))).toEqual(readFileSync(join(fx.model('tiny-qwen2-target'), 'tokenizer.json')));
      expect(readFileSync(join(dir, 'config.json'))).toEqual(readFileSync(join(fx.model('tiny-qwen2-target'), 'config.json')));
      // The folder opens as a checkpoint again (what a Hugging Face loader relies on: config + weights).
      const again = await openCheckpoint(await localFolderSource(dir));
      expect(again.tensors.size).toBe(T.size);
      expect(report.tensors.every((t) => t.nan === 0 && t.inf === 0)).toBe(true);
      const recipe = parse(readFileSync(join(dir, 'mergekit_config.yml'), 'utf8'));
      expect(recipe).toEqual({
        merge_method: 'linear',
        base_model: 'tiny-qwen2-target',
        models: [
          { model: 'tiny-qwen2-target', parameters: { weight: 1 } },
          { model: 'tiny-qwen2-sft', parameters: { weight: alpha === 0 ? 0 : -alpha } },
          { model: 'tiny-qwen2-rl', parameters: { weight: alpha } },
        ],
        parameters: { normalize: false },
        dtype: 'float32',
        out_dtype: 'bfloat16',
      });
    });
  }

  for (const out of ['F32', 'F16'] as const) {
    it(`--dtype ${out}: every tensor in ${out}, bit-exact, config.json's torch_dtype follows`, async () => {
      const { dir } = await mergeTrio({ sft: 'tiny-qwen2-sft', rl: 'tiny-qwen2-rl', target: 'tiny-qwen2-f32' }, 0.5, { outDtype: out, chunk: 37 });
      const [S, R, T] = [fx.model('tiny-qwen2-sft'), fx.model('tiny-qwen2-rl'), fx.model('tiny-qwen2-f32')].map(readModelFolder);
      const merged = readModelFolder(dir);
      for (const [name, t] of T) expect(Buffer.from(merged.get(name)!.bytes).equals(Buffer.from(expected(t, S.get(name)!, R.get(name)!, 0.5, out))), name).toBe(true);
      expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).torch_dtype).toBe(out === 'F32' ? 'float32' : 'float16');
      expect(parse(readFileSync(join(dir, 'mergekit_config.yml'), 'utf8')).out_dtype).toBe(out === 'F32' ? 'float32' : 'float16');
    });
  }

  it('a sharded target gives shards with the same names and grouping, plus an index', async () => {
    const { dir } = await mergeTrio({ sft: 'tiny-qwen2-sft', rl: 'tiny-qwen2-rl', target: 'tiny-qwen2-sharded' }, 1);
    const want = JSON.parse(readFileSync(join(fx.model('tiny-qwen2-sharded'), 'model.safetensors.index.json'), 'utf8')).weight_map;
    const got = JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8'));
    expect(got.weight_map).toEqual(want);
    const merged = readModelFolder(dir);
    const single = readModelFolder((await mergeTrio({ sft: 'tiny-qwen2-sft', rl: 'tiny-qwen2-rl', target: 'tiny-qwen2-target' }, 1)).dir);
    expect(got.metadata.total_size).toBe([...merged.values()].reduce((a, t) => a + t.bytes.length, 0));
    for (const [name, t] of single) expect(Buffer.from(merged.get(name)!.bytes).equals(Buffer.from(t.bytes)), name).toBe(true);
  });

  it('an unsharded target above the shard size is split into model-0000k-of-0000n files with an index', async () => {
    const { dir, plan } = await mergeTrio({ sft: 'tiny-qwen2-sft', rl: 'tiny-qwen2-rl', target: 'tiny-qwen2-target' }, 1, { maxShardBytes: 6000 });
    expect(plan.files.length).toBeGreaterThan(1);
    expect(plan.files.every((f) => f.dataBytes <= 6000 || f.tensors.length === 1)).toBe(true);
    expect(readdirSync(dir)).toContain(`model-00001-of-0000${plan.files.length}.safetensors`);
    const again = await openCheckpoint(await localFolderSource(dir));
    expect(again.sharded).toBe(true);
    expect(again.tensors.size).toBe(26);
  });

  it('untied donors into a tied target: embed_tokens gets the embedding vector, no lm_head is written', async () => {
    const { dir, plan } = await mergeTrio({ sft: 'tiny-qwen2-untied-sft', rl: 'tiny-qwen2-untied-rl', target: 'tiny-qwen2-target' }, 1);
    const merged = readModelFolder(dir);
    expect(merged.has('lm_head.weight')).toBe(false);
    const [S, R, T] = ['untied-sft', 'untied-rl', 'target'].map((n) => readModelFolder(fx.model(`tiny-qwen2-${n}`)));
    const e = 'model.embed_tokens.weight';
    expect(Buffer.from(merged.get(e)!.bytes).equals(Buffer.from(expected(T.get(e), S.get(e)!, R.get(e)!, 1, 'BF16')))).toBe(true);
    expect(plan.notes.join(' ')).toMatch(/ties lm_head/);
  });

  it('tied donors into an untied target: lm_head gets the donors\' embedding difference', async () => {
    const { dir } = await mergeTrio({ sft: 'tiny-qwen2-sft', rl: 'tiny-qwen2-rl', target: 'tiny-qwen2-untied-target' }, 0.5);
    const merged = readModelFolder(dir);
    const [S, R, T] = ['sft', 'rl', 'untied-target'].map((n) => readModelFolder(fx.model(`tiny-qwen2-${n}`)));
    const e = 'model.embed_tokens.weight';
    const want = expected(T.get('lm_head.weight'), S.get(e)!, R.get(e)!, 0.5, 'BF16');
    expect(Buffer.from(merged.get('lm_head.weight')!.bytes).equals(Buffer.from(want))).toBe(true);
  });

  it('a target with a resized vocabulary is refused by name with the three shapes, or merged on the overlap when asked', async () => {
    const [sft, rl, target] = await Promise.all([open('tiny-qwen2-sft'), open('tiny-qwen2-rl'), open('tiny-qwen2-vocab320-target')]);
    expect(() => planMerge({ sft, rl, target }, { mode: 'merge' })).toThrow(MergePlanError);
    expect(() => planMerge({ sft, rl, target }, { mode: 'merge' })).toThrow(
      /model\.embed_tokens\.weight" shapes differ: SFT \[288, 16\], RL \[288, 16\], target \[320, 16\].*--vocab-policy overlap/,
    );
    const out = memoryOutputFolder();
    const { plan } = await saveMergedModel({ sft, rl, target }, { sft: 's', rl: 'r', target: 't' }, 1, { merger: new CpuTensorMerger(64), out, vocabPolicy: 'overlap' });
    expect(plan.notes.join(' ')).toMatch(/rows 0…287 merged, 32 row\(s\) of the target kept/);
    const file = join(work, 'vocab.safetensors');
    writeFileSync(file, out.bytes('model.safetensors'));
    const merged = readSafetensorsFile(file).tensors.get('model.embed_tokens.weight')!;
    const [S, R, T] = ['sft', 'rl', 'vocab320-target'].map((n) => readModelFolder(fx.model(`tiny-qwen2-${n}`)).get('model.embed_tokens.weight')!);
    expect(merged.shape).toEqual([320, 16]);
    const rowBytes = 16 * 2;
    const head = expected({ ...T, bytes: T.bytes.subarray(0, 288 * rowBytes) }, S, R, 1, 'BF16');
    expect(Buffer.from(merged.bytes.subarray(0, 288 * rowBytes)).equals(Buffer.from(head))).toBe(true);
    expect(Buffer.from(merged.bytes.subarray(288 * rowBytes)).equals(Buffer.from(T.bytes.subarray(288 * rowBytes)))).toBe(true);
  });

  it('memory stays bounded by chunks: the pipeline never holds a whole tensor', async () => {
    const [sft, rl, target] = await Promise.all([open('tiny-qwen2-sft'), open('tiny-qwen2-rl'), open('tiny-qwen2-target')]);
    const chunk = 64;
    const { plan, report } = await saveMergedModel({ sft, rl, target }, { sft: 's', rl: 'r', target: 't' }, 1, { merger: new CpuTensorMerger(chunk), out: memoryOutputFolder({ discard: true }) });
    // At most prefetch (2) + 1 chunks of three bf16 inputs, plus one output chunk.
    expect(report.peakBufferedBytes).toBeLessThanOrEqual(3 * 3 * chunk * 2 + chunk * 2);
    expect(report.peakBufferedBytes).toBeLessThan(plan.largestTensorBytes);
  });
});

describe('failures leave nothing behind', () => {
  it('a read that fails mid-merge: no output folder, no partial files, one clear error', async () => {
    const [sft, rl, target] = await Promise.all([open('tiny-qwen2-sft'), open('tiny-qwen2-rl'), open('tiny-qwen2-target')]);
    let reads = 0;
    const flaky: Checkpoint = {
      ...rl,
      async readTensorBytes(name, offset, length) {
        if (++reads === 20) throw new Error('connection reset while reading ' + name);
        return rl.readTensorBytes(name, offset, length);
      },
    };
    const parent = join(work, 'flaky');
    mkdirSync(parent);
    const dir = join(parent, 'merged');
    await expect(saveMergedModel({ sft, rl: flaky, target }, { sft: 's', rl: 'r', target: 't' }, 1, { merger: new CpuTensorMerger(64), out: await nodeOutputFolder(dir) })).rejects.toThrow(/connection reset/);
    expect(existsSync(dir)).toBe(false);
    expect(readdirSync(parent)).toEqual([]);
  });

  it('cancelling stops the merge and removes what was written', async () => {
    const [sft, rl, target] = await Promise.all([open('tiny-qwen2-sft'), open('tiny-qwen2-rl'), open('tiny-qwen2-target')]);
    const ac = new AbortController();
    const dir = freshOut();
    const p = saveMergedModel({ sft, rl, target }, { sft: 's', rl: 'r', target: 't' }, 1, {
      merger: new CpuTensorMerger(64),
      out: await nodeOutputFolder(dir),
      signal: ac.signal,
      onProgress: (x) => x.tensorsDone === 3 && ac.abort(),
    });
    await expect(p).rejects.toThrow(/cancelled; nothing was saved/);
    expect(existsSync(dir)).toBe(false);
  });

  it('an existing non-empty --out folder is refused before anything is read', async () => {
    const dir = freshOut();
    mkdirSync(dir);
    writeFileSync(join(dir, 'keep.txt'), 'mine');
    await expect(nodeOutputFolder(dir)).rejects.toThrow(/exists and is not empty/);
    expect(readFileSync(join(dir, 'keep.txt'), 'utf8')).toBe('mine');
  });
});

describe('edge paths found in review', () => {
  it('a statistics-only pass with the vocab overlap policy still reports the partly merged tensors', async () => {
    const [sft, rl, target] = await Promise.all([open('tiny-qwen2-sft'), open('tiny-qwen2-rl'), open('tiny-qwen2-vocab320-target')]);
    const { runMerge } = await import('./stream-merge.ts');
    const plan = planMerge({ sft, rl, target }, { mode: 'merge', vocabPolicy: 'overlap' });
    const progress: number[] = [];
    const report = await runMerge({ plan, merger: new CpuTensorMerger(64), alpha: 1, stats: true, onProgress: (p) => progress.push(p.tensorsDone - p.tensorsTotal) });
    const embed = report.tensors.find((t) => t.name === 'model.embed_tokens.weight')!;
    expect(embed.stats?.elements).toBe(288 * 16);
    expect(report.total!.elements).toBe(plan.tensors.reduce((a, t) => a + t.mergedElements, 0));
    expect(progress.at(-1)).toBe(0);
  });

  it('a refusal before the weights are read (α not finite) removes the prepared output folder', async () => {
    const [sft, rl, target] = await Promise.all([open('tiny-qwen2-sft'), open('tiny-qwen2-rl'), open('tiny-qwen2-target')]);
    const parent = join(work, 'refused');
    mkdirSync(parent);
    await expect(saveMergedModel({ sft, rl, target }, { sft: 's', rl: 'r', target: 't' }, NaN, { merger: new CpuTensorMerger(), out: await nodeOutputFolder(join(parent, 'm')) })).rejects.toThrow(/finite number/);
    expect(readdirSync(parent)).toEqual([]);
  });
});

describe('saveVector', () => {
  it('writes v = RL − SFT in F32 (exact), with statistics that match a float64 reference', async () => {
    const [sft, rl] = await Promise.all([open('tiny-qwen2-sft'), open('tiny-qwen2-rl')]);
    const dir = freshOut();
    const { report } = await saveVector({ sft, rl }, { sft: 'S', rl: 'R' }, { merger: new CpuTensorMerger(50), out: await nodeOutputFolder(dir) });
    const v = readModelFolder(dir);
    const [S, R] = ['sft', 'rl'].map((n) => readModelFolder(fx.model(`tiny-qwen2-${n}`)));
    expect([...v.keys()].sort()).toEqual([...S.keys()].sort());
    let sumV2 = 0;
    for (const [name, s] of S) {
      expect(v.get(name)!.dtype).toBe('F32');
      expect(Buffer.from(v.get(name)!.bytes).equals(Buffer.from(expected(undefined, s, R.get(name)!, 1, 'F32', true))), name).toBe(true);
      const ref = referenceStats(undefined, decode(s.bytes, 'BF16'), decode(R.get(name)!.bytes, 'BF16'));
      const got = report.tensors.find((t) => t.name === name)!.stats!;
      expect(got.normV).toBeCloseTo(Math.sqrt(ref.sumV2), 10);
      expect(got.nearZeroFraction).toBeCloseTo(ref.nearZero / ref.count, 12);
      sumV2 += ref.sumV2;
    }
    expect(report.total!.normV).toBeCloseTo(Math.sqrt(sumV2), 10);
    const meta = readSafetensorsFile(join(dir, 'model.safetensors')).metadata;
    expect(meta).toMatchObject({ format: 'pt', studio_kind: 'reasoning-vector', studio_sft: 'S', studio_rl: 'R' });
    const json = JSON.parse(readFileSync(join(dir, 'reasoning_vector.json'), 'utf8'));
    expect(json.tensors).toHaveLength(S.size);
    expect(json.total.normV).toBeCloseTo(report.total!.normV, 12);
    // Norm weights near 1 mostly lose their fine-tune step to bf16 rounding: a high near-zero fraction there.
    expect(report.tensors.find((t) => t.name === 'model.norm.weight')!.stats!.nearZeroFraction).toBeGreaterThan(0.5);
    expect(report.tensors.find((t) => t.name === 'model.embed_tokens.weight')!.stats!.nearZeroFraction).toBeLessThan(0.2);
  });

  it('statistics with a target: the cosine of v with θ_target − θ_SFT and the norm ratio, checked against the reference', async () => {
    const [sft, rl, target] = await Promise.all([open('tiny-qwen2-sft'), open('tiny-qwen2-rl'), open('tiny-qwen2-target')]);
    const { runMerge } = await import('./stream-merge.ts');
    const plan = planMerge({ sft, rl, target }, { mode: 'merge' });
    const report = await runMerge({ plan, merger: new CpuTensorMerger(100), alpha: 1, stats: true });
    const [S, R, T] = ['sft', 'rl', 'target'].map((n) => readModelFolder(fx.model(`tiny-qwen2-${n}`)));
    for (const [name, t] of T) {
      const ref = referenceStats(decode(t.bytes, 'BF16'), decode(S.get(name)!.bytes, 'BF16'), decode(R.get(name)!.bytes, 'BF16'));
      const got = report.tensors.find((x) => x.name === name)!.stats!;
      expect(got.ratio!).toBeCloseTo(Math.sqrt(ref.sumV2) / Math.sqrt(ref.sumT2), 10);
      if (ref.sumD2 > 0 && ref.sumV2 > 0) expect(got.cosine!).toBeCloseTo(ref.sumVD / Math.sqrt(ref.sumV2 * ref.sumD2), 10);
    }
  });
});
