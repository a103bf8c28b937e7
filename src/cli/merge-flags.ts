import { resolve } from 'node:path';
import { parseSourceSpec } from '../engine/sources/parse-source-spec.ts';
import { openCheckpoint, type Checkpoint } from '../engine/checkpoint/open-checkpoint.ts';
import { CpuTensorMerger } from '../engine/merge/cpu-tensor-merger.ts';
import { adapterName, GpuUnavailableError } from '../engine/gpu/request-device.ts';
import { modelReference } from '../engine/merge/export-files.ts';
import { VOCAB_POLICIES, type VocabPolicy } from '../engine/merge/merge-plan.ts';
import type { TensorMerger } from '../engine/merge/tensor-merger.ts';
import type { SupportedDtype } from '../engine/safetensors/dtypes.ts';
import { UsageError, type CliIO, type ParsedArgs } from './command.ts';
import { CpuFallbackMerger } from './gpu-child/cpu-fallback-merger.ts';
import { DawnChildMerger, GpuChildError } from './gpu-child/dawn-child-merger.ts';
import { openCliSource } from './open-source.ts';

/** Flags shared by `merge`, `vector` and (as the merge-on-the-fly form of --model) `forward`/`generate`. */

const DTYPE_FLAG: Record<string, SupportedDtype> = { bf16: 'BF16', f16: 'F16', f32: 'F32' };

export function stringFlag(args: ParsedArgs, name: string, required: true): string;
export function stringFlag(args: ParsedArgs, name: string, required?: false): string | undefined;
export function stringFlag(args: ParsedArgs, name: string, required = false): string | undefined {
  const v = args.flags.get(name);
  if (v === true) throw new UsageError(`--${name} needs a value.`);
  if (v === undefined && required) throw new UsageError(`--${name} is required.`);
  return v;
}

/** --alpha: any finite number (negative subtracts the vector). */
export function alphaFlag(args: ParsedArgs): number {
  const raw = stringFlag(args, 'alpha', true);
  const alpha = raw.trim() === '' ? NaN : Number(raw);
  if (!Number.isFinite(alpha)) throw new UsageError(`--alpha must be a finite number, got "${raw}".`);
  return alpha;
}

export function dtypeFlag(args: ParsedArgs): SupportedDtype | undefined {
  const raw = stringFlag(args, 'dtype');
  if (raw === undefined) return undefined;
  const d = DTYPE_FLAG[raw.toLowerCase()];
  if (!d) throw new UsageError(`--dtype must be bf16, f16 or f32, got "${raw}".`);
  return d;
}

export function vocabPolicyFlag(args: ParsedArgs): VocabPolicy | undefined {
  const raw = stringFlag(args, 'vocab-policy');
  if (raw === undefined) return undefined;
  if (!(VOCAB_POLICIES as readonly string[]).includes(raw)) throw new UsageError(`--vocab-policy must be ${VOCAB_POLICIES.join(' or ')}, got "${raw}".`);
  return raw as VocabPolicy;
}

export interface OpenedRole {
  ckpt: Checkpoint;
  /** How mergekit should name it. */
  ref: string;
}

export async function openRole(spec: string): Promise<OpenedRole> {
  const ckpt = await openCheckpoint(await openCliSource(spec));
  // A folder is named by its absolute path, so the recipe works from any directory.
  return { ckpt, ref: modelReference(ckpt, parseSourceSpec(spec).kind === 'local' ? resolve(spec) : spec) };
}

/** Set to 1 to let the GPU path use a software adapter (SwiftShader, lavapipe): for testing it without a GPU. */
export const ALLOW_FALLBACK_ADAPTER_ENV = 'STUDIO_ALLOW_FALLBACK_ADAPTER';

/**
 * --device auto|gpu|cpu. The GPU path runs the WGSL kernels through Dawn in a child process
 * (gpu-child/), which asks Dawn for an adapter; a software adapter counts as none, since the CPU
 * path is faster than SwiftShader and gives the same bits. `auto` takes the CPU path when there
 * is no usable GPU, or from the failing chunk on when the GPU path fails mid-merge, with one
 * line on stderr saying why; `gpu` fails instead (exit 2, the reason).
 */
export async function mergerFor(args: ParsedArgs, io: CliIO): Promise<TensorMerger> {
  const choice = stringFlag(args, 'device') ?? 'auto';
  if (!['auto', 'gpu', 'cpu'].includes(choice)) throw new UsageError(`--device must be auto, gpu or cpu, got "${choice}".`);
  if (choice === 'cpu') return new CpuTensorMerger();
  let gpu: DawnChildMerger;
  try {
    gpu = await DawnChildMerger.open({ allowFallback: process.env[ALLOW_FALLBACK_ADAPTER_ENV] === '1' });
  } catch (e) {
    if (!(e instanceof GpuUnavailableError)) throw e;
    const reason = e.message.replace(/[.\s]+$/, '');
    if (choice === 'gpu') throw new GpuUnavailableError(`--device gpu: ${reason}${/--device cpu/.test(reason) ? '.' : '. Use --device cpu (bit-identical) or auto.'}`);
    io.stderr(`studio: no usable GPU: ${reason}; merging with the CPU path (bit-identical to the WGSL kernels).`);
    return new CpuTensorMerger();
  }
  io.stderr(`studio: merging on the GPU: ${adapterName(gpu.adapter)} (Dawn, in a child process).`);
  if (choice === 'auto') {
    return new CpuFallbackMerger(gpu, (reason) => io.stderr(`studio: the GPU path failed: ${reason.replace(/[.\s]+$/, '')}; merging the rest with the CPU path (bit-identical).`));
  }
  return {
    kind: 'gpu',
    chunkElements: gpu.chunkElements,
    mergeChunk: (c) =>
      gpu.mergeChunk(c).catch((e: unknown) => {
        throw e instanceof GpuChildError ? new GpuChildError(e.stage, `--device gpu: ${e.reason.replace(/[.\s]+$/, '')}. Nothing was saved; use --device cpu (bit-identical) or auto.`) : e;
      }),
    destroy: () => gpu.destroy(),
  };
}
