import type { ByteFile } from '../source.ts';

/**
 * Where downloaded bytes are kept: a directory in Node, the Origin Private File System in
 * the browser, memory in tests. A download is appended to a partial entry and only becomes
 * readable through `openComplete` after `commit`, so a half-written file is never mistaken
 * for a whole one.
 */
export interface CacheStore {
  /** Bytes already stored for `key` (complete or not), or 0. */
  stat(key: string): Promise<{ bytes: number; complete: boolean }>;
  /** Opens the partial entry for appending at its current end. */
  openAppender(key: string): Promise<CacheAppender>;
  commit(key: string): Promise<void>;
  openComplete(key: string, path: string): Promise<ByteFile | undefined>;
  remove(key: string): Promise<void>;
  /** What the storage backend reports (browser: navigator.storage.estimate()). */
  estimate(): Promise<{ usage?: number; quota?: number } | undefined>;
}

export interface CacheAppender {
  readonly offset: number;
  write(chunk: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

/** Cache keys: one per file of one pinned commit, so a new revision never reads stale bytes. */
export function cacheKey(repo: string, commit: string, path: string): string {
  return `${repo}/${commit}/${path}`;
}

export function memoryCacheStore(): CacheStore {
  const entries = new Map<string, { chunks: Uint8Array[]; bytes: number; complete: boolean }>();
  const get = (key: string) => {
    let e = entries.get(key);
    if (!e) entries.set(key, (e = { chunks: [], bytes: 0, complete: false }));
    return e;
  };
  return {
    async stat(key) {
      const e = entries.get(key);
      return { bytes: e?.bytes ?? 0, complete: e?.complete ?? false };
    },
    async openAppender(key) {
      const e = get(key);
      return {
        offset: e.bytes,
        async write(chunk) {
          e.chunks.push(chunk.slice());
          e.bytes += chunk.byteLength;
        },
        async close() {},
      };
    },
    async commit(key) {
      get(key).complete = true;
    },
    async openComplete(key, path) {
      const e = entries.get(key);
      if (!e?.complete) return undefined;
      const all = new Uint8Array(e.bytes);
      let o = 0;
      for (const c of e.chunks) {
        all.set(c, o);
        o += c.byteLength;
      }
      return { path, size: all.byteLength, read: async (offset, length) => all.subarray(offset, offset + length) };
    },
    async remove(key) {
      entries.delete(key);
    },
    async estimate() {
      return undefined;
    },
  };
}
