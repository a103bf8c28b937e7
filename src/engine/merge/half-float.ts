/**
 * Bulk conversions between stored tensor bytes (BF16, F16, F32) and Float32Array, for the CPU
 * merge path. Rounding is IEEE round-to-nearest-even and NaN is written canonical (F32 0x7FC00000,
 * F16 0x7E00, BF16 0x7FC0) — the same rules as shaders/task-vector-merge.wgsl.
 */
import type { SupportedDtype } from '../safetensors/dtypes.ts';

let f16Table: Float32Array | undefined;

/** All 65,536 f16 bit patterns decoded once (256 KiB): decoding is then one lookup. */
function f16Decode(): Float32Array {
  if (f16Table) return f16Table;
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const m = h & 0x3ff;
    table[h] = e === 0 ? sign * m * 2 ** -24 : e === 31 ? (m ? NaN : sign * Infinity) : sign * (1 + m / 1024) * 2 ** (e - 15);
  }
  // NaN payloads are not preserved by the arithmetic above; they do not need to be.
  return (f16Table = table);
}

/** Decodes `count` elements of `dtype` from `bytes` into `out` (which must hold `count`). */
export function decodeToF32(bytes: Uint8Array, dtype: SupportedDtype, count: number, out: Float32Array): Float32Array {
  if (dtype === 'F32') {
    out.set(viewAligned(bytes, 4, count, Float32Array));
    return out;
  }
  const h = viewAligned(bytes, 2, count, Uint16Array);
  if (dtype === 'BF16') {
    const bits = new Uint32Array(out.buffer, out.byteOffset, count);
    for (let i = 0; i < count; i++) bits[i] = h[i] << 16;
  } else {
    const table = f16Decode();
    for (let i = 0; i < count; i++) out[i] = table[h[i]];
  }
  return out;
}

/** Encodes float32 values into `dtype` bytes (new buffer), rounding to nearest even. */
export function encodeFromF32(values: Float32Array, dtype: SupportedDtype): Uint8Array {
  const n = values.length;
  const bits = new Uint32Array(values.buffer, values.byteOffset, n);
  if (dtype === 'F32') {
    const out = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      const b = bits[i];
      out[i] = (b & 0x7fffffff) > 0x7f800000 ? 0x7fc00000 : b;
    }
    return new Uint8Array(out.buffer);
  }
  const out = new Uint16Array(n);
  if (dtype === 'BF16') {
    for (let i = 0; i < n; i++) {
      const b = bits[i];
      out[i] = (b & 0x7fffffff) > 0x7f800000 ? 0x7fc0 : (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
    }
  } else {
    for (let i = 0; i < n; i++) out[i] = f32BitsToF16Bits(bits[i]);
  }
  return new Uint8Array(out.buffer);
}

/** `count` elements re-encoded from one dtype to another (a cast, no arithmetic); unchanged when equal. */
export function convertDtype(bytes: Uint8Array, from: SupportedDtype, to: SupportedDtype, count: number): Uint8Array {
  if (from === to) return bytes;
  return encodeFromF32(decodeToF32(bytes, from, count, new Float32Array(count)), to);
}

/** Shifts right by s (1..31), rounding the dropped bits to nearest, ties to even. */
function shiftRne(m: number, s: number): number {
  const q = m >>> s;
  const rem = m & ((1 << s) - 1);
  const half = 1 << (s - 1);
  return rem > half || (rem === half && (q & 1) === 1) ? q + 1 : q;
}

export function f32BitsToF16Bits(b: number): number {
  const sign = (b >>> 16) & 0x8000;
  const a = b & 0x7fffffff;
  if (a > 0x7f800000) return 0x7e00; // NaN: canonical
  if (a >= 0x477ff000) return sign | 0x7c00; // |x| ≥ 65520 rounds to ±Inf
  if (a >= 0x38800000) return sign | shiftRne(a - 0x38000000, 13); // normal f16
  if (a <= 0x33000000) return sign; // |x| ≤ 2^-25 rounds to ±0
  const e = a >>> 23; // subnormal f16: unit 2^-24
  return sign | shiftRne((a & 0x7fffff) | 0x800000, 126 - e);
}

type TypedCtor<T> = { new (buffer: ArrayBufferLike, byteOffset: number, length: number): T; new (length: number): T };

/** A typed view over `bytes`, copying only when the bytes are not aligned for it. */
function viewAligned<T extends { set(a: ArrayLike<number>): void }>(bytes: Uint8Array, size: number, count: number, Ctor: TypedCtor<T>): T {
  if (bytes.byteLength < count * size) throw new RangeError(`need ${count * size} bytes, got ${bytes.byteLength}`);
  if (bytes.byteOffset % size === 0) return new Ctor(bytes.buffer, bytes.byteOffset, count);
  const copy = new Uint8Array(count * size);
  copy.set(bytes.subarray(0, count * size));
  return new Ctor(copy.buffer, 0, count);
}
