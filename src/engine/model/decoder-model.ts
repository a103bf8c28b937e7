import type { ModelConfig } from '../checkpoint/model-config.ts';
import { StudioError } from '../errors.ts';
import { buildCacheGatherGraph } from './cache-gather.ts';
import { buildDecoderGraph, pastName, presentName, weightInputs, type ComputeDtype, type DecoderSpec } from './decoder-graph.ts';
import type { OrtProvider, OrtRuntime, OrtSession, OrtTensor } from './ort-runtime.ts';
import { q4InputNames } from '../quant/q4-weights.ts';
import type { FusedOps } from './fused-ops.ts';
import { pickToken, seededRandom, type SamplingOptions } from './sampling.ts';

/**
 * A decoder ready to run: its graph (built once per logits mode), a session per mode, and the
 * weights as ORT tensors — CPU arrays in Node, the merge engine's GPU buffers in the page. The
 * weight tensors are held by reference: when the merge kernels rewrite those buffers for a new α,
 * the next run uses the new weights; nothing is rebuilt.
 */

export interface GenerateOptions extends SamplingOptions {
  maxNewTokens: number;
  /** Token ids that end a sequence (generation_config.json may list several). */
  eosTokenIds: number[];
  /** Decodes ids to text; needed for stop strings. */
  decode?: (ids: number[]) => string;
  stopStrings?: string[];
  padTokenId?: number;
  /** Called after each step with the row index and that row's new ids so far (finished rows are not reported again). */
  onToken?: (row: number, ids: readonly number[]) => void;
  /** Aborting stops the generation after the step in flight: generate rejects with GenerationCancelledError. */
  signal?: AbortSignal;
}

export class GenerationCancelledError extends StudioError {
  constructor() {
    super('the generation was cancelled.');
  }
}

export interface GeneratedRow {
  /** New tokens (an ending EOS included). */
  ids: number[];
  finishReason: 'eos' | 'stop' | 'length';
  /** Decoded new text (stop string and what follows removed), when a decoder was given. */
  text?: string;
}

/**
 * How weights reach the graph:
 * - `inputs`: ORT tensors fed on every run (GPU buffers on WebGPU: no copy, a new α needs no new
 *   session). On the WASM provider every run copies them into the WASM heap.
 * - `embedded`: host arrays baked into the model as initializers (copied once per session). What
 *   the CPU paths use: the CLI (one α per command) and the page's WASM fallback (where a new α
 *   rebuilding the session measured faster than feeding the weights on every run).
 */
export type WeightFeed =
  | { kind: 'inputs'; tensors: Record<string, OrtTensor>; quantized?: ReadonlySet<string> }
  | { kind: 'embedded'; arrays: Map<string, Float32Array> }
  | { kind: 'external'; files: ExternalModelFiles };

/**
 * `external` (onnxruntime-node): the weights are ONNX external data in a file on disk
 * (external-data.ts); the graphs are written beside it and sessions are created from their
 * paths, so the weights never pass through JS memory or a protobuf. A new file means new sessions.
 */
export interface ExternalModelFiles {
  /** The data file, relative to the graph files. */
  location: string;
  /** Each weight's byte range in it. */
  tensors: ReadonlyMap<string, { offset: number; length: number }>;
  /** Writes a graph file beside the data (kept when the same bytes are there); returns its path. */
  writeGraph(name: string, bytes: Uint8Array): Promise<string>;
  /** Weights stored as 4-bit MatMulNBits inputs (quant/q4-weights.ts names them), not floats. */
  quantized?: ReadonlySet<string>;
}

/**
 * Where the fused graph (fused-ops.ts) is the default: only where it is exact against the
 * standard graph and not slower (npm run bench:fused, same model and run).
 * - `cpu` (onnxruntime-node): all fused. Logits within 2.4e-7 relative of the standard graph
 *   (fused-ops.spec.ts); decode tokens per CPU-second (one intra-op thread, load-proof where
 *   wall times swung 2×) 1.07–1.25× on the bench model (batch 1 and 4, four runs), 0.97–1.12× at
 *   Qwen2.5-0.5B's widths with 2 and 4 layers (the 151,936-row head dominates a token's work).
 * - `wasm`, `webgpu`: the standard graph. Exact there too (e2e/kv-cache.spec.ts for WebGPU), but
 *   WASM was not measured, and on WebGPU the only adapter here is SwiftShader, whose timings say
 *   nothing about a GPU (see the bench's page section); `graphOptions.fused` opts in.
 */
export function defaultFused(provider: OrtProvider): boolean | Partial<FusedOps> {
  return provider === 'cpu';
}

/** Whether two sets of quantised weight names are equal (the same graph). */
const sameSet = (a?: ReadonlySet<string>, b?: ReadonlySet<string>) => (a?.size ?? 0) === (b?.size ?? 0) && [...(a ?? [])].every((x) => b!.has(x));

export class DecoderModel {
  private readonly sessions = new Map<'all' | 'last', Promise<OrtSession>>();
  private weights: Record<string, OrtTensor> = {};
  private embedded?: Map<string, Float32Array>;
  private external?: ExternalModelFiles;
  /** Weights fed as 4-bit MatMulNBits inputs (`inputs` feed). */
  private inputQuantized?: ReadonlySet<string>;
  private gather?: Promise<OrtSession>;

  constructor(
    readonly runtime: OrtRuntime,
    readonly config: ModelConfig,
    readonly spec: DecoderSpec,
    feed: WeightFeed,
    /** float16 where the device has shader-f16 (input weights must then be float16 tensors). */
    readonly compute: ComputeDtype = 'float32',
    /** Graph options: `fused` (onnxruntime's com.microsoft ops, see fused-ops.ts); default: defaultFused(provider). */
    readonly graphOptions: { fused?: boolean | Partial<FusedOps> } = {},
  ) {
    this.setWeights(feed);
  }

  /** Whether the graphs use the fused contrib ops. */
  get fused(): boolean | Partial<FusedOps> {
    return this.graphOptions.fused ?? defaultFused(this.runtime.o.provider);
  }

  /** New weights: `inputs` keep the sessions; `embedded` and `external` drop them (rebuilt on the next run). */
  setWeights(feed: WeightFeed): void {
    const has = feed.kind === 'inputs' ? (n: string) => n in feed.tensors : feed.kind === 'embedded' ? (n: string) => feed.arrays.has(n) : (n: string) => feed.files.tensors.has(n) || !!feed.files.quantized?.has(n);
    // Fed inputs follow the graph's inputs (a split weight is fed block by block); arrays are whole tensors.
    // A 4-bit weight (`quantized`, the page's q4 mode) is fed as its three MatMulNBits inputs.
    const names =
      feed.kind === 'inputs'
        ? weightInputs(this.spec).flatMap((i) => (feed.quantized?.has(i.name) ? Object.values(q4InputNames(i.name)) : [i.name]))
        : this.spec.weights.map((w) => w.name);
    for (const n of names) if (!has(n)) throw new StudioError(`weights for the model are missing "${n}".`);
    if (feed.kind === 'inputs') {
      this.weights = feed.tensors;
      const sameGraph = !this.embedded && !this.external && sameSet(this.inputQuantized, feed.quantized);
      this.inputQuantized = feed.quantized;
      if (!sameGraph) this.dropSessions();
      this.embedded = undefined;
      this.external = undefined;
    } else {
      this.weights = {};
      this.inputQuantized = undefined;
      this.embedded = feed.kind === 'embedded' ? feed.arrays : undefined;
      this.external = feed.kind === 'external' ? feed.files : undefined;
      this.dropSessions();
    }
  }

  private dropSessions() {
    for (const s of this.sessions.values()) void s.then((x) => x.release()).catch(() => {});
    this.sessions.clear();
  }

  /** External weights: one session serves both modes (its graph takes `logits_to_keep`, see decoder-graph.ts). */
  private session(wanted: 'all' | 'last'): Promise<OrtSession> {
    const ext = this.external;
    const mode = ext ? 'all' : wanted;
    let s = this.sessions.get(mode);
    if (!s) {
      const graph = buildDecoderGraph(this.config, this.spec, {
        logits: ext ? 'input' : mode,
        embedWeights: this.embedded,
        externalWeights: ext && { location: ext.location, tensors: ext.tensors },
        compute: this.compute,
        fused: this.fused,
        quantized: ext?.quantized ?? this.inputQuantized,
      });
      const onGpu = this.runtime.o.provider === 'webgpu' ? Array.from({ length: this.spec.numLayers }, (_, l) => [presentName(l, 'key'), presentName(l, 'value')]).flat() : [];
      s = ext ? ext.writeGraph('model.onnx', graph).then((path) => this.runtime.createSession(path)) : this.runtime.createSession(graph, onGpu);
      this.sessions.set(mode, s);
      // A failed creation is not cached: the next run tries again (and dispose() skips it).
      const created = s;
      created.catch(() => this.sessions.get(mode) === created && this.sessions.delete(mode));
    }
    return s;
  }

  /** The `logits_to_keep` feed of the one external-weights graph: 1 = the last position, 0 = all. */
  private keep(mode: 'all' | 'last'): Record<string, OrtTensor> {
    if (!this.external) return {};
    return { logits_to_keep: new this.runtime.ort.Tensor('int64', BigInt64Array.of(mode === 'last' ? 1n : 0n), [1]) };
  }

  /** Builds the session for a logits mode now (so a first generation's timing excludes it). */
  async prepare(mode: 'all' | 'last' = 'last'): Promise<void> {
    await this.session(mode);
  }

  /** Checks ids before anything runs: inside the vocabulary, within max_position_embeddings. */
  validate(rows: number[][], extra = 0): void {
    if (rows.length === 0 || rows.some((r) => r.length === 0)) throw new StudioError('every prompt needs at least one token.');
    const V = this.spec.vocabSize;
    for (const r of rows) {
      for (const id of r) {
        if (!Number.isInteger(id) || id < 0 || id >= V) throw new StudioError(`token id ${id} is outside the vocabulary (0 … ${V - 1}).`);
      }
      if (r.length + extra > this.spec.maxSequence) {
        const what = this.spec.maxSequence < this.config.maxPositionEmbeddings ? 'the sliding-window length' : 'max_position_embeddings';
        throw new StudioError(`a prompt of ${r.length} tokens${extra ? ` plus ${extra} new ones` : ''} exceeds ${what} (${this.spec.maxSequence}).`);
      }
    }
  }

  /** Left-padded batch feeds for a first step. */
  private prefillFeeds(rows: number[][], pad: number) {
    const { Tensor } = this.runtime.ort;
    const B = rows.length;
    const S = Math.max(...rows.map((r) => r.length));
    const ids = new BigInt64Array(B * S);
    const mask = new BigInt64Array(B * S);
    const pos = new BigInt64Array(B * S);
    rows.forEach((r, b) => {
      const off = S - r.length;
      for (let i = 0; i < S; i++) {
        const real = i >= off;
        ids[b * S + i] = BigInt(real ? r[i - off] : pad);
        mask[b * S + i] = real ? 1n : 0n;
        pos[b * S + i] = BigInt(real ? i - off : 0);
      }
    });
    const { numKvHeads: KV, headDim: D, numLayers: L } = this.spec;
    const feeds: Record<string, OrtTensor> = {
      input_ids: new Tensor('int64', ids, [B, S]),
      attention_mask: new Tensor('int64', mask, [B, S]),
      position_ids: new Tensor('int64', pos, [B, S]),
    };
    const empty = () => (this.compute === 'float16' ? new Tensor('float16', new Uint16Array(0), [B, KV, 0, D]) : new Tensor('float32', new Float32Array(0), [B, KV, 0, D]));
    for (let l = 0; l < L; l++) {
      feeds[pastName(l, 'key')] = empty();
      feeds[pastName(l, 'value')] = empty();
    }
    return { feeds, S, mask, pos };
  }

  /** Logits of every position, float32 [B, S, V] (rows left-padded to the longest). */
  async forward(rows: number[][]): Promise<{ dims: [number, number, number]; data: Float32Array }> {
    this.validate(rows);
    const session = await this.session('all');
    const { feeds, S } = this.prefillFeeds(rows, 0);
    const out = await session.run({ ...feeds, ...this.weights, ...this.keep('all') });
    const logits = out.logits;
    const data = (await logits.getData()) as Float32Array;
    for (const [name, t] of Object.entries(out)) if (name !== 'logits') t.dispose();
    return { dims: [rows.length, S, this.spec.vocabSize], data };
  }

  /** Batched generation with left padding; the KV cache stays where the provider keeps it. */
  async generate(rows: number[][], o: GenerateOptions): Promise<GeneratedRow[]> {
    this.validate(rows, o.maxNewTokens);
    if (o.signal?.aborted) throw new GenerationCancelledError();
    const session = await this.session('last');
    const { Tensor } = this.runtime.ort;
    const B = rows.length;
    const V = this.spec.vocabSize;
    const random = seededRandom(o.seed ?? 0);
    const pad = o.padTokenId ?? o.eosTokenIds[0] ?? 0;
    const prefill = this.prefillFeeds(rows, pad);
    let feeds = prefill.feeds;
    let maskRow = Array.from({ length: B }, (_, b) => Array.from(prefill.mask.subarray(b * prefill.S, (b + 1) * prefill.S), Number));
    let lastPos = Array.from({ length: B }, (_, b) => Number(prefill.pos[b * prefill.S + prefill.S - 1]));
    const out: GeneratedRow[] = rows.map(() => ({ ids: [], finishReason: 'length' }));
    const done = rows.map(() => false);
    let previous: Record<string, OrtTensor> | undefined;
    try {
      for (let step = 0; step < o.maxNewTokens; step++) {
        const result = await session.run({ ...feeds, ...this.weights, ...this.keep('last') });
        if (previous) for (const t of Object.values(previous)) t.dispose();
        // This step's cache is owned from here on, so an error below still disposes it.
        const presents: Record<string, OrtTensor> = {};
        for (let l = 0; l < this.spec.numLayers; l++) {
          presents[pastName(l, 'key')] = result[presentName(l, 'key')];
          presents[pastName(l, 'value')] = result[presentName(l, 'value')];
        }
        previous = presents;
        const logits = (await result.logits.getData()) as Float32Array;
        result.logits.dispose();
        const next: number[] = [];
        const picked: number[] = [];
        for (let b = 0; b < B; b++) {
          if (done[b]) {
            next.push(pad);
            continue;
          }
          picked.push(b);
          const token = pickToken(logits.subarray(b * V, (b + 1) * V), o, random);
          next.push(token);
          out[b].ids.push(token);
          if (o.eosTokenIds.includes(token)) {
            done[b] = true;
            out[b].finishReason = 'eos';
          } else if (o.stopStrings?.length && o.decode) {
            const text = o.decode(out[b].ids);
            if (o.stopStrings.some((s) => text.includes(s))) {
              done[b] = true;
              out[b].finishReason = 'stop';
            }
          }
        }
        if (o.onToken) for (const b of picked) o.onToken(b, out[b].ids.slice());
        if (done.every(Boolean) || step === o.maxNewTokens - 1) break;
        // Checked between steps: the tokens so far were reported, the cache is disposed below.
        if (o.signal?.aborted) throw new GenerationCancelledError();
        maskRow = maskRow.map((m) => [...m, 1]);
        lastPos = lastPos.map((p) => p + 1);
        const T = maskRow[0].length;
        feeds = {
          input_ids: new Tensor('int64', BigInt64Array.from(next.map(BigInt)), [B, 1]),
          attention_mask: new Tensor('int64', BigInt64Array.from(maskRow.flat().map(BigInt)), [B, T]),
          position_ids: new Tensor('int64', BigInt64Array.from(lastPos.map(BigInt)), [B, 1]),
          ...presents,
        };
      }
    } finally {
      if (previous) for (const t of Object.values(previous)) t.dispose();
    }
    if (o.decode) {
      for (const r of out) {
        let text = o.decode(r.ids);
        if (r.finishReason === 'stop') {
          const cut = Math.min(...o.stopStrings!.map((s) => text.indexOf(s)).filter((i) => i >= 0));
          text = text.slice(0, cut);
        }
        r.text = text;
      }
    }
    return out;
  }

  /**
   * lm-eval's `loglikelihood`: for each (context, continuation) pair, Σ log p(continuation token |
   * everything before it) and whether every continuation token is the argmax (`is_greedy`).
   * Requests that share a context (SciQ's four choices) share one pass over it: contexts are run
   * once (left-padded, up to `batchSize` at a time) and their KV cache is repeated for each of
   * their continuations, which run right-padded in one more pass. Log-softmax in float64.
   */
  async loglikelihood(requests: LoglikelihoodRequest[], o: { batchSize?: number } = {}): Promise<LoglikelihoodResult[]> {
    for (const r of requests) {
      if (r.context.length === 0) throw new StudioError('a log-likelihood request needs a non-empty context (lm-eval prepends the EOT token; do the same).');
      if (r.continuation.length === 0) throw new StudioError('a log-likelihood request needs a non-empty continuation.');
    }
    this.validate(requests.map((r) => [...r.context, ...r.continuation]));
    const groups = new Map<string, { context: number[]; members: number[] }>();
    requests.forEach((r, i) => {
      const key = r.context.join(',');
      const g = groups.get(key) ?? { context: r.context, members: [] };
      g.members.push(i);
      groups.set(key, g);
    });
    const results: LoglikelihoodResult[] = new Array(requests.length);
    const all = [...groups.values()];
    const batchSize = Math.max(1, o.batchSize ?? 8);
    for (let start = 0; start < all.length; start += batchSize) {
      await this.loglikelihoodBatch(all.slice(start, start + batchSize), requests, results);
    }
    return results;
  }

  private async loglikelihoodBatch(groups: { context: number[]; members: number[] }[], requests: LoglikelihoodRequest[], results: LoglikelihoodResult[]) {
    const L = this.spec.numLayers;
    // 1. The contexts, once each: logits at their last position and their KV cache.
    const ctx = this.prefillFeeds(
      groups.map((g) => g.context),
      0,
    );
    const last = await (await this.session('last')).run({ ...ctx.feeds, ...this.weights, ...this.keep('last') });
    const lastLogits = (await last.logits.getData()) as Float32Array;
    last.logits.dispose();
    const presents: Record<string, OrtTensor> = {};
    for (let l = 0; l < L; l++) for (const kind of ['key', 'value'] as const) presents[presentName(l, kind)] = last[presentName(l, kind)];
    try {
      await this.continuations(groups, requests, results, presents, ctx.S, lastLogits);
    } finally {
      for (const t of Object.values(presents)) t.dispose();
    }
  }

  /** Repeats the contexts' cache for their continuations where it lives (cache-gather.ts): no round trip through the host. */
  private gatherSession(): Promise<OrtSession> {
    if (!this.gather) {
      const onGpu = this.runtime.o.provider === 'webgpu' ? Array.from({ length: this.spec.numLayers }, (_, l) => [pastName(l, 'key'), pastName(l, 'value')]).flat() : [];
      const s = this.runtime.createSession(buildCacheGatherGraph(this.spec, this.compute), onGpu);
      this.gather = s;
      s.catch(() => this.gather === s && (this.gather = undefined));
    }
    return this.gather;
  }

  private async continuations(
    groups: { context: number[]; members: number[] }[],
    requests: LoglikelihoodRequest[],
    results: LoglikelihoodResult[],
    presents: Record<string, OrtTensor>,
    P: number,
    lastLogits: Float32Array,
  ) {
    const { Tensor } = this.runtime.ort;
    const V = this.spec.vocabSize;
    // Rows of the second pass: one per continuation longer than one token.
    const rows: { request: number; group: number }[] = [];
    groups.forEach((g, gi) => {
      for (const m of g.members) {
        const cont = requests[m].continuation;
        // Token 0 of the continuation is scored by the context's last logits.
        const first = logSoftmaxAt(lastLogits, gi * V, V, cont[0]);
        results[m] = { loglikelihood: first.logp, isGreedy: first.greedy };
        if (cont.length > 1) rows.push({ request: m, group: gi });
      }
    });
    if (rows.length === 0) return;
    // 2. The continuations (all but their last token), right-padded, after their context's cache.
    const R = rows.length;
    const S = Math.max(...rows.map((r) => requests[r.request].continuation.length - 1));
    const ids = new BigInt64Array(R * S);
    const mask = new BigInt64Array(R * (P + S));
    const pos = new BigInt64Array(R * S);
    rows.forEach((r, i) => {
      const g = groups[r.group];
      const cont = requests[r.request].continuation;
      const off = P - g.context.length;
      for (let j = 0; j < P; j++) mask[i * (P + S) + j] = j >= off ? 1n : 0n;
      for (let j = 0; j < S; j++) {
        const real = j < cont.length - 1;
        ids[i * S + j] = BigInt(real ? cont[j] : 0);
        mask[i * (P + S) + P + j] = real ? 1n : 0n;
        pos[i * S + j] = BigInt(g.context.length + (real ? j : 0));
      }
    });
    const feeds: Record<string, OrtTensor> = {
      input_ids: new Tensor('int64', ids, [R, S]),
      attention_mask: new Tensor('int64', mask, [R, P + S]),
      position_ids: new Tensor('int64', pos, [R, S]),
    };
    if (groups.length !== presents[presentName(0, 'key')].dims[0]) throw new Error('context cache batch mismatch');
    const tiled = await (await this.gatherSession()).run({ ...presents, rows: new Tensor('int64', BigInt64Array.from(rows.map((r) => BigInt(r.group))), [R]) });
    let logits: Float32Array;
    try {
      const out = await (await this.session('all')).run({ ...feeds, ...tiled, ...this.weights, ...this.keep('all') });
      logits = (await out.logits.getData()) as Float32Array;
      for (const t of Object.values(out)) t.dispose();
    } finally {
      for (const t of Object.values(tiled)) t.dispose();
    }
    rows.forEach((r, i) => {
      const cont = requests[r.request].continuation;
      const res = results[r.request];
      for (let j = 1; j < cont.length; j++) {
        const s = logSoftmaxAt(logits, (i * S + j - 1) * V, V, cont[j]);
        res.loglikelihood += s.logp;
        res.isGreedy &&= s.greedy;
      }
    });
  }

  async dispose(): Promise<void> {
    const all = [...this.sessions.values(), ...(this.gather ? [this.gather] : [])];
    this.sessions.clear();
    this.gather = undefined;
    for (const s of all) await s.then((x) => x.release(), () => undefined).catch(() => undefined);
  }
}

export interface LoglikelihoodRequest {
  context: number[];
  continuation: number[];
}
export interface LoglikelihoodResult {
  /** Σ log p over the continuation's tokens (natural log). */
  loglikelihood: number;
  /** Every continuation token is the argmax of its position (lm-eval's `is_greedy`; ties count as greedy only for the first index, as torch's argmax). */
  isGreedy: boolean;
}

/** log softmax(row)[token] in float64, and whether `token` is the row's (first) argmax. */
function logSoftmaxAt(logits: Float32Array, offset: number, V: number, token: number): { logp: number; greedy: boolean } {
  let max = -Infinity;
  let arg = 0;
  for (let i = 0; i < V; i++) {
    const x = logits[offset + i];
    if (x > max) [max, arg] = [x, i];
  }
  let sum = 0;
  for (let i = 0; i < V; i++) sum += Math.exp(logits[offset + i] - max);
  return { logp: logits[offset + token] - max - Math.log(sum), greedy: arg === token };
}
