import type { Checkpoint } from '../engine/checkpoint/open-checkpoint.ts';
import { StudioError } from '../engine/errors.ts';
import { planMerge, type MergePlan } from '../engine/merge/merge-plan.ts';
import { decoderSpec } from '../engine/model/decoder-graph.ts';
import { DecoderModel, type WeightFeed } from '../engine/model/decoder-model.ts';
import { describeProvider, OrtRuntime, type Ort, type OrtProvider } from '../engine/model/ort-runtime.ts';
import { StudioTokenizer } from '../engine/model/tokenizer.ts';
import { checkpointWeightsF32, mergedWeightsF32 } from '../engine/model/weights.ts';
import { UsageError, type CliIO, type ParsedArgs } from './command.ts';
import { alphaFlag, mergerFor, noteDeviceUnused, openRole, stringFlag, vocabPolicyFlag } from './merge-flags.ts';
import { decimalNumber } from './parse-flags.ts';
import { NativeWeights, type NamedSource, type TrioSources, type WeightsFormat } from './native-weights.ts';

/**
 * `--model <src>`, or the merge flags `--sft --rl --target --alpha` (merged on the fly in float32):
 * a DecoderModel on native onnxruntime (onnxruntime-node, CPU EP).
 *
 * The weights become ONNX external data in the cache folder (native-weights.ts,
 * engine/model/node-model-store.ts): the merge executor streams θ(α) — or the one checkpoint's
 * weights — into a float32 data file, tensor by tensor, and the graph points into it. Memory holds
 * a few chunks while the file is written, then what onnxruntime keeps of it (its packed copy of
 * the weights); nothing is limited by a protobuf (2 GB) or a WASM heap (4 GB). While the sources,
 * α and vocab policy are unchanged, the next command reuses the file without reading a checkpoint.
 *
 * STUDIO_ORT_PROVIDER=wasm (a developer switch, for comparing the two runtimes) runs the page's
 * no-WebGPU path instead: onnxruntime-web's WASM build with the weights baked into the graph —
 * small models only.
 */
export const ORT_PROVIDER_ENV = 'STUDIO_ORT_PROVIDER';

export interface RunnableModel {
  model: DecoderModel;
  /** The checkpoint whose tokenizer and config apply (the target when merging). */
  ckpt: Checkpoint;
  tokenizer(): Promise<StudioTokenizer>;
  /** What ran, for results files: each source as given and the commit an hf: source resolved to. */
  sources: { role: 'model' | 'sft' | 'rl' | 'target'; spec: string; revision?: string }[];
  /** α when merged on the fly, else null. */
  readonly alpha: number | null;
  /** Where the model runs and on which weights, in words, for results files (describeRuntime): "onnxruntime-node (cpu)". */
  readonly provider: string;
  dispose(): Promise<void>;
}

export async function openModelForRun(args: ParsedArgs, io: CliIO): Promise<RunnableModel> {
  const single = stringFlag(args, 'model');
  const mergeFlags = ['sft', 'rl', 'target', 'alpha'].filter((f) => args.flags.has(f));
  if (single && mergeFlags.length) throw new UsageError('give either --model <src> or the merge flags --sft --rl --target --alpha, not both.');
  if (!single && mergeFlags.length === 0) throw new UsageError('--model <src> is required (or the merge flags --sft --rl --target --alpha).');
  const provider = ortProviderFromEnv();
  const weightsFormat = weightsFlag(args, provider);
  // Checked now, not when a merger is made: with θ(α) already cached none is.
  const device = stringFlag(args, 'device');
  if (device !== undefined && !['auto', 'gpu', 'cpu'].includes(device)) throw new UsageError(`--device must be auto, gpu or cpu, got "${device}".`);
  let ckpt: Checkpoint;
  let opened: NamedSource[];
  let trio: TrioSources | undefined;
  let alpha: number | null = null;
  let plan: MergePlan | undefined;
  const vocabPolicy = vocabPolicyFlag(args);
  if (single) {
    ckpt = (await openRole(single, 'model')).ckpt;
    opened = [{ role: 'model', spec: single, ckpt }];
  } else {
    alpha = alphaFlag(args);
    const roles = ['sft', 'rl', 'target'] as const;
    const specs = roles.map((r) => stringFlag(args, r, true));
    const [sft, rl, target] = await Promise.all(specs.map((s, i) => openRole(s, roles[i])));
    trio = [
      { role: 'sft', spec: specs[0], ckpt: sft.ckpt },
      { role: 'rl', spec: specs[1], ckpt: rl.ckpt },
      { role: 'target', spec: specs[2], ckpt: target.ckpt },
    ];
    opened = [...trio];
    ckpt = target.ckpt;
    plan = planMerge({ sft: sft.ckpt, rl: rl.ckpt, target: target.ckpt }, { mode: 'merge', outDtype: 'F32', vocabPolicy });
  }
  const sources: RunnableModel['sources'] = opened.map((o) => ({ role: o.role, spec: o.spec, revision: o.ckpt.source.revision }));
  // Refuses unsupported models before anything is merged or written.
  const spec = decoderSpec(ckpt.config, shapesOf(ckpt), ckpt.source.label);

  let runtime: OrtRuntime;
  // Whether a merger was made: none is when θ(α) comes from the model cache or for one checkpoint.
  let merging = false;
  const merger = () => {
    merging = true;
    return mergerFor(args, io);
  };
  let weightsAt: (a: number | null) => Promise<WeightFeed>;
  if (provider === 'cpu') {
    runtime = await nativeRuntime();
    const weights = new NativeWeights({ spec, log: io.stderr, merger, weights: weightsFormat });
    weightsAt = (a) => (plan && trio ? weights.merged(trio, plan, vocabPolicy, a!) : weights.checkpoint(opened[0]));
  } else {
    runtime = new OrtRuntime({ ort: (await import('onnxruntime-web')) as unknown as Ort, provider: 'wasm' });
    // The page's fallback: weights baked into the session, one α per session.
    weightsAt = async (a) => {
      if (!plan) return { kind: 'embedded', arrays: await checkpointWeightsF32(ckpt, spec) };
      const m = await merger();
      try {
        return { kind: 'embedded', arrays: await mergedWeightsF32(plan, m, a!) };
      } finally {
        m.destroy();
      }
    };
  }
  let model: DecoderModel;
  try {
    model = new DecoderModel(runtime, ckpt.config, spec, await weightsAt(alpha));
  } catch (e) {
    await runtime.dispose();
    throw e;
  }
  if (!merging) noteDeviceUnused(args, io, single ? '--model is one checkpoint, run as it is' : 'θ(α) came from the model cache', describeProvider(provider));
  let tok: Promise<StudioTokenizer> | undefined;
  return {
    model,
    ckpt,
    tokenizer: () => (tok ??= StudioTokenizer.load(ckpt)),
    sources,
    alpha,
    provider: describeRuntime(provider, weightsFormat),
    dispose: async () => {
      await model.dispose();
      await runtime.dispose();
    },
  };
}

/**
 * Where a model ran and with which weights, in words, for results files (`studio.runtime.provider`
 * in eval's, `runtime.provider` in sweep's): one sentence for both, so a q4 result never reads
 * like a float one.
 */
export function describeRuntime(provider: OrtProvider, weights: WeightsFormat): string {
  return `${describeProvider(provider)}${weights === 'q4' ? ', 4-bit MatMulNBits linear weights (block 32)' : ''}`;
}

/**
 * `--weights float|q4` (default float). q4 runs on onnxruntime-node's CPU provider only: the WASM
 * developer path bakes float arrays into its graph.
 */
export function weightsFlag(args: ParsedArgs, provider: 'cpu' | 'wasm' = 'cpu'): WeightsFormat {
  const raw = stringFlag(args, 'weights');
  if (raw === undefined || raw === 'float') return 'float';
  if (raw !== 'q4') throw new UsageError(`--weights must be float or q4, got "${raw}".`);
  if (provider !== 'cpu') throw new UsageError(`--weights q4 runs on onnxruntime-node (the default); unset ${ORT_PROVIDER_ENV}=${provider}.`);
  return 'q4';
}

/** STUDIO_ORT_PROVIDER: cpu (onnxruntime-node, the default) or wasm (onnxruntime-web, the page's fallback). */
export function ortProviderFromEnv(): Extract<OrtProvider, 'cpu' | 'wasm'> {
  const raw = process.env[ORT_PROVIDER_ENV];
  if (raw === undefined || raw === '' || raw === 'cpu') return 'cpu';
  if (raw === 'wasm') return 'wasm';
  throw new UsageError(`${ORT_PROVIDER_ENV} must be cpu (onnxruntime-node, the default) or wasm (onnxruntime-web), got "${raw}".`);
}

/** onnxruntime-node's CPU provider, or a message that says what to do when its native binary cannot load. */
export async function nativeRuntime(): Promise<OrtRuntime> {
  let ort: Ort;
  try {
    ort = (await import('onnxruntime-node')) as unknown as Ort;
  } catch (e) {
    throw new StudioError(
      `onnxruntime-node could not be loaded (${(e as Error).message.split('\n')[0]}); it ships native binaries for Linux, macOS and Windows on x64 and arm64. ` +
        `Reinstall the dependencies (npm ci), or set ${ORT_PROVIDER_ENV}=wasm to run small models on onnxruntime-web's WASM build.`,
    );
  }
  return new OrtRuntime({ ort, provider: 'cpu' });
}

function shapesOf(c: Checkpoint): Map<string, number[]> {
  return new Map([...c.tensors].map(([n, t]) => [n, t.shape]));
}

/** --ids 1,2,3 → [1, 2, 3]; refuses anything but non-negative integers. */
export function idsFlag(args: ParsedArgs): number[] | undefined {
  const raw = stringFlag(args, 'ids');
  if (raw === undefined) return undefined;
  const parts = raw.split(',').map((s) => s.trim());
  if (parts.some((p) => !/^\d+$/.test(p))) throw new UsageError(`--ids must be comma-separated token ids like 1,2,3, got "${raw}".`);
  return parts.map(Number);
}

export function intFlag(args: ParsedArgs, name: string, fallback?: number, min = 0): number {
  const raw = stringFlag(args, name);
  if (raw === undefined) {
    if (fallback === undefined) throw new UsageError(`--${name} is required.`);
    return fallback;
  }
  if (!/^\d+$/.test(raw) || Number(raw) < min) throw new UsageError(`--${name} must be an integer ≥ ${min}, got "${raw}".`);
  return Number(raw);
}

export function numberFlag(args: ParsedArgs, name: string, fallback: number, check: (v: number) => boolean, what: string): number {
  const raw = stringFlag(args, name);
  if (raw === undefined) return fallback;
  const v = decimalNumber(raw);
  if (!Number.isFinite(v) || !check(v)) throw new UsageError(`--${name} must be ${what}, got "${raw}".`);
  return v;
}
