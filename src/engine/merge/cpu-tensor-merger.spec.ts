import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decode, encode, referenceMerge, referenceStats, seededValues, stored } from '../../../test-support/merge-reference.ts';
import type { SupportedDtype } from '../safetensors/dtypes.ts';
import { CpuTensorMerger } from './cpu-tensor-merger.ts';

const DTYPES: SupportedDtype[] = ['F32', 'F16', 'BF16'];
const SIZES = [1, 3, 255, 257, 1023, 1024, 1025, 4097];
const ALPHAS = [-1, 0, 0.5, 1, 2, 0.3];

/** Merges `n` elements through the CPU merger in chunks of `chunk`, as the streaming merge does. */
async function mergeAll(
  m: CpuTensorMerger,
  dt: { target: SupportedDtype; sft: SupportedDtype; rl: SupportedDtype },
  out: SupportedDtype,
  alpha: number,
  t: Uint8Array | undefined,
  s: Uint8Array,
  r: Uint8Array,
  n: number,
) {
  const size = (d: SupportedDtype) => (d === 'F32' ? 4 : 2);
  const parts: Uint8Array[] = [];
  let nan = 0, inf = 0;
  for (let start = 0; start < n; start += m.chunkElements) {
    const end = Math.min(n, start + m.chunkElements);
    const cut = (b: Uint8Array, d: SupportedDtype) => b.subarray(start * size(d), end * size(d));
    const res = await m.mergeChunk({
      target: t && { dtype: dt.target, bytes: cut(t, dt.target) },
      sft: { dtype: dt.sft, bytes: cut(s, dt.sft) },
      rl: { dtype: dt.rl, bytes: cut(r, dt.rl) },
      count: end - start,
      alpha,
      outDtype: out,
      label: 'test',
    });
    parts.push(res.bytes);
    nan += res.nan;
    inf += res.inf;
  }
  return { bytes: Buffer.concat(parts), nan, inf };
}

describe('CpuTensorMerger against the independent reference (test-support/merge-reference.ts)', () => {
  for (const inD of DTYPES) {
    it(`${inD} inputs × every output dtype × odd sizes and chunk boundaries × α: bit-exact`, async () => {
      const m = new CpuTensorMerger(1024);
      const dt = { target: inD, sft: inD, rl: inD };
      for (const outD of DTYPES) {
        for (const n of SIZES) {
          const t = stored(seededValues(n, n * 7 + 1, 0.2), inD);
          const s = stored(seededValues(n, n * 7 + 2, 0.2), inD);
          const noise = seededValues(n, n * 7 + 3, 0.01);
          const r = stored(s.map((x, i) => x + noise[i]), inD);
          for (const alpha of ALPHAS) {
            const got = await mergeAll(m, dt, outD, alpha, encode(t, inD), encode(s, inD), encode(r, inD), n);
            expect(got.bytes.equals(Buffer.from(referenceMerge(t, s, r, alpha, outD))), `${inD}→${outD} n=${n} α=${alpha}`).toBe(true);
          }
          const vec = await mergeAll(m, dt, outD, 1, undefined, encode(s, inD), encode(r, inD), n);
          expect(vec.bytes.equals(Buffer.from(referenceMerge(undefined, s, r, 1, outD))), `vector ${inD}→${outD} n=${n}`).toBe(true);
        }
      }
    });
  }

  it('mixed input dtypes and the rounding edge cases, NaN/Inf counted', async () => {
    const m = new CpuTensorMerger();
    const edgeT = [1.00390625, 1.01171875, 65519, 65520, 3e38, 6.0e-8, 2.98e-8, 2 ** -25, -(2 ** -24) * 1.5, 1e-5, 0, -0].map(Math.fround);
    const edgeR = [0, 0, 0, 0, 3e38, 0, 0, 0, 0, 0, Infinity, NaN];
    const edgeS = edgeR.map(() => 0);
    const f32 = { target: 'F32', sft: 'F32', rl: 'F32' } as const;
    for (const out of DTYPES) {
      const got = await mergeAll(m, f32, out, 1, encode(edgeT, 'F32'), encode(edgeS, 'F32'), encode(edgeR, 'F32'), edgeT.length);
      expect([...got.bytes], out).toEqual([...referenceMerge(edgeT, edgeS, edgeR, 1, out)]);
      // 65520 is finite in f32 and bf16 but rounds to Inf in f16: the file holds a third Inf.
      expect([got.nan, got.inf], out).toEqual([1, out === 'F16' ? 3 : 2]);
    }
    const n = 2049;
    const t = stored(seededValues(n, 11, 0.3), 'BF16');
    const s = stored(seededValues(n, 12, 0.3), 'F16');
    const r = stored(seededValues(n, 13, 0.3), 'F32');
    const mixed = { target: 'BF16', sft: 'F16', rl: 'F32' } as const;
    for (const out of DTYPES) {
      const got = await mergeAll(m, mixed, out, 0.75, encode(t, 'BF16'), encode(s, 'F16'), encode(r, 'F32'), n);
      expect(got.bytes.equals(Buffer.from(referenceMerge(t, s, r, 0.75, out))), out).toBe(true);
    }
  });

  it('NaN/Inf are counted over the values written: a sum that overflows f16 (|x| >= 65520) or bf16 is an Inf', async () => {
    const m = new CpuTensorMerger();
    // θ = t + α·(r − s) at α = 2: 1000 + 2·32000 = 65000 (f16 65024, finite); 40000 + 2·20000 = 80000
    // (f16 Inf); −70000 (−Inf); 65504 + 2·8 = 65520 (the f16 rounding edge: Inf); 65504 + 2·4 = 65512
    // (rounds down to 65504, finite); 3.38e38 + 2·1e37 overflows float32 itself (Inf in every dtype).
    const t = [1000, 40000, -30000, 65504, 65504, 3.38e38].map(Math.fround);
    const r = [32000, 20000, -20000, 8, 4, 1e37].map(Math.fround);
    const s = r.map(() => 0);
    const f32 = { target: 'F32', sft: 'F32', rl: 'F32' } as const;
    const want = { F32: [0, 1], F16: [0, 4], BF16: [0, 1] } as const;
    for (const out of DTYPES) {
      const got = await mergeAll(m, f32, out, 2, encode(t, 'F32'), encode(s, 'F32'), encode(r, 'F32'), t.length);
      expect([...got.bytes], out).toEqual([...referenceMerge(t, s, r, 2, out)]);
      // The count equals the Inf values in the bytes written, read back independently.
      const written = decode(new Uint8Array(got.bytes), out); // a copy: Buffer.concat's bytes sit at an offset in a pool
      expect(written.filter((x) => x === Infinity || x === -Infinity).length, out).toBe(want[out][1]);
      expect([got.nan, got.inf], out).toEqual(want[out]);
    }
  });

  it('property: any bit patterns (NaN payloads, Inf, subnormals, ±0) in any dtype combination match the reference', async () => {
    const m = new CpuTensorMerger(64);
    const dtype = fc.constantFrom<SupportedDtype>('F32', 'F16', 'BF16');
    await fc.assert(
      fc.asyncProperty(
        fc.record({ t: dtype, s: dtype, r: dtype, out: dtype }),
        fc.integer({ min: 1, max: 200 }),
        fc.double({ min: -4, max: 4, noNaN: true }),
        fc.integer(),
        async (dt, n, alpha, seed) => {
          // Random raw bit patterns: every value the dtype can hold, including NaN/Inf/subnormals.
          let x = seed >>> 0;
          const word = () => (x = (Math.imul(x ^ (x >>> 13), 0x5bd1e995) + 0x6b43a9b5) >>> 0);
          const raw = (d: SupportedDtype) => {
            const b = d === 'F32' ? new Uint32Array(n).map(word) : new Uint16Array(n).map(() => word() & 0xffff);
            return new Uint8Array(b.buffer);
          };
          const [tb, sb, rb] = [raw(dt.t), raw(dt.s), raw(dt.r)];
          const got = await mergeAll(m, { target: dt.t, sft: dt.s, rl: dt.r }, dt.out, alpha, tb, sb, rb, n);
          const want = referenceMerge(decode(tb, dt.t), decode(sb, dt.s), decode(rb, dt.r), alpha, dt.out);
          expect(got.bytes.equals(Buffer.from(want))).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('vector statistics match a float64 reference, with and without a target', async () => {
    const m = new CpuTensorMerger(1000);
    const n = 4097;
    const t = stored(seededValues(n, 1, 0.2), 'BF16');
    const s = stored(seededValues(n, 2, 0.2), 'BF16');
    const noise = seededValues(n, 3, 0.01).map((v, i) => (i % 5 === 0 ? 0 : v));
    const r = stored(s.map((x, i) => x + noise[i]), 'BF16');
    for (const withTarget of [true, false]) {
      const total = { count: 0, sumV2: 0, sumT2: 0, sumVD: 0, sumD2: 0, nearZero: 0 };
      for (let start = 0; start < n; start += 1000) {
        const end = Math.min(n, start + 1000);
        const cut = (v: number[]) => ({ dtype: 'BF16' as const, bytes: encode(v.slice(start, end), 'BF16') });
        const res = await m.mergeChunk({ target: withTarget ? cut(t) : undefined, sft: cut(s), rl: cut(r), count: end - start, alpha: 1, outDtype: 'BF16', label: 'x', stats: true, output: false });
        expect(res.bytes.length).toBe(0);
        for (const k of Object.keys(total) as (keyof typeof total)[]) total[k] += res.stats![k];
      }
      const want = referenceStats(withTarget ? t : undefined, s, r);
      expect(total.count).toBe(n);
      expect(total.nearZero).toBe(want.nearZero);
      expect(total.nearZero).toBeGreaterThanOrEqual(Math.floor(n / 5));
      for (const k of ['sumV2', 'sumT2', 'sumVD', 'sumD2'] as const) expect(total[k]).toBeCloseTo(want[k], 10);
    }
  });
});
