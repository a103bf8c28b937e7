import { summarizeCheckpoint } from '../../engine/checkpoint/inspect-checkpoint.ts';
import { openCheckpoint } from '../../engine/checkpoint/open-checkpoint.ts';
import { UsageError, type Command } from '../command.ts';
import { openCliSource } from '../open-source.ts';

export const inspect: Command = {
  usage: 'studio inspect <source>          source: hf:owner/name[@revision] or a folder',
  flags: {},
  positionals: 1,
  async run(args, io) {
    if (args.positionals.length !== 1) throw new UsageError('inspect takes exactly one source.');
    const ckpt = await openCheckpoint(await openCliSource(args.positionals[0]));
    io.stdout(JSON.stringify(summarizeCheckpoint(ckpt), null, 2));
  },
};
