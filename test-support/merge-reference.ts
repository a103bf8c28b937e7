/**
 * An independent CPU reference of the merge semantics (DESIGN "Merge semantics"), written
 * for tests only: v = f32(rl) − f32(sft); out = f32(target) + f32(α·v); rounded to the output
 * dtype with round-to-nearest-even, NaN written canonical.
 */
import { bf16BitsToFloat, f16BitsToFloat, float32Bits, toBf16Bits, toF16Bits } from '../scripts/fixtures/float-convert.ts';
import type { SupportedDtype } from '../src/engine/safetensors/dtypes.ts';

const fr = Math.fround;

/**
 * NaN is written canonical: 0x7FC0 in bf16 (as c10::BFloat16 writes it), 0x7E00 in f16 and
 * 0x7FC00000 in f32 — IEEE leaves a NaN's sign and payload to the hardware, so the studio fixes them.
 */
export function torchRound(x: number, dtype: SupportedDtype): number {
  if (Number.isNaN(x)) return dtype === 'BF16' ? 0x7fc0 : dtype === 'F16' ? 0x7e00 : 0x7fc00000;
  if (dtype === 'F32') return float32Bits(x);
  return dtype === 'BF16' ? toBf16Bits(x) : toF16Bits(x);
}

export function encode(values: number[], dtype: SupportedDtype): Uint8Array {
  if (dtype === 'F32') return new Uint8Array(new Float32Array(values).buffer);
  const out = new Uint16Array(values.length);
  values.forEach((v, i) => (out[i] = torchRound(v, dtype)));
  return new Uint8Array(out.buffer);
}

export function decode(bytes: Uint8Array, dtype: SupportedDtype): number[] {
  if (dtype === 'F32') return [...new Float32Array(bytes.slice().buffer)];
  const u = new Uint16Array(bytes.slice().buffer);
  return [...u].map((h) => (dtype === 'BF16' ? bf16BitsToFloat(h) : f16BitsToFloat(h)));
}

/** Values as stored in `dtype`: what the GPU will read back. */
export function stored(values: number[], dtype: SupportedDtype): number[] {
  return decode(encode(values, dtype), dtype);
}

export function referenceMerge(t: number[] | undefined, s: number[], r: number[], alpha: number, out: SupportedDtype): Uint8Array {
  const bits = s.map((_, i) => {
    const v = fr(fr(r[i]) - fr(s[i]));
    const res = t ? fr(fr(t[i]) + fr(fr(alpha) * v)) : v;
    return torchRound(res, out);
  });
  return out === 'F32' ? new Uint8Array(new Uint32Array(bits).buffer) : new Uint8Array(new Uint16Array(bits).buffer);
}

/** Deterministic pseudo-random values in [-scale/2, scale/2). */
export function seededValues(n: number, seed: number, scale: number): number[] {
  let x = seed >>> 0;
  const rnd = () => (x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0) / 2 ** 32;
  return Array.from({ length: n }, () => (rnd() - 0.5) * scale);
}

/** Vector statistics computed the slow, obvious way in float64 from decoded values. */
export function referenceStats(t: number[] | undefined, s: number[], r: number[], nearZero = 1e-6) {
  let sumV2 = 0, sumT2 = 0, sumVD = 0, sumD2 = 0, zeros = 0;
  for (let i = 0; i < s.length; i++) {
    const v = fr(fr(r[i]) - fr(s[i]));
    sumV2 += v * v;
    if (Math.abs(v) <= nearZero) zeros++;
    if (t) {
      const d = fr(fr(t[i]) - fr(s[i]));
      sumT2 += t[i] * t[i];
      sumVD += v * d;
      sumD2 += d * d;
    }
  }
  return { count: s.length, sumV2, sumT2, sumVD, sumD2, nearZero: zeros };
}
