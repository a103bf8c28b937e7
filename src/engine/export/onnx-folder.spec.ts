import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFixtureDir, type FixtureDir } from '../../../test-support/fixture-dir.ts';
import { decode, referenceMerge } from '../../../test-support/merge-reference.ts';
import { readModelFolder } from '../../../test-support/read-safetensors.ts';
import { openCheckpoint } from '../checkpoint/open-checkpoint.ts';
import { CpuTensorMerger } from '../merge/cpu-tensor-merger.ts';
import { planMerge } from '../merge/merge-plan.ts';
import { nodeOutputFolder } from '../merge/output/node-output-folder.ts';
import { decoderSpec } from '../model/decoder-graph.ts';
import type { SupportedDtype } from '../safetensors/dtypes.ts';
import { localFolderSource } from '../sources/local-folder-source.ts';
import { layoutExternalData } from '../model/external-data.ts';
import { BROWSER_DATA_CHUNK_LIMIT, dataFileNotes, exportOnnxFolder, exportTensors, formatDataSize, type OnnxExportDtype } from './onnx-folder.ts';

const { onnx } = onnxProto;
let fx: FixtureDir;
let work: string;
let n = 0;
beforeAll(() => {
  fx = makeFixtureDir('onnx-folder-');
  work = mkdtempSync(join(tmpdir(), 'onnx-folder-'));
});
afterAll(() => {
  fx?.cleanup();
  rmSync(work, { recursive: true, force: true });
});

const open = async (name: string) => openCheckpoint(await localFolderSource(fx.model(name)));

async function setup(prefix: string) {
  const [sft, rl, target] = await Promise.all(['sft', 'rl', 'target'].map((r) => open(`${prefix}-${r}`)));
  const plan = planMerge({ sft, rl, target }, { mode: 'merge', outDtype: 'F32' });
  const spec = decoderSpec(target.config, new Map([...target.tensors].map(([k, t]) => [k, t.shape])), target.source.label);
  return { target, spec, tensors: exportTensors({ plan }, spec) };
}

describe('exportOnnxFolder', () => {
  // The last case splits the data into chunks of at most 20 000 bytes, as a 7B export is split at 2 GB.
  const cases: [string, OnnxExportDtype, SupportedDtype, string, number | undefined][] = [
    ['tiny-qwen2-untied', 'fp32', 'F32', 'model.onnx', undefined],
    ['tiny-qwen2', 'fp16', 'F16', 'model_fp16.onnx', undefined],
    ['tiny-qwen2-untied', 'fp32', 'F32', 'model.onnx', 20_000],
  ];
  it.each(cases)('%s %s (data files of at most %4$s bytes): every initializer points into its data file at bytes equal to the reference merge, rounded to the dtype', async (prefix, dtype, stored, file, maxDataFileBytes) => {
    const alpha = 0.5;
    const { target, spec, tensors } = await setup(prefix);
    const dir = join(work, `out-${++n}`);
    const report = await exportOnnxFolder({ ckpt: target, spec, tensors, merger: new CpuTensorMerger(100), alpha, dtype, out: await nodeOutputFolder(dir), maxDataFileBytes });
    const model = onnx.ModelProto.decode(readFileSync(join(dir, 'onnx', file)));
    // transformers.js's chunk names, as many as config.json says, each within the limit unless one tensor alone is larger.
    const chunkNames = report.dataFiles.map((_, i) => (i === 0 ? `${file}_data` : `${file}_data_${i}`));
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(config['transformers.js_config'].use_external_data_format).toEqual({ [file]: chunkNames.length });
    expect(readdirSync(join(dir, 'onnx')).sort()).toEqual([file, ...chunkNames].sort());
    const chunks = new Map(chunkNames.map((c) => [c, readFileSync(join(dir, 'onnx', c))]));
    expect([...chunks.values()].map((c) => c.length)).toEqual(report.dataFiles);
    if (maxDataFileBytes) {
      expect(chunkNames.length).toBeGreaterThan(2);
      const largest = Math.max(...tensors.map((t) => t.elements * 4));
      for (const c of chunks.values()) expect(c.length).toBeLessThanOrEqual(Math.max(maxDataFileBytes, largest));
      expect(report.notes.join(' ')).toMatch(new RegExp(`split over ${chunkNames.length} data files`));
    } else expect(chunkNames).toEqual([`${file}_data`]);
    const [S, R, T] = ['sft', 'rl', 'target'].map((r) => readModelFolder(fx.model(`${prefix}-${r}`)));
    const external = model.graph!.initializer!.filter((i) => i.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL);
    // One initializer per weight the graph reads (a tied head reads the embedding: no lm_head).
    expect(external.map((i) => i.name).sort()).toEqual(spec.weights.map((w) => w.name).sort());
    for (const init of external) {
      const kv = Object.fromEntries(init.externalData!.map((e) => [e.key, e.value]));
      expect(chunkNames).toContain(kv.location);
      const data = chunks.get(kv.location)!;
      expect(Number(kv.offset) % 4096).toBe(0);
      expect(init.dataType).toBe(stored === 'F16' ? onnx.TensorProto.DataType.FLOAT16 : onnx.TensorProto.DataType.FLOAT);
      const name = init.name!;
      const values = (m: typeof S) => decode(m.get(name)!.bytes, m.get(name)!.dtype as SupportedDtype);
      const want = referenceMerge(values(T), values(S), values(R), alpha, stored);
      const got = data.subarray(Number(kv.offset), Number(kv.offset) + Number(kv.length));
      expect(Buffer.from(got).equals(Buffer.from(want)), name).toBe(true);
    }
    // The I/O transformers.js feeds, with the batch dimension under the name it resolves.
    const io = (vs: onnxProto.onnx.IValueInfoProto[] | null | undefined) => vs!.map((v) => [v.name, v.type!.tensorType!.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue))]);
    const L = target.config.numLayers;
    const KV = target.config.numKvHeads;
    const D = target.config.headDim;
    expect(io(model.graph!.input)).toEqual([
      ['input_ids', ['batch_size', 'sequence_length']],
      ['attention_mask', ['batch_size', 'total_sequence_length']],
      ['position_ids', ['batch_size', 'sequence_length']],
      ...Array.from({ length: L }, (_, l) => [
        [`past_key_values.${l}.key`, ['batch_size', KV, 'past_sequence_length', D]],
        [`past_key_values.${l}.value`, ['batch_size', KV, 'past_sequence_length', D]],
      ]).flat(),
    ]);
    expect(io(model.graph!.output).map(([name]) => name)).toEqual([
      ...Array.from({ length: L }, (_, l) => [`present.${l}.key`, `present.${l}.value`]).flat(),
      'logits',
    ]);
    expect(io(model.graph!.output).find(([name]) => name === 'logits')![1]).toEqual(['batch_size', 'sequence_length', target.config.vocabSize]);
  });

  it('cancelled mid-way: rejected, and nothing is left (no folder, no temporary sibling)', async () => {
    const { target, spec, tensors } = await setup('tiny-qwen2');
    const parent = join(work, `cancel-${++n}`);
    mkdirSync(parent);
    const ac = new AbortController();
    const p = exportOnnxFolder({
      ckpt: target,
      spec,
      tensors,
      merger: new CpuTensorMerger(64),
      alpha: 1,
      dtype: 'fp32',
      out: await nodeOutputFolder(join(parent, 'x')),
      signal: ac.signal,
      onProgress: (x) => x.tensorsDone === 3 && ac.abort(),
    });
    await expect(p).rejects.toThrow(/cancelled; nothing was saved/);
    expect(existsSync(join(parent, 'x'))).toBe(false);
    expect(readdirSync(parent)).toEqual([]);
  });

  it('the Node output folder takes one subfolder level and nothing hidden or deeper', async () => {
    const out = await nodeOutputFolder(join(work, `names-${++n}`));
    for (const bad of ['a/b/c', '../x', '.hidden/x', 'onnx/.x', '/abs', 'a\\b']) await expect(out.create(bad), bad).rejects.toThrow(/bad output file name/);
    const f = await out.create('onnx/model.onnx');
    await f.write(new Uint8Array([1, 2, 3]));
    await f.close();
    await out.commit();
    expect([...readFileSync(join(work, `names-${n}`, 'onnx', 'model.onnx'))]).toEqual([1, 2, 3]);
  });
});

describe('what the export says about its data files', () => {
  it('sizes in a unit that fits, the limit as typed', () => {
    expect([0, 999, 4096, 40_000, 147_456, 1_490_000, 544_997_376, BROWSER_DATA_CHUNK_LIMIT, 2.18e9, 3e12].map((b) => formatDataSize(b))).toEqual([
      '0 B', '999 B', '4.1 KB', '40 KB', '147 KB', '1.49 MB', '545 MB', '2.15 GB', '2.18 GB', '3 TB',
    ]);
    // Rounded up, a least size to suggest is never below the size.
    expect([4096, 7_351_234, 10_001].map((b) => formatDataSize(b, 'up'))).toEqual(['4.1 KB', '7.36 MB', '10.1 KB']);
  });

  // Shapes only (no weights): Qwen2.5-7B's float32 embedding is 152 064 × 3584 × 4 = 2.18 GB.
  const big = [
    { name: 'model.embed_tokens.weight', shape: [152_064, 3584] },
    { name: 'a', shape: [1024, 1024] },
    { name: 'b', shape: [1024, 1024] },
  ];

  it('a tensor above the 2 GB a browser loads: its own file, which a browser cannot load (fp16 halves it)', () => {
    const layout = layoutExternalData(big, 'float32', { maxFileBytes: BROWSER_DATA_CHUNK_LIMIT });
    expect(dataFileNotes(layout, BROWSER_DATA_CHUNK_LIMIT, 'fp32', 'model.onnx')).toEqual([
      'The weights (2.19 GB) are split over 2 data files of at most 2.15 GB each (config.json\'s transformers.js_config.use_external_data_format says how many).',
      'model.embed_tokens.weight alone is 2.18 GB, more than one data file may hold (2.15 GB); it has a data file of its own, which transformers.js loads in Node but a browser cannot (fp16 halves it).',
    ]);
  });

  it('a tensor above a small limit the user chose: its own file, nothing about browsers', () => {
    const layout = layoutExternalData(big.slice(1), 'float16', { maxFileBytes: 1_000_000 });
    expect(dataFileNotes(layout, 1_000_000, 'fp16', 'model_fp16.onnx')).toEqual([
      'The weights (4.19 MB) are split over 2 data files of at most 1 MB each, each small enough for a browser to load (config.json\'s transformers.js_config.use_external_data_format says how many).',
      'a alone is 2.1 MB, more than one data file may hold (1 MB); it has a data file of its own.',
      'b alone is 2.1 MB, more than one data file may hold (1 MB); it has a data file of its own.',
    ]);
  });

  it('a limit above 2 GB: the data files a browser cannot load are named', () => {
    const layout = layoutExternalData(big, 'float32', { maxFileBytes: 5e9 });
    expect(dataFileNotes(layout, 5e9, 'fp32', 'model.onnx')).toEqual([
      'onnx/model.onnx_data (2.19 GB) is larger than 2.15 GB: transformers.js loads it in Node, but a browser cannot.',
    ]);
  });

  it('a tensor just over the limit reads as larger, in bytes', () => {
    const layout = layoutExternalData([{ name: 'x', shape: [1251] }, { name: 'y', shape: [10] }], 'float32', { maxFileBytes: 5000 });
    expect(dataFileNotes(layout, 5000, 'fp32', 'model.onnx')[1]).toBe('x alone is 5,004 bytes, more than one data file may hold (5,000 bytes); it has a data file of its own.');
  });

  it('more data files than transformers.js loads: refused before a byte is written, the folder aborted (no partial sibling)', async () => {
    const { target, spec, tensors } = await setup('tiny-qwen2');
    const parent = join(work, `too-many-${++n}`);
    mkdirSync(parent);
    const p = exportOnnxFolder({ ckpt: target, spec, tensors: [...tensors, ...tensors, ...tensors, ...tensors], merger: new CpuTensorMerger(64), alpha: 1, dtype: 'fp32', out: await nodeOutputFolder(join(parent, 'x')), maxDataFileBytes: 4096 });
    await expect(p).rejects.toThrow(/need 104 data files of at most 4,096 bytes; transformers\.js loads at most 100\. Allow larger data files: at least \S+ \(the CLI's --max-data-file\)\./);
    expect(readdirSync(parent)).toEqual([]);
  });
});
