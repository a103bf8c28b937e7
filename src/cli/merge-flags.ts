import { resolve } from 'node:path';
import { parseSourceSpec } from '../engine/sources/parse-source-spec.ts';
import { openCheckpoint, type Checkpoint } from '../engine/checkpoint/open-checkpoint.ts';
import { CpuTensorMerger } from '../engine/merge/cpu-tensor-merger.ts';
import { GpuTensorMerger } from '../engine/merge/gpu-tensor-merger.ts';
import { modelReference } from '../engine/merge/export-files.ts';
import { VOCAB_POLICIES, type VocabPolicy } from '../engine/merge/merge-plan.ts';
import type { TensorMerger } from '../engine/merge/tensor-merger.ts';
import type { SupportedDtype } from '../engine/safetensors/dtypes.ts';
import { UsageError, type CliIO, type ParsedArgs } from './command.ts';
import { hasSystemVulkanDriver, nodeGpu } from './node-gpu.ts';
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

/**
 * --device auto|gpu|cpu. `auto` uses the GPU (Dawn) when the machine has GPU hardware and the
 * TypeScript CPU loop otherwise (same bits; Dawn on SwiftShader is a software GPU and, on some
 * VMs, unstable), saying which on stderr.
 */
export async function mergerFor(args: ParsedArgs, io: CliIO): Promise<TensorMerger> {
  const choice = stringFlag(args, 'device') ?? 'auto';
  if (!['auto', 'gpu', 'cpu'].includes(choice)) throw new UsageError(`--device must be auto, gpu or cpu, got "${choice}".`);
  if (choice === 'cpu' || (choice === 'auto' && !hasSystemVulkanDriver())) {
    if (choice === 'auto') io.stderr('studio: no GPU found; merging with the CPU path (bit-identical to the WGSL kernels).');
    return new CpuTensorMerger();
  }
  if (!hasSystemVulkanDriver()) {
    // Dawn would fall back to SwiftShader, a software GPU that is slower than the CPU path (and
    // unstable in Node on some VMs): refuse rather than crash.
    throw new UsageError('--device gpu: this machine has no GPU (no /dev/nvidia0 or /dev/dri render node); use --device cpu or auto.');
  }
  const { device } = await nodeGpu();
  return new GpuTensorMerger(device);
}
