import type { Checkpoint } from '../engine/checkpoint/open-checkpoint.ts';
import { StudioError } from '../engine/errors.ts';
import { planMerge, type MergePlan, type VocabPolicy } from '../engine/merge/merge-plan.ts';
import { decoderSpec } from '../engine/model/decoder-graph.ts';
import { DecoderModel } from '../engine/model/decoder-model.ts';
import type { OrtRuntime } from '../engine/model/ort-runtime.ts';
import type { StudioTokenizer } from '../engine/model/tokenizer.ts';
import { SweepSeriesError, type SweepBackend } from '../engine/sweep/host-sweep-backend.ts';
import type { Series } from '../engine/sweep/results-document.ts';
import { describeRuntime } from './model-flags.ts';
import { NativeWeights, type TrioSources, type WeightsFormat } from './native-weights.ts';

/**
 * The sweep's backend in the CLI on onnxruntime-node: each point's θ — θ_target + α·v, the
 * control at α, a donor alone — is streamed into the model cache as external data
 * (native-weights.ts) and the session rebuilt from it, so memory is one model in onnxruntime's
 * hands plus a few chunks, whatever the number of points: the host backend
 * (engine/sweep/host-sweep-backend.ts) keeps θ_target, v, the control and θ in float32 arrays,
 * four times the model, which only small models afford. The weights are the same bits either way
 * (the merger's float32 rounding; the control vector drawn and scaled as controlTensor does).
 * A point already in the cache (another sweep, or `studio generate` at that α) is not re-merged.
 */

export interface NativeBackendOptions {
  trio: { sft: Checkpoint; rl: Checkpoint; target: Checkpoint };
  /** The sources as sweep.json names them (folder paths resolved), for the cache's identities. */
  specs: { sft: string; rl: string; target: string };
  runtime: OrtRuntime;
  tokenizer: StudioTokenizer;
  vocabPolicy?: VocabPolicy;
  /** Seed of the control vector; null = no control series. */
  controlSeed: number | null;
  log: (line: string) => void;
  signal?: AbortSignal;
  /** `--weights`: float32 (default) or 4-bit MatMulNBits projections (native-weights.ts). */
  weights?: WeightsFormat;
}

export class NativeSweepBackend implements SweepBackend {
  readonly description: string;
  private current: string;

  private constructor(
    readonly model: DecoderModel,
    readonly tokenizer: StudioTokenizer,
    private readonly o: NativeBackendOptions,
    private readonly weights: NativeWeights,
    private readonly sources: TrioSources,
    private readonly plan: MergePlan,
  ) {
    this.description = `${describeRuntime(o.runtime.o.provider, o.weights ?? 'float')}, θ streamed from the checkpoints into a cached ONNX external-data file per point, a new session per point`;
    this.current = 'v|0';
  }

  static async open(o: NativeBackendOptions): Promise<NativeSweepBackend> {
    const { sft, rl, target } = o.trio;
    const plan = planMerge({ sft, rl, target }, { mode: 'merge', outDtype: 'F32', vocabPolicy: o.vocabPolicy });
    const spec = decoderSpec(target.config, new Map([...target.tensors].map(([n, t]) => [n, t.shape])), target.source.label);
    const sources: TrioSources = [
      { role: 'sft', spec: o.specs.sft, ckpt: sft },
      { role: 'rl', spec: o.specs.rl, ckpt: rl },
      { role: 'target', spec: o.specs.target, ckpt: target },
    ];
    const weights = new NativeWeights({ spec, log: o.log, weights: o.weights });
    // The model starts at α = 0, the target itself: every grid has it (alpha-grid.ts).
    const model = new DecoderModel(o.runtime, target.config, spec, await weights.merged(sources, plan, o.vocabPolicy, 0, o.signal));
    return new NativeSweepBackend(model, o.tokenizer, o, weights, sources, plan);
  }

  async use(series: Exclude<Series, 'target'>, alpha: number | null, signal?: AbortSignal): Promise<void> {
    const key = `${series}|${alpha}`;
    if (this.current === key) return;
    if (signal?.aborted) throw new StudioError('the sweep was cancelled.');
    const { vocabPolicy, controlSeed } = this.o;
    let feed;
    if (series === 'sft' || series === 'rl') {
      feed = await this.weights.checkpoint(this.sources[series === 'sft' ? 0 : 1], signal);
    } else {
      if (alpha === null) throw new SweepSeriesError(`series ${series} needs an α.`);
      if (series === 'v') feed = await this.weights.merged(this.sources, this.plan, vocabPolicy, alpha, signal);
      else if (controlSeed === null) throw new SweepSeriesError('the control series needs a control seed.');
      else feed = await this.weights.control(this.sources, this.plan, vocabPolicy, controlSeed, alpha, signal);
    }
    this.model.setWeights(feed);
    this.current = key;
  }

  async dispose(): Promise<void> {
    await this.model.dispose();
  }
}
