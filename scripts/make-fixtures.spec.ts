import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serializeSafetensors } from '../src/engine/safetensors/serialize-safetensors.ts';
import { bf16BitsToFloat, f16BitsToFloat, toBf16Bits, toF16Bits } from './fixtures/float-convert.ts';
import { bytesToUnicode } from './fixtures/tokenizer.ts';
import { makeFixtures } from './make-fixtures.ts';

// ---- an independent safetensors header reader (deliberately not the engine's parser) ----

interface RawEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}
interface RawHeader {
  n: number;
  metadata: Record<string, string> | undefined;
  tensors: Record<string, RawEntry>;
  fileSize: number;
}

function readHeader(file: string): RawHeader {
  const bytes = readFileSync(file);
  const n = Number(bytes.readBigUInt64LE(0));
  const { __metadata__: metadata, ...tensors } = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8'));
  return { n, metadata, tensors, fileSize: bytes.length };
}

function listFiles(dir: string, prefix = ''): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((f) => (statSync(path.join(dir, f)).isDirectory() ? listFiles(path.join(dir, f), `${prefix}${f}/`) : [`${prefix}${f}`]));
}

const readJson = (file: string) => JSON.parse(readFileSync(file, 'utf8'));

function expectedTensorNames(untied: boolean): string[] {
  const names = ['model.embed_tokens.weight', 'model.norm.weight'];
  for (const l of [0, 1]) {
    for (const p of ['q', 'k', 'v']) names.push(`model.layers.${l}.self_attn.${p}_proj.weight`, `model.layers.${l}.self_attn.${p}_proj.bias`);
    names.push(
      `model.layers.${l}.self_attn.o_proj.weight`,
      `model.layers.${l}.mlp.gate_proj.weight`,
      `model.layers.${l}.mlp.up_proj.weight`,
      `model.layers.${l}.mlp.down_proj.weight`,
      `model.layers.${l}.input_layernorm.weight`,
      `model.layers.${l}.post_attention_layernorm.weight`,
    );
  }
  if (untied) names.push('lm_head.weight');
  return names.sort();
}

let dirA: string;
let dirB: string;
let elapsedMs: number;
const models = (name: string) => path.join(dirA, 'models', name);
const bad = (name: string) => path.join(dirA, 'bad', name);

beforeAll(() => {
  dirA = mkdtempSync(path.join(tmpdir(), 'fixtures-a-'));
  dirB = mkdtempSync(path.join(tmpdir(), 'fixtures-b-'));
  const t0 = performance.now();
  makeFixtures(dirA);
  elapsedMs = performance.now() - t0;
  makeFixtures(dirB);
});

afterAll(() => {
  rmSync(dirA, { recursive: true, force: true });
  rmSync(dirB, { recursive: true, force: true });
});

describe('makeFixtures', () => {
  it('is fast', () => {
    expect(elapsedMs).toBeLessThan(5000);
  });

  it('is byte-identical across runs', () => {
    const files = listFiles(dirA);
    expect(files).toEqual(listFiles(dirB));
    expect(files.length).toBeGreaterThan(80);
    for (const f of files) expect(readFileSync(path.join(dirA, f)).equals(readFileSync(path.join(dirB, f))), f).toBe(true);
  });

  it('recreates models/ and bad/ but leaves the rest of the folder alone', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'fixtures-c-'));
    try {
      makeFixtures(dir);
      writeFileSync(path.join(dir, 'models', 'stale.txt'), 'x');
      mkdirSync(path.join(dir, 'bad', 'stale-dir'));
      writeFileSync(path.join(dir, 'keep.txt'), 'x');
      const summaries = makeFixtures(dir);
      expect(existsSync(path.join(dir, 'models', 'stale.txt'))).toBe(false);
      expect(existsSync(path.join(dir, 'bad', 'stale-dir'))).toBe(false);
      expect(existsSync(path.join(dir, 'keep.txt'))).toBe(true);
      expect(summaries.map((s) => s.path)).toEqual([
        ...['sft', 'rl', 'target', 'f16', 'f32', 'sharded', 'untied-sft', 'untied-rl', 'untied-target', 'v5', 'vocab320-target', 'notok-target'].map(
          (n) => `models/tiny-qwen2-${n}`,
        ),
        ...['header-too-long', 'bad-json', 'f8-dtype', 'shape-size-mismatch', 'overlapping-spans', 'out-of-range-span', 'missing-config', 'missing-shard'].map(
          (n) => `bad/${n}`,
        ),
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('model fixtures', () => {
  it('writes the side files of every model (tokenizer files of all but the one made without them)', () => {
    for (const m of readdirSync(path.join(dirA, 'models'))) {
      for (const f of ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json']) {
        const without = m === 'tiny-qwen2-notok-target' && f.startsWith('tokenizer');
        expect(existsSync(path.join(models(m), f)), `${m}/${f}`).toBe(!without);
      }
    }
    // Same weights as the target with a tokenizer: only the tokenizer is missing.
    expect(readFileSync(path.join(models('tiny-qwen2-notok-target'), 'model.safetensors')).equals(readFileSync(path.join(models('tiny-qwen2-target'), 'model.safetensors')))).toBe(true);
  });

  it('stores the real Qwen2 tensor names and shapes, contiguous and name-sorted', () => {
    const h = readHeader(path.join(models('tiny-qwen2-sft'), 'model.safetensors'));
    expect(h.metadata).toEqual({ format: 'pt' });
    expect(h.n % 8).toBe(0);
    const names = Object.keys(h.tensors);
    expect(names).toEqual(expectedTensorNames(false));
    const t = h.tensors;
    expect(t['model.embed_tokens.weight'].shape).toEqual([288, 16]);
    expect(t['model.layers.0.self_attn.q_proj.weight'].shape).toEqual([16, 16]);
    expect(t['model.layers.0.self_attn.k_proj.weight'].shape).toEqual([8, 16]);
    expect(t['model.layers.1.self_attn.v_proj.bias'].shape).toEqual([8]);
    expect(t['model.layers.1.mlp.gate_proj.weight'].shape).toEqual([32, 16]);
    expect(t['model.layers.1.mlp.down_proj.weight'].shape).toEqual([16, 32]);
    expect(t['model.norm.weight'].shape).toEqual([16]);
    let offset = 0;
    for (const name of names) {
      const e = t[name];
      expect(e.dtype).toBe('BF16');
      expect(e.data_offsets).toEqual([offset, offset + e.shape.reduce((a, b) => a * b, 1) * 2]);
      offset = e.data_offsets[1];
    }
    expect(8 + h.n + offset).toBe(h.fileSize);
  });

  it('uses the fixture dtype, untied heads and the resized vocabulary', () => {
    const dtypes = (m: string) => new Set(Object.values(readHeader(path.join(models(m), 'model.safetensors')).tensors).map((e) => e.dtype));
    expect(dtypes('tiny-qwen2-f16')).toEqual(new Set(['F16']));
    expect(dtypes('tiny-qwen2-f32')).toEqual(new Set(['F32']));
    const untied = readHeader(path.join(models('tiny-qwen2-untied-rl'), 'model.safetensors'));
    expect(Object.keys(untied.tensors)).toEqual(expectedTensorNames(true));
    expect(untied.tensors['lm_head.weight'].shape).toEqual([288, 16]);
    const v320 = readHeader(path.join(models('tiny-qwen2-vocab320-target'), 'model.safetensors'));
    expect(v320.tensors['model.embed_tokens.weight'].shape).toEqual([320, 16]);
    expect(readJson(path.join(models('tiny-qwen2-vocab320-target'), 'config.json')).vocab_size).toBe(320);
  });

  it('forms one family: bf16/f16 are RNE casts of the f32 target, donors are close but distinct', () => {
    const values = (m: string, name: string) => {
      const file = path.join(models(m), 'model.safetensors');
      const h = readHeader(file);
      const [b, e] = h.tensors[name].data_offsets;
      return readFileSync(file).subarray(8 + h.n + b, 8 + h.n + e);
    };
    const name = 'model.layers.0.mlp.up_proj.weight';
    const f32 = values('tiny-qwen2-f32', name);
    const asF32 = Array.from({ length: f32.length / 4 }, (_, i) => f32.readFloatLE(i * 4));
    const bf = values('tiny-qwen2-target', name);
    const f16 = values('tiny-qwen2-f16', name);
    asF32.forEach((v, i) => {
      expect(bf.readUInt16LE(i * 2)).toBe(toBf16Bits(v));
      expect(f16.readUInt16LE(i * 2)).toBe(toF16Bits(v));
    });
    const decode = (m: string) => {
      const b = values(m, name);
      return Array.from({ length: b.length / 2 }, (_, i) => bf16BitsToFloat(b.readUInt16LE(i * 2)));
    };
    const sft = decode('tiny-qwen2-sft');
    const rl = decode('tiny-qwen2-rl');
    const diffs = sft.map((v, i) => Math.abs(v - rl[i]));
    expect(Math.max(...diffs)).toBeLessThan(0.02);
    expect(diffs.filter((d) => d > 0).length).toBeGreaterThan(diffs.length / 2);
    // Tied and untied donors share every common tensor; the resized target keeps the old rows.
    expect(values('tiny-qwen2-untied-sft', name).equals(values('tiny-qwen2-sft', name))).toBe(true);
    const emb = values('tiny-qwen2-target', 'model.embed_tokens.weight');
    expect(values('tiny-qwen2-vocab320-target', 'model.embed_tokens.weight').subarray(0, emb.length).equals(emb)).toBe(true);
  });

  it('shards: the index maps every tensor to an existing shard that holds it', () => {
    const dir = models('tiny-qwen2-sharded');
    const index = readJson(path.join(dir, 'model.safetensors.index.json'));
    const shardFiles = ['model-00001-of-00003.safetensors', 'model-00002-of-00003.safetensors', 'model-00003-of-00003.safetensors'];
    expect(new Set(Object.values(index.weight_map))).toEqual(new Set(shardFiles));
    expect(Object.keys(index.weight_map).sort()).toEqual(expectedTensorNames(false));
    let total = 0;
    const seen: string[] = [];
    for (const shard of shardFiles) {
      expect(existsSync(path.join(dir, shard))).toBe(true);
      const h = readHeader(path.join(dir, shard));
      for (const [name, e] of Object.entries(h.tensors)) {
        expect(index.weight_map[name]).toBe(shard);
        total += e.data_offsets[1] - e.data_offsets[0];
        seen.push(name);
      }
    }
    expect(seen.sort()).toEqual(expectedTensorNames(false));
    expect(index.metadata.total_size).toBe(total);
    expect(existsSync(path.join(dir, 'model.safetensors'))).toBe(false);
  });

  it('writes v4 and v5 configs and Qwen-style generation configs', () => {
    const v4 = readJson(path.join(models('tiny-qwen2-target'), 'config.json'));
    expect(v4).toMatchObject({
      architectures: ['Qwen2ForCausalLM'],
      model_type: 'qwen2',
      hidden_size: 16,
      intermediate_size: 32,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      vocab_size: 288,
      max_position_embeddings: 128,
      rms_norm_eps: 1e-6,
      rope_theta: 10000,
      torch_dtype: 'bfloat16',
      tie_word_embeddings: true,
    });
    expect(readJson(path.join(models('tiny-qwen2-f16'), 'config.json')).torch_dtype).toBe('float16');
    expect(readJson(path.join(models('tiny-qwen2-f32'), 'config.json')).torch_dtype).toBe('float32');
    expect(readJson(path.join(models('tiny-qwen2-untied-target'), 'config.json')).tie_word_embeddings).toBe(false);

    const v5 = readJson(path.join(models('tiny-qwen2-v5'), 'config.json'));
    expect(v5).toMatchObject({
      dtype: 'bfloat16',
      rope_parameters: { rope_theta: 10000, rope_type: 'default' },
      layer_types: ['full_attention', 'full_attention'],
      transformers_version: '5.7.0',
    });
    expect(v5).not.toHaveProperty('torch_dtype');
    expect(v5).not.toHaveProperty('rope_theta');

    const tok = readJson(path.join(models('tiny-qwen2-target'), 'tokenizer.json'));
    const id = (content: string) => tok.added_tokens.find((t: { content: string }) => t.content === content).id;
    expect(v4.eos_token_id).toBe(id('<|im_end|>'));
    expect(v4.bos_token_id).toBe(id('<|endoftext|>'));
    expect(readJson(path.join(models('tiny-qwen2-target'), 'generation_config.json'))).toEqual({
      bos_token_id: id('<|endoftext|>'),
      eos_token_id: [id('<|im_end|>'), id('<|endoftext|>')],
      pad_token_id: id('<|endoftext|>'),
    });
  });

  it('writes a consistent Qwen2-format byte-level BPE tokenizer', () => {
    const tok = readJson(path.join(models('tiny-qwen2-sft'), 'tokenizer.json'));
    const cfg = readJson(path.join(models('tiny-qwen2-sft'), 'tokenizer_config.json'));
    const { vocab, merges } = tok.model;
    expect(tok.model).toMatchObject({ type: 'BPE', byte_fallback: false });
    expect(tok.pre_tokenizer.pretokenizers.map((p: { type: string }) => p.type)).toEqual(['Split', 'ByteLevel']);
    expect(tok.pre_tokenizer.pretokenizers[0].pattern.Regex).toContain(String.raw`[^\r\n\p{L}\p{N}]?\p{L}+`);
    expect(tok.decoder.type).toBe('ByteLevel');
    expect(tok.normalizer).toEqual({ type: 'NFC' });
    // ids 0..255 are the 256 byte symbols; "Ġ" is the space byte, "!" is id 0 as in GPT-2/Qwen2.
    const byId = new Map(Object.entries(vocab as Record<string, number>).map(([s, i]) => [i, s]));
    expect(new Set(bytesToUnicode().map(([, s]) => s)).size).toBe(256);
    for (let i = 0; i < 256; i++) expect([...byId.get(i)!].length).toBe(1);
    expect(vocab['!']).toBe(0);
    expect(bytesToUnicode().find(([b]) => b === 0x20)![1]).toBe('Ġ');
    // every merge combines existing tokens into the next id
    merges.forEach((m: string, k: number) => {
      const [a, b] = m.split(' ');
      expect(vocab[a]).toBeLessThan(256 + k);
      expect(vocab[b]).toBeLessThan(256 + k);
      expect(vocab[a + b]).toBe(256 + k);
    });
    const ids = tok.added_tokens.map((t: { id: number; special: boolean }) => (expect(t.special).toBe(true), t.id));
    const firstSpecial = 256 + merges.length;
    expect(ids).toEqual([firstSpecial, firstSpecial + 1, firstSpecial + 2]);
    expect(firstSpecial + 3).toBeLessThanOrEqual(288);
    expect(cfg).toMatchObject({ tokenizer_class: 'Qwen2Tokenizer', eos_token: '<|im_end|>', pad_token: '<|endoftext|>', bos_token: null });
    expect(Object.keys(cfg.added_tokens_decoder)).toEqual(ids.map(String));
    expect(cfg.chat_template).toContain("'<|im_start|>assistant\\n'");
  });
});

describe('bad fixtures', () => {
  const file = (name: string) => path.join(bad(name), 'model.safetensors');

  it('keep a valid config.json except where it is the defect', () => {
    for (const b of readdirSync(path.join(dirA, 'bad'))) {
      expect(existsSync(path.join(bad(b), 'config.json')), b).toBe(b !== 'missing-config');
    }
  });

  it('header-too-long: the u64 length runs past the end of the file', () => {
    const bytes = readFileSync(file('header-too-long'));
    expect(8 + Number(bytes.readBigUInt64LE(0))).toBeGreaterThan(bytes.length);
  });

  it('bad-json: the header is not JSON', () => {
    expect(() => readHeader(file('bad-json'))).toThrow(SyntaxError);
  });

  it('f8-dtype: one F8_E4M3 tensor, otherwise consistent', () => {
    const h = readHeader(file('f8-dtype'));
    const e = h.tensors['model.layers.0.mlp.up_proj.weight'];
    expect(e.dtype).toBe('F8_E4M3');
    expect(e.data_offsets[1] - e.data_offsets[0]).toBe(32 * 16);
    expect(Object.values(h.tensors).filter((x) => x.dtype !== 'BF16')).toHaveLength(1);
  });

  it('shape-size-mismatch, overlapping-spans, out-of-range-span', () => {
    const span = (e: RawEntry) => e.data_offsets[1] - e.data_offsets[0];
    const mismatch = readHeader(file('shape-size-mismatch'));
    const mismatched = Object.entries(mismatch.tensors).filter(([, e]) => span(e) !== e.shape.reduce((a, b) => a * b, 1) * 2);
    expect(mismatched.map(([n]) => n)).toEqual(['model.layers.0.self_attn.k_proj.bias']);

    const overlap = readHeader(file('overlapping-spans'));
    const sorted = Object.values(overlap.tensors).sort((a, b) => a.data_offsets[0] - b.data_offsets[0]);
    const overlaps = sorted.filter((e, i) => i > 0 && e.data_offsets[0] < sorted[i - 1].data_offsets[1]);
    expect(overlaps).toHaveLength(1);
    expect(8 + overlap.n + Math.max(...sorted.map((e) => e.data_offsets[1]))).toBe(overlap.fileSize);

    const oor = readHeader(file('out-of-range-span'));
    const dataSize = oor.fileSize - 8 - oor.n;
    expect(Object.values(oor.tensors).filter((e) => e.data_offsets[1] > dataSize)).toHaveLength(1);
  });

  it('missing-config and missing-shard', () => {
    expect(Object.keys(readHeader(file('missing-config')).tensors)).toEqual(expectedTensorNames(false));
    const dir = bad('missing-shard');
    const shards = new Set<string>(Object.values(readJson(path.join(dir, 'model.safetensors.index.json')).weight_map));
    expect([...shards].filter((s) => !existsSync(path.join(dir, s)))).toEqual(['model-00002-of-00003.safetensors']);
  });
});

describe('serializeSafetensors', () => {
  const bf16 = (n: number) => new Uint8Array(n * 2);

  it('sorts by name, pads the header to 8 and lays data out back to back', () => {
    const out = serializeSafetensors([
      { name: 'b', dtype: 'BF16', shape: [3], data: bf16(3).fill(2) },
      { name: 'a', dtype: 'F32', shape: [1, 1], data: new Uint8Array(4).fill(1) },
    ]);
    const n = Number(new DataView(out.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const text = new TextDecoder().decode(out.subarray(8, 8 + n));
    expect(text.trimEnd()).toBe('{"a":{"dtype":"F32","shape":[1,1],"data_offsets":[0,4]},"b":{"dtype":"BF16","shape":[3],"data_offsets":[4,10]}}');
    expect(Array.from(out.subarray(8 + n))).toEqual([1, 1, 1, 1, 2, 2, 2, 2, 2, 2]);
  });

  it('throws naming the tensor whose data does not match its shape', () => {
    expect(() => serializeSafetensors([{ name: 'model.norm.weight', dtype: 'BF16', shape: [16], data: bf16(15) }])).toThrow(
      /model\.norm\.weight/,
    );
    expect(() => serializeSafetensors([{ name: 'x', dtype: 'F4', shape: [2], data: new Uint8Array(1) }])).toThrow(/F4/);
  });

  it('handles scalars and empty tensors', () => {
    const out = serializeSafetensors([
      { name: 's', dtype: 'F32', shape: [], data: new Uint8Array(4) },
      { name: 'z', dtype: 'F16', shape: [0, 4], data: new Uint8Array(0) },
    ]);
    expect(out.length % 8).toBe(4); // 8-aligned header + 4 data bytes
  });
});

describe('float conversion, round to nearest even', () => {
  it('bf16', () => {
    expect(toBf16Bits(1)).toBe(0x3f80);
    expect(toBf16Bits(-2)).toBe(0xc000);
    expect(toBf16Bits(1.00390625)).toBe(0x3f80); // 1 + 2^-8: halfway, ties to even (down)
    expect(toBf16Bits(1.01171875)).toBe(0x3f82); // 1 + 3·2^-8: halfway, ties to even (up)
    expect(toBf16Bits(1.00390625 + 2 ** -23)).toBe(0x3f81); // one float32 ulp above halfway
    expect(toBf16Bits(Infinity)).toBe(0x7f80);
    expect(toBf16Bits(-Infinity)).toBe(0xff80);
    expect(toBf16Bits(3.4028234663852886e38)).toBe(0x7f80); // f32 max rounds past bf16 max
    expect(toBf16Bits(-0)).toBe(0x8000);
    expect(toBf16Bits(2 ** -133)).toBe(0x0001); // smallest bf16 subnormal
    expect(toBf16Bits(2 ** -134)).toBe(0x0000); // half of it: ties to even (zero)
    expect(toBf16Bits(2 ** -149)).toBe(0x0000);
    const nan = toBf16Bits(NaN);
    expect(nan & 0x7f80).toBe(0x7f80);
    expect(nan & 0x7f).not.toBe(0);
    expect(Number.isNaN(bf16BitsToFloat(nan))).toBe(true);
  });

  it('f16', () => {
    expect(toF16Bits(1)).toBe(0x3c00);
    expect(toF16Bits(-2)).toBe(0xc000);
    expect(toF16Bits(1 + 2 ** -11)).toBe(0x3c00); // halfway: ties to even (down)
    expect(toF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // halfway: ties to even (up)
    expect(toF16Bits(65504)).toBe(0x7bff); // f16 max
    expect(toF16Bits(65519)).toBe(0x7bff);
    expect(toF16Bits(65520)).toBe(0x7c00); // halfway to 2^16 ties to even = Inf
    expect(toF16Bits(-65520)).toBe(0xfc00);
    expect(toF16Bits(1e6)).toBe(0x7c00);
    expect(toF16Bits(Infinity)).toBe(0x7c00);
    expect(toF16Bits(-0)).toBe(0x8000);
    expect(toF16Bits(2 ** -14)).toBe(0x0400); // smallest normal
    expect(toF16Bits(1023 * 2 ** -24)).toBe(0x03ff); // largest subnormal
    expect(toF16Bits(1023.5 * 2 ** -24)).toBe(0x0400); // ties to even, carries into the exponent
    expect(toF16Bits(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(toF16Bits(2 ** -25)).toBe(0x0000); // half of it: ties to even (zero)
    expect(toF16Bits(1.5 * 2 ** -25)).toBe(0x0001);
    expect(toF16Bits(3 * 2 ** -25)).toBe(0x0002); // 1.5 units: ties to even (up)
    expect(toF16Bits(-(2 ** -26))).toBe(0x8000);
    expect(toF16Bits(2 ** -149)).toBe(0x0000); // float32 subnormal
    const nan = toF16Bits(NaN);
    expect(nan & 0x7c00).toBe(0x7c00);
    expect(nan & 0x3ff).not.toBe(0);
    expect(Number.isNaN(f16BitsToFloat(nan))).toBe(true);
  });

  it('f16: every finite value round-trips and every midpoint ties to even', () => {
    for (let h = 0; h < 0x7c00; h++) {
      expect(toF16Bits(f16BitsToFloat(h))).toBe(h);
      expect(toF16Bits(-f16BitsToFloat(h))).toBe(h | 0x8000);
      const mid = (f16BitsToFloat(h) + f16BitsToFloat(h + 1)) / 2; // exact in float32
      if (toF16Bits(mid) !== (h & 1 ? h + 1 : h)) throw new Error(`midpoint after 0x${h.toString(16)}`);
    }
  });

  it('bf16: every finite value round-trips and every midpoint ties to even', () => {
    for (let h = 0; h < 0x7f80; h++) {
      expect(toBf16Bits(bf16BitsToFloat(h))).toBe(h);
      const mid = (bf16BitsToFloat(h) + bf16BitsToFloat(h + 1)) / 2;
      if (toBf16Bits(mid) !== (h & 1 ? h + 1 : h)) throw new Error(`midpoint after 0x${h.toString(16)}`);
    }
  });
});
