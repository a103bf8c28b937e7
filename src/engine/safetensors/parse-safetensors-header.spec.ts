import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFixtureDir, recordingFile, type FixtureDir } from '../../../test-support/fixture-dir.ts';
import { SafetensorsError, StudioError, UnsupportedDtypeError } from '../errors.ts';
import { bytesFile } from '../sources/source.ts';
import { KNOWN_DTYPE_BYTES, SUPPORTED_DTYPES } from './dtypes.ts';
import { MAX_HEADER_LENGTH } from './limits.ts';
import { parseSafetensorsHeader, validateHeader, type SafetensorsHeader } from './parse-safetensors-header.ts';
import { frameHeader, safetensorsHeaderBytes, serializeSafetensors, type TensorToSerialize } from './serialize-safetensors.ts';
import { rejection } from '../../../test-support/rejection.ts';

// ---- an independent reader (Buffer + JSON.parse), deliberately not the engine's parser ----

interface Independent {
  n: number;
  metadata: Record<string, string>;
  tensors: Array<{ name: string; dtype: string; shape: number[]; byteOffset: number; byteLength: number }>;
}

function independentParse(bytes: Uint8Array): Independent {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(buf.readBigUInt64LE(0));
  const { __metadata__, ...rest } = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, any>;
  const tensors = Object.entries(rest)
    .map(([name, e]) => ({
      name,
      dtype: e.dtype as string,
      shape: e.shape as number[],
      byteOffset: 8 + n + e.data_offsets[0],
      byteLength: e.data_offsets[1] - e.data_offsets[0],
    }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { n, metadata: __metadata__ ?? {}, tensors };
}

function syncError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

/** Every span inside [dataStart, fileSize] and no two spans sharing a byte. */
function expectSaneSpans(h: SafetensorsHeader, fileSize: number) {
  const dataStart = 8 + h.headerLength;
  expect(dataStart).toBeLessThanOrEqual(fileSize);
  for (const t of h.tensors) {
    expect(SUPPORTED_DTYPES as readonly string[]).toContain(t.dtype);
    expect(Number.isSafeInteger(t.byteOffset) && Number.isSafeInteger(t.byteLength)).toBe(true);
    expect(t.byteOffset).toBeGreaterThanOrEqual(dataStart);
    expect(t.byteLength).toBeGreaterThanOrEqual(0);
    expect(t.byteOffset + t.byteLength).toBeLessThanOrEqual(fileSize);
  }
  const spans = h.tensors.filter((t) => t.byteLength > 0).sort((a, b) => a.byteOffset - b.byteOffset);
  for (let i = 1; i < spans.length; i++) {
    expect(spans[i].byteOffset).toBeGreaterThanOrEqual(spans[i - 1].byteOffset + spans[i - 1].byteLength);
  }
}

function tensor(name: string, dtype: string, shape: number[], fill = 1): TensorToSerialize {
  const n = shape.reduce((a, b) => a * b, 1) * (KNOWN_DTYPE_BYTES[dtype] ?? 0);
  return { name, dtype, shape, data: new Uint8Array(n).map((_, i) => (i * 7 + fill) & 0xff) };
}

/** A small valid file: three tensors of the three supported dtypes plus metadata. */
const SMALL = serializeSafetensors(
  [tensor('a.weight', 'BF16', [2, 3]), tensor('b.bias', 'F32', [3], 5), tensor('c', 'F16', [1, 2, 2], 9)],
  { format: 'pt' },
);

let fx: FixtureDir;
beforeAll(() => {
  fx = makeFixtureDir();
});
afterAll(() => fx.cleanup());

const fixtureBytes = (dir: string) => new Uint8Array(readFileSync(join(dir, 'model.safetensors')));

describe('bad fixtures give their specific error', () => {
  const parseBad = async (name: string) => {
    const bytes = fixtureBytes(fx.bad(name));
    return { bytes, error: await rejection(parseSafetensorsHeader(bytesFile('model.safetensors', bytes), `${name}/model.safetensors`)) };
  };

  it('header-too-long: the length field runs past the end of the file', async () => {
    const { bytes, error } = await parseBad('header-too-long');
    expect(error).toBeInstanceOf(SafetensorsError);
    expect((error as SafetensorsError).file).toBe('header-too-long/model.safetensors');
    expect((error as SafetensorsError).tensor).toBeUndefined();
    expect(error.message).toBe(
      `header-too-long/model.safetensors: header length field says ${bytes.length} bytes, so header and prefix need ${bytes.length + 8}, ` +
        `but the file has only ${bytes.length}: it is truncated or not safetensors; re-download it.`,
    );
    expect((error as StudioError).retryable).toBe(false);
  });

  it('bad-json: names the file and says the header is not JSON', async () => {
    const { error } = await parseBad('bad-json');
    expect(error).toBeInstanceOf(SafetensorsError);
    expect(error.message).toMatch(/^bad-json\/model\.safetensors: header is not valid UTF-8 JSON \(.+\); the file is corrupt\.$/);
  });

  it('f8-dtype: UnsupportedDtypeError naming the tensor and the dtype', async () => {
    const { error } = await parseBad('f8-dtype');
    expect(error).toBeInstanceOf(UnsupportedDtypeError);
    const e = error as UnsupportedDtypeError;
    expect([e.file, e.tensor, e.dtype]).toEqual(['f8-dtype/model.safetensors', 'model.layers.0.mlp.up_proj.weight', 'F8_E4M3']);
    expect(e.message).toBe(
      'f8-dtype/model.safetensors: tensor "model.layers.0.mlp.up_proj.weight" has dtype F8_E4M3; the studio merges BF16, F16 and F32 only. ' +
        'Use an unquantised checkpoint (or convert it to bf16/f16/f32 first).',
    );
  });

  it('shape-size-mismatch: names the tensor, its shape, and both byte counts', async () => {
    const { bytes, error } = await parseBad('shape-size-mismatch');
    const k = independentParse(bytes).tensors.find((t) => t.name === 'model.layers.0.self_attn.k_proj.bias')!;
    const begin = k.byteOffset - 8 - independentParse(bytes).n;
    expect(error).toBeInstanceOf(SafetensorsError);
    expect((error as SafetensorsError).tensor).toBe('model.layers.0.self_attn.k_proj.bias');
    expect(error.message).toBe(
      `shape-size-mismatch/model.safetensors: tensor "model.layers.0.self_attn.k_proj.bias": shape [9] × BF16 needs 18 bytes ` +
        `but data_offsets [${begin}, ${begin + 16}] span 16; the file is corrupt.`,
    );
  });

  it('overlapping-spans: names both tensors', async () => {
    const { bytes, error } = await parseBad('overlapping-spans');
    const ind = independentParse(bytes);
    const norm = ind.tensors.find((t) => t.name === 'model.norm.weight')!;
    const victim = ind.tensors.find((t) => t.name !== norm.name && t.byteOffset <= norm.byteOffset && norm.byteOffset < t.byteOffset + t.byteLength)!;
    expect(victim.name).toBe('model.layers.1.self_attn.v_proj.weight');
    expect(error).toBeInstanceOf(SafetensorsError);
    expect((error as SafetensorsError).tensor).toBe('model.norm.weight');
    expect(error.message).toBe(
      'overlapping-spans/model.safetensors: tensor "model.norm.weight": data overlaps tensor "model.layers.1.self_attn.v_proj.weight"; the file is corrupt.',
    );
  });

  it('out-of-range-span: names the tensor, its offsets and the data size', async () => {
    const { bytes, error } = await parseBad('out-of-range-span');
    const ind = independentParse(bytes);
    const norm = ind.tensors.find((t) => t.name === 'model.norm.weight')!;
    const begin = norm.byteOffset - 8 - ind.n;
    const dataSize = bytes.length - 8 - ind.n;
    expect(begin + norm.byteLength).toBe(dataSize + 16);
    expect(error).toBeInstanceOf(SafetensorsError);
    expect(error.message).toBe(
      `out-of-range-span/model.safetensors: tensor "model.norm.weight": data_offsets [${begin}, ${begin + norm.byteLength}] ` +
        `run past the end of the data (${dataSize} bytes); the file is truncated — re-download it.`,
    );
  });
});

describe('valid headers', () => {
  it.each(['tiny-qwen2-target', 'tiny-qwen2-f16', 'tiny-qwen2-f32', 'tiny-qwen2-untied-target', 'tiny-qwen2-v5'])(
    '%s parses with the offsets an independent reader finds',
    async (name) => {
      const bytes = fixtureBytes(fx.model(name));
      const h = await parseSafetensorsHeader(bytesFile('model.safetensors', bytes), `${name}/model.safetensors`);
      const ind = independentParse(bytes);
      expect(h.file).toBe('model.safetensors');
      expect(h.fileSize).toBe(bytes.length);
      expect(h.headerLength).toBe(ind.n);
      expect(h.metadata).toEqual({ format: 'pt' });
      expect(h.tensors).toEqual(ind.tensors);
      expect(h.tensors.length).toBe(name.includes('untied') ? 27 : 26);
      // The spans tile the data region exactly.
      const bySpan = [...h.tensors].sort((a, b) => a.byteOffset - b.byteOffset);
      expect(bySpan[0].byteOffset).toBe(8 + ind.n);
      for (let i = 1; i < bySpan.length; i++) expect(bySpan[i].byteOffset).toBe(bySpan[i - 1].byteOffset + bySpan[i - 1].byteLength);
      expect(bySpan.at(-1)!.byteOffset + bySpan.at(-1)!.byteLength).toBe(bytes.length);
    },
  );

  it.each(SUPPORTED_DTYPES)('a %s tensor parses with exact offsets', async (dtype) => {
    const bytes = serializeSafetensors([tensor('x', dtype, [3, 5]), tensor('empty', dtype, [0, 4]), tensor('scalar', dtype, [])]);
    const h = await parseSafetensorsHeader(bytesFile('m.safetensors', bytes));
    const size = KNOWN_DTYPE_BYTES[dtype];
    const start = 8 + h.headerLength;
    expect(h.headerLength % 8).toBe(0);
    expect(h.tensors).toEqual([
      { name: 'empty', dtype, shape: [0, 4], byteOffset: start, byteLength: 0 },
      { name: 'scalar', dtype, shape: [], byteOffset: start, byteLength: size },
      { name: 'x', dtype, shape: [3, 5], byteOffset: start + size, byteLength: 15 * size },
    ]);
    expect(h.tensors).toEqual(independentParse(bytes).tensors);
  });

  it.each(Object.keys(KNOWN_DTYPE_BYTES).filter((d) => !(SUPPORTED_DTYPES as readonly string[]).includes(d)))(
    'a %s tensor is refused by name, not called corrupt',
    async (dtype) => {
      const n = 8 * KNOWN_DTYPE_BYTES[dtype];
      const header = safetensorsHeaderBytes([{ name: 'q.weight', dtype, shape: [2, 4], data_offsets: [0, n] }]);
      const bytes = new Uint8Array(header.length + n);
      bytes.set(header);
      const e = await rejection(parseSafetensorsHeader(bytesFile('q.safetensors', bytes)));
      expect(e).toBeInstanceOf(UnsupportedDtypeError);
      expect(e.message.startsWith(`q.safetensors: tensor "q.weight" has dtype ${dtype}; the studio merges BF16, F16 and F32 only.`)).toBe(true);
    },
  );

  it('a dtype named like an Object.prototype member is an unknown dtype, not a NaN size', () => {
    for (const dtype of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      const json = new TextEncoder().encode(JSON.stringify({ t: { dtype, shape: [2], data_offsets: [0, 4] } }));
      const e = syncError(() => validateHeader('m.safetensors', 8 + json.length + 4, json.length, json));
      expect(e).toBeInstanceOf(SafetensorsError);
      expect((e as Error).message).toBe(`m.safetensors: tensor "t": has unknown dtype "${dtype}"; the file is corrupt or from a newer format.`);
    }
  });

  it('a deeply nested shape is a SafetensorsError, not a stack overflow', () => {
    const depth = 200_000;
    const text = `{"t":{"dtype":"BF16","shape":${'['.repeat(depth)}${']'.repeat(depth)},"data_offsets":[0,0]}}`;
    const json = new TextEncoder().encode(text);
    const e = syncError(() => validateHeader('m.safetensors', 8 + json.length, json.length, json));
    expect(e).toBeInstanceOf(SafetensorsError);
    expect((e as Error).message.startsWith('m.safetensors: tensor "t": has an invalid shape ')).toBe(true);
    expect((e as Error).message.length).toBeLessThan(300);
  });

  it('other structural faults name the file (and tensor)', () => {
    const check = (header: unknown, fileExtra: number, message: string) => {
      const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
      const e = syncError(() => validateHeader('f', 8 + json.length + fileExtra, json.length, json));
      expect(e).toBeInstanceOf(SafetensorsError);
      expect((e as Error).message).toBe(message);
    };
    check([], 0, 'f: header JSON is not an object; the file is corrupt.');
    check({ __metadata__: { a: 1 } }, 0, 'f: __metadata__ must be an object of strings.');
    check({ t: 3 }, 0, 'f: tensor "t": entry is not an object.');
    check({ t: { shape: [1], data_offsets: [0, 2] } }, 2, 'f: tensor "t": has no dtype string.');
    check({ t: { dtype: 'BF17', shape: [1], data_offsets: [0, 2] } }, 2, 'f: tensor "t": has unknown dtype "BF17"; the file is corrupt or from a newer format.');
    check({ t: { dtype: 'BF16', shape: [1, -1], data_offsets: [0, 2] } }, 2, 'f: tensor "t": has an invalid shape [1,-1].');
    check({ t: { dtype: 'BF16', shape: [1, 1, 1, 1, 1, 1, 1, 1, 1], data_offsets: [0, 2] } }, 2, 'f: tensor "t": has an invalid shape [1,1,1,1,1,1,1,1,1].');
    check({ t: { dtype: 'BF16', shape: [1], data_offsets: [2, 0] } }, 2, 'f: tensor "t": has invalid data_offsets [2,0].');
    check({ t: { dtype: 'BF16', shape: [1], data_offsets: [0, 2.5] } }, 2, 'f: tensor "t": has invalid data_offsets [0,2.5].');
  });

  it('invalid UTF-8 in the header is a SafetensorsError', () => {
    const json = new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]); // {"\xff":1}
    const e = syncError(() => validateHeader('f', 8 + json.length, json.length, json));
    expect(e).toBeInstanceOf(SafetensorsError);
    expect((e as Error).message).toMatch(/^f: header is not valid UTF-8 JSON \(.+\); the file is corrupt\.$/);
  });

  it('a file shorter than the 8-byte prefix is refused without reading', async () => {
    const f = recordingFile('tiny.safetensors', new Uint8Array(7));
    const e = await rejection(parseSafetensorsHeader(f));
    expect(e.message).toBe('tiny.safetensors: file is 7 bytes, too short to hold a safetensors header; re-download it.');
    expect(f.reads).toEqual([]);
  });
});

describe('what header parsing reads', () => {
  it('reads the 8-byte prefix and then exactly the header, never tensor data', async () => {
    const bytes = fixtureBytes(fx.model('tiny-qwen2-target'));
    const f = recordingFile('model.safetensors', bytes);
    const h = await parseSafetensorsHeader(f);
    expect(f.reads).toEqual([
      [0, 8],
      [8, h.headerLength],
    ]);
    const dataStart = 8 + h.headerLength;
    for (const [o, l] of f.reads) expect(o + l).toBeLessThanOrEqual(dataStart);
  });

  it('a header length above MAX_HEADER_LENGTH is refused after reading only the prefix', async () => {
    const bytes = new Uint8Array(64);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(MAX_HEADER_LENGTH + 1), true);
    // Claim a file big enough to "hold" the header so only the limit can refuse it.
    const inner = recordingFile('huge.safetensors', bytes);
    const f = { ...inner, size: MAX_HEADER_LENGTH * 2, read: inner.read };
    const e = await rejection(parseSafetensorsHeader(f));
    expect(e).toBeInstanceOf(SafetensorsError);
    expect(e.message).toBe(
      `huge.safetensors: header length field says ${MAX_HEADER_LENGTH + 1} bytes, above the ${MAX_HEADER_LENGTH}-byte limit: the file is corrupt or not safetensors.`,
    );
    expect(inner.reads).toEqual([[0, 8]]);
  });
});

// ---- property-based ----

const RUNS = { numRuns: 300 };

type Mutation =
  | { kind: 'set'; at: number; value: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; count: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(7), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 16 }) }),
  // ASCII digits/brackets inside the JSON: the interesting header corruptions.
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.constantFrom(0x30, 0x31, 0x39, 0x5b, 0x5d, 0x2c, 0x22, 0x7d, 0x2d) }),
);

function mutate(src: Uint8Array, muts: Mutation[]): Uint8Array {
  let b = src.slice();
  for (const m of muts) {
    const at = b.length === 0 ? 0 : m.at % (b.length + 1);
    if (m.kind === 'set' && b.length > 0) b[at % b.length] = m.value;
    else if (m.kind === 'truncate') b = b.slice(0, at);
    else if (m.kind === 'insert') b = new Uint8Array([...b.subarray(0, at), ...m.bytes, ...b.subarray(at)]);
    else if (m.kind === 'delete') b = new Uint8Array([...b.subarray(0, at), ...b.subarray(at + m.count)]);
  }
  return b;
}

describe('properties', () => {
  it('(a) a corrupted file parses to sane spans or throws a StudioError, never anything else', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), async (muts) => {
        const bytes = mutate(SMALL, muts);
        try {
          const h = await parseSafetensorsHeader(bytesFile('m.safetensors', bytes));
          expectSaneSpans(h, bytes.length);
        } catch (e) {
          if (!(e instanceof StudioError)) throw e;
          expect(e.message.startsWith('m.safetensors: ')).toBe(true);
        }
      }),
      RUNS,
    );
  });

  it('(a) corrupting only the header JSON bytes (length kept) never escapes StudioError', async () => {
    const n = independentParse(SMALL).n;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ at: fc.integer({ min: 8, max: 8 + n - 1 }), value: fc.integer({ min: 0x20, max: 0x7e }) }), { minLength: 1, maxLength: 4 }),
        async (sets) => {
          const bytes = SMALL.slice();
          for (const s of sets) bytes[s.at] = s.value;
          try {
            expectSaneSpans(await parseSafetensorsHeader(bytesFile('m.safetensors', bytes)), bytes.length);
          } catch (e) {
            if (!(e instanceof StudioError)) throw e;
          }
        },
      ),
      RUNS,
    );
  });

  const name = fc.oneof(fc.string({ maxLength: 12 }), fc.string({ unit: 'grapheme', maxLength: 6 })).filter((s) => s !== '__metadata__');
  const tensorArb = fc
    .record({
      dtype: fc.constantFrom(...SUPPORTED_DTYPES),
      shape: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 4 }),
      seed: fc.integer({ min: 0, max: 255 }),
    })
    .map(({ dtype, shape, seed }) => ({ dtype, shape, seed }));

  it('(b) serialized random tensor lists round-trip exactly', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.tuple(name, tensorArb), { selector: ([n]) => n, maxLength: 6 }),
        fc.option(fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 3 }), { nil: undefined }),
        async (list, metadata) => {
          const tensors = list.map(([n, t]) => tensor(n, t.dtype, t.shape, t.seed));
          const bytes = serializeSafetensors(tensors, metadata);
          const f = recordingFile('r.safetensors', bytes);
          const h = await parseSafetensorsHeader(f);
          expect(h.headerLength % 8).toBe(0);
          expect(h.fileSize).toBe(bytes.length);
          expect(h.metadata).toEqual(metadata && Object.keys(metadata).length > 0 ? metadata : {});
          const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
          expect(h.tensors.map((t) => [t.name, t.dtype, t.shape])).toEqual(sorted.map((t) => [t.name, t.dtype, t.shape]));
          let at = 8 + h.headerLength;
          h.tensors.forEach((t, i) => {
            expect(t.byteOffset).toBe(at);
            expect(t.byteLength).toBe(sorted[i].data.length);
            expect(Buffer.from(bytes.subarray(t.byteOffset, t.byteOffset + t.byteLength)).equals(Buffer.from(sorted[i].data))).toBe(true);
            at += t.byteLength;
          });
          expect(at).toBe(bytes.length);
          expect(f.reads).toEqual([
            [0, 8],
            [8, h.headerLength],
          ]);
          expect(serializeSafetensors(tensors, metadata)).toEqual(bytes);
        },
      ),
      RUNS,
    );
  });

  const dtypeish = fc.oneof(
    fc.constantFrom(...Object.keys(KNOWN_DTYPE_BYTES), 'constructor', 'toString', '__proto__', 'valueOf'),
    fc.string({ maxLength: 6 }),
    fc.jsonValue({ maxDepth: 1 }),
  );
  const dimish = fc.oneof(fc.integer({ min: 0, max: 64 }), fc.integer(), fc.double(), fc.constant(null), fc.string({ maxLength: 2 }), fc.array(fc.nat(3), { maxLength: 2 }));
  const entryish = fc.record(
    {
      dtype: dtypeish,
      shape: fc.oneof(fc.array(dimish, { maxLength: 10 }), fc.jsonValue({ maxDepth: 2 })),
      data_offsets: fc.oneof(
        fc.tuple(fc.integer({ min: 0, max: 256 }), fc.integer({ min: 0, max: 256 })),
        fc.array(fc.oneof(fc.integer(), fc.double(), fc.constant(null), fc.constant(2 ** 53)), { maxLength: 3 }),
        fc.jsonValue({ maxDepth: 1 }),
      ),
    },
    { requiredKeys: [] },
  );
  const headerish = fc.oneof(
    fc.jsonValue(),
    fc.dictionary(fc.oneof(fc.string({ maxLength: 4 }), fc.constant('__metadata__')), fc.oneof(entryish, fc.jsonValue({ maxDepth: 2 })), { maxKeys: 5 }),
  );

  it('(c) any JSON value as the header gives a sane header or a StudioError', async () => {
    await fc.assert(
      fc.asyncProperty(headerish, fc.integer({ min: 0, max: 512 }), async (value, dataSize) => {
        const json = new TextEncoder().encode(JSON.stringify(value) ?? 'null');
        const framed = frameHeader(json);
        const bytes = new Uint8Array(framed.length + dataSize);
        bytes.set(framed);
        try {
          expectSaneSpans(await parseSafetensorsHeader(bytesFile('j.safetensors', bytes)), bytes.length);
        } catch (e) {
          if (!(e instanceof StudioError)) throw e;
          expect(e.message.startsWith('j.safetensors: ')).toBe(true);
          expect(e.message).not.toContain('NaN');
        }
      }),
      RUNS,
    );
  });

  it('(d) any header length above MAX_HEADER_LENGTH is refused having read only the 8-byte prefix', async () => {
    await fc.assert(
      fc.asyncProperty(fc.bigInt({ min: BigInt(MAX_HEADER_LENGTH) + 1n, max: 2n ** 64n - 1n }), fc.nat(2 ** 40), async (len, extra) => {
        const bytes = new Uint8Array(16);
        new DataView(bytes.buffer).setBigUint64(0, len, true);
        const inner = recordingFile('big.safetensors', bytes);
        const size = Math.min(Number.MAX_SAFE_INTEGER, Number(len) + 8 + extra);
        const e = await rejection(parseSafetensorsHeader({ path: inner.path, size, read: inner.read }));
        expect(e).toBeInstanceOf(SafetensorsError);
        expect(e.message).toContain(`above the ${MAX_HEADER_LENGTH}-byte limit`);
        expect(inner.reads).toEqual([[0, 8]]);
      }),
      RUNS,
    );
  });
});
