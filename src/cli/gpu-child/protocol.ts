import type { AdapterDescription } from '../../engine/gpu/request-device.ts';
import type { SupportedDtype } from '../../engine/safetensors/dtypes.ts';
import type { ChunkStats } from '../../engine/merge/tensor-merger.ts';

/**
 * Messages between the CLI and its Dawn child process (dawn-child.ts). Small JSON messages over
 * Node's IPC channel; chunk bytes go through a shared file instead (chunk-exchange.ts), which
 * moves them about twice as fast as serialising them into the channel.
 */

/** argv[2] of the child, as JSON. */
export interface ChildConfig {
  /** Accept a software adapter (SwiftShader, lavapipe). */
  allowFallback: boolean;
  /** The file chunks travel through. */
  exchangeFile: string;
}

export interface ChunkMeta {
  count: number;
  alpha: number;
  outDtype: SupportedDtype;
  label: string;
  stats?: boolean;
  output?: boolean;
  /** Dtype and byte length of each input present in the slot, in the order target, sft, rl. */
  target?: { dtype: SupportedDtype; length: number };
  sft: { dtype: SupportedDtype; length: number };
  rl: { dtype: SupportedDtype; length: number };
}

/** A chunk whose inputs are in the exchange file from `inOffset`; its output goes to `outOffset`. */
export type ParentMessage = { type: 'chunk'; id: number; inOffset: number; outOffset: number; meta: ChunkMeta };

export type ChildMessage =
  /** Dawn's adapter (null: none), and why it is refused if it is. */
  | { type: 'adapter'; adapter: AdapterDescription | null; refusal?: string }
  /** Device made, both pipelines built and a self-test chunk matched the CPU bit for bit. */
  | { type: 'ready'; chunkElements: number }
  | { type: 'result'; id: number; outLength: number; nan: number; inf: number; stats?: ChunkStats }
  /** `studio`: the error is a StudioError (a user-facing message), else an internal failure. */
  | { type: 'failed'; id?: number; message: string; studio: boolean };

/**
 * Faults the child can be told to act out (env STUDIO_GPU_CHILD_FAULT), so tests can prove that a
 * child that aborts or hangs at each stage is killed and reported, not waited for. `abort` is a
 * native abort (SIGABRT, as Dawn's), `hang` blocks the child's event loop for good (as a driver
 * call that never returns).
 */
export const CHILD_FAULTS = ['abort-adapter', 'hang-adapter', 'abort-pipeline', 'hang-pipeline', 'abort-chunk', 'hang-chunk'] as const;
export type ChildFault = (typeof CHILD_FAULTS)[number];
export const FAULT_ENV = 'STUDIO_GPU_CHILD_FAULT';
