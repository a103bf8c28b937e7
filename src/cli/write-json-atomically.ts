import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { access, constants, open, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { trackUnfinishedFile } from '../engine/merge/output/node-output-folder.ts';
import { UsageError } from './command.ts';

/** Refuses an output path whose folder is missing or not writable, or which names a folder, before any work. */
export async function checkOutputFile(path: string, flag = '--out'): Promise<void> {
  const full = resolve(path);
  const existing = await stat(full).catch(() => undefined);
  if (existing?.isDirectory()) throw new UsageError(`${flag} ${path} is a folder; name a file inside it instead.`);
  const dir = dirname(full);
  const st = await stat(dir).catch(() => undefined);
  if (!st?.isDirectory()) throw new UsageError(`${flag} ${path}: the folder ${dir} does not exist; create it first.`);
  await access(dir, constants.W_OK).catch(() => {
    throw new UsageError(`${flag} ${path}: the folder ${dir} is not writable.`);
  });
}

/**
 * Writes text produced in pieces to `path` through a temporary sibling renamed at the end: the
 * output is never a single giant string, and a failure never leaves a truncated file behind.
 */
export async function writeTextAtomically(path: string, pieces: Iterable<string>): Promise<void> {
  const full = resolve(path);
  const temp = join(dirname(full), `.${basename(full)}.partial-${randomBytes(4).toString('hex')}`);
  const untrack = trackUnfinishedFile(temp, full);
  const handle = await open(temp, 'wx');
  try {
    for (const piece of pieces) await handle.write(piece);
    await handle.close();
    await rename(temp, full);
  } catch (e) {
    await handle.close().catch(() => undefined);
    await rm(temp, { force: true });
    throw e;
  } finally {
    untrack();
  }
}

/** Bytes written to `path` through a temporary sibling renamed at the end (nothing half-written). */
export async function writeBytesAtomically(path: string, bytes: Uint8Array): Promise<void> {
  const full = resolve(path);
  const temp = join(dirname(full), `.${basename(full)}.partial-${randomBytes(4).toString('hex')}`);
  const untrack = trackUnfinishedFile(temp, full);
  try {
    await writeFile(temp, bytes);
    await rename(temp, full);
  } catch (e) {
    await rm(temp, { force: true });
    throw e;
  } finally {
    untrack();
  }
}

/**
 * A JSON-lines file (e.g. samples.jsonl) written line by line under a temporary name: `commit`
 * renames it into place when the run succeeds, `abort` removes it.
 */
export async function openJsonLinesFile<T>(path: string) {
  const full = resolve(path);
  const temp = join(dirname(full), `.${basename(full)}.partial-${randomBytes(4).toString('hex')}`);
  const untrack = trackUnfinishedFile(temp, full);
  const stream = createWriteStream(temp, { flags: 'wx' });
  await once(stream, 'open');
  return {
    write: (row: T) => stream.write(JSON.stringify(row) + '\n'),
    commit: async () => {
      stream.end();
      await once(stream, 'finish');
      await rename(temp, full);
      untrack();
    },
    abort: async () => {
      stream.destroy();
      await rm(temp, { force: true });
      untrack();
    },
  };
}
