import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { GraphBuilder } from '../model/onnx-builder.ts';
import { seededWeights } from '../../../test-support/seeded-weights.ts';
import { dequantizeQ4, q4Bytes, q4Layout, quantizeQ4, QuantizeError, Q4_ROUNDING_SLACK } from './q4-quantize.ts';

describe('quantizeQ4 (MatMulNBits bits=4, block_size=32, asymmetric RTN)', () => {
  it('one short block by hand: scale, zero point, codes, padding and nibble order', () => {
    // K = 5: one block of 32 with 27 padding codes. min = −0.3, max = 1.2: scale = 1.5/15 = 0.1,
    // zp = roundf(0.3/0.1) = 3 (f32(0.3)/f32(0.1) = 3.0000002 → 3).
    const w = Float32Array.from([1.2, -0.3, 0, 0.25, 0.049]);
    const q = quantizeQ4(w, 1, 5);
    expect(q.layout).toEqual({ n: 1, k: 5, blocks: 1, packedBytes: 16, scaleCount: 1, zeroPointRowBytes: 1, zeroPointBytes: 1 });
    expect(q.scales[0]).toBe(Math.fround(Math.fround(1.5) / 15));
    // Codes: 1.2/0.1 = 12 → 15; −3 → 0; 0 → 3; 2.5 → roundf 3 (half away) → 6; 0.49 → 0 → 3; padding = zp = 3.
    expect([...q.packed]).toEqual([0x0f, 0x63, 0x33, ...Array(13).fill(0x33)]);
    // One block: the zero point sits in the low nibble, the row's byte padded with 8.
    expect([...q.zeroPoints]).toEqual([0x83]);
    const d = dequantizeQ4(q);
    expect([...d].map((x) => +x.toFixed(5))).toEqual([1.2, -0.3, 0, 0.3, 0]);
  });

  it('zero points of odd and even block counts pack two to a byte per row (low nibble first)', () => {
    // Row r, block b holds only −(b + 1)·0.01 and +0.15: zp differs per block.
    const n = 2;
    const k = 3 * 32 + 7; // 4 blocks, the last one short
    const w = new Float32Array(n * k);
    for (let r = 0; r < n; r++) for (let c = 0; c < k; c++) w[r * k + c] = c % 2 ? 0.15 : -(Math.floor(c / 32) + 1 + r) * 0.01;
    const q = quantizeQ4(w, n, k);
    expect(q.layout.zeroPointRowBytes).toBe(2);
    const zp = (min: number) => Math.round(Math.fround(min / Math.fround(Math.fround(0.15 + min) / 15)));
    const want = (r: number) => [0, 1, 2, 3].map((b) => zp((b + 1 + r) * 0.01));
    const got = [...q.zeroPoints].flatMap((byte) => [byte & 15, byte >> 4]);
    expect(got).toEqual([...want(0), ...want(1)]);
  });

  it('all-zero and subnormal blocks: scale 0, zp 0, codes 0; NaN refused naming the tensor and element', () => {
    const w = new Float32Array(64);
    w[40] = 1e-40; // subnormal: counts as 0
    const q = quantizeQ4(w, 1, 64);
    expect([...q.scales]).toEqual([0, 0]);
    expect(q.packed.every((b) => b === 0)).toBe(true);
    expect([...q.zeroPoints]).toEqual([0x00]);
    expect([...dequantizeQ4(q)].every((x) => x === 0)).toBe(true);
    w[3] = NaN;
    expect(() => quantizeQ4(w, 2, 32, 'model.layers.0.mlp.up_proj.weight')).toThrow(QuantizeError);
    expect(() => quantizeQ4(w, 2, 32, 'model.layers.0.mlp.up_proj.weight')).toThrow('model.layers.0.mlp.up_proj.weight: element [0, 3] is NaN');
  });

  for (const [n, k, seed] of [
    [1, 32, 1],
    [3, 100, 2],
    [257, 64, 3],
    [5, 896, 4],
    [7, 33, 5],
  ] as const) {
    it(`[${n}, ${k}]: every element within scale·(1/2 + 2^-17) of its dequantised value`, () => {
      const w = seededWeights(n * k, seed);
      const q = quantizeQ4(w, n, k);
      const d = dequantizeQ4(q);
      const { blocks } = q.layout;
      let worst = 0;
      for (let r = 0; r < n; r++) {
        for (let c = 0; c < k; c++) {
          const s = q.scales[r * blocks + Math.floor(c / 32)];
          worst = Math.max(worst, Math.abs(w[r * k + c] - d[r * k + c]) / s);
        }
      }
      expect(worst).toBeLessThanOrEqual(0.5 + Q4_ROUNDING_SLACK);
      // Round to nearest uses the whole half step somewhere in a few thousand values.
      expect(worst).toBeGreaterThan(0.45);
    });
  }

  it('bytes: 4.5 bits per weight plus a zero-point nibble per block', () => {
    expect(q4Bytes(3584, 3584)).toBe(3584 * 112 * 16 + 3584 * 112 * 4 + 3584 * 56);
    expect(q4Layout(18944, 3584).blocks).toBe(112);
    expect(q4Layout(3584, 18944).blocks).toBe(592);
  });
});

describe('the packed inputs as onnxruntime-node runs them (com.microsoft MatMulNBits, CPU EP)', () => {
  for (const [m, n, k] of [
    [2, 3, 64],
    [3, 5, 100],
    [1, 257, 33],
    [2, 16, 3584], // Qwen2.5-7B's hidden size: 112 blocks
    [1, 8, 18944], // its intermediate size (down_proj's K): 592 blocks
  ] as const) {
    it(`x [${m}, ${k}] · W [${n}, ${k}]ᵀ equals x · deq(q(W))ᵀ in float64 (rel 1e-5)`, async () => {
      const g = new GraphBuilder();
      const x = g.input('x', 'float32', [m, k]);
      const ins = [x, g.input('B', 'uint8', [n, Math.ceil(k / 32), 16]), g.input('scales', 'float32', [n, Math.ceil(k / 32)]), g.input('zero_points', 'uint8', [n, Math.ceil(Math.ceil(k / 32) / 2)])];
      g.output(g.op('MatMulNBits', ins, { K: k, N: n, bits: 4, block_size: 32 }, { domain: 'com.microsoft' }), 'y', 'float32', [m, n]);
      const session = await ort.InferenceSession.create(g.toBytes('q4 check'));
      const w = seededWeights(n * k, 7 + n);
      const xs = seededWeights(m * k, 99, 1);
      const q = quantizeQ4(w, n, k);
      const { blocks } = q.layout;
      const out = await session.run({
        x: new ort.Tensor('float32', xs, [m, k]),
        B: new ort.Tensor('uint8', q.packed, [n, blocks, 16]),
        scales: new ort.Tensor('float32', q.scales, [n, blocks]),
        zero_points: new ort.Tensor('uint8', q.zeroPoints, [n, Math.ceil(blocks / 2)]),
      });
      const y = out.y.data as Float32Array;
      const d = dequantizeQ4(q);
      let worst = 0;
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let want = 0;
          let mag = 0;
          for (let c = 0; c < k; c++) {
            want += xs[i * k + c] * d[j * k + c];
            mag += Math.abs(xs[i * k + c] * d[j * k + c]);
          }
          worst = Math.max(worst, Math.abs(y[i * n + j] - want) / mag);
        }
      }
      expect(worst).toBeLessThan(1e-5);
      await session.release();
    });
  }
});
