import type { Checkpoint } from '../engine/checkpoint/open-checkpoint.ts';
import { planMerge } from '../engine/merge/merge-plan.ts';
import { decoderSpec } from '../engine/model/decoder-graph.ts';
import { DecoderModel } from '../engine/model/decoder-model.ts';
import { OrtRuntime, type Ort } from '../engine/model/ort-runtime.ts';
import { StudioTokenizer } from '../engine/model/tokenizer.ts';
import { checkpointWeightsF32, mergedWeightsF32 } from '../engine/model/weights.ts';
import { UsageError, type CliIO, type ParsedArgs } from './command.ts';
import { alphaFlag, mergerFor, openRole, stringFlag, vocabPolicyFlag } from './merge-flags.ts';

/**
 * `--model <src>`, or the merge flags `--sft --rl --target --alpha` (merged on the fly, in
 * float32, never written to disk): a DecoderModel on onnxruntime-web's WASM provider in Node.
 */
export interface RunnableModel {
  model: DecoderModel;
  /** The checkpoint whose tokenizer and config apply (the target when merging). */
  ckpt: Checkpoint;
  tokenizer(): Promise<StudioTokenizer>;
  /** What ran, for results files: each source as given and the commit an hf: source resolved to. */
  sources: { role: 'model' | 'sft' | 'rl' | 'target'; spec: string; revision?: string }[];
  /** α when merged on the fly, else null. */
  alpha: number | null;
  dispose(): Promise<void>;
}

export async function openModelForRun(args: ParsedArgs, io: CliIO): Promise<RunnableModel> {
  const single = stringFlag(args, 'model');
  const mergeFlags = ['sft', 'rl', 'target', 'alpha'].filter((f) => args.flags.has(f));
  if (single && mergeFlags.length) throw new UsageError('give either --model <src> or the merge flags --sft --rl --target --alpha, not both.');
  if (!single && mergeFlags.length === 0) throw new UsageError('--model <src> is required (or the merge flags --sft --rl --target --alpha).');
  let ckpt: Checkpoint;
  let weights: Map<string, Float32Array>;
  let sources: RunnableModel['sources'];
  let alpha: number | null = null;
  if (single) {
    ckpt = (await openRole(single)).ckpt;
    sources = [{ role: 'model', spec: single, revision: ckpt.source.revision }];
    const spec = decoderSpec(ckpt.config, shapesOf(ckpt), ckpt.source.label);
    weights = await checkpointWeightsF32(ckpt, spec);
  } else {
    alpha = alphaFlag(args);
    const roles = ['sft', 'rl', 'target'] as const;
    const [sft, rl, target] = await Promise.all(roles.map((r) => openRole(stringFlag(args, r, true))));
    sources = [sft, rl, target].map((o, i) => ({ role: roles[i], spec: stringFlag(args, roles[i], true), revision: o.ckpt.source.revision }));
    ckpt = target.ckpt;
    const plan = planMerge({ sft: sft.ckpt, rl: rl.ckpt, target: target.ckpt }, { mode: 'merge', outDtype: 'F32', vocabPolicy: vocabPolicyFlag(args) });
    decoderSpec(ckpt.config, shapesOf(ckpt), ckpt.source.label); // refuse unsupported models before merging
    const merger = await mergerFor(args, io);
    try {
      weights = await mergedWeightsF32(plan, merger, alpha);
    } finally {
      merger.destroy();
    }
  }
  const spec = decoderSpec(ckpt.config, shapesOf(ckpt), ckpt.source.label);
  const ort = (await import('onnxruntime-web')) as unknown as Ort;
  const runtime = new OrtRuntime({ ort, provider: 'wasm' });
  // One α per command: the weights are baked into the session (the fastest form on the WASM provider).
  const model = new DecoderModel(runtime, ckpt.config, spec, { kind: 'embedded', arrays: weights });
  let tok: Promise<StudioTokenizer> | undefined;
  return {
    model,
    ckpt,
    tokenizer: () => (tok ??= StudioTokenizer.load(ckpt)),
    sources,
    alpha,
    dispose: async () => {
      await model.dispose();
      await runtime.dispose();
    },
  };
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
  const v = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(v) || !check(v)) throw new UsageError(`--${name} must be ${what}, got "${raw}".`);
  return v;
}
