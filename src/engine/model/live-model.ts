import type { Checkpoint } from '../checkpoint/open-checkpoint.ts';
import { StudioError } from '../errors.ts';
import { CpuTensorMerger } from '../merge/cpu-tensor-merger.ts';
import { planMerge, type MergePlan, type VocabPolicy } from '../merge/merge-plan.ts';
import { ResidentMerge, type ResidencyOptions, type ResidencyPlan } from '../merge/resident-merge.ts';
import { ResidentQ4Merge } from '../merge/resident-q4-merge.ts';
import type { Q4MemoryPlan } from './memory-plan.ts';
import { decoderSpec, splitWeights, weightInputs, type ComputeDtype, type DecoderSpec } from './decoder-graph.ts';
import { DecoderModel, GenerationCancelledError, type GenerateOptions, type GeneratedRow, type WeightFeed } from './decoder-model.ts';

export { GenerationCancelledError };
import { OrtRuntime, type Ort, type RuntimeOptions } from './ort-runtime.ts';
import { StudioTokenizer } from './tokenizer.ts';
import { mergedWeightsF32 } from './weights.ts';

/**
 * The merged model the α slider drives. With WebGPU: θ(α) lives in ResidentMerge's GPU buffers,
 * which onnxruntime-web reads directly; a new α is a kernel pass and the sessions are reused.
 * Without WebGPU (the WASM provider): θ(α) is re-merged on the CPU into host arrays and handed
 * to the same sessions — correct, slower, and said so by `path`.
 */

export interface LiveModelOptions {
  trio: { sft: Checkpoint; rl: Checkpoint; target: Checkpoint };
  ort: Ort;
  /** Present: WebGPU path on this device. Absent: WASM path. */
  device?: GPUDevice;
  vocabPolicy?: VocabPolicy;
  residency?: ResidencyOptions;
  /** float16 where the device has shader-f16 (WebGPU only); float32 otherwise. */
  compute?: ComputeDtype;
  /**
   * 'q4' (WebGPU only): the decoder layers' projections as 4-bit MatMulNBits inputs, quantised on
   * the GPU after each merge (resident-q4-merge.ts); computes in float32 whatever `compute` says
   * (the op's scales are float32). Default 'float'.
   */
  weights?: 'float' | 'q4';
  /** What the build is doing now (the page shows the first build as its own step). */
  onProgress?: (p: BuildProgress) => void;
  /**
   * WebGPU: end the build with a two-token run so onnxruntime compiles its kernels now, not during
   * the first α's answer (the page's explorer times answers per α). Off by default: on a large
   * model under SwiftShader that run alone takes minutes, which tests and benchmarks that time
   * their own first run do not want.
   */
  warmUp?: boolean;
}

/**
 * One step of building a LiveModel, in the order they happen: the tokenizer is read, the target
 * and v are uploaded to the GPU (`done`/`total` tensors; WebGPU only), the ONNX graph is built,
 * onnxruntime creates its session, and a first two-token run compiles the GPU kernels (WebGPU only:
 * the WASM path builds its session per α, at its first generation after the CPU merge).
 */
export type BuildProgress =
  | { phase: 'tokenizer' }
  | { phase: 'weights'; done: number; total: number; q4?: boolean }
  | { phase: 'graph' }
  | { phase: 'session' }
  | { phase: 'warmup' }
  | { phase: 'ready' };

/** What a build step is doing, in words. */
export function describeBuildPhase(p: BuildProgress): string {
  switch (p.phase) {
    case 'tokenizer':
      return 'reading the tokenizer';
    case 'weights':
      return p.q4
        ? `merging θ(α) and quantising its projections to 4 bits on the GPU (${p.done} of ${p.total} tensors)`
        : `uploading the target and v to the GPU (${p.done} of ${p.total} tensors)`;
    case 'graph':
      return 'building the ONNX graph';
    case 'session':
      return 'creating the onnxruntime session';
    case 'warmup':
      return 'compiling the GPU kernels (a first two-token run)';
    case 'ready':
      return 'ready';
  }
}

/** Options of a streamed generation of one prompt (LiveModel.generateStreaming). */
export interface StreamOptions extends Omit<GenerateOptions, 'onToken'> {
  /** Called after each new token with all the new ids so far. */
  onToken?: (ids: readonly number[]) => void;
}

/** The runtime with its session creation observed: the graph is built by then (DecoderModel builds it first). */
class ObservedRuntime extends OrtRuntime {
  onCreateSession?: () => void;
  constructor(o: RuntimeOptions) {
    super(o);
  }
  override createSession(...args: Parameters<OrtRuntime['createSession']>): ReturnType<OrtRuntime['createSession']> {
    this.onCreateSession?.();
    return super.createSession(...args);
  }
}

export class LiveModel {
  alpha: number | undefined;
  /** setAlpha rewrites the weights a generation reads: the two never overlap. */
  private lock: Promise<unknown> = Promise.resolve();

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.lock.then(fn, fn);
    this.lock = next.catch(() => undefined);
    return next;
  }
  private constructor(
    readonly plan: MergePlan,
    readonly spec: DecoderSpec,
    readonly model: DecoderModel,
    readonly runtime: OrtRuntime,
    readonly tokenizer: StudioTokenizer | undefined,
    private readonly resident?: ResidentMerge,
    private readonly q4?: ResidentQ4Merge,
  ) {}

  /** 'q4' when the projections are 4-bit MatMulNBits inputs (the page's 4-bit weights mode). */
  get weights(): 'float' | 'q4' {
    return this.q4 ? 'q4' : 'float';
  }

  /** The 4-bit plan this model holds (bytes, error statement), in the q4 mode. */
  get q4Memory(): Q4MemoryPlan | undefined {
    return this.q4?.memory;
  }

  /** Bytes and number of the 4-bit mode's weight buffers as allocated (checked against q4Memory). */
  get q4Held(): { bytes: number; buffers: number } | undefined {
    return this.q4?.held;
  }

  /** 'gpu-zero-copy' or 'cpu-copy' (the fallback copies weights through host memory). */
  get path(): 'gpu-zero-copy' | 'cpu-copy' {
    return this.resident || this.q4 ? 'gpu-zero-copy' : 'cpu-copy';
  }

  get compute(): ComputeDtype {
    return this.model.compute;
  }

  get residencyExplanation(): string | undefined {
    return this.q4 ? this.q4.memory.summary : this.resident?.residency.explanation;
  }

  /** What stays on the GPU (dtypes, bytes, row blocks), when the model runs there. */
  get residency(): ResidencyPlan | undefined {
    return this.resident?.residency;
  }

  /** True when θ(α) alone is on the GPU and each α re-reads the checkpoints (target and v exceed the budget). */
  get streaming(): boolean {
    return !!this.q4 || this.resident?.residency.strategy === 'streaming';
  }

  static async create(o: LiveModelOptions): Promise<LiveModel> {
    const { target } = o.trio;
    let spec = decoderSpec(target.config, new Map([...target.tensors].map(([n, t]) => [n, t.shape])), target.source.label);
    const plan = planMerge(o.trio, { mode: 'merge', outDtype: 'F32', vocabPolicy: o.vocabPolicy });
    const report = o.onProgress ?? (() => undefined);
    report({ phase: 'tokenizer' });
    const tokenizer = target.files.some((f) => f.path === 'tokenizer.json') ? await StudioTokenizer.load(target) : undefined;
    const runtime = new ObservedRuntime({ ort: o.ort, provider: o.device ? 'webgpu' : 'wasm', device: o.device });
    let resident: ResidentMerge | undefined;
    let q4: ResidentQ4Merge | undefined;
    let feed: WeightFeed;
    const compute: ComputeDtype = o.device && o.compute === 'float16' && o.weights !== 'q4' ? 'float16' : 'float32';
    try {
      if (o.weights === 'q4' && !o.device) throw new StudioError('4-bit weights need WebGPU in the page (the WASM provider runs float32 weights); choose "weights: float" or use the CLI with --weights q4.');
      if (o.device && o.weights === 'q4') {
        report({ phase: 'weights', done: 0, total: plan.tensors.length, q4: true });
        q4 = await ResidentQ4Merge.create(o.device, plan, { budgetBytes: o.residency?.budgetBytes ?? Number.MAX_SAFE_INTEGER, maxBufferBytes: o.residency?.maxBufferBytes }, (done, total) =>
          report({ phase: 'weights', done, total, q4: true }),
        );
        const held = q4;
        spec = splitWeights(spec, (name) => held.blocksOf(name));
        feed = {
          kind: 'inputs',
          quantized: q4.quantized,
          tensors: Object.fromEntries([...q4.outputs].map(([name, b]) => [name, o.ort.Tensor.fromGpuBuffer(b.buffer, { dataType: b.dataType, dims: b.dims })])),
        };
      } else if (o.device) {
        report({ phase: 'weights', done: 0, total: plan.tensors.length });
        resident = await ResidentMerge.create(o.device, plan, { ...o.residency, outDtype: compute === 'float16' ? 'F16' : 'F32' }, (done, total) =>
          report({ phase: 'weights', done, total }),
        );
        const outputs = resident.outputs;
        // Weights larger than one GPU buffer may be are held as row blocks: the graph takes them block by block.
        const held = resident;
        spec = splitWeights(spec, (name) => held.blocksOf(name));
        feed = { kind: 'inputs', tensors: Object.fromEntries(weightInputs(spec).map((w) => [w.name, o.ort.Tensor.fromGpuBuffer(outputs.get(w.name)!.buffer, { dataType: compute, dims: w.shape })])) };
      } else {
        feed = { kind: 'embedded', arrays: new Map(spec.weights.map((w) => [w.name, new Float32Array(w.shape.reduce((a, b) => a * b, 1))])) };
      }
      const model = new DecoderModel(runtime, target.config, spec, feed, compute);
      if (resident || q4) {
        // the CPU path builds its session per α, after the merge
        report({ phase: 'graph' });
        runtime.onCreateSession = () => report({ phase: 'session' });
        await model.prepare('last');
        // onnxruntime-web compiles its WebGPU pipelines on a session's first runs (measured 14.7 s of a
        // first 6-token answer on SwiftShader, against 0.3 s for the next α): that belongs to the
        // build, not to the first α's answer. Two tokens: the prefill's and the cached step's kernels.
        // The weights are not merged yet; the tokens are thrown away.
        if (o.warmUp) {
          report({ phase: 'warmup' });
          await model.generate([[0]], { maxNewTokens: 2, eosTokenIds: [] });
        }
      }
      runtime.onCreateSession = undefined;
      report({ phase: 'ready' });
      return new LiveModel(plan, spec, model, runtime, tokenizer, resident, q4);
    } catch (e) {
      // Nothing half-built stays on the GPU: a retry would otherwise allocate the budget again.
      resident?.destroy();
      q4?.destroy();
      await runtime.dispose().catch(() => undefined);
      throw e;
    }
  }

  /** θ(α) into the weights the sessions read. */
  setAlpha(alpha: number): Promise<{ ms: number }> {
    return this.exclusive(() => this.setAlphaNow(alpha));
  }

  private async setAlphaNow(alpha: number): Promise<{ ms: number }> {
    const t0 = performance.now();
    this.alpha = undefined; // mixed weights if this fails part-way: the next request re-merges
    if (this.q4) {
      await this.q4.setAlpha(alpha);
    } else if (this.resident) {
      await this.resident.setAlpha(alpha);
    } else {
      // The WASM provider copies input weights into its heap on every run; baking them into a
      // new session once per α measured faster (npm run bench:model).
      this.model.setWeights({ kind: 'embedded', arrays: await mergedWeightsF32(this.plan, new CpuTensorMerger(), alpha) });
    }
    this.alpha = alpha;
    return { ms: performance.now() - t0 };
  }

  generate(rows: number[][], o: GenerateOptions): Promise<GeneratedRow[]> {
    return this.exclusive(() => this.model.generate(rows, o));
  }

  /**
   * Generates for one prompt, reporting each new token as it is picked and stopping when `signal`
   * aborts (DecoderModel.generate's onToken and signal, one row). Without a decoder (no tokenizer)
   * the ids are streamed and `text` stays absent.
   */
  generateStreaming(prompt: number[], o: StreamOptions): Promise<GeneratedRow> {
    const { onToken, ...rest } = o;
    if (o.signal?.aborted) return Promise.reject(new GenerationCancelledError());
    return this.exclusive(async () => {
      const [row] = await this.model.generate([prompt], { ...rest, onToken: onToken && ((_row, ids) => onToken(ids)) });
      return row;
    });
  }

  async dispose(): Promise<void> {
    await this.lock;
    try {
      await this.model.dispose();
      await this.runtime.dispose();
    } finally {
      this.resident?.destroy();
      this.q4?.destroy();
    }
  }
}
