import { float, type GraphBuilder } from './onnx-builder.ts';

/**
 * onnxruntime's fused `com.microsoft` contrib ops for the decoder graph (decoder-graph.ts, option
 * `fused`), each replacing a run of standard ops with one kernel, as Optimum and
 * onnxruntime-genai's model builder emit them for Qwen2/Llama:
 *
 * - SkipSimplifiedLayerNormalization: the residual add and the next RMSNorm in one node (outputs
 *   0 = the normalised sum, 3 = the sum itself, which carries the residual stream on).
 * - RotaryEmbedding: RoPE on q and k in the [B, S, N·D] layout the projections produce, with
 *   cos/sin caches [T, D/2] built in the graph for positions 0 … T−1 (T = the attention mask's
 *   width, every position id is below it), non-interleaved (rotate-half, as transformers).
 * - GroupQueryAttention: the attention with its KV cache concatenation, past/present in BNSH
 *   [B, KV, P, D] — the same layout as the standard graph's past_key_values/present, so the
 *   decode loop is unchanged.
 *
 * GroupQueryAttention and left padding. GQA knows one valid length per row (`seqlens_k` = that
 * row's total length − 1) and assumes the cache is *right* padded; it has no key-padding mask.
 * Our batches are left padded, with pad keys inside every row's cache. We therefore give every
 * row the full length (seqlens_k = T − 1, total_sequence_length = T — pads are "real" keys as far
 * as GQA's causal indexing goes, so rows stay aligned) and pass the pad mask as GQA's additive
 * `attention_bias` [B, 1, S, T] — exactly the standard graph's mask. Where GQA refuses a shape it
 * is not used (see `gqaApplies`): onnxruntime's group_query_attention_helper.h requires
 * head_size % 8 = 0 and, with a past, either one new token or batch 1 ("batch_size must be 1 when
 * sequence_length > 1 and past context is given"), so the log-likelihood pass (continuations of
 * several requests after their contexts' cache) and the one-graph-for-both-modes of the CLI keep
 * the standard attention.
 *
 * The mask value: f32 mode adds float32's lowest value, as the standard graph; f16 mode adds
 * f16's lowest finite value (−65504), never −∞: a pad query row sees only pad keys, and a row of
 * −∞ would softmax to NaN, whose values would then poison the cache (0 · NaN = NaN).
 */

export interface FusedContext {
  g: GraphBuilder;
  f16: boolean;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  eps: number;
}

const MS = { domain: 'com.microsoft' };

/**
 * h + branch, then RMSNorm(h + branch) · weight: { normed, sum }. One SkipSimplifiedLayerNormalization
 * (registered on onnxruntime's CPU, WASM and WebGPU providers).
 */
export function skipRmsNorm(c: FusedContext, h: string, branch: string, weight: string): { normed: string; sum: string } {
  const [normed, , , sum] = c.g.opN('SkipSimplifiedLayerNormalization', [h, branch, weight], { epsilon: float(c.eps) }, { ...MS, outputs: 4 });
  return { normed, sum };
}

/** cos/sin caches [T, D/2] for positions 0 … T−1 in the compute dtype (angles computed in f32, as the standard graph). */
export function rotaryCaches(c: FusedContext, totalLength: string, inverseFrequencies: Float32Array): { cos: string; sin: string } {
  const { g } = c;
  const positions = g.op('Range', [g.i64(0), g.op('Squeeze', [totalLength, g.i64([0])]), g.i64(1)]);
  const angles = g.op('Mul', [g.op('Unsqueeze', [g.op('Cast', [positions], { to: 1 }), g.i64([1])]), g.f32(inverseFrequencies)]); // [T, D/2]
  const dt = (x: string) => (c.f16 ? g.op('Cast', [x], { to: 10 }) : x);
  return { cos: dt(g.op('Cos', [angles])), sin: dt(g.op('Sin', [angles])) };
}

/** RoPE on x [B, S, N·D] at position_ids [B, S]. */
export function rotary(c: FusedContext, x: string, heads: number, positions: string, caches: { cos: string; sin: string }): string {
  return c.g.op('RotaryEmbedding', [x, positions, caches.cos, caches.sin], { interleaved: 0, num_heads: heads }, MS);
}

/** RMSNorm over each head of x [B, S, N·D] (Qwen3's q_norm / k_norm). */
export function headRmsNorm(c: FusedContext, x: string, heads: number, weight: string, rows: string[]): string {
  const { g } = c;
  const per = g.op('Reshape', [x, g.op('Concat', [...rows, g.i64([heads, c.headDim])], { axis: 0 })]);
  const normed = g.op('SimplifiedLayerNormalization', [per, weight], { axis: -1, epsilon: float(c.eps) });
  return g.op('Reshape', [normed, g.op('Concat', [...rows, g.i64([heads * c.headDim])], { axis: 0 })]);
}

/**
 * Whether GroupQueryAttention can run the graph exactly: head size a multiple of 8, and only the
 * last-position graph (prefill without a past, or one token per step with one): the
 * all-positions graph also runs several tokens of several rows after a past (log-likelihood).
 */
export function gqaApplies(headDim: number, logits: 'all' | 'last' | 'input'): boolean {
  return headDim % 8 === 0 && logits === 'last';
}

/**
 * GroupQueryAttention on q [B, S, NH·D] and k, v [B, S, KV·D] (RoPE already applied) after the
 * past [B, KV, P, D]; `visible` [B, 1, 1, S, T] bool is the standard graph's mask (causal and not
 * padding). Returns the context [B, S, NH·D] and the presents [B, KV, P + S, D].
 */
export function groupQueryAttention(
  c: FusedContext,
  q: string,
  k: string,
  v: string,
  past: { key: string; value: string },
  visible: string,
  totalLength: string,
  batch: string,
): { context: string; presentKey: string; presentValue: string } {
  const { g } = c;
  const lowest = c.f16 ? -65504 : -3.4028234663852886e38;
  const zero = c.f16 ? g.op('Cast', [g.f32(0)], { to: 10 }) : g.f32(0);
  const low = c.f16 ? g.op('Cast', [g.f32(lowest)], { to: 10 }) : g.f32(lowest);
  const bias = g.op('Squeeze', [g.op('Where', [visible, zero, low]), g.i64([2])]); // [B, 1, S, T]
  const total32 = g.op('Cast', [totalLength], { to: 6 }); // int32 [1]
  // Every row is T long (pads included, masked by the bias): seqlens_k = T − 1 for each row.
  const seqlens = g.op('Expand', [g.op('Sub', [total32, g.op('Cast', [g.i64([1])], { to: 6 })]), batch]);
  const [context, presentKey, presentValue] = g.opN(
    'GroupQueryAttention',
    [q, k, v, past.key, past.value, seqlens, total32, '', '', '', bias],
    { num_heads: c.numHeads, kv_num_heads: c.numKvHeads, scale: float(1 / Math.sqrt(c.headDim)) },
    { ...MS, outputs: 3 },
  );
  return { context, presentKey, presentValue };
}

/**
 * Which fused ops a graph uses; `true` = all. Separately switchable because they do not pay off
 * alike on every provider (scripts/bench-fused.ts measures each). GroupQueryAttention takes
 * rotated q/k in the [B, S, N·D] layout, so `attention` implies `rotary`.
 */
export interface FusedOps {
  skipNorm: boolean;
  rotary: boolean;
  attention: boolean;
}

export function fusedOpsOf(f: boolean | Partial<FusedOps> | undefined): FusedOps | undefined {
  if (!f) return undefined;
  const o = f === true ? { skipNorm: true, rotary: true, attention: true } : { skipNorm: !!f.skipNorm, rotary: !!f.rotary || !!f.attention, attention: !!f.attention };
  return o.skipNorm || o.rotary ? o : undefined;
}
