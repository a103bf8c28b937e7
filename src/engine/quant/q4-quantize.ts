import { StudioError } from '../errors.ts';

/**
 * 4-bit block quantisation of a linear weight into onnxruntime's `com.microsoft.MatMulNBits`
 * inputs — the CPU reference (and the CLI's quantiser). shaders/quantize-q4.wgsl computes the same
 * bytes on the GPU, independently (integer-emulated division there; plain float here).
 *
 * The scheme (what MatMulNBits documents in onnxruntime's docs/ContribOperators.md, and what its
 * own quantiser, MLAS `BlockwiseQuantizer::quantizeAndTranspose` with `range2scalezp` in
 * onnxruntime/core/mlas/lib/q4_dq.cpp, writes for bits = 4, columnwise blocks):
 * - W is the safetensors weight [N, K] (out × in features); y = x·Wᵀ. Each row n is cut along K
 *   into n_blocks = ⌈K / 32⌉ blocks of BLOCK_SIZE = 32 (the size onnxruntime's quantiser and
 *   transformers.js' q4 exports default to; a power of two ≥ 16 as the op requires). A last
 *   block shorter than 32 (K not a multiple) is padded.
 * - Asymmetric, per block, round to nearest (MLAS range2scalezp): min = min(block, 0), max =
 *   max(block, 0), scale = f32((max − min) / 15), zero point zp = clamp(roundf(−min / scale),
 *   0, 15) (roundf: half away from zero, as C's). Asymmetric, not symmetric with zp 8: the 16 codes
 *   span [min, max] instead of ±max|w|, and the error bound below is half a step everywhere,
 *   where symmetric's clamped side can be off by a whole step.
 * - Code q = clamp(roundf(w · f32(1 / scale)) + zp, 0, 15). MLAS adds zp before rounding, in
 *   float; rounding first and adding the integer after differs only when w·(1/scale) is a
 *   negative half-integer (a tie) or within an ulp of one, and leaves the GPU kernel no
 *   multiply-then-add that a shader compiler could fuse into an FMA (which would change bits).
 * - Dequantised (by the op): w' = (q − zp) · scale.
 * - Layout (ContribOperators.md, MatMulNBits): B uint8 [N, n_blocks, 16], two codes per byte, the
 *   lower-index element in the low nibble; scales float32 [N, n_blocks] (the op's T1 = the
 *   activations' type: the CLI's graph computes in float32); zero_points uint8
 *   [N, ⌈n_blocks / 2⌉], packed the same way, each row padded to a whole byte with 8 (as MLAS
 *   initialises them). Padding codes past K are the block's zp (MLAS writes zp for an odd tail),
 *   so they dequantise to exactly 0.
 * - Edge rules, identical on the GPU: weights below 2^-126 in magnitude (subnormals) count as 0 —
 *   GPUs may flush them; a block whose max − min is below 15·2^-126 (its scale would be
 *   subnormal) gets scale 0, zp 0 and codes 0 (every weight then dequantises to 0, error < 2^-122).
 *   Non-finite weights are refused here; the merge kernel already counts NaN/Inf in θ(α).
 *
 * Error bound (asserted in the spec): |w − w'| ≤ scale · (1/2 + Q4_ROUNDING_SLACK) per element. Half
 * a step from rounding to the nearest code (the clamp at either end costs at most the half step
 * by which zp was rounded), plus float32 rounding in 1/scale, w·(1/scale) and (q − zp)·scale:
 * relative 2^-24 each on values of at most 16 steps, < 2^-19 steps together.
 */

export const Q4_BITS = 4;
/** Names this scheme in cache keys: change it whenever the bytes quantizeQ4 writes would change. */
export const Q4_SCHEME = 'MatMulNBits bits=4 block=32 asymmetric RTN (studio q4 v1)';
/** Weights per scale: onnxruntime's quantiser default (and transformers.js' q4 exports). */
export const Q4_BLOCK_SIZE = 32;
/** Bytes of packed codes per block: 32 weights × 4 bits. */
export const Q4_BLOB_SIZE = (Q4_BLOCK_SIZE * Q4_BITS) / 8;
/** The float32 rounding allowance of the error bound, in steps (see above). */
export const Q4_ROUNDING_SLACK = 2 ** -17;
/** Smallest normal float32: anything smaller counts as zero (GPUs may flush subnormals). */
export const MIN_NORMAL_F32 = 2 ** -126;
/** max − min below this would give a subnormal scale: the block is stored as zeros. */
const MIN_RANGE = 15 * MIN_NORMAL_F32;

export interface Q4Layout {
  /** Rows (output features). */
  n: number;
  /** Columns (input features), the reduction axis. */
  k: number;
  blocks: number;
  /** Bytes of B: n × blocks × 16. */
  packedBytes: number;
  /** Scales: n × blocks. */
  scaleCount: number;
  /** Zero-point bytes per row: ⌈blocks / 2⌉. */
  zeroPointRowBytes: number;
  zeroPointBytes: number;
}

export function q4Layout(n: number, k: number): Q4Layout {
  const blocks = Math.ceil(k / Q4_BLOCK_SIZE);
  const zeroPointRowBytes = Math.ceil(blocks / 2);
  return { n, k, blocks, packedBytes: n * blocks * Q4_BLOB_SIZE, scaleCount: n * blocks, zeroPointRowBytes, zeroPointBytes: n * zeroPointRowBytes };
}

/** Bytes a [N, K] weight takes as MatMulNBits inputs (codes, float32 scales, zero points). */
export function q4Bytes(n: number, k: number): number {
  const l = q4Layout(n, k);
  return l.packedBytes + l.scaleCount * 4 + l.zeroPointBytes;
}

export interface Q4Weights {
  layout: Q4Layout;
  /** B: [N, n_blocks, 16]. */
  packed: Uint8Array;
  /** [N, n_blocks]. */
  scales: Float32Array;
  /** [N, ⌈n_blocks / 2⌉]. */
  zeroPoints: Uint8Array;
}

/** A weight that cannot be quantised (NaN or ±Inf in it): names the tensor. */
export class QuantizeError extends StudioError {}

const f = Math.fround;
/** C's roundf: to nearest, halves away from zero (Math.round rounds −2.5 to −2). */
const roundHalfAway = (x: number) => Math.sign(x) * Math.floor(Math.abs(x) + 0.5);

/** Quantises rows [N, K] (row-major float32) as MatMulNBits' bits = 4, block_size = 32 inputs. */
export function quantizeQ4(w: Float32Array, n: number, k: number, label = 'weight'): Q4Weights {
  if (w.length !== n * k) throw new Error(`${label}: ${w.length} values for a [${n}, ${k}] weight`);
  const layout = q4Layout(n, k);
  const { blocks, zeroPointRowBytes } = layout;
  const packed = new Uint8Array(layout.packedBytes);
  const scales = new Float32Array(layout.scaleCount);
  const zeroPoints = new Uint8Array(layout.zeroPointBytes).fill(0x88);
  const codes = new Uint8Array(Q4_BLOCK_SIZE);
  for (let row = 0; row < n; row++) {
    for (let b = 0; b < blocks; b++) {
      const start = row * k + b * Q4_BLOCK_SIZE;
      const len = Math.min(Q4_BLOCK_SIZE, k - b * Q4_BLOCK_SIZE);
      let min = 0;
      let max = 0;
      for (let i = 0; i < len; i++) {
        const v = w[start + i];
        if (!Number.isFinite(v)) throw new QuantizeError(`${label}: element [${row}, ${b * Q4_BLOCK_SIZE + i}] is ${v}; a weight with NaN or Inf cannot be quantised to 4 bits.`);
        if (v < min) min = v;
        if (v > max) max = v;
      }
      if (min > -MIN_NORMAL_F32) min = 0;
      if (max < MIN_NORMAL_F32) max = 0;
      const range = f(max - min);
      let scale = 0;
      let zp = 0;
      let recip = 0;
      if (range >= MIN_RANGE) {
        scale = f(range / 15);
        recip = f(1 / scale);
        zp = Math.min(15, Math.max(0, roundHalfAway(min < 0 ? f(-min / scale) : 0)));
      }
      for (let i = 0; i < Q4_BLOCK_SIZE; i++) {
        if (i >= len) {
          codes[i] = zp;
          continue;
        }
        const v = Math.abs(w[start + i]) < MIN_NORMAL_F32 ? 0 : w[start + i];
        codes[i] = Math.min(15, Math.max(0, roundHalfAway(f(v * recip)) + zp));
      }
      const blob = (row * blocks + b) * Q4_BLOB_SIZE;
      for (let j = 0; j < Q4_BLOB_SIZE; j++) packed[blob + j] = codes[2 * j] | (codes[2 * j + 1] << 4);
      scales[row * blocks + b] = scale;
      const zpAt = row * zeroPointRowBytes + (b >> 1);
      zeroPoints[zpAt] = b & 1 ? (zeroPoints[zpAt] & 0x0f) | (zp << 4) : (zeroPoints[zpAt] & 0xf0) | zp;
    }
  }
  return { layout, packed, scales, zeroPoints };
}

/** (q − zp) · scale for every element, as MatMulNBits dequantises: float32 [N, K]. */
export function dequantizeQ4(q: Q4Weights): Float32Array {
  const { n, k, blocks, zeroPointRowBytes } = q.layout;
  const out = new Float32Array(n * k);
  for (let row = 0; row < n; row++) {
    for (let c = 0; c < k; c++) {
      const b = Math.floor(c / Q4_BLOCK_SIZE);
      const i = c % Q4_BLOCK_SIZE;
      const byte = q.packed[(row * blocks + b) * Q4_BLOB_SIZE + (i >> 1)];
      const code = i & 1 ? byte >> 4 : byte & 0x0f;
      const zpByte = q.zeroPoints[row * zeroPointRowBytes + (b >> 1)];
      const zp = b & 1 ? zpByte >> 4 : zpByte & 0x0f;
      out[row * k + c] = f((code - zp) * q.scales[row * blocks + b]);
    }
  }
  return out;
}
