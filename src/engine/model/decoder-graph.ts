import type { ModelConfig } from '../checkpoint/model-config.ts';
import { StudioError } from '../errors.ts';
import { rowBlockName, type RowBlock } from '../gpu/buffer-limits.ts';
import { float, GraphBuilder, type Elem } from './onnx-builder.ts';
import { q4InputNames, q4InputShapes } from '../quant/q4-weights.ts';
import { Q4_BITS, Q4_BLOCK_SIZE } from '../quant/q4-quantize.ts';
import { fusedOpsOf, gqaApplies, groupQueryAttention, headRmsNorm, rotary, rotaryCaches, skipRmsNorm, type FusedContext, type FusedOps } from './fused-ops.ts';

/**
 * The decoder-only transformer (Qwen2, Qwen3, Llama, Mistral) as an ONNX graph, built from
 * config.json and the checkpoint's tensor shapes. Standard ONNX ops only (opset 17), so the
 * same graph runs on onnxruntime-web's WebGPU and WASM providers and in Node.
 *
 * Inputs:  input_ids [B,S] int64, attention_mask [B,P+S] int64 (left padding: 0 = pad),
 *          position_ids [B,S] int64, past_key_values.N.key/value [B,KV,P,D] in the compute dtype,
 *          and every weight as an input named like its safetensors tensor (so merged GPU
 *          buffers are fed directly, and a new α needs no new session).
 * Outputs: logits [B,S,V] float32 (or [B,1,V] for the last position), present.N.key/value [B,KV,P+S,D].
 * Compute dtype float32, or float16 where the device has `shader-f16` (weights, activations and
 * KV cache in f16; RoPE tables computed in f32; RMSNorm accumulates in f32; logits cast to f32).
 */

export class UnsupportedModelError extends StudioError {}

export const SUPPORTED_ARCHITECTURES = ['Qwen2ForCausalLM', 'Qwen3ForCausalLM', 'LlamaForCausalLM', 'MistralForCausalLM'] as const;
const SUPPORTED_ROPE = ['default', 'linear', 'llama3'];

/** rope_scaling (v4) or rope_parameters (v5) as written in config.json. */
function ropeScalingOf(config: ModelConfig): Record<string, unknown> {
  const raw = config.raw;
  return ((raw.rope_parameters ?? raw.rope_scaling ?? {}) as Record<string, unknown>) || {};
}

/**
 * RoPE inverse frequencies 1 / θ^(2i/D) in float32, as transformers computes them, then scaled:
 * `linear` divides them by `factor`; `llama3` divides the low frequencies by `factor`, keeps the
 * high ones and blends in between (Llama 3.1+ long-context scaling).
 */
export function ropeInverseFrequencies(config: ModelConfig, label: string): Float32Array {
  const D = config.headDim;
  const inv = new Float32Array(D / 2);
  for (let i = 0; i < D / 2; i++) inv[i] = 1 / Math.fround(Math.pow(config.ropeTheta, Math.fround((2 * i) / D)));
  if (config.ropeType === 'default') return inv;
  const p = ropeScalingOf(config);
  const num = (key: string) => {
    const v = p[key];
    if (typeof v !== 'number' || !(v > 0)) throw new UnsupportedModelError(`${label}: rope scaling "${config.ropeType}" needs a positive "${key}" in config.json.`);
    return v;
  };
  const factor = num('factor');
  if (config.ropeType === 'linear') return inv.map((f) => f / factor);
  const low = num('low_freq_factor');
  const high = num('high_freq_factor');
  const original = num('original_max_position_embeddings');
  return inv.map((f) => {
    const wavelength = (2 * Math.PI) / f;
    if (wavelength < original / high) return f;
    if (wavelength > original / low) return f / factor;
    const smooth = (original / wavelength - low) / (high - low);
    return (1 - smooth) * (f / factor) + smooth * f;
  });
}

export interface DecoderGraphOptions {
  /**
   * 'last': logits of the last position only (generation); 'all': every position (forward);
   * 'input': an int64 [1] input `logits_to_keep` gives how many of the last positions get logits,
   * 0 meaning all (transformers' `logits_to_keep`). One graph for both uses means one session:
   * the CLI's form on onnxruntime-node, where every session keeps its own packed copy of the
   * weights (two sessions measured 2× the float32 weights in resident memory, one 1×).
   */
  logits: 'all' | 'last' | 'input';
  /** Default float32. */
  compute?: 'float32' | 'float16';
  /**
   * Weights baked in as initializers instead of graph inputs: the conventional "ONNX file with the
   * weights inside", which needs a new session for every α. Used only as a benchmark baseline.
   */
  embedWeights?: Map<string, Float32Array>;
  /**
   * Weights as ONNX external data: initializers that point into one data file beside the model
   * file (`location` relative to it, each tensor's byte range in `tensors`, and its own file's
   * name where the data is split over several). What the CLI runs on onnxruntime-node: the model
   * file stays small, the weights are never in a protobuf.
   */
  externalWeights?: { location: string; tensors: ReadonlyMap<string, { offset: number; length: number; location?: string }> };
  /**
   * onnxruntime's fused com.microsoft ops (fused-ops.ts): residual add + RMSNorm as
   * SkipSimplifiedLayerNormalization, RoPE as RotaryEmbedding, and attention as
   * GroupQueryAttention where it is exact (gqaApplies). Same inputs, outputs and KV layout.
   * `true` = all of them; or each on its own (FusedOps).
   */
  fused?: boolean | Partial<FusedOps>;
  /**
   * 4-bit weights: each linear weight named here arrives as onnxruntime's com.microsoft
   * MatMulNBits inputs (q4MatMul) instead of a float matrix — as external data when
   * `externalWeights` has them, else as graph inputs. Float32 compute only (the op's scales share
   * the activations' type, and the studio's scales are float32).
   */
  quantized?: ReadonlySet<string>;
}

export type ComputeDtype = 'float32' | 'float16';

export interface DecoderSpec {
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  hiddenSize: number;
  vocabSize: number;
  qkvBias: boolean;
  qkNorm: boolean;
  /** Tensor read as the output head: lm_head.weight, or embed_tokens when tied. */
  headTensor: string;
  /** Longest prompt + generation: max_position_embeddings, or the sliding window when one applies. */
  maxSequence: number;
  /**
   * Every weight the graph takes as an input, with the shape it must have. `blocks`: the weight
   * arrives as row blocks, one input each (see splitWeights), because one buffer would exceed what
   * the GPU allows.
   */
  weights: { name: string; shape: number[]; blocks?: RowBlock[] }[];
  inverseFrequencies: Float32Array;
}

const fmt = (s: readonly number[]) => `[${s.join(', ')}]`;

/** Checks architecture, RoPE and every tensor's presence and shape; names what is wrong. */
export function decoderSpec(config: ModelConfig, shapes: Map<string, number[]>, label: string): DecoderSpec {
  if (!(SUPPORTED_ARCHITECTURES as readonly string[]).includes(config.architecture)) {
    throw new UnsupportedModelError(`${label}: architecture ${config.architecture} cannot be run yet; supported: ${SUPPORTED_ARCHITECTURES.join(', ')}.`);
  }
  if (!SUPPORTED_ROPE.includes(config.ropeType)) {
    throw new UnsupportedModelError(`${label}: rope scaling type "${config.ropeType}" is not supported (supported: ${SUPPORTED_ROPE.join(', ')}).`);
  }
  const { hiddenSize: H, numHeads: NH, numKvHeads: KV, headDim: D, vocabSize: V, intermediateSize: I, numLayers: L } = config;
  if (NH % KV !== 0) throw new UnsupportedModelError(`${label}: ${NH} attention heads are not a multiple of ${KV} key/value heads.`);
  const qkvBias = shapes.has('model.layers.0.self_attn.q_proj.bias');
  const qkNorm = shapes.has('model.layers.0.self_attn.q_norm.weight');
  // As transformers: a tied config reads the embedding even when an lm_head.weight is also stored.
  const headTensor = shapes.has('lm_head.weight') && !config.tieWordEmbeddings ? 'lm_head.weight' : 'model.embed_tokens.weight';
  const act = config.raw.hidden_act ?? config.raw.hidden_activation ?? 'silu';
  if (act !== 'silu') throw new UnsupportedModelError(`${label}: activation "${String(act)}" is not supported (the graph uses SiLU/SwiGLU).`);
  const weights: DecoderSpec['weights'] = [{ name: 'model.embed_tokens.weight', shape: [V, H] }];
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}`;
    weights.push(
      { name: `${p}.input_layernorm.weight`, shape: [H] },
      { name: `${p}.self_attn.q_proj.weight`, shape: [NH * D, H] },
      { name: `${p}.self_attn.k_proj.weight`, shape: [KV * D, H] },
      { name: `${p}.self_attn.v_proj.weight`, shape: [KV * D, H] },
      ...(qkvBias
        ? [
            { name: `${p}.self_attn.q_proj.bias`, shape: [NH * D] },
            { name: `${p}.self_attn.k_proj.bias`, shape: [KV * D] },
            { name: `${p}.self_attn.v_proj.bias`, shape: [KV * D] },
          ]
        : []),
      ...(qkNorm
        ? [
            { name: `${p}.self_attn.q_norm.weight`, shape: [D] },
            { name: `${p}.self_attn.k_norm.weight`, shape: [D] },
          ]
        : []),
      { name: `${p}.self_attn.o_proj.weight`, shape: [H, NH * D] },
      { name: `${p}.post_attention_layernorm.weight`, shape: [H] },
      { name: `${p}.mlp.gate_proj.weight`, shape: [I, H] },
      { name: `${p}.mlp.up_proj.weight`, shape: [I, H] },
      { name: `${p}.mlp.down_proj.weight`, shape: [H, I] },
    );
  }
  weights.push({ name: 'model.norm.weight', shape: [H] });
  if (headTensor === 'lm_head.weight') weights.push({ name: 'lm_head.weight', shape: [V, H] });
  for (const w of weights) {
    const got = shapes.get(w.name);
    if (!got) throw new UnsupportedModelError(`${label}: config.json describes ${L} layers but the weights have no "${w.name}"; the config and the weights disagree.`);
    if (fmt(got) !== fmt(w.shape)) {
      throw new UnsupportedModelError(`${label}: tensor "${w.name}" has shape ${fmt(got)} but config.json implies ${fmt(w.shape)}; the config and the weights disagree.`);
    }
  }
  // Every stored tensor must be one the graph reads: an extra one (an o_proj or MLP bias, say)
  // would otherwise be ignored silently and the outputs would be wrong.
  const used = new Set(weights.map((w) => w.name));
  for (const name of shapes.keys()) {
    if (!used.has(name) && !name.endsWith('rotary_emb.inv_freq') && name !== 'lm_head.weight') {
      throw new UnsupportedModelError(`${label}: tensor "${name}" has no place in the ${config.architecture} graph the studio builds (biases on o_proj or the MLP are not supported); it cannot be run faithfully.`);
    }
  }
  const inv = ropeInverseFrequencies(config, label);
  // Sliding-window attention (Mistral; Qwen2 only with use_sliding_window) is not built: sequences
  // are limited to the window instead, where full attention is exactly the same.
  const window = config.raw.sliding_window;
  const slidingActive = typeof window === 'number' && window > 0 && (config.raw.use_sliding_window === true || config.architecture === 'MistralForCausalLM');
  const maxSequence = slidingActive ? Math.min(window as number, config.maxPositionEmbeddings) : config.maxPositionEmbeddings;
  return { maxSequence, numLayers: L, numHeads: NH, numKvHeads: KV, headDim: D, hiddenSize: H, vocabSize: V, qkvBias, qkNorm, headTensor, weights, inverseFrequencies: inv };
}

/**
 * The spec with oversize weights taken as row blocks: `blocksOf` gives a weight's blocks (from the
 * merge's layout, gpu/buffer-limits.ts), one block or none meaning whole. A split embedding is
 * looked up block by block (each id lands in exactly one block; the others contribute exact
 * zeros); a split linear weight (the tied or untied head, a large MLP matrix) is one Gemm per
 * block with the outputs concatenated, so logits are the unsplit ones, block by block.
 */
export function splitWeights(spec: DecoderSpec, blocksOf: (name: string, shape: number[]) => RowBlock[] | undefined): DecoderSpec {
  return {
    ...spec,
    weights: spec.weights.map((w) => {
      const blocks = blocksOf(w.name, w.shape);
      if (!blocks || blocks.length < 2) return { name: w.name, shape: w.shape };
      if (w.shape.length !== 2 || blocks.reduce((a, b) => a + b.rows, 0) !== w.shape[0]) throw new Error(`row blocks of ${w.name} do not cover its ${w.shape[0]} rows`);
      return { ...w, blocks };
    }),
  };
}

/** A graph input that carries weights: a whole tensor, or one row block of it. */
export interface WeightInput {
  /** The graph input name: the tensor's own name, or its block's (rowBlockName). */
  name: string;
  shape: number[];
  tensor: string;
  /** Rows [start, start + rows) of the tensor. */
  start: number;
  rows: number;
}

/** The weight inputs of a spec, in order: what a weight feed must provide. */
export function weightInputs(spec: DecoderSpec): WeightInput[] {
  return spec.weights.flatMap((w) =>
    w.blocks
      ? w.blocks.map((b, i) => ({ name: rowBlockName(w.name, i), shape: [b.rows, ...w.shape.slice(1)], tensor: w.name, start: b.start, rows: b.rows }))
      : [{ name: w.name, shape: w.shape, tensor: w.name, start: 0, rows: w.shape[0] ?? 1 }],
  );
}

export function pastName(layer: number, kind: 'key' | 'value') {
  return `past_key_values.${layer}.${kind}`;
}
export function presentName(layer: number, kind: 'key' | 'value') {
  return `present.${layer}.${kind}`;
}

/**
 * A 4-bit linear weight W [N, K] (safetensors [out, in]): declares its three MatMulNBits inputs
 * (`<name>_Q4` uint8 [N, n_blocks, 16], `<name>_scales` float32 [N, n_blocks], `<name>_zero_points`
 * uint8 [N, ⌈n_blocks/2⌉]; layout and scheme in quant/q4-quantize.ts) and returns x [M, K] ↦ x·W'ᵀ
 * [M, N], W' the dequantised weight — what Gemm(x, W, transB = 1) computes with the float weight.
 */
function q4MatMul(g: GraphBuilder, name: string, shape: number[], o: DecoderGraphOptions): (x: string) => string {
  if (o.compute === 'float16') throw new Error(`${name}: 4-bit weights are built for float32 compute (their scales are float32)`);
  if (o.embedWeights) throw new Error(`${name}: 4-bit weights come as inputs or external data, not embedded float arrays`);
  const [n, k] = shape;
  const names = q4InputNames(name);
  const shapes = q4InputShapes(n, k);
  const inputs = (['packed', 'scales', 'zeroPoints'] as const).map((part) => {
    const elem = part === 'scales' ? 'float32' : 'uint8';
    const at = o.externalWeights?.tensors.get(names[part]);
    if (o.externalWeights && !at) throw new Error(`external weights have no entry for "${names[part]}"`);
    return at ? g.externalInitializer(names[part], shapes[part], elem, { ...at, location: at.location ?? o.externalWeights!.location }) : g.input(names[part], elem, shapes[part]);
  });
  return (x) => g.op('MatMulNBits', [x, ...inputs], { K: k, N: n, bits: Q4_BITS, block_size: Q4_BLOCK_SIZE }, { domain: 'com.microsoft' });
}

export function buildDecoderGraph(config: ModelConfig, spec: DecoderSpec, o: DecoderGraphOptions): Uint8Array {
  const g = new GraphBuilder();
  const { numLayers: L, numHeads: NH, numKvHeads: KV, headDim: D, hiddenSize: H, vocabSize: V } = spec;
  const G = NH / KV;
  const f16 = o.compute === 'float16';
  const dt: Elem = f16 ? 'float16' : 'float32';
  /** A float constant in the compute dtype. */
  const c = (v: number | ArrayLike<number>) => (f16 ? g.op('Cast', [g.f32(v)], { to: 10 }) : g.f32(v));
  const eps = config.rmsNormEps;

  const ids = g.input('input_ids', 'int64', ['batch', 'sequence']);
  const mask = g.input('attention_mask', 'int64', ['batch', 'total_sequence']);
  const positions = g.input('position_ids', 'int64', ['batch', 'sequence']);
  const past = Array.from({ length: L }, (_, l) => ({
    key: g.input(pastName(l, 'key'), dt, ['batch', KV, 'past_sequence', D]),
    value: g.input(pastName(l, 'value'), dt, ['batch', KV, 'past_sequence', D]),
  }));
  const w = (name: string) => name;
  // Split weights (splitWeights): one input per row block, or, embedded, one initializer per slice.
  const blockInputs = new Map<string, WeightInput[]>();
  for (const i of weightInputs(spec)) if (i.name !== i.tensor) blockInputs.set(i.tensor, [...(blockInputs.get(i.tensor) ?? []), i]);
  for (const [tensor, blocks] of blockInputs) {
    if (o.externalWeights) throw new Error(`${tensor}: split weights cannot be external data`);
    for (const b of blocks) {
      const cols = b.shape.slice(1).reduce((a, x) => a * x, 1);
      if (o.embedWeights) g.initializer(b.name, o.embedWeights.get(tensor)!.subarray(b.start * cols, (b.start + b.rows) * cols), b.shape, dt);
      else g.input(b.name, dt, b.shape);
    }
  }
  const q4 = new Map<string, (x: string) => string>();
  for (const t of spec.weights) {
    if (t.blocks) continue;
    if (o.quantized?.has(t.name)) {
      q4.set(t.name, q4MatMul(g, t.name, t.shape, o));
      continue;
    }
    const at = o.externalWeights?.tensors.get(t.name);
    if (o.externalWeights && !at) throw new Error(`external weights have no entry for "${t.name}"`);
    if (at) g.externalInitializer(t.name, t.shape, dt, { ...at, location: at.location ?? o.externalWeights!.location });
    else if (o.embedWeights) g.initializer(t.name, o.embedWeights.get(t.name)!, t.shape, dt);
    else g.input(t.name, dt, t.shape);
  }

  // Dynamic sizes.
  const i64 = (v: number | number[]) => g.i64(v);
  const shapeOf = (x: string, start: number, end: number) => g.op('Shape', [x], { start, end });
  const B = shapeOf(ids, 0, 1);
  const S = shapeOf(ids, 1, 2);
  const P = shapeOf(past[0].key, 2, 3);
  const T = shapeOf(mask, 1, 2);
  const cat = (...xs: string[]) => g.op('Concat', xs, { axis: 0 });

  /** x [..., K] @ W[N, K]^T (+ b): Gemm on the flattened rows, no weight transpose materialised. */
  const linear = (x: string, weight: string, bias: string | undefined, outFeatures: number, rows: string[]) => {
    const flat = g.op('Reshape', [x, cat(i64([-1]), shapeOf(x, -1, 2147483647))]);
    const quantized = q4.get(weight);
    if (quantized) {
      const y = quantized(flat);
      return g.op('Reshape', [bias ? g.op('Add', [y, w(bias)]) : y, cat(...rows, i64([outFeatures]))]);
    }
    const blocks = blockInputs.get(weight);
    if (blocks) {
      // Row blocks of W are column blocks of the output: one Gemm each, concatenated in order.
      const y = g.op('Concat', blocks.map((b) => g.op('Gemm', [flat, b.name], { transB: 1 })), { axis: 1 });
      return g.op('Reshape', [bias ? g.op('Add', [y, w(bias)]) : y, cat(...rows, i64([outFeatures]))]);
    }
    const y = g.op('Gemm', bias ? [flat, w(weight), w(bias)] : [flat, w(weight)], { transB: 1 });
    return g.op('Reshape', [y, cat(...rows, i64([outFeatures]))]);
  };
  // RMSNorm as one node: onnxruntime's SimplifiedLayerNormalization (registered in the ONNX
  // domain, on the CPU, WASM and WebGPU providers) — x / sqrt(mean(x²) + eps) · weight.
  const rmsNorm = (x: string, weight: string) => g.op('SimplifiedLayerNormalization', [x, w(weight)], { axis: -1, epsilon: float(eps) });

  // RoPE tables for these positions: cos/sin [B, 1, S, D].
  const freqs = g.op('Mul', [g.op('Unsqueeze', [g.op('Cast', [positions], { to: 1 }), i64([-1])]), g.f32(spec.inverseFrequencies)]);
  const emb = g.op('Concat', [freqs, freqs], { axis: -1 });
  const toDt = (x: string) => (f16 ? g.op('Cast', [x], { to: 10 }) : x);
  const cos = g.op('Unsqueeze', [toDt(g.op('Cos', [emb])), i64([1])]);
  const sin = g.op('Unsqueeze', [toDt(g.op('Sin', [emb])), i64([1])]);
  const half = i64([D / 2, D / 2]);
  const rope = (x: string) => {
    const [x1, x2] = g.opN('Split', [x, half], { axis: -1 }, { outputs: 2 });
    const rotated = g.op('Concat', [g.op('Neg', [x2]), x1], { axis: -1 });
    return g.op('Add', [g.op('Mul', [x, cos]), g.op('Mul', [rotated, sin])]);
  };

  // Additive mask [B, 1, 1, S, T]: key j visible to query i iff j ≤ P + i and attention_mask[b, j] = 1.
  const keyIdx = g.op('Range', [i64(0), g.op('Squeeze', [T, i64([0])]), i64(1)]);
  const qIdx = g.op('Range', [g.op('Squeeze', [P, i64([0])]), g.op('Squeeze', [g.op('Add', [P, S]), i64([0])]), i64(1)]);
  const causal = g.op('LessOrEqual', [g.op('Unsqueeze', [keyIdx, i64([0])]), g.op('Unsqueeze', [qIdx, i64([1])])]); // [S, T]
  const notPad = g.op('Reshape', [g.op('Cast', [mask], { to: 9 }), cat(B, i64([1, 1, 1]), T)]); // [B,1,1,1,T]
  const visible = g.op('And', [causal, notPad]); // [B,1,1,S,T]
  // Added to float32 scores in both modes (f16 attention normalises in f32): float32's lowest value.
  const maskBias = g.op('Where', [visible, g.f32(0), g.f32(-3.4028234663852886e38)]);
  const scale = c(1 / Math.sqrt(D));

  /** Embedding rows of `ids`; from a split embedding, each block looks up the ids it holds and gives exact zeros for the rest. */
  const embed = (weight: string) => {
    const blocks = blockInputs.get(weight);
    if (!blocks) return g.op('Gather', [w(weight), ids], { axis: 0 });
    const zero = c(0);
    const parts = blocks.map((b) => {
      const local = g.op('Sub', [ids, i64(b.start)]);
      const inside = g.op('And', [g.op('GreaterOrEqual', [local, i64(0)]), g.op('Less', [local, i64(b.rows)])]);
      const rows = g.op('Gather', [b.name, g.op('Where', [inside, local, i64(0)])], { axis: 0 });
      return g.op('Where', [g.op('Unsqueeze', [inside, i64([-1])]), rows, zero]);
    });
    return parts.reduce((a, b) => g.op('Add', [a, b]));
  };
  const heads = (t: string, n: number) => g.op('Transpose', [g.op('Reshape', [t, cat(B, S, i64([n, D]))])], { perm: [0, 2, 1, 3] }); // [B, n, S, D]
  /** Layer l's attention on q [B,NH,S,D], k, v [B,KV,S,D] (RoPE applied) after its past; writes the presents; returns [B, S, NH·D]. */
  const attention = (l: number, q: string, k: string, v: string) => {
    const keys = g.op('Concat', [past[l].key, k], { axis: 2 });
    const values = g.op('Concat', [past[l].value, v], { axis: 2 });
    g.output(keys, presentName(l, 'key'), dt, ['batch', KV, 'total_sequence', D]);
    g.output(values, presentName(l, 'value'), dt, ['batch', KV, 'total_sequence', D]);
    // Grouped-query attention by broadcasting: q [B,KV,G,S,D] against k [B,KV,1,T,D].
    const q5 = g.op('Reshape', [q, cat(B, i64([KV, G]), S, i64([D]))]);
    const k5 = g.op('Unsqueeze', [g.op('Transpose', [keys], { perm: [0, 1, 3, 2] }), i64([2])]); // [B,KV,1,D,T]
    const v5 = g.op('Unsqueeze', [values, i64([2])]); // [B,KV,1,T,D]
    // q is scaled before the product (smaller intermediate values); in f16 the scores are added to
    // the mask and normalised in f32, as transformers does, then cast back for the product with v.
    const raw = g.op('MatMul', [g.op('Mul', [q5, scale]), k5]);
    const probs = g.op('Softmax', [g.op('Add', [f16 ? g.op('Cast', [raw], { to: 1 }) : raw, maskBias])], { axis: -1 });
    const ctx = g.op('MatMul', [f16 ? g.op('Cast', [probs], { to: 10 }) : probs, v5]); // [B,KV,G,S,D]
    return g.op('Reshape', [g.op('Transpose', [g.op('Reshape', [ctx, cat(B, i64([NH]), S, i64([D]))])], { perm: [0, 2, 1, 3] }), cat(B, S, i64([NH * D]))]);
  };
  const fused = fusedOpsOf(o.fused);
  const fc: FusedContext | undefined = fused && { g, f16, numHeads: NH, numKvHeads: KV, headDim: D, eps };
  const fusedRope = fc && fused?.rotary ? rotaryCaches(fc, T, spec.inverseFrequencies) : undefined;
  const gqa = !!fused?.attention && gqaApplies(D, o.logits);
  let h = embed('model.embed_tokens.weight'); // [B, S, H]
  // Fused: a branch's output (attention, MLP) not yet added to h; the next norm adds it (SkipSimplifiedLayerNormalization).
  let branch: string | undefined;
  const addNorm = (weight: string) => {
    if (!fc || !branch) return rmsNorm(h, weight);
    // Not fused: the deferred add, then the norm (as the standard graph).
    if (!fused?.skipNorm) {
      h = g.op('Add', [h, branch]);
      branch = undefined;
      return rmsNorm(h, weight);
    }
    const r = skipRmsNorm(fc, h, branch, weight);
    h = r.sum;
    branch = undefined;
    return r.normed;
  };
  const addBranch = (y: string) => {
    if (fc) branch = y;
    else h = g.op('Add', [h, y]);
  };
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}`;
    const x = addNorm(`${p}.input_layernorm.weight`);
    const bias = (n: string) => (spec.qkvBias ? `${p}.self_attn.${n}_proj.bias` : undefined);
    const qProj = linear(x, `${p}.self_attn.q_proj.weight`, bias('q'), NH * D, [B, S]);
    const kProj = linear(x, `${p}.self_attn.k_proj.weight`, bias('k'), KV * D, [B, S]);
    const vProj = linear(x, `${p}.self_attn.v_proj.weight`, bias('v'), KV * D, [B, S]);
    let merged: string;
    if (fc && fusedRope) {
      // [B, S, N·D] throughout: q/k norms per head, RotaryEmbedding, then GroupQueryAttention where it is exact.
      const qr = rotary(fc, spec.qkNorm ? headRmsNorm(fc, qProj, NH, `${p}.self_attn.q_norm.weight`, [B, S]) : qProj, NH, positions, fusedRope);
      const kr = rotary(fc, spec.qkNorm ? headRmsNorm(fc, kProj, KV, `${p}.self_attn.k_norm.weight`, [B, S]) : kProj, KV, positions, fusedRope);
      if (gqa) {
        const a = groupQueryAttention(fc, qr, kr, vProj, past[l], visible, T, B);
        g.output(a.presentKey, presentName(l, 'key'), dt, ['batch', KV, 'total_sequence', D]);
        g.output(a.presentValue, presentName(l, 'value'), dt, ['batch', KV, 'total_sequence', D]);
        merged = a.context;
      } else merged = attention(l, heads(qr, NH), heads(kr, KV), heads(vProj, KV));
    } else {
      let q = heads(qProj, NH);
      let k = heads(kProj, KV);
      if (spec.qkNorm) {
        q = rmsNorm(q, `${p}.self_attn.q_norm.weight`);
        k = rmsNorm(k, `${p}.self_attn.k_norm.weight`);
      }
      merged = attention(l, rope(q), rope(k), heads(vProj, KV));
    }
    addBranch(linear(merged, `${p}.self_attn.o_proj.weight`, undefined, H, [B, S]));
    const y = addNorm(`${p}.post_attention_layernorm.weight`);
    const gate = linear(y, `${p}.mlp.gate_proj.weight`, undefined, config.intermediateSize, [B, S]);
    const up = linear(y, `${p}.mlp.up_proj.weight`, undefined, config.intermediateSize, [B, S]);
    const act = g.op('Mul', [g.op('Mul', [gate, g.op('Sigmoid', [gate])]), up]);
    addBranch(linear(act, `${p}.mlp.down_proj.weight`, undefined, H, [B, S]));
  }
  const toF32 = (x: string) => (f16 ? g.op('Cast', [x], { to: 1 }) : x);
  let final = addNorm('model.norm.weight');
  if (o.logits === 'last') {
    final = g.op('Gather', [final, g.op('Sub', [S, i64([1])])], { axis: 1 }); // [B, 1, H]
    const logits = linear(final, spec.headTensor, undefined, V, [B, i64([1])]);
    g.output(toF32(logits), 'logits', 'float32', ['batch', 1, V]);
  } else if (o.logits === 'input') {
    const keep = g.input('logits_to_keep', 'int64', [1]);
    // Positions [S − keep, S): a start of −0 = 0 keeps them all; Slice clamps keep > S to all.
    final = g.op('Slice', [final, g.op('Sub', [i64([0]), keep]), i64([2147483647]), i64([1])]); // [B, K, H]
    const logits = linear(final, spec.headTensor, undefined, V, [B, shapeOf(final, 1, 2)]);
    g.output(toF32(logits), 'logits', 'float32', ['batch', 'kept_sequence', V]);
  } else {
    g.output(toF32(linear(final, spec.headTensor, undefined, V, [B, S])), 'logits', 'float32', ['batch', 'sequence', V]);
  }
  return g.toBytes(`${config.architecture} (${o.logits} logits)`);
}
