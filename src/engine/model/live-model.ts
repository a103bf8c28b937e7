import type { Checkpoint } from '../checkpoint/open-checkpoint.ts';
import { CpuTensorMerger } from '../merge/cpu-tensor-merger.ts';
import { planMerge, type MergePlan, type VocabPolicy } from '../merge/merge-plan.ts';
import { ResidentMerge, type ResidencyOptions, type ResidencyPlan } from '../merge/resident-merge.ts';
import { decoderSpec, splitWeights, weightInputs, type ComputeDtype, type DecoderSpec } from './decoder-graph.ts';
import { DecoderModel, type GenerateOptions, type GeneratedRow, type WeightFeed } from './decoder-model.ts';
import { OrtRuntime, type Ort } from './ort-runtime.ts';
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
  ) {}

  /** 'gpu-zero-copy' or 'cpu-copy' (the fallback copies weights through host memory). */
  get path(): 'gpu-zero-copy' | 'cpu-copy' {
    return this.resident ? 'gpu-zero-copy' : 'cpu-copy';
  }

  get compute(): ComputeDtype {
    return this.model.compute;
  }

  get residencyExplanation(): string | undefined {
    return this.resident?.residency.explanation;
  }

  /** What stays on the GPU (dtypes, bytes, row blocks), when the model runs there. */
  get residency(): ResidencyPlan | undefined {
    return this.resident?.residency;
  }

  /** True when θ(α) alone is on the GPU and each α re-reads the checkpoints (target and v exceed the budget). */
  get streaming(): boolean {
    return this.resident?.residency.strategy === 'streaming';
  }

  static async create(o: LiveModelOptions): Promise<LiveModel> {
    const { target } = o.trio;
    let spec = decoderSpec(target.config, new Map([...target.tensors].map(([n, t]) => [n, t.shape])), target.source.label);
    const plan = planMerge(o.trio, { mode: 'merge', outDtype: 'F32', vocabPolicy: o.vocabPolicy });
    const tokenizer = target.files.some((f) => f.path === 'tokenizer.json') ? await StudioTokenizer.load(target) : undefined;
    const runtime = new OrtRuntime({ ort: o.ort, provider: o.device ? 'webgpu' : 'wasm', device: o.device });
    let resident: ResidentMerge | undefined;
    let feed: WeightFeed;
    const compute: ComputeDtype = o.device && o.compute === 'float16' ? 'float16' : 'float32';
    try {
      if (o.device) {
        resident = await ResidentMerge.create(o.device, plan, { ...o.residency, outDtype: compute === 'float16' ? 'F16' : 'F32' });
        const outputs = resident.outputs;
        // Weights larger than one GPU buffer may be are held as row blocks: the graph takes them block by block.
        const held = resident;
        spec = splitWeights(spec, (name) => held.blocksOf(name));
        feed = { kind: 'inputs', tensors: Object.fromEntries(weightInputs(spec).map((w) => [w.name, o.ort.Tensor.fromGpuBuffer(outputs.get(w.name)!.buffer, { dataType: compute, dims: w.shape })])) };
      } else {
        feed = { kind: 'embedded', arrays: new Map(spec.weights.map((w) => [w.name, new Float32Array(w.shape.reduce((a, b) => a * b, 1))])) };
      }
      const model = new DecoderModel(runtime, target.config, spec, feed, compute);
      if (resident) await model.prepare('last'); // the CPU path builds its session per α, after the merge
      return new LiveModel(plan, spec, model, runtime, tokenizer, resident);
    } catch (e) {
      // Nothing half-built stays on the GPU: a retry would otherwise allocate the budget again.
      resident?.destroy();
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
    if (this.resident) {
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

  async dispose(): Promise<void> {
    await this.lock;
    try {
      await this.model.dispose();
      await this.runtime.dispose();
    } finally {
      this.resident?.destroy();
    }
  }
}
