// Node only (CLI): a cache directory, default ~/.cache/reasoning-vector-studio.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { readFileRange } from '../node-file-range.ts';
import type { ByteFile } from '../source.ts';
import { CacheCorruptError, CacheError, CacheFullError, CacheUnwritableError, fsErrorCode, isQuotaError } from './cache-errors.ts';
import type { CacheAppender, CacheStore } from './cache-store.ts';
import { KeyedLock } from './keyed-lock.ts';

export function defaultCacheDir(): string {
  return process.env.STUDIO_CACHE_DIR || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'reasoning-vector-studio');
}

/**
 * How often a process waiting for another one's download checks its lock file. A download
 * takes seconds to hours, so a quarter second of extra wait is nothing.
 */
const LOCK_POLL_MS = 250;
/**
 * A lock file with no pid in it yet is being created by its owner right now; after this long
 * its owner died between creating and writing it.
 */
const EMPTY_LOCK_STALE_MS = 10_000;

/** Codes that mean "this path cannot be used as a cache", with the words a user understands. */
const UNWRITABLE: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOTDIR: 'a file stands where a folder is needed',
  EEXIST: 'a file stands where a folder is needed',
};

/** One holder per file across every store object in this process; the lock file covers other processes. */
const inProcess = new KeyedLock();

/**
 * Entries are plain files under `root`, at their cache key: `<key>.partial` while they grow,
 * renamed to `<key>` when complete, and `<key>.lock` (holding the owner's pid) while a
 * process appends to them, so two `studio` runs sharing a cache never write one file at once.
 */
export function nodeCacheStore(root = defaultCacheDir()): CacheStore {
  const base = resolve(root);
  const fileFor = (key: string) => {
    const full = resolve(base, key);
    if (!full.startsWith(base + sep)) {
      throw new CacheError(base, `The cache key ${key} escapes the cache folder ${base}; the Hub listed a file name the studio refuses to write.`);
    }
    return full;
  };
  const partialOf = (full: string) => `${full}.partial`;

  return {
    async stat(key) {
      const full = fileFor(key);
      const done = await sizeOf(full);
      if (done !== undefined) return { bytes: done, complete: true };
      return { bytes: (await sizeOf(partialOf(full))) ?? 0, complete: false };
    },
    async openAppender(key) {
      const full = fileFor(key);
      const partial = partialOf(full);
      const releaseLocal = await inProcess.acquire(full);
      let releaseFile: (() => Promise<void>) | undefined;
      try {
        await mkdir(dirname(full), { recursive: true }).catch((e) => {
          throw fsError(e, dirname(full));
        });
        releaseFile = await lockFile(`${full}.lock`);
        if ((await sizeOf(full)) !== undefined) {
          await releaseFile();
          releaseLocal();
          return undefined;
        }
        const handle = await open(partial, 'a').catch((e) => {
          throw fsError(e, partial);
        });
        const offset = (await handle.stat()).size;
        const release = releaseFile;
        let finished = false;
        const finish = async (then: () => Promise<unknown>) => {
          if (finished) return;
          finished = true;
          try {
            await handle.close();
            await then();
          } finally {
            await release();
            releaseLocal();
          }
        };
        const appender: CacheAppender = {
          offset,
          location: partial,
          async write(chunk) {
            let done = 0;
            try {
              while (done < chunk.byteLength) done += (await handle.write(chunk, done)).bytesWritten;
            } catch (e) {
              throw fsError(e, partial);
            }
          },
          sha256: () => sha256Of(partial),
          commit: () =>
            finish(() =>
              rename(partial, full).catch((e) => {
                throw fsError(e, full);
              }),
            ),
          close: () => finish(async () => undefined),
          discard: () => finish(() => rm(partial, { force: true })),
        };
        return appender;
      } catch (e) {
        await releaseFile?.();
        releaseLocal();
        throw e;
      }
    },
    async openComplete(key, path) {
      return openCached(fileFor(key), path);
    },
    async openPartial(key, path) {
      const full = fileFor(key);
      if ((await sizeOf(full)) !== undefined) return undefined;
      return openCached(partialOf(full), path);
    },
    async remove(key) {
      const full = fileFor(key);
      for (const p of [full, partialOf(full)]) {
        await rm(p, { force: true }).catch((e) => {
          throw fsError(e, p);
        });
      }
    },
    async estimate() {
      return undefined;
    },
  };
}

async function openCached(full: string, path: string): Promise<ByteFile | undefined> {
  const bytes = await sizeOf(full);
  if (bytes === undefined) return undefined;
  return {
    path,
    size: bytes,
    read: (offset, length) =>
      readFileRange(full, offset, length, () => new CacheCorruptError(full, `ends before byte ${offset + length} (it was ${bytes} bytes when opened)`, false)).catch(
        (e) => {
          throw e instanceof CacheError ? e : fsError(e, full);
        },
      ),
  };
}

/** Size of a cache file, undefined when there is none; a folder in its place, or an unreadable one, is the user's to fix. */
async function sizeOf(p: string): Promise<number | undefined> {
  let st;
  try {
    st = await stat(p);
  } catch (e) {
    // ENOTDIR: a file stands where a folder of the path should be; nothing is cached there,
    // and writing says so (CacheUnwritableError).
    if (fsErrorCode(e) === 'ENOENT' || fsErrorCode(e) === 'ENOTDIR') return undefined;
    throw fsError(e, p);
  }
  if (st.isDirectory()) throw new CacheCorruptError(p, 'is a folder where a file belongs', false);
  return st.size;
}

/** Turns a Node fs failure on `path` into the CacheError that says what to do, or returns it unchanged. */
function fsError(e: unknown, path: string): unknown {
  if (e instanceof CacheError) return e;
  const code = fsErrorCode(e);
  if (code && isQuotaError(e)) return new CacheFullError(path, code);
  if (code === 'EISDIR') return new CacheCorruptError(path, 'is a folder where a file belongs', false);
  if (code && UNWRITABLE[code]) return new CacheUnwritableError(path, `${code}: ${UNWRITABLE[code]}`);
  return e;
}

async function sha256Of(p: string): Promise<string> {
  const hash = createHash('sha256');
  try {
    for await (const chunk of createReadStream(p)) hash.update(chunk as Buffer);
  } catch (e) {
    throw fsError(e, p);
  }
  return hash.digest('hex');
}

/**
 * Takes `lockPath` for this process: created exclusively and holding our pid. A lock whose
 * pid is gone (Ctrl-C, a crash) or is our own (a previous process that had our pid — common
 * in containers — since this process's holders queue in `inProcess` first) is stale and taken over.
 */
async function lockFile(lockPath: string): Promise<() => Promise<void>> {
  for (;;) {
    try {
      const h = await open(lockPath, 'wx');
      try {
        await h.writeFile(String(process.pid));
      } finally {
        await h.close();
      }
      return () => rm(lockPath, { force: true }).then(() => undefined);
    } catch (e) {
      if (fsErrorCode(e) !== 'EEXIST') throw fsError(e, lockPath);
    }
    if (await isStale(lockPath)) await rm(lockPath, { force: true });
    else await new Promise((r) => setTimeout(r, LOCK_POLL_MS));
  }
}

async function isStale(lockPath: string): Promise<boolean> {
  const text = await readFile(lockPath, 'utf8').catch(() => undefined);
  if (text === undefined) return false; // gone already: the next attempt creates it
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 0) {
    const age = Date.now() - ((await stat(lockPath).catch(() => undefined))?.mtimeMs ?? Date.now());
    return age > EMPTY_LOCK_STALE_MS;
  }
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return fsErrorCode(e) === 'ESRCH';
  }
}
