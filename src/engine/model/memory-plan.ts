import { formatBytes } from '../errors.ts';
import type { BufferLimits } from '../gpu/buffer-limits.ts';
import { planResidency, stagingChunk, type ResidencyPlan, type ResidencyTensor, type VectorDtype } from '../merge/plan-residency.ts';
import { q4Bytes } from '../quant/q4-quantize.ts';
import { q4Tensors } from '../quant/q4-weights.ts';
import type { ComputeDtype } from './decoder-graph.ts';

/**
 * What a merged model will hold, where, and at what cost in accuracy and time — per model (its
 * tensors, from safetensors headers, before any weight is downloaded) and per device (WebGPU
 * limits, shader-f16, the GPU budget the user set). The page shows it before a download, the
 * playground builds its model with it (model-session.ts), and its numbers are tested for real
 * Qwen2.5 configs (memory-plan.spec.ts).
 *
 * Choices, most exact first:
 * - θ(α) is f16 where the device has `shader-f16` (onnxruntime then computes in f16 too), else f32;
 * - `resident`: target + v + θ(α) on the GPU, v in f32, else in f16 (exploring: a new α is one
 *   kernel pass either way); `streaming`: θ(α) alone, each α re-reads the checkpoints (exact);
 * - no WebGPU: host arrays on onnxruntime's WASM provider, which has a 4 GiB heap;
 * - exports (Save merged model, the CLI) always take the exact float32 merge, streamed to files:
 *   nothing here changes their bits.
 */

/**
 * Rounding of one value to a float format, relative (half an ulp: round to nearest) and absolute
 * for values too small to be normal (half the subnormal spacing). The bounds below are built from
 * these, and the tests measure against them.
 */
export const ROUNDING = {
  F32: { relative: 2 ** -24, absolute: 2 ** -150 },
  F16: { relative: 2 ** -11, absolute: 2 ** -25 },
  BF16: { relative: 2 ** -8, absolute: 2 ** -134 },
} as const;

/**
 * Largest |θ(α) − θ(α)_exact| a plan can add, where θ(α)_exact is the float32 merge rounded to the
 * same output dtype: v rounded to `vectorDtype` moves α·v by at most |α|·(rel·|v| + abs), and the two
 * results may then round to neighbouring values of the output dtype (one ulp of |θ|, twice its
 * half-ulp). `maxAbsV`, `maxAbsTheta`: the largest |v| and |θ(α)| of the tensors concerned.
 */
export function thetaErrorBound(o: { vectorDtype: VectorDtype; outDtype: 'F32' | 'F16'; alpha: number; maxAbsV: number; maxAbsTheta: number }): number {
  if (o.vectorDtype === 'F32') return 0;
  const v = ROUNDING[o.vectorDtype];
  const out = ROUNDING[o.outDtype];
  const moved = Math.abs(o.alpha) * (v.relative * o.maxAbsV + v.absolute);
  return moved + 2 * (out.relative * (o.maxAbsTheta + moved) + out.absolute);
}

/**
 * The change in logits that v in 16 bits caused on the demo trio (whose v is large: a ridge-fitted
 * head update, max |v| 9.8, logits up to 166), relative to the largest logit: measured 3.3e-4 (f16)
 * and 2.1e-3 (bf16) at α ∈ {1, −1, 2}; stated with margin here and asserted by e2e/real-size.spec.ts.
 */
export const LOGIT_CHANGE_RELATIVE = { F16: 1e-3, BF16: 1e-2 } as const;

/** θ(α) stored in f16 instead of f32: at most half an f16 ulp of each weight away from the f32 merge. */
export function f16StorageBound(maxAbsTheta: number): number {
  return ROUNDING.F16.relative * maxAbsTheta + ROUNDING.F16.absolute;
}

/**
 * onnxruntime-web's WASM provider bakes the weights into the model (protobuf, at most 2 GB) and
 * copies them into its 32-bit heap (4 GiB): a Qwen2.5-0.5B (1.98 GB in f32) already died there
 * with std::bad_alloc. Half of that is what the page offers without WebGPU.
 */
export const CPU_MAX_F32_WEIGHT_BYTES = 1024 ** 3;

/**
 * Reading the checkpoints again for a streamed α, from the browser's download cache: about
 * 95 MB/s was measured on the test VM (9 GB in 94–101 s at 1.5B, SwiftShader, Chromium OPFS);
 * a desktop SSD reads faster, so this is a pessimistic estimate.
 */
export const STREAM_READ_BYTES_PER_SECOND = 95e6;

/**
 * When the device's own merge rate was not measured (measureResidentPassRate): a conservative
 * rate for a discrete GPU's memory (hundreds of GB/s) that the kernel reaches only in part.
 */
export const ASSUMED_GPU_BYTES_PER_SECOND = 50e9;

/**
 * v's dtypes while exploring, in order: exact f32 where it fits, else f16 — not bf16: v is a small
 * difference (|v| ~ 1e-3 in real donor pairs), where f16's 11 significant bits beat bf16's 8
 * (e2e/real-size.spec.ts measures both against the f32 merge).
 */
export const EXPLORING_VECTOR_DTYPES: readonly VectorDtype[] = ['F32', 'F16'];

export interface DeviceProfile {
  /** null: no WebGPU here (the WASM provider runs the model). */
  gpu: { limits: BufferLimits; shaderF16: boolean; isFallbackAdapter?: boolean } | null;
  /** GPU memory the studio may use for weights (Settings). */
  budgetBytes: number;
  /** Bytes per second of a resident α pass on this device, when measured. */
  gpuBytesPerSecond?: number;
}

export interface PlanOptions {
  /** Keep v in f32 (exact θ(α) while exploring; streaming when it does not fit). Default false: f16 v is allowed. */
  exact?: boolean;
  /** Force smaller GPU buffers than the device allows (tests). */
  maxBufferBytes?: number;
}

export interface ErrorStatement {
  /** What adds it, e.g. "v in f16". */
  source: string;
  /** The bound in words, e.g. "|Δθ| ≤ |α|·(2⁻¹¹·|v| + 3e-8) + 1 ulp of θ". */
  bound: string;
}

export interface MemoryPlan {
  kind: 'resident' | 'streaming' | 'cpu' | 'none';
  compute: ComputeDtype;
  /** The GPU layout (resident/streaming). */
  residency?: ResidencyPlan;
  /** Bytes held for the weights: on the GPU, or on the host for `cpu`. */
  bytes: number;
  /** Expected seconds from a new α to merged weights (before the first new token). */
  alphaSeconds?: number;
  /** How alphaSeconds was estimated, in words. */
  alphaBasis?: string;
  /** Errors this plan adds to θ(α) against the exact f32 merge; empty when it is exact. */
  errors: ErrorStatement[];
  /** What an export does (always exact). */
  exportPath: string;
  /** One or two sentences for the page. */
  summary: string;
  /** Why the model cannot be run here (kind 'none'). */
  reason?: string;
}

const EXPORT_PATH = 'Save merged model / the CLI: the exact float32 merge, streamed to files a few chunks at a time (not from these buffers).';

function elementsOf(tensors: readonly ResidencyTensor[]): number {
  return tensors.reduce((a, t) => a + t.elements, 0);
}

/** What this device would do with a merged model of these tensors. Never throws for a model that is too big: says why. */
export function planMemory(tensors: readonly ResidencyTensor[], device: DeviceProfile, o: PlanOptions = {}): MemoryPlan {
  if (!device.gpu) {
    const bytes = elementsOf(tensors) * 4;
    const base = { compute: 'float32' as const, bytes, errors: [], exportPath: EXPORT_PATH };
    if (bytes > CPU_MAX_F32_WEIGHT_BYTES) {
      const reason = `No WebGPU here: the model would run on onnxruntime's WASM provider, whose 4 GiB heap holds at most ${formatBytes(CPU_MAX_F32_WEIGHT_BYTES)} of float32 weights; this model has ${formatBytes(bytes)}. Use a browser with WebGPU, or the CLI (native onnxruntime).`;
      return { ...base, kind: 'none', summary: reason, reason };
    }
    const alphaSeconds = (elementsOf(tensors) * 3 * 2) / STREAM_READ_BYTES_PER_SECOND;
    return {
      ...base,
      kind: 'cpu',
      alphaSeconds,
      alphaBasis: `re-reading the checkpoints at ~${Math.round(STREAM_READ_BYTES_PER_SECOND / 1e6)} MB/s and rebuilding the session`,
      summary: `No WebGPU: θ(α) in float32 on the host (${formatBytes(bytes)}), run by onnxruntime's WASM provider; each α re-merges on the CPU and rebuilds the session (exact).`,
    };
  }
  const compute: ComputeDtype = device.gpu.shaderF16 ? 'float16' : 'float32';
  const outDtype = compute === 'float16' ? 'F16' : 'F32';
  let residency: ResidencyPlan;
  try {
    residency = planResidency({ tensors }, device.gpu.limits, {
      outDtype,
      vectorDtype: o.exact ? ['F32'] : EXPLORING_VECTOR_DTYPES,
      budgetBytes: device.budgetBytes,
      maxBufferBytes: o.maxBufferBytes,
    });
  } catch (e) {
    const reason = (e as Error).message;
    return { kind: 'none', compute, bytes: 0, errors: [], exportPath: EXPORT_PATH, summary: reason, reason };
  }
  const errors: ErrorStatement[] = [];
  if (outDtype === 'F16') {
    errors.push({ source: 'θ(α) in f16 (shader-f16: onnxruntime computes in f16)', bound: 'each weight within half an f16 ulp (2⁻¹¹ relative) of the f32 merge; activations in f16 as well' });
  }
  if (residency.vectorDtype && residency.vectorDtype !== 'F32') {
    const r = ROUNDING[residency.vectorDtype];
    errors.push({
      source: `v in ${residency.vectorDtype.toLowerCase()}`,
      bound: `|Δθ(α)| ≤ |α|·(2⁻${Math.round(-Math.log2(r.relative))}·|v| + ${r.absolute.toExponential(0)}) + one ulp of θ(α) in ${outDtype.toLowerCase()}; logits within ${LOGIT_CHANGE_RELATIVE[residency.vectorDtype]} of the largest logit on the demo trio`,
    });
  }
  const measured = device.gpuBytesPerSecond !== undefined;
  const gpuRate = device.gpuBytesPerSecond ?? ASSUMED_GPU_BYTES_PER_SECOND;
  const gpuWords = measured ? `${(gpuRate / 1e9).toFixed(gpuRate < 1e9 ? 2 : 0)} GB/s measured on this GPU` : `an assumed ${gpuRate / 1e9} GB/s`;
  const alphaSeconds = residency.alphaGpuBytes / gpuRate + residency.alphaReadBytes / STREAM_READ_BYTES_PER_SECOND;
  const alphaBasis =
    residency.strategy === 'resident'
      ? `one kernel pass over ${formatBytes(residency.alphaGpuBytes)} at ${gpuWords}`
      : `re-reading ${formatBytes(residency.alphaReadBytes)} of checkpoints at ~${Math.round(STREAM_READ_BYTES_PER_SECOND / 1e6)} MB/s from the browser cache, plus the merge at ${gpuWords}`;
  return {
    kind: residency.strategy,
    compute,
    residency,
    bytes: residency.bytes,
    alphaSeconds,
    alphaBasis,
    errors,
    exportPath: EXPORT_PATH,
    summary: residency.explanation,
  };
}

/**
 * A GPU budget for a card with `gpuBytes` of memory: what is left after onnxruntime's activations,
 * KV cache and the browser's own use — 1 GiB or a tenth of the card, whichever is more.
 */
export function budgetForGpuMemory(gpuBytes: number): number {
  return gpuBytes - Math.max(1024 ** 3, gpuBytes / 10);
}

/** "0.8 s", "1.6 min": a duration for the plan's α time. */
export function formatSeconds(s: number): string {
  if (s < 0.001) return '< 1 ms';
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 90) return `${s.toFixed(1)} s`;
  return `${(s / 60).toFixed(1)} min`;
}

/**
 * The 4-bit plan (`--weights q4` in the CLI; the page's 4-bit weights mode, resident-q4-merge.ts,
 * allocates exactly these buffers with floatDtype F32 — see planPageWeights): the decoder layers'
 * projections held as MatMulNBits inputs (4-bit codes, float32 scales, packed zero points —
 * quant/q4-quantize.ts), everything else (embedding, untied head, norms, biases) in `floatDtype`.
 * θ(α) is merged tensor by tensor from streamed checkpoints (no target or v kept: at 7B they alone
 * would be 30 GB), each projection into one transient float32 buffer that quantize-q4.wgsl turns
 * into its 4-bit inputs before the next; so the GPU holds the 4-bit model, that one buffer and
 * the merge's three staging chunks. The graph computes in float32 (its scales are float32).
 */
export interface Q4MemoryPlan {
  /** Everything below, added up. */
  bytes: number;
  /** The projections' codes, scales and zero points. */
  quantizedBytes: number;
  quantizedParameters: number;
  /** The tensors kept in floatDtype. */
  floatBytes: number;
  floatParameters: number;
  /** The largest projection in float32, merged then quantised (one at a time). */
  transientBytes: number;
  /** The merge's three staging chunks (as planResidency counts them). */
  stagingBytes: number;
  /** The same model's float weights in the compute dtype, for comparison. */
  floatModelBytes: number;
  fits: boolean;
  /** Why the 4-bit mode cannot run on this device at all (a projection larger than one storage binding), if so. */
  unsupported?: string;
  errors: ErrorStatement[];
  summary: string;
}

export function planQ4Memory(tensors: readonly ResidencyTensor[], device: { limits: BufferLimits; budgetBytes: number }, floatDtype: 'F32' | 'F16' = 'F32'): Q4MemoryPlan {
  const quantized = q4Tensors(tensors);
  const floatSize = floatDtype === 'F32' ? 4 : 2;
  let quantizedBytes = 0;
  let quantizedParameters = 0;
  let floatParameters = 0;
  let transientBytes = 0;
  let largestProjection: ResidencyTensor | undefined;
  for (const t of tensors) {
    if (quantized.has(t.name)) {
      quantizedBytes += q4Bytes(t.shape[0], t.shape[1]);
      quantizedParameters += t.elements;
      if (t.elements * 4 > transientBytes) (transientBytes = t.elements * 4), (largestProjection = t);
    } else floatParameters += t.elements;
  }
  // The quantiser binds one whole float32 projection (ResidentQ4Merge refuses otherwise): said here, before any download.
  const binding = Math.min(device.limits.maxBufferSize, device.limits.maxStorageBufferBindingSize ?? device.limits.maxBufferSize);
  const unsupported =
    largestProjection && transientBytes > binding
      ? `${largestProjection.name} is ${formatBytes(transientBytes)} in float32, more than this GPU's ${formatBytes(binding)} per storage binding, which the 4-bit quantiser binds whole; a device with larger limits or the CLI (--weights q4) can run it.`
      : undefined;
  const floatBytes = floatParameters * floatSize;
  const largest = tensors.reduce((a, t) => Math.max(a, t.elements), 0);
  const stagingBytes = 3 * 4 * stagingChunk(device.limits, largest);
  const bytes = quantizedBytes + floatBytes + transientBytes + stagingBytes;
  const fits = bytes <= device.budgetBytes && !unsupported;
  const floatModelBytes = (quantizedParameters + floatParameters) * floatSize;
  return {
    bytes,
    quantizedBytes,
    quantizedParameters,
    floatBytes,
    floatParameters,
    transientBytes,
    stagingBytes,
    floatModelBytes,
    fits,
    ...(unsupported ? { unsupported } : {}),
    errors: [
      {
        source: '4-bit projections (MatMulNBits, block 32, asymmetric round-to-nearest)',
        bound: '|Δw| ≤ scale·(1/2 + 2⁻¹⁷) per weight, scale = (max − min)/15 of its block of 32 (min ≤ 0 ≤ max); the embedding, head, norms and biases are not quantised',
      },
    ],
    summary:
      `4-bit: ${formatBytes(bytes)} on the GPU — ${formatBytes(quantizedBytes)} of 4-bit projections (${(quantizedParameters / 1e9).toFixed(2)} B parameters), ` +
      `${formatBytes(floatBytes)} of ${floatDtype.toLowerCase()} embedding, head, norms and biases, ${formatBytes(transientBytes + stagingBytes)} while merging — ` +
      `against ${formatBytes(floatModelBytes)} for the ${floatDtype.toLowerCase()} weights; ` +
      (unsupported ? `cannot run here: ${unsupported}` : `${fits ? 'fits' : 'does not fit'} the ${formatBytes(device.budgetBytes)} budget. Each α re-reads the checkpoints.`),
  };
}

/** The page's weights choice (Settings): 'auto' takes 4-bit only when the float plan cannot run. */
export type WeightsChoice = 'auto' | 'float' | 'q4';

/**
 * What the page builds for these tensors: the float plan (planMemory), or the 4-bit plan
 * (planQ4Memory, float32 compute and float32 embedding/head: the page's q4 mode computes in
 * float32 because MatMulNBits takes its scales in the activations' type and the studio's scales
 * are float32 — resident-q4-merge.ts). `auto`: float while its plan can run on this device
 * (resident or streaming), 4-bit when it cannot (too big for the budget) and the 4-bit plan fits.
 * 4-bit needs WebGPU (the WASM path runs float32 weights).
 */
export interface PageWeightsPlan {
  weights: 'float' | 'q4';
  float: MemoryPlan;
  /** Present with WebGPU. */
  q4?: Q4MemoryPlan;
  /** Expected seconds from a new α to quantised weights (q4: re-reading the checkpoints). */
  q4AlphaSeconds?: number;
  /** Why this choice, in words. */
  why: string;
}

export function planPageWeights(tensors: readonly ResidencyTensor[], device: DeviceProfile, choice: WeightsChoice = 'auto', o: PlanOptions = {}): PageWeightsPlan {
  const float = planMemory(tensors, device, o);
  if (!device.gpu) {
    return { weights: 'float', float, why: choice === 'q4' ? '4-bit weights need WebGPU; the WASM provider runs float32 weights.' : 'float weights (no WebGPU: 4-bit is not offered).' };
  }
  // As ResidentQ4Merge.create plans it (same limits, float32 embedding and head).
  const q4 = planQ4Memory(tensors, { limits: device.gpu.limits, budgetBytes: device.budgetBytes }, 'F32');
  // Each α re-reads the three checkpoints' merged elements (as streaming does) and writes θ(α).
  const readBytes = tensors.reduce((a, t) => a + t.mergedElements * 3 * (t.target?.dtype === 'F32' ? 4 : 2), 0);
  const q4AlphaSeconds = readBytes / STREAM_READ_BYTES_PER_SECOND + (device.gpuBytesPerSecond ? q4.bytes / device.gpuBytesPerSecond : q4.bytes / ASSUMED_GPU_BYTES_PER_SECOND);
  const base = { float, q4, q4AlphaSeconds };
  if (q4.unsupported && choice !== 'float') {
    const why = `4-bit weights cannot run on this GPU: ${q4.unsupported}`;
    if (choice === 'q4') return { ...base, weights: 'q4', why };
    return { ...base, weights: 'float', why: float.kind !== 'none' ? `float weights fit the budget (${formatBytes(float.bytes)}).` : `the float weights do not fit the ${formatBytes(device.budgetBytes)} budget, and ${why.charAt(0).toLowerCase()}${why.slice(1)}` };
  }
  if (choice === 'q4') return { ...base, weights: 'q4', why: q4.fits ? '4-bit weights, as chosen in Settings.' : `4-bit weights, as chosen in Settings — but ${formatBytes(q4.bytes)} does not fit the ${formatBytes(device.budgetBytes)} budget.` };
  if (choice === 'float') return { ...base, weights: 'float', why: 'float weights, as chosen in Settings.' };
  if (float.kind !== 'none') return { ...base, weights: 'float', why: `float weights fit the budget (${formatBytes(float.bytes)}).` };
  if (q4.fits) return { ...base, weights: 'q4', why: `the float weights do not fit the ${formatBytes(device.budgetBytes)} budget; their 4-bit form (${formatBytes(q4.bytes)}) does.` };
  return { ...base, weights: 'float', why: `neither the float weights nor their 4-bit form (${formatBytes(q4.bytes)}) fit the ${formatBytes(device.budgetBytes)} budget.` };
}
