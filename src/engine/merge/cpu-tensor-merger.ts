import { decodeToF32, encodeFromF32 } from './half-float.ts';
import { countNonFinite } from './merge-executor.ts';
import { NEAR_ZERO_THRESHOLD, type ChunkInput, type ChunkResult, type ChunkStats, type TensorMerger } from './tensor-merger.ts';

/** Chunk size of the CPU path: 4M elements keeps its scratch arrays at 64 MB. */
export const CPU_CHUNK_ELEMENTS = 4 * 1024 * 1024;

/**
 * The merge as a straightforward TypeScript loop: the fallback where no usable GPU exists (the
 * CLI on a machine without one), and the baseline `npm run bench:merge` measures the GPU against.
 * Float32Array stores round every intermediate to float32 exactly as the WGSL kernel does
 * (a double-precision +, −, × of two floats, rounded once to float32, is the float32 result).
 */
export class CpuTensorMerger implements TensorMerger {
  readonly kind = 'cpu' as const;
  private scratch?: { t: Float32Array; s: Float32Array; r: Float32Array };

  constructor(readonly chunkElements = CPU_CHUNK_ELEMENTS) {}

  private buffers(n: number) {
    if (!this.scratch || this.scratch.t.length < n) {
      const size = Math.max(n, Math.min(this.chunkElements, 1 << 16));
      this.scratch = { t: new Float32Array(size), s: new Float32Array(size), r: new Float32Array(size) };
    }
    return { t: this.scratch.t.subarray(0, n), s: this.scratch.s.subarray(0, n), r: this.scratch.r.subarray(0, n) };
  }

  async mergeChunk(c: ChunkInput): Promise<ChunkResult> {
    const n = c.count;
    if (n > this.chunkElements) throw new RangeError(`chunk of ${n} elements exceeds ${this.chunkElements}`);
    if (c.into) throw new Error(`the CPU merger cannot write ${c.label} into a GPU buffer`);
    const { t, s, r } = this.buffers(n);
    decodeToF32(c.sft.bytes, c.sft.dtype, n, s);
    decodeToF32(c.rl.bytes, c.rl.dtype, n, r);
    if (c.target) decodeToF32(c.target.bytes, c.target.dtype, n, t);

    let stats: ChunkStats | undefined;
    if (c.stats) {
      let sumV2 = 0, sumT2 = 0, sumVD = 0, sumD2 = 0, nearZero = 0;
      for (let i = 0; i < n; i++) {
        const v = Math.fround(r[i] - s[i]);
        sumV2 += v * v;
        if (Math.abs(v) <= NEAR_ZERO_THRESHOLD) nearZero++;
        if (c.target) {
          const d = Math.fround(t[i] - s[i]);
          sumT2 += t[i] * t[i];
          sumVD += v * d;
          sumD2 += d * d;
        }
      }
      stats = { count: n, sumV2, sumT2, sumVD, sumD2, nearZero };
    }
    if (c.output === false) return { bytes: new Uint8Array(0), nan: 0, inf: 0, stats };

    // Results go into `r` in place: r ← rl − sft, then r ← target + f32(α)·r.
    const alpha = Math.fround(c.alpha);
    if (c.target) {
      for (let i = 0; i < n; i++) r[i] = t[i] + Math.fround(alpha * Math.fround(r[i] - s[i]));
    } else {
      for (let i = 0; i < n; i++) r[i] = r[i] - s[i];
    }
    // Counted over the values as written, as the WGSL kernel does: a finite float32 result that
    // rounds to ±Inf in f16 (|x| >= 65520) or bf16 is an Inf in the file.
    const bytes = encodeFromF32(r, c.outDtype);
    return { bytes, ...countNonFinite(bytes, c.outDtype, n), stats };
  }

  destroy(): void {
    this.scratch = undefined;
  }
}
