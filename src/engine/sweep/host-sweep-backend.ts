import type { Checkpoint } from '../checkpoint/open-checkpoint.ts';
import { StudioError } from '../errors.ts';
import type { VocabPolicy } from '../merge/decide-merge.ts';
import { CpuTensorMerger } from '../merge/cpu-tensor-merger.ts';
import { decodeToF32 } from '../merge/half-float.ts';
import { executeMerge } from '../merge/merge-executor.ts';
import { planMerge, type MergePlan } from '../merge/merge-plan.ts';
import { decoderSpec, type DecoderSpec } from '../model/decoder-graph.ts';
import { DecoderModel } from '../model/decoder-model.ts';
import type { OrtRuntime, OrtTensor } from '../model/ort-runtime.ts';
import type { StudioTokenizer } from '../model/tokenizer.ts';
import { checkpointWeightsF32 } from '../model/weights.ts';
import { controlTensor } from './control-vector.ts';
import type { Series } from './results-document.ts';

/**
 * θ for every point of a sweep, on the host (the CLI, and a page without WebGPU), feeding one
 * DecoderModel on a CPU provider.
 *
 * The trio is read once: θ_target and v = θ_RL − θ_SFT as float32 arrays (through the merge
 * executor's vector pass, so reads are chunked and v is the merge's own v). Each α is then one
 * pass over memory, θ(α) = θ_target + f32(α)·v, with exactly the CPU/WGSL merger's float32
 * rounding (cpu-tensor-merger.ts): the weights at α are bit for bit those `studio merge`
 * writes in F32 and `studio eval --alpha` runs. The control vector (control-vector.ts) is made
 * from v once and merged the same way; the donors alone are their own checkpoints' weights.
 *
 * How the weights reach ORT (`feed`, chosen by size: hostFeedFor below, measured by
 * scripts/bench-sweep.ts on the WASM provider):
 * - `embedded`: baked into a new session per α (one rebuild per α, then runs read them in place);
 * - `inputs`: fed on every run (no rebuild, but every run copies all weights into the WASM heap).
 */

/** A model the sweep runner can point at any series and α. */
export interface SweepBackend {
  readonly model: DecoderModel;
  readonly tokenizer: StudioTokenizer;
  /** Where it runs and how θ changes, for the results' `runtime.provider`. */
  readonly description: string;
  /** Makes the model compute with θ_target + α·v (`v`), θ_target + α·control (`control`), or a donor alone. */
  use(series: Exclude<Series, 'target'>, alpha: number | null, signal?: AbortSignal): Promise<void>;
  dispose(): Promise<void>;
}

export type HostWeightFeed = 'embedded' | 'inputs';

/**
 * Which feed is faster per α on the WASM provider depends on the model's size: a new session costs
 * a graph build and a copy of the weights once per α, `inputs` a copy of the weights on every run.
 * `npm run bench:sweep` (Node 20, 1 WASM thread, a 2-core VM shared with other work; per α 100
 * items × 10 one-token choices, 13 passes of 8 contexts) measured:
 * - demo trio (0.6M parameters, 2.4 MB in float32), whole 11-α sweep: `inputs` 1.86 s,
 *   `embedded` 6.74 s (3.6× for `inputs`; the session build dominates);
 * - 6M-parameter bench trio (24 MB), per α: `embedded` 0.46 s, `inputs` 0.75 s (1.6×; another
 *   run: 1.19 s / 1.18 s);
 * - 21M (84 MB), per α: `embedded` 1.99 s, `inputs` 2.57 s (1.3×; another run 2.87 s / 3.16 s).
 * The crossover lies between 2.4 and 24 MB, and `inputs` loses more with every pass per α, so:
 * `inputs` up to INPUTS_FEED_MAX_BYTES of weights, `embedded` above.
 */
export const INPUTS_FEED_MAX_BYTES = 8 * 1024 * 1024;

export function hostFeedFor(weightBytes: number): HostWeightFeed {
  return weightBytes <= INPUTS_FEED_MAX_BYTES ? 'inputs' : 'embedded';
}

export interface HostBackendOptions {
  trio: { sft: Checkpoint; rl: Checkpoint; target: Checkpoint };
  runtime: OrtRuntime;
  tokenizer: StudioTokenizer;
  vocabPolicy?: VocabPolicy;
  /** Seed of the control vector; null = no control series. */
  controlSeed: number | null;
  /** Default: hostFeedFor(the model's float32 bytes). */
  feed?: HostWeightFeed;
  signal?: AbortSignal;
}

export class SweepSeriesError extends StudioError {}

export class HostSweepBackend implements SweepBackend {
  readonly description: string;
  private current: string | undefined;

  private constructor(
    readonly model: DecoderModel,
    readonly tokenizer: StudioTokenizer,
    private readonly o: HostBackendOptions,
    private readonly spec: DecoderSpec,
    private readonly plan: MergePlan,
    private readonly target: Map<string, Float32Array>,
    private readonly vector: Map<string, Float32Array>,
    private readonly control: Map<string, Float32Array> | undefined,
    /** The weights the model reads: rewritten in place for every point. */
    private readonly theta: Map<string, Float32Array>,
    private readonly feed: HostWeightFeed,
  ) {
    this.description = `${o.runtime.o.provider === 'wasm' ? 'onnxruntime-web (wasm)' : `onnxruntime-web (${o.runtime.o.provider})`}, θ(α) merged on the host, weights ${feed === 'embedded' ? 'baked into a new session per α' : 'fed as inputs'}`;
  }

  static async open(o: HostBackendOptions): Promise<HostSweepBackend> {
    const { sft, rl, target } = o.trio;
    const plan = planMerge({ sft, rl, target }, { mode: 'merge', outDtype: 'F32', vocabPolicy: o.vocabPolicy });
    const spec = decoderSpec(target.config, new Map([...target.tensors].map(([n, t]) => [n, t.shape])), target.source.label);
    const { targetArrays, vectorArrays } = await readTargetAndVector(plan, o.signal);
    let control: Map<string, Float32Array> | undefined;
    if (o.controlSeed !== null) {
      control = new Map();
      for (const [name, v] of vectorArrays) control.set(name, controlTensor(o.controlSeed, name, v));
    }
    const theta = new Map(plan.tensors.map((t) => [t.name, new Float32Array(t.elements)]));
    for (const [name, a] of targetArrays) theta.get(name)!.set(a);
    const feed = o.feed ?? hostFeedFor(spec.weights.reduce((a, w) => a + 4 * w.shape.reduce((x, y) => x * y, 1), 0));
    const model = new DecoderModel(o.runtime, target.config, spec, feedOf(o.runtime, spec, theta, feed));
    return new HostSweepBackend(model, o.tokenizer, o, spec, plan, targetArrays, vectorArrays, control, theta, feed);
  }

  /** The float32 weights the model runs with now (read-only for callers: tests and benchmarks). */
  get weights(): ReadonlyMap<string, Float32Array> {
    return this.theta;
  }

  async use(series: Exclude<Series, 'target'>, alpha: number | null, signal?: AbortSignal): Promise<void> {
    const key = `${series}|${alpha}`;
    if (this.current === key) return;
    if (signal?.aborted) throw new StudioError('the sweep was cancelled.');
    this.current = undefined;
    if (series === 'sft' || series === 'rl') {
      const donor = this.o.trio[series];
      const arrays = await checkpointWeightsF32(donor, this.spec, signal);
      for (const w of this.spec.weights) this.theta.get(w.name)!.set(arrays.get(w.name)!);
    } else {
      if (alpha === null) throw new SweepSeriesError(`series ${series} needs an α.`);
      const direction = series === 'v' ? this.vector : this.control;
      if (!direction) throw new SweepSeriesError('the control series needs a control seed.');
      const a = Math.fround(alpha);
      for (const t of this.plan.tensors) {
        const out = this.theta.get(t.name)!;
        const base = this.target.get(t.name)!;
        const d = direction.get(t.name);
        if (!d) {
          out.set(base);
          continue;
        }
        // As CpuTensorMerger: out = t + f32(f32(α)·v), rounded to float32 by the store.
        for (let i = 0; i < d.length; i++) out[i] = base[i] + Math.fround(a * d[i]);
        if (d.length < base.length) out.set(base.subarray(d.length), d.length);
      }
    }
    // Embedded weights are copied into the session when it is built: a new θ needs new sessions.
    if (this.feed === 'embedded') this.model.setWeights({ kind: 'embedded', arrays: this.theta });
    this.current = key;
  }

  async dispose(): Promise<void> {
    await this.model.dispose();
  }
}

function feedOf(runtime: OrtRuntime, spec: DecoderSpec, theta: Map<string, Float32Array>, feed: HostWeightFeed) {
  if (feed === 'embedded') return { kind: 'embedded' as const, arrays: theta };
  const tensors: Record<string, OrtTensor> = {};
  for (const w of spec.weights) tensors[w.name] = new runtime.ort.Tensor('float32', theta.get(w.name)!, w.shape);
  return { kind: 'inputs' as const, tensors };
}

/**
 * θ_target for every planned tensor and v for each tensor's merged part, in float32, read once
 * through the executor's vector pass (which reads the target of merged chunks too).
 */
async function readTargetAndVector(plan: MergePlan, signal?: AbortSignal) {
  const targetArrays = new Map(plan.tensors.map((t) => [t.name, new Float32Array(t.elements)]));
  const vectorArrays = new Map(plan.tensors.filter((t) => t.mergedElements > 0).map((t) => [t.name, new Float32Array(t.mergedElements)]));
  const merger = new CpuTensorMerger();
  try {
    await executeMerge({
      tensors: plan.tensors,
      merger,
      compute: 'vector',
      readTarget: true,
      alpha: 0,
      parts: { merged: true, kept: true },
      outDtype: () => 'F32',
      castKept: false,
      signal,
      sink: {
        write(c, bytes, inputs) {
          const t = targetArrays.get(c.tensor.name)!;
          const src = c.tensor.target!;
          if (c.kind === 'kept') {
            decodeToF32(bytes, src.dtype, c.count, t.subarray(c.start, c.start + c.count));
            return;
          }
          decodeToF32(inputs.target!, src.dtype, c.count, t.subarray(c.start, c.start + c.count));
          const v = vectorArrays.get(c.tensor.name)!;
          new Uint8Array(v.buffer, v.byteOffset, v.byteLength).set(bytes, c.start * 4);
        },
      },
    });
  } finally {
    merger.destroy();
  }
  return { targetArrays, vectorArrays };
}
