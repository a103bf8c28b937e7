import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFixtureDir, type FixtureDir } from '../../../test-support/fixture-dir.ts';
import { CheckpointLayoutError, SafetensorsError, UnsupportedDtypeError } from '../errors.ts';
import { serializeSafetensors } from '../safetensors/serialize-safetensors.ts';
import { localFolderSource } from '../sources/local-folder-source.ts';
import { bytesFile, type CheckpointSource } from '../sources/source.ts';
import { summarizeCheckpoint } from './inspect-checkpoint.ts';
import { openCheckpoint, type OpenProgress } from './open-checkpoint.ts';
import { rejection } from '../../../test-support/rejection.ts';

let fx: FixtureDir;
beforeAll(() => {
  fx = makeFixtureDir();
});
afterAll(() => fx.cleanup());

/** A source over in-memory files that records every read as [path, offset, length]. */
function memorySource(files: Record<string, Uint8Array | string>, label = 'mem'): CheckpointSource & { reads: Array<[string, number, number]> } {
  const reads: Array<[string, number, number]> = [];
  const bytes = (v: Uint8Array | string) => (typeof v === 'string' ? new TextEncoder().encode(v) : v);
  return {
    kind: 'files',
    label,
    reads,
    async listFiles() {
      return Object.entries(files).map(([path, v]) => ({ path, size: bytes(v).length }));
    },
    async open(path) {
      const f = bytesFile(path, bytes(files[path]));
      return { path, size: f.size, read: async (o, l) => (reads.push([path, o, l]), f.read(o, l)) };
    },
  };
}

/** All files of a fixture folder as a memory source. */
function folderFiles(dir: string): Record<string, Uint8Array | string> {
  return Object.fromEntries(readdirSync(dir).map((f) => [f, new Uint8Array(readFileSync(join(dir, f)))]));
}

const u64 = (b: Uint8Array) => Number(Buffer.from(b).readBigUInt64LE(0));

describe('sharded checkpoints', () => {
  it('resolves every tensor to the shard the index names, at the offsets the shard header gives', async () => {
    const dir = fx.model('tiny-qwen2-sharded');
    const ckpt = await openCheckpoint(await localFolderSource(dir));
    const index = JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8')) as { weight_map: Record<string, string> };
    expect(ckpt.sharded).toBe(true);
    expect(ckpt.shards.map((s) => s.file)).toEqual(['model-00001-of-00003.safetensors', 'model-00002-of-00003.safetensors', 'model-00003-of-00003.safetensors']);
    expect(ckpt.tensors.size).toBe(26);
    expect(Object.keys(index.weight_map).sort()).toEqual([...ckpt.tensors.keys()].sort());
    for (const [name, t] of ckpt.tensors) {
      expect(t.file).toBe(index.weight_map[name]);
      const shard = readFileSync(join(dir, t.file));
      const n = u64(shard);
      const entry = JSON.parse(shard.subarray(8, 8 + n).toString('utf8'))[name];
      expect(t.byteOffset).toBe(8 + n + entry.data_offsets[0]);
      expect(t.byteLength).toBe(entry.data_offsets[1] - entry.data_offsets[0]);
      expect(t.shape).toEqual(entry.shape);
    }
  });

  it('reads only headers while opening, and reports progress', async () => {
    const src = memorySource(folderFiles(fx.model('tiny-qwen2-sharded')));
    const progress: OpenProgress[] = [];
    const ckpt = await openCheckpoint(src, (p) => progress.push({ ...p }));
    for (const [path, offset, length] of src.reads) {
      const shard = ckpt.shards.find((s) => s.file === path);
      if (shard) expect(offset + length).toBeLessThanOrEqual(8 + shard.headerLength);
    }
    expect(src.reads.filter(([p]) => p.endsWith('.safetensors')).length).toBe(6);
    expect(progress[0]).toEqual({ phase: 'listing', done: 0, total: 1 });
    expect(progress.slice(1)).toEqual([0, 1, 2, 3].map((done) => ({ phase: 'headers', done, total: 3 })));
  });

  it('sharded and single-file copies of the same weights give the same tensors', async () => {
    const sharded = summarizeCheckpoint(await openCheckpoint(await localFolderSource(fx.model('tiny-qwen2-sharded'))));
    const single = summarizeCheckpoint(await openCheckpoint(await localFolderSource(fx.model('tiny-qwen2-target'))));
    const strip = (s: typeof single) => s.tensors.map(({ file: _f, ...t }) => t);
    expect(strip(sharded)).toEqual(strip(single));
    expect([sharded.parameters, sharded.totalTensorBytes]).toEqual([single.parameters, single.totalTensorBytes]);
  });

  it('a missing shard is named', async () => {
    const e = await rejection(openCheckpoint(await localFolderSource(fx.bad('missing-shard'))));
    expect(e).toBeInstanceOf(CheckpointLayoutError);
    expect(e.message).toBe(
      'missing-shard: model.safetensors.index.json: names shard "model-00002-of-00003.safetensors", which is not in the checkpoint; re-download the missing shard or fix the index.',
    );
  });

  describe('index and shards disagree', () => {
    const withIndex = (edit: (map: Record<string, string>) => void) => {
      const files = folderFiles(fx.model('tiny-qwen2-sharded'));
      const idx = JSON.parse(new TextDecoder().decode(files['model.safetensors.index.json'] as Uint8Array));
      edit(idx.weight_map);
      files['model.safetensors.index.json'] = JSON.stringify(idx);
      return memorySource(files, 'ckpt');
    };

    it('the index maps a tensor to the wrong shard', async () => {
      const e = await rejection(openCheckpoint(withIndex((m) => (m['model.norm.weight'] = 'model-00001-of-00003.safetensors'))));
      expect(e).toBeInstanceOf(CheckpointLayoutError);
      expect(e.message).toBe(
        'ckpt: model.safetensors.index.json: maps "model.norm.weight" to model-00001-of-00003.safetensors but it is stored in model-00003-of-00003.safetensors; the index does not match the shards.',
      );
    });

    it('a shard holds a tensor the index does not list', async () => {
      const e = await rejection(openCheckpoint(withIndex((m) => delete m['model.norm.weight'])));
      expect(e.message).toBe(
        'ckpt: model.safetensors.index.json: maps "model.norm.weight" to nothing but it is stored in model-00003-of-00003.safetensors; the index does not match the shards.',
      );
    });

    it('the index lists a tensor no shard holds', async () => {
      const e = await rejection(openCheckpoint(withIndex((m) => (m['lm_head.weight'] = 'model-00003-of-00003.safetensors'))));
      expect(e).toBeInstanceOf(CheckpointLayoutError);
      expect(e.message).toBe(
        'ckpt: model.safetensors.index.json: maps "lm_head.weight" to model-00003-of-00003.safetensors but that shard does not contain it.',
      );
    });

    it('a tensor stored in two shards', async () => {
      const config = readFileSync(join(fx.model('tiny-qwen2-sharded'), 'config.json'), 'utf8');
      const dup = serializeSafetensors([{ name: 'model.norm.weight', dtype: 'BF16', shape: [16], data: new Uint8Array(32) }]);
      const two = serializeSafetensors([
        { name: 'model.norm.weight', dtype: 'BF16', shape: [16], data: new Uint8Array(32) },
        { name: 'x', dtype: 'BF16', shape: [1], data: new Uint8Array(2) },
      ]);
      const e = await rejection(
        openCheckpoint(
          memorySource(
            {
              'config.json': config,
              'model-00001-of-00002.safetensors': dup,
              'model-00002-of-00002.safetensors': two,
              'model.safetensors.index.json': JSON.stringify({ weight_map: { 'model.norm.weight': 'model-00001-of-00002.safetensors', x: 'model-00002-of-00002.safetensors' } }),
            },
            'ckpt',
          ),
        ),
      );
      expect(e).toBeInstanceOf(SafetensorsError);
      expect(e.message).toBe(
        'model-00002-of-00002.safetensors: tensor "model.norm.weight": is also stored in model-00001-of-00002.safetensors; the checkpoint is inconsistent.',
      );
    });
  });
});

describe('layout errors', () => {
  it('missing config.json', async () => {
    const e = await rejection(openCheckpoint(await localFolderSource(fx.bad('missing-config'))));
    expect(e).toBeInstanceOf(CheckpointLayoutError);
    expect(e.message).toBe(
      'missing-config: config.json: is missing; a checkpoint needs the config.json saved next to its safetensors (use the whole model folder, not only its weight files).',
    );
  });

  it('no weights, or several without an index', async () => {
    const files = folderFiles(fx.model('tiny-qwen2-target'));
    const model = files['model.safetensors'];
    delete files['model.safetensors'];
    expect((await rejection(openCheckpoint(memorySource(files, 'c')))).message).toBe(
      'c: model.safetensors: no safetensors weights found (expected model.safetensors, or shards with model.safetensors.index.json).',
    );
    const two = { ...files, 'a.safetensors': model, 'b.safetensors': model };
    expect((await rejection(openCheckpoint(memorySource(two, 'c')))).message).toBe(
      'c: model.safetensors: found 2 safetensors files but no model.safetensors.index.json to say how they fit together.',
    );
    const one = await openCheckpoint(memorySource({ ...files, 'weights.safetensors': model }, 'c'));
    expect(one.shards.map((s) => s.file)).toEqual(['weights.safetensors']);
    expect(one.sharded).toBe(false);
  });

  it.each([
    ['header-too-long', SafetensorsError, /^header-too-long\/model\.safetensors: header length field says \d+ bytes/],
    ['f8-dtype', UnsupportedDtypeError, /^f8-dtype\/model\.safetensors: tensor "model\.layers\.0\.mlp\.up_proj\.weight" has dtype F8_E4M3;/],
    ['overlapping-spans', SafetensorsError, /^overlapping-spans\/model\.safetensors: tensor "model\.norm\.weight": data overlaps/],
  ] as const)('a bad shard in %s is named as label/file', async (name, cls, re) => {
    const e = await rejection(openCheckpoint(await localFolderSource(fx.bad(name))));
    expect(e).toBeInstanceOf(cls);
    expect(e.message).toMatch(re);
  });
});

describe('tied and untied heads', () => {
  it.each([
    ['tiny-qwen2-target', true, 26],
    ['tiny-qwen2-untied-target', false, 27],
    ['tiny-qwen2-v5', true, 26],
  ] as const)('%s: tiedHead %s, %i tensors', async (name, tied, count) => {
    const ckpt = await openCheckpoint(await localFolderSource(fx.model(name)));
    expect(ckpt.tiedHead).toBe(tied);
    expect(ckpt.config.tieWordEmbeddings).toBe(tied);
    expect(ckpt.tensors.size).toBe(count);
    expect(ckpt.tensors.has('lm_head.weight')).toBe(!tied);
    expect(ckpt.tokenizerFiles).toEqual(['tokenizer.json', 'tokenizer_config.json', 'generation_config.json']);
  });
});

describe('readTensorBytes', () => {
  it('returns exactly the tensor bytes, and slices of them', async () => {
    for (const name of ['tiny-qwen2-target', 'tiny-qwen2-sharded', 'tiny-qwen2-f32']) {
      const dir = fx.model(name);
      const ckpt = await openCheckpoint(await localFolderSource(dir));
      for (const t of ckpt.tensors.values()) {
        const file = readFileSync(join(dir, t.file));
        const expected = file.subarray(t.byteOffset, t.byteOffset + t.byteLength);
        const got = await ckpt.readTensorBytes(t.name);
        expect(got.length).toBe(t.byteLength);
        expect(Buffer.from(got).equals(expected)).toBe(true);
      }
      const embed = ckpt.tensors.get('model.embed_tokens.weight')!;
      const file = readFileSync(join(dir, embed.file));
      const slice = await ckpt.readTensorBytes(embed.name, 100, 37);
      expect(Buffer.from(slice).equals(file.subarray(embed.byteOffset + 100, embed.byteOffset + 137))).toBe(true);
      const tail = await ckpt.readTensorBytes(embed.name, embed.byteLength - 10);
      expect(Buffer.from(tail).equals(file.subarray(embed.byteOffset + embed.byteLength - 10, embed.byteOffset + embed.byteLength))).toBe(true);
      expect((await ckpt.readTensorBytes(embed.name, embed.byteLength, 0)).length).toBe(0);
    }
  });

  it('reads only the tensor span (one ranged read)', async () => {
    const src = memorySource(folderFiles(fx.model('tiny-qwen2-target')));
    const ckpt = await openCheckpoint(src);
    src.reads.length = 0;
    const t = ckpt.tensors.get('model.layers.1.mlp.up_proj.weight')!;
    await ckpt.readTensorBytes(t.name, 8, 16);
    expect(src.reads).toEqual([['model.safetensors', t.byteOffset + 8, 16]]);
  });

  it('refuses reads outside the tensor and unknown tensors', async () => {
    const ckpt = await openCheckpoint(await localFolderSource(fx.model('tiny-qwen2-target')));
    const t = ckpt.tensors.get('model.norm.weight')!;
    expect(t.byteLength).toBe(32);
    await expect(ckpt.readTensorBytes(t.name, 0, 33)).rejects.toThrow(new RangeError('read of model.norm.weight [0, 33) outside its 32 bytes'));
    await expect(ckpt.readTensorBytes(t.name, 30, 4)).rejects.toThrow(new RangeError('read of model.norm.weight [30, 34) outside its 32 bytes'));
    await expect(ckpt.readTensorBytes(t.name, -1, 4)).rejects.toThrow(new RangeError('read of model.norm.weight [-1, 3) outside its 32 bytes'));
    await expect(ckpt.readTensorBytes(t.name, 33)).rejects.toThrow(new RangeError('read of model.norm.weight [33, 32) outside its 32 bytes'));
    const e = await rejection(ckpt.readTensorBytes('nope'));
    expect(e).toBeInstanceOf(CheckpointLayoutError);
    expect(e.message).toBe('tiny-qwen2-target: weights: has no tensor "nope".');
  });
});
