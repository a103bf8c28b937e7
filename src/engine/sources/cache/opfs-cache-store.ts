import type { ByteFile } from '../source.ts';
import type { CacheStore } from './cache-store.ts';
import { KeyedLock } from './keyed-lock.ts';

/**
 * The browser's download cache in the Origin Private File System. @huggingface/hub has no
 * browser cache (its cache functions are Node-only), so bytes fetched once are kept here.
 * A `.done` marker beside the data makes an entry complete: writes land in one file that is
 * only trusted after the marker exists.
 */
export const ROOT_DIR = 'studio-cache';

/** One appender per entry in this page (two slots may hold the same repo). */
const lock = new KeyedLock();

async function dirFor(key: string, create: boolean): Promise<{ dir: FileSystemDirectoryHandle; name: string } | undefined> {
  const parts = key.split('/').filter((p) => p !== '' && p !== '.' && p !== '..');
  const name = parts.pop();
  if (!name) throw new Error(`bad cache key ${key}`);
  try {
    let dir = await (await navigator.storage.getDirectory()).getDirectoryHandle(ROOT_DIR, { create });
    for (const p of parts) dir = await dir.getDirectoryHandle(p, { create });
    return { dir, name };
  } catch (e) {
    if ((e as DOMException).name === 'NotFoundError') return undefined;
    throw e;
  }
}

async function fileIn(dir: FileSystemDirectoryHandle, name: string): Promise<File | undefined> {
  try {
    return await (await dir.getFileHandle(name)).getFile();
  } catch {
    return undefined;
  }
}

function fileAsByteFile(file: File, path: string): ByteFile {
  return { path, size: file.size, read: async (offset, length) => new Uint8Array(await file.slice(offset, offset + length).arrayBuffer()) };
}

export function opfsCacheStore(): CacheStore {
  return {
    async stat(key) {
      const loc = await dirFor(key, false);
      if (!loc) return { bytes: 0, complete: false };
      const data = await fileIn(loc.dir, loc.name);
      const done = await fileIn(loc.dir, `${loc.name}.done`);
      return { bytes: data?.size ?? 0, complete: data !== undefined && done !== undefined };
    },
    async openAppender(key) {
      const release = await lock.acquire(key);
      try {
        const loc = (await dirFor(key, true))!;
        if (await fileIn(loc.dir, `${loc.name}.done`)) {
          release();
          return undefined;
        }
        const handle = await loc.dir.getFileHandle(loc.name, { create: true });
        const offset = (await handle.getFile()).size;
        // OPFS writables land in a swap file that replaces the data on close(): the bytes of
        // this session become visible (and survive a closed tab) only then.
        const writable = await handle.createWritable({ keepExistingData: true });
        await writable.seek(offset);
        let finished = false;
        const finish = async (then: () => Promise<unknown>) => {
          if (finished) return;
          finished = true;
          try {
            await writable.close();
            await then();
          } finally {
            release();
          }
        };
        return {
          offset,
          location: `the browser's storage (${ROOT_DIR}/${key})`,
          async write(chunk) {
            await writable.write(chunk as Uint8Array<ArrayBuffer>);
          },
          commit: () => finish(() => loc.dir.getFileHandle(`${loc.name}.done`, { create: true })),
          close: () => finish(async () => undefined),
          discard: () => finish(() => loc.dir.removeEntry(loc.name).catch(() => undefined)),
        };
      } catch (e) {
        release();
        throw e;
      }
    },
    async openComplete(key, path): Promise<ByteFile | undefined> {
      const loc = await dirFor(key, false);
      if (!loc || !(await fileIn(loc.dir, `${loc.name}.done`))) return undefined;
      const file = await fileIn(loc.dir, loc.name);
      if (!file) return undefined;
      return fileAsByteFile(file, path);
    },
    async openPartial(key, path): Promise<ByteFile | undefined> {
      const loc = await dirFor(key, false);
      if (!loc || (await fileIn(loc.dir, `${loc.name}.done`))) return undefined;
      const file = await fileIn(loc.dir, loc.name);
      if (!file) return undefined;
      return fileAsByteFile(file, path);
    },
    async remove(key) {
      const loc = await dirFor(key, false);
      if (!loc) return;
      await loc.dir.removeEntry(loc.name).catch(() => undefined);
      await loc.dir.removeEntry(`${loc.name}.done`).catch(() => undefined);
    },
    async estimate() {
      return navigator.storage?.estimate ? await navigator.storage.estimate() : undefined;
    },
  };
}

/** Removes the download cache and the page's exports (everything this origin stores). */
export async function clearOpfsCache(): Promise<void> {
  const root = await navigator.storage.getDirectory();
  for (const dir of [ROOT_DIR, 'exports']) await root.removeEntry(dir, { recursive: true }).catch(() => undefined);
}
