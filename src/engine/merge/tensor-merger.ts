import type { SupportedDtype } from '../safetensors/dtypes.ts';

/**
 * One chunk of one tensor through the merge semantics of DESIGN "Merge semantics":
 * `v = f32(rl) − f32(sft)`, `out = f32(target) + α·v` (or `out = v` without a target),
 * rounded to `outDtype` with round-to-nearest-even. Implemented twice, with identical bits:
 * on the GPU (WGSL, gpu-tensor-merger.ts) and as a plain TypeScript loop (cpu-tensor-merger.ts).
 */
export interface ChunkInput {
  /** Absent in vector mode. */
  target?: { dtype: SupportedDtype; bytes: Uint8Array };
  sft: { dtype: SupportedDtype; bytes: Uint8Array };
  rl: { dtype: SupportedDtype; bytes: Uint8Array };
  count: number;
  alpha: number;
  outDtype: SupportedDtype;
  /** Tensor (and chunk) name for error messages. */
  label: string;
  /** Also accumulate vector statistics for this chunk. */
  stats?: boolean;
  /** Skip producing output bytes (statistics-only pass). Default true. */
  output?: boolean;
  /**
   * GPU mergers only: write the output into this range of a buffer on the merger's device (the
   * resident θ(α) buffers onnxruntime reads) instead of returning bytes. The offset must be
   * aligned to minStorageBufferOffsetAlignment.
   */
  into?: GPUBufferBinding;
}

/** Sums over a chunk, in float64 on the host; `d = θ_target − θ_SFT`. */
export interface ChunkStats {
  count: number;
  sumV2: number;
  sumT2: number;
  sumVD: number;
  sumD2: number;
  nearZero: number;
}

export interface ChunkResult {
  /** Output bytes; empty when `output: false` or written `into` a GPU buffer. */
  bytes: Uint8Array;
  nan: number;
  inf: number;
  stats?: ChunkStats;
}

export interface TensorMerger {
  readonly kind: 'gpu' | 'cpu';
  /** Largest `count` one `mergeChunk` call accepts. */
  readonly chunkElements: number;
  mergeChunk(c: ChunkInput): Promise<ChunkResult>;
  destroy(): void;
}

/**
 * |v_i| at or below this counts as "near zero". bf16 weights of magnitude ~0.01 move in steps of
 * ~6e-5, so in practice this counts the entries RL training left unchanged.
 */
export const NEAR_ZERO_THRESHOLD = 1e-6;

export function emptyStats(): ChunkStats {
  return { count: 0, sumV2: 0, sumT2: 0, sumVD: 0, sumD2: 0, nearZero: 0 };
}

export function addStats(into: ChunkStats, s: ChunkStats): ChunkStats {
  into.count += s.count;
  into.sumV2 += s.sumV2;
  into.sumT2 += s.sumT2;
  into.sumVD += s.sumVD;
  into.sumD2 += s.sumD2;
  into.nearZero += s.nearZero;
  return into;
}
