import { basename, resolve } from 'node:path';
import { summarizeCheckpoint } from '../../engine/checkpoint/inspect-checkpoint.ts';
import { openCheckpoint } from '../../engine/checkpoint/open-checkpoint.ts';
import { localFolderSource } from '../../engine/sources/local-folder-source.ts';
import { parseSourceSpec } from '../../engine/sources/parse-source-spec.ts';
import { UsageError, type Command } from '../command.ts';
import { openCliSource } from '../open-source.ts';

export const inspect: Command = {
  usage: 'studio inspect <source>          source: hf:owner/name[@revision] or a folder',
  flags: {},
  positionals: 1,
  async run(args, io) {
    if (args.positionals.length !== 1) throw new UsageError('inspect takes exactly one source.');
    const spec = args.positionals[0];
    const parsed = parseSourceSpec(spec);
    // Errors name a folder by the path as typed (less a trailing slash), as every other command
    // does (merge-flags.ts openRole): "ckpt/config.json" names none of a/ckpt, b/ckpt, c/ckpt.
    const typed = parsed.kind === 'local' ? parsed.path.replace(/(.)\/+$/, '$1') : undefined;
    const ckpt = await openCheckpoint(typed !== undefined ? await localFolderSource(typed, { label: typed }) : await openCliSource(spec));
    const summary = summarizeCheckpoint(ckpt);
    // The summary's `source` stays the folder's name (its documented, tested form); only errors carry the path.
    io.stdout(JSON.stringify(typed !== undefined ? { ...summary, source: basename(resolve(typed)) } : summary, null, 2));
  },
};
