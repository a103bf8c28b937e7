import { randomBytes } from 'node:crypto';
import { existsSync, rmdirSync, rmSync } from 'node:fs';
import { mkdir, open, readdir, rename, rm, rmdir, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { StudioError } from '../../errors.ts';
import type { OutputFile, OutputFolder } from './output-folder.ts';

/**
 * Every output folder of this process not yet committed or aborted: its hidden partial sibling,
 * and the parent folder its creation made (if any). A process stopped by a signal never reaches
 * abort(), so the CLI's SIGINT/SIGTERM handler (src/cli/main.ts) removes these synchronously with
 * removeUnfinishedOutputsSync() before it exits: an interrupted run leaves no 100 MB hidden
 * folder beside --out. (The download cache's `.partial` files are not here on purpose: they are
 * resumed from their last byte by the next run.)
 */
const unfinished = new Map<string, { dir: string; createdParent?: string }>();

/**
 * Registers a temporary file of the CLI's own atomic writers (write-json-atomically.ts: results,
 * samples.jsonl, plots) with the same list, so an interrupt removes it too; returns the call that
 * takes it off again once it is renamed into place or removed.
 */
export function trackUnfinishedFile(temp: string, finalPath: string): () => void {
  unfinished.set(temp, { dir: finalPath });
  return () => void unfinished.delete(temp);
}

/**
 * Removes the partial folders of every unfinished output folder, at once and synchronously (it
 * runs in a signal handler just before process.exit). Returns the `--out` paths whose partial
 * folder it removed; one whose rename to its final name has already happened is not among them.
 */
export function removeUnfinishedOutputsSync(): string[] {
  const removed: string[] = [];
  for (const [temp, { dir, createdParent }] of unfinished) {
    unfinished.delete(temp);
    if (!existsSync(temp)) continue; // committed a moment ago
    rmSync(temp, { recursive: true, force: true });
    removed.push(dir);
    // Parent folders this run created, innermost first, as long as they are empty.
    if (createdParent) {
      const top = resolve(createdParent);
      for (let d = dirname(resolve(dir)); !relative(top, d).startsWith('..'); d = dirname(d)) {
        try {
          rmdirSync(d);
        } catch {
          break;
        }
        if (d === top) break;
      }
    }
  }
  return removed;
}

/**
 * A folder on disk. Files are written into a hidden sibling `.<name>.partial-<random>` and the
 * sibling is renamed to `dir` by `commit()`, so `dir` never holds a half-written merge.
 */
export async function nodeOutputFolder(dir: string): Promise<OutputFolder> {
  const existing = await stat(dir).catch(() => undefined);
  if (existing) {
    if (!existing.isDirectory()) throw new StudioError(`--out ${dir} exists and is not a folder; name a new folder.`);
    if ((await readdir(dir)).length > 0) throw new StudioError(`--out ${dir} exists and is not empty; name a new folder (nothing is overwritten).`);
  }
  // Parent folders are created as needed and removed again on abort if this created them.
  let createdParent: string | undefined;
  try {
    createdParent = await mkdir(dirname(dir), { recursive: true });
  } catch (e) {
    throw new StudioError(`--out ${dir}: cannot create its folder (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); name a writable location.`);
  }
  const temp = join(dirname(dir), `.${basename(dir)}.partial-${randomBytes(4).toString('hex')}`);
  try {
    await mkdir(temp);
  } catch (e) {
    throw new StudioError(`--out ${dir}: cannot write next to it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); name a writable location.`);
  }
  unfinished.set(temp, { dir, createdParent });
  const open_ = new Set<OutputFile>();
  return {
    label: dir,
    async create(name) {
      // One level of subfolder is allowed (the ONNX export's `onnx/model.onnx`); nothing hidden or upward.
      const parts = name.split('/');
      if (parts.length > 2 || name.includes('\\') || parts.some((p) => p === '' || p.startsWith('.'))) throw new Error(`bad output file name ${name}`);
      if (parts.length === 2) await mkdir(join(temp, parts[0]), { recursive: true });
      const handle = await open(join(temp, name), 'wx');
      let position = 0;
      const file: OutputFile = {
        async write(bytes) {
          let done = 0;
          while (done < bytes.length) {
            const { bytesWritten } = await handle.write(bytes, done, bytes.length - done, position);
            done += bytesWritten;
            position += bytesWritten;
          }
        },
        async close() {
          open_.delete(file);
          await handle.close();
        },
      };
      open_.add(file);
      return file;
    },
    async commit() {
      if (open_.size) throw new Error(`commit with ${open_.size} file(s) still open`);
      if (await stat(dir).catch(() => undefined)) await rmdir(dir); // empty, checked above
      await rename(temp, dir);
      unfinished.delete(temp);
    },
    async abort() {
      for (const f of [...open_]) await f.close().catch(() => {});
      await rm(temp, { recursive: true, force: true });
      unfinished.delete(temp);
      if (createdParent) await rm(createdParent, { recursive: true, force: true }).catch(() => {});
    },
  };
}
