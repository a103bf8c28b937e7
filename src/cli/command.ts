import type { FlagSpecs, ParsedFlags } from './parse-flags.ts';

export { UsageError } from './parse-flags.ts';
export type ParsedArgs = ParsedFlags;

export interface CliIO {
  stdout(line: string): void;
  stderr(line: string): void;
}

export interface Command {
  usage: string;
  /** Every flag the command accepts; anything else is refused (exit 2) naming the nearest one. */
  flags: FlagSpecs;
  /** How many positional arguments it takes (default none). */
  positionals?: number;
  run(args: ParsedArgs, io: CliIO): Promise<void>;
}

/** Flags shared by the commands that name a donor pair (and a target). */
export const DEVICE_FLAG: FlagSpecs = {
  device: { type: 'string', help: 'auto|gpu|cpu — where the merge kernel runs (default auto)' },
};
export const PAIR_FLAGS: FlagSpecs = {
  sft: { type: 'string', help: 'the SFT donor: hf:owner/name[@revision] or a folder' },
  rl: { type: 'string', help: 'the RL/GRPO donor: hf:owner/name[@revision] or a folder' },
  'vocab-policy': { type: 'string', help: 'refuse|overlap — when vocabulary sizes differ (default refuse)' },
  ...DEVICE_FLAG,
};
export const MERGE_FLAGS: FlagSpecs = {
  ...PAIR_FLAGS,
  target: { type: 'string', help: 'the model the vector is added to: hf:owner/name[@revision] or a folder' },
  alpha: { type: 'string', help: 'the scale of the vector (any finite number; negative subtracts it)' },
};
/** How the model's weights are stored for onnxruntime-node (forward, generate, eval, sweep). */
export const WEIGHTS_FLAG: FlagSpecs = {
  weights: { type: 'string', help: 'float|q4 — float32 weights (default) or 4-bit MatMulNBits linear weights (block 32, asymmetric round-to-nearest)' },
};
/** `--model <src>` or the merge flags, merging on the fly. */
export const MODEL_FLAGS: FlagSpecs = {
  model: { type: 'string', help: 'one checkpoint: hf:owner/name[@revision] or a folder' },
  ...MERGE_FLAGS,
};
