import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { SupportedDtype } from '../safetensors/dtypes.ts';
import { CpuTensorMerger } from './cpu-tensor-merger.ts';

/**
 * The merge against PyTorch itself (test-support/golden/torch-merge.json, written by
 * scripts/golden/torch-merge.py with torch on the CPU): (t.float() + α·(r.float() − s.float())).to(dtype)
 * for every input × output dtype, six α, random bit patterns (NaN, Inf, subnormals, ±0) and
 * realistic weights. Bit-exact, except that a NaN result only has to be a NaN: the studio writes
 * NaN canonically (see shaders/task-vector-merge.wgsl), PyTorch keeps whatever sign and payload
 * the CPU produced.
 */
interface Case {
  kind: 'bits' | 'weights';
  in: SupportedDtype;
  out: SupportedDtype;
  alpha: number;
  target: string;
  sft: string;
  rl: string;
  expected: string;
}
const golden = JSON.parse(readFileSync(new URL('../../../test-support/golden/torch-merge.json', import.meta.url), 'utf8')) as { n: number; torch: string; cases: Case[] };
const bytes = (b64: string) => new Uint8Array(Buffer.from(b64, 'base64'));

/** Element i's bits, and whether they are a NaN, in `dtype`. */
function element(b: Uint8Array, dtype: SupportedDtype, i: number): { bits: number; nan: boolean } {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (dtype === 'F32') {
    const bits = v.getUint32(i * 4, true);
    return { bits, nan: (bits & 0x7fffffff) > 0x7f800000 };
  }
  const bits = v.getUint16(i * 2, true);
  return { bits, nan: dtype === 'BF16' ? (bits & 0x7fff) > 0x7f80 : (bits & 0x7fff) > 0x7c00 };
}

describe(`merge semantics against PyTorch ${golden.torch} (${golden.cases.length} golden cases)`, () => {
  for (const kind of ['bits', 'weights'] as const) {
    it(`${kind === 'bits' ? 'random bit patterns' : 'realistic weights'}: every in × out dtype and α bit-exact (NaN as NaN)`, async () => {
      const merger = new CpuTensorMerger(100); // chunks of 100: chunk boundaries inside each case too
      let compared = 0;
      let nanResults = 0;
      for (const c of golden.cases.filter((x) => x.kind === kind)) {
        const [t, s, r, want] = [bytes(c.target), bytes(c.sft), bytes(c.rl), bytes(c.expected)];
        const size = (d: SupportedDtype) => (d === 'F32' ? 4 : 2);
        const parts: Uint8Array[] = [];
        for (let start = 0; start < golden.n; start += merger.chunkElements) {
          const count = Math.min(merger.chunkElements, golden.n - start);
          const cut = (b: Uint8Array) => ({ dtype: c.in, bytes: b.subarray(start * size(c.in), (start + count) * size(c.in)) });
          parts.push((await merger.mergeChunk({ target: cut(t), sft: cut(s), rl: cut(r), count, alpha: c.alpha, outDtype: c.out, label: 'golden' })).bytes);
        }
        const got = Buffer.concat(parts);
        for (let i = 0; i < golden.n; i++) {
          const g = element(got, c.out, i);
          const w = element(want, c.out, i);
          const label = `${c.in}→${c.out} α=${c.alpha} element ${i}: got 0x${g.bits.toString(16)}, torch 0x${w.bits.toString(16)}`;
          if (w.nan) {
            nanResults++;
            expect(g.nan, label).toBe(true);
          } else {
            expect(g.bits, label).toBe(w.bits);
          }
          compared++;
        }
      }
      expect(compared).toBe(golden.cases.filter((x) => x.kind === kind).length * golden.n);
      if (kind === 'bits') expect(nanResults).toBeGreaterThan(0);
    });
  }
});
