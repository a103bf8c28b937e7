// Node only (CLI): a cache directory, default ~/.cache/reasoning-vector-studio.
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { readFileRange } from '../node-file-range.ts';
import type { ByteFile } from '../source.ts';
import type { CacheStore } from './cache-store.ts';


export function defaultCacheDir(): string {
  return process.env.STUDIO_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'reasoning-vector-studio');
}

export function nodeCacheStore(root = defaultCacheDir()): CacheStore {
  const base = resolve(root);
  const fileFor = (key: string) => {
    const full = resolve(base, key);
    if (!full.startsWith(base + sep)) throw new Error(`cache key escapes the cache directory: ${key}`);
    return full;
  };
  const partial = (key: string) => `${fileFor(key)}.partial`;
  const size = async (p: string) => (await stat(p).catch(() => undefined))?.size;

  return {
    async stat(key) {
      const full = await size(fileFor(key));
      if (full !== undefined) return { bytes: full, complete: true };
      return { bytes: (await size(partial(key))) ?? 0, complete: false };
    },
    async openAppender(key) {
      const p = partial(key);
      await mkdir(dirname(p), { recursive: true });
      const handle = await open(p, 'a');
      const offset = (await handle.stat()).size;
      return {
        offset,
        async write(chunk) {
          let done = 0;
          while (done < chunk.byteLength) done += (await handle.write(chunk, done)).bytesWritten;
        },
        async close() {
          await handle.close();
        },
      };
    },
    async commit(key) {
      await rename(partial(key), fileFor(key));
    },
    async openComplete(key, path): Promise<ByteFile | undefined> {
      const full = fileFor(key);
      const bytes = await size(full);
      if (bytes === undefined) return undefined;
      return {
        path,
        size: bytes,
        read: (offset, length) =>
          readFileRange(full, offset, length, () => new Error(`cached ${path} is shorter than expected; clear the cache (${base}).`)),
      };
    },
    async remove(key) {
      await rm(fileFor(key), { force: true });
      await rm(partial(key), { force: true });
    },
    async estimate() {
      return undefined;
    },
  };
}
