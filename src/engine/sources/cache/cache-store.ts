import type { ByteFile } from '../source.ts';
import { KeyedLock } from './keyed-lock.ts';

/**
 * Where downloaded bytes are kept: a directory in Node, the Origin Private File System in
 * the browser, memory in tests. An entry grows as a partial (always a prefix of the remote
 * file, so a download can resume from its end and a header read can be served from it) and
 * only becomes readable through `openComplete` after the appender commits it, so a
 * half-written file is never mistaken for a whole one.
 */
export interface CacheStore {
  /** Bytes already stored for `key` (complete or not), or 0. */
  stat(key: string): Promise<{ bytes: number; complete: boolean }>;
  /**
   * Opens the partial entry for appending at its current end. The caller holds the entry
   * alone (others, in this process or — for the Node store — another one, wait) until it
   * commits or closes. Undefined when the entry is already complete (someone finished it
   * while this caller waited).
   */
  openAppender(key: string): Promise<CacheAppender | undefined>;
  openComplete(key: string, path: string): Promise<ByteFile | undefined>;
  /** The stored prefix of an incomplete entry (its size is the bytes stored), or undefined. */
  openPartial(key: string, path: string): Promise<ByteFile | undefined>;
  remove(key: string): Promise<void>;
  /** What the storage backend reports (browser: navigator.storage.estimate()). */
  estimate(): Promise<{ usage?: number; quota?: number } | undefined>;
}

export interface CacheAppender {
  readonly offset: number;
  /** Where the bytes live, for messages: a file path in Node. */
  readonly location: string;
  write(chunk: Uint8Array): Promise<void>;
  /**
   * SHA-256 (hex) of the bytes stored so far, where the backend can hash a file without
   * holding it in memory (Node); absent otherwise.
   */
  sha256?(): Promise<string>;
  /** Marks the entry complete and releases it. */
  commit(): Promise<void>;
  /** Releases the entry, keeping the partial for a later resume. */
  close(): Promise<void>;
  /** Deletes the partial (bad bytes) and releases the entry. */
  discard(): Promise<void>;
}

/** Cache keys: one per file of one pinned commit, so a new revision never reads stale bytes. */
export function cacheKey(repo: string, commit: string, path: string): string {
  return `${repo}/${commit}/${path}`;
}

/** The cached file listing of one commit: beside the commit's folder, so no repo path can collide with it. */
export function listingKey(repo: string, commit: string): string {
  return `${repo}/${commit}.files.json`;
}

export function memoryCacheStore(): CacheStore {
  const entries = new Map<string, { chunks: Uint8Array[]; bytes: number; complete: boolean }>();
  const lock = new KeyedLock();
  const get = (key: string) => {
    let e = entries.get(key);
    if (!e) entries.set(key, (e = { chunks: [], bytes: 0, complete: false }));
    return e;
  };
  const asFile = (path: string, e: { chunks: Uint8Array[]; bytes: number }): ByteFile => {
    const all = new Uint8Array(e.bytes);
    let o = 0;
    for (const c of e.chunks) {
      all.set(c, o);
      o += c.byteLength;
    }
    return { path, size: all.byteLength, read: async (offset, length) => all.subarray(offset, offset + length) };
  };
  return {
    async stat(key) {
      const e = entries.get(key);
      return { bytes: e?.bytes ?? 0, complete: e?.complete ?? false };
    },
    async openAppender(key) {
      const release = await lock.acquire(key);
      const e = get(key);
      if (e.complete) {
        release();
        return undefined;
      }
      return {
        offset: e.bytes,
        location: `memory cache ${key}`,
        async write(chunk) {
          e.chunks.push(chunk.slice());
          e.bytes += chunk.byteLength;
        },
        async commit() {
          e.complete = true;
          release();
        },
        async close() {
          release();
        },
        async discard() {
          entries.delete(key);
          release();
        },
      };
    },
    async openComplete(key, path) {
      const e = entries.get(key);
      return e?.complete ? asFile(path, e) : undefined;
    },
    async openPartial(key, path) {
      const e = entries.get(key);
      return e && !e.complete ? asFile(path, e) : undefined;
    },
    async remove(key) {
      entries.delete(key);
    },
    async estimate() {
      return undefined;
    },
  };
}
