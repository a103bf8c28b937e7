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
import { decimalNumber } from './parse-flags.ts';
import { CpuFallbackMerger } from './gpu-child/cpu-fallback-merger.ts';
import { DawnChildMerger, GpuChildError } from './gpu-child/dawn-child-merger.ts';
import { openCliSource } from './open-source.ts';
import { localFolderSource } from '../engine/sources/local-folder-source.ts';
import { StudioError } from '../engine/errors.ts';

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
  const alpha = decimalNumber(raw);
  if (!Number.isFinite(alpha)) throw new UsageError(`--alpha must be a finite number (decimal, e.g. 1, -0.5 or 1e-3), got "${raw}".`);
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

/**
 * Opens one role's checkpoint. A folder is labelled by its path as typed (not its last component,
 * which is often the same for all three donors). With `flag` (the role's flag name, e.g. "rl"),
 * an error opening it names the flag: `--rl ../b/ckpt: model.safetensors: …`.
 */
export async function openRole(spec: string, flag?: string): Promise<OpenedRole> {
  const parsed = parseSourceSpec(spec);
  const label = parsed.kind === 'local' ? parsed.path.replace(/(.)\/+$/, '$1') : undefined;
  let ckpt: Checkpoint;
  try {
    ckpt = await openCheckpoint(label !== undefined ? await localFolderSource(label, { label }) : await openCliSource(spec));
  } catch (e) {
    if (flag && e instanceof StudioError) e.message = roleMessage(`--${flag}`, spec, label ?? `hf:${(parsed as { repo: string }).repo}`, e.message);
    throw e;
  }
  // A folder is named by its absolute path, so the recipe works from any directory.
  return { ckpt, ref: modelReference(ckpt, parsed.kind === 'local' ? resolve(spec) : spec) };
}

/**
 * `--device` chooses where a merge runs; the model itself always runs on onnxruntime. When no merge
 * is needed (θ(α) cached, or one checkpoint) an explicit gpu|cpu has no effect, and a run that
 * passes or fails by the cache's state must say why. `auto` asked for nothing, so it stays quiet.
 */
export function noteDeviceUnused(args: ParsedArgs, io: CliIO, why: string, runsOn: string): void {
  const device = stringFlag(args, 'device');
  if (device === 'gpu' || device === 'cpu') io.stderr(`studio: --device ${device}: nothing to merge (${why}); the model runs on ${runsOn}.`);
}

/**
 * An error's message with the role's flag in front, the source named once: errors about a file
 * start with "label/file" or "label:" (a hub source's label is hf:owner/name@commit), hub errors
 * with owner/name.
 */
function roleMessage(flag: string, spec: string, name: string, message: string): string {
  const hubName = name.replace(/^hf:/, '');
  const m = /^(hf:[^\s/]+\/[^\s/@:]+@[^\s/:]+)[/:]/.exec(message);
  const label = m?.[1] ?? name;
  if (message.startsWith(`${label}/`)) return `${flag} ${label}: ${message.slice(label.length + 1)}`;
  if (message.startsWith(label) || message.startsWith(`${hubName}:`)) return `${flag} ${message}`;
  return `${flag} ${spec}: ${message}`;
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
