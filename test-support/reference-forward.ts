/**
 * A reference forward pass of a Qwen2/Llama-style decoder written for tests only: plain loops in
 * float64 over weights given as plain arrays, one unpadded sequence at a time, no caches and no
 * shared code with src/engine/model. What the ONNX graph must agree with.
 */

export interface RefConfig {
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  vocabSize: number;
  rmsNormEps: number;
  ropeTheta: number;
  /** Overrides 1/θ^(2i/D) (scaled RoPE variants), length D/2. */
  ropeInverseFrequencies?: number[];
}

export type RefWeights = Map<string, Float64Array | Float32Array>;

function rms(x: Float64Array, w: ArrayLike<number>, eps: number): Float64Array<ArrayBuffer> {
  let ss = 0;
  for (const v of x) ss += v * v;
  const inv = 1 / Math.sqrt(ss / x.length + eps);
  return x.map((v, i) => w[i] * v * inv);
}

/** y = W x (+ b), W stored [out, in] row-major. */
function matvec(W: ArrayLike<number>, x: Float64Array, out: number, b?: ArrayLike<number>): Float64Array {
  const n = x.length;
  const y = new Float64Array(out);
  for (let o = 0; o < out; o++) {
    let s = b ? b[o] : 0;
    for (let i = 0; i < n; i++) s += W[o * n + i] * x[i];
    y[o] = s;
  }
  return y;
}

/** Logits for every position of one sequence: number[T][V]. */
export function referenceForward(c: RefConfig, w: RefWeights, ids: number[]): Float64Array[] {
  const w2 = (n: string) => w.get(n)!;
  const head = w.has('lm_head.weight') ? w2('lm_head.weight') : w2('model.embed_tokens.weight');
  return referenceHidden(c, w, ids).map((h) => matvec(head, h, c.vocabSize));
}

/** The final RMS-normed hidden state of every position (what the head multiplies): number[T][H]. */
export function referenceHidden(c: RefConfig, w: RefWeights, ids: number[]): Float64Array[] {
  const { hiddenSize: H, numHeads: NH, numKvHeads: KV, headDim: D, numLayers: L } = c;
  const get = (n: string) => {
    const t = w.get(n);
    if (!t) throw new Error(`reference: missing ${n}`);
    return t;
  };
  const has = (n: string) => w.has(n);
  const T = ids.length;
  const embed = get('model.embed_tokens.weight');
  let hs: Float64Array<ArrayBuffer>[] = ids.map((id) => Float64Array.from(embed.subarray(id * H, (id + 1) * H)));
  const rope = (v: Float64Array, pos: number) => {
    const out = new Float64Array(D);
    for (let i = 0; i < D / 2; i++) {
      const inv = c.ropeInverseFrequencies ? c.ropeInverseFrequencies[i] : 1 / Math.pow(c.ropeTheta, (2 * i) / D);
      const a = pos * inv;
      out[i] = v[i] * Math.cos(a) - v[i + D / 2] * Math.sin(a);
      out[i + D / 2] = v[i + D / 2] * Math.cos(a) + v[i] * Math.sin(a);
    }
    return out;
  };
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}`;
    const bias = (n: string) => (has(`${p}.self_attn.${n}_proj.bias`) ? get(`${p}.self_attn.${n}_proj.bias`) : undefined);
    const qs: Float64Array[][] = [];
    const ks: Float64Array[][] = [];
    const vs: Float64Array[][] = [];
    for (let t = 0; t < T; t++) {
      const x = rms(hs[t], get(`${p}.input_layernorm.weight`), c.rmsNormEps);
      const q = matvec(get(`${p}.self_attn.q_proj.weight`), x, NH * D, bias('q'));
      const k = matvec(get(`${p}.self_attn.k_proj.weight`), x, KV * D, bias('k'));
      const v = matvec(get(`${p}.self_attn.v_proj.weight`), x, KV * D, bias('v'));
      const split = (a: Float64Array, n: number, norm?: string) =>
        Array.from({ length: n }, (_, h) => {
          let head = a.slice(h * D, (h + 1) * D);
          if (norm && has(norm)) head = rms(head, get(norm), c.rmsNormEps);
          return head;
        });
      qs.push(split(q, NH, `${p}.self_attn.q_norm.weight`).map((h) => rope(h, t)));
      ks.push(split(k, KV, `${p}.self_attn.k_norm.weight`).map((h) => rope(h, t)));
      vs.push(split(v, KV));
    }
    const next: Float64Array<ArrayBuffer>[] = [];
    for (let t = 0; t < T; t++) {
      const ctx = new Float64Array(NH * D);
      for (let h = 0; h < NH; h++) {
        const kv = Math.floor(h / (NH / KV));
        const scores = [];
        for (let j = 0; j <= t; j++) {
          let s = 0;
          for (let d = 0; d < D; d++) s += qs[t][h][d] * ks[j][kv][d];
          scores.push(s / Math.sqrt(D));
        }
        const m = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - m));
        const z = e.reduce((a, b) => a + b, 0);
        for (let j = 0; j <= t; j++) for (let d = 0; d < D; d++) ctx[h * D + d] += (e[j] / z) * vs[j][kv][d];
      }
      const attn = matvec(get(`${p}.self_attn.o_proj.weight`), ctx, H);
      const h1 = hs[t].map((v, i) => v + attn[i]);
      const y = rms(h1, get(`${p}.post_attention_layernorm.weight`), c.rmsNormEps);
      const g = matvec(get(`${p}.mlp.gate_proj.weight`), y, c.intermediateSize);
      const u = matvec(get(`${p}.mlp.up_proj.weight`), y, c.intermediateSize);
      const a = g.map((gv, i) => (gv / (1 + Math.exp(-gv))) * u[i]);
      const d = matvec(get(`${p}.mlp.down_proj.weight`), a, H);
      next.push(h1.map((v, i) => v + d[i]));
    }
    hs = next;
  }
  return hs.map((h) => rms(h, get('model.norm.weight'), c.rmsNormEps));
}
