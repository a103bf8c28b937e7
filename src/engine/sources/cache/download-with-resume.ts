import { StorageQuotaError, StudioError } from '../../errors.ts';
import type { ByteFile } from '../source.ts';
import type { CacheStore } from './cache-store.ts';
import { ProgressTracker, type DownloadProgress } from './progress.ts';

/**
 * One Range request per chunk: a dropped connection costs at most this much, and at
 * tens of MB/s the per-request overhead is negligible. It is also the bound on memory a
 * download holds.
 */
export const DOWNLOAD_CHUNK_BYTES = 8 * 1024 * 1024;

/** Attempts per chunk before giving up; the cached prefix survives, so a later call resumes. */
export const MAX_ATTEMPTS = 5;

export interface ResumableDownload {
  key: string;
  path: string;
  size: number;
  store: CacheStore;
  /**
   * One ranged read of the remote file. `onReceived`, when the source can stream, is told the
   * bytes of this range received so far, so progress moves per network chunk rather than per
   * DOWNLOAD_CHUNK_BYTES.
   */
  readRange(offset: number, length: number, onReceived?: (bytesReceived: number) => void): Promise<Uint8Array>;
  onProgress?: (p: DownloadProgress) => void;
  chunkBytes?: number;
  /** Wait before retry `attempt` (1-based). */
  backoffMs?: (attempt: number) => number;
  signal?: AbortSignal;
}

/**
 * Downloads a file into the cache, continuing from whatever an earlier, interrupted call
 * stored. Returns the complete cached file.
 */
export async function downloadWithResume(d: ResumableDownload): Promise<ByteFile> {
  const chunk = d.chunkBytes ?? DOWNLOAD_CHUNK_BYTES;
  const backoff = d.backoffMs ?? ((a: number) => Math.min(250 * 2 ** (a - 1), 4000));
  const existing = await d.store.stat(d.key);
  if (!existing.complete) {
    if (existing.bytes > d.size) await d.store.remove(d.key);
    const appender = await d.store.openAppender(d.key);
    const tracker = new ProgressTracker(d.path, d.size, appender.offset);
    let done = appender.offset;
    d.onProgress?.(tracker.update(done));
    // Progress counts received bytes, which run ahead of `done` (what is stored). A retry reads
    // its range again from the start; reporting only new highs keeps the bar and the rate from
    // running backwards meanwhile.
    let reported = done;
    const onReceived = (received: number) => {
      if (done + received <= reported) return;
      reported = done + received;
      d.onProgress?.(tracker.update(reported));
    };
    try {
      while (done < d.size) {
        d.signal?.throwIfAborted();
        const length = Math.min(chunk, d.size - done);
        const bytes = await withRetry(() => d.readRange(done, length, onReceived), backoff, d.signal);
        if (bytes.byteLength !== length) {
          throw new StudioError(`${d.path}: the server sent ${bytes.byteLength} bytes for a ${length}-byte range; try again later.`);
        }
        try {
          await appender.write(bytes);
        } catch (e) {
          throw isQuotaError(e) ? new StorageQuotaError(d.path, d.size - done, await d.store.estimate()) : e;
        }
        done += length;
        if (done > reported) {
          reported = done;
          d.onProgress?.(tracker.update(done));
        }
      }
    } finally {
      await appender.close().catch(() => undefined);
    }
    await d.store.commit(d.key);
  }
  const file = await d.store.openComplete(d.key, d.path);
  if (!file) throw new StudioError(`${d.path}: the cache lost the file right after storing it; clear the cache and retry.`);
  return file;
}

async function withRetry<T>(fn: () => Promise<T>, backoff: (attempt: number) => number, signal?: AbortSignal): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (attempt >= MAX_ATTEMPTS || !isRetryable(e)) throw e;
      await new Promise((r) => setTimeout(r, backoff(attempt)));
      signal?.throwIfAborted();
    }
  }
}

/** Network failures and 5xx/429 are worth retrying; bad input and 4xx are not. */
export function isRetryable(e: unknown): boolean {
  if (e instanceof StudioError) return e.retryable;
  const status = (e as { statusCode?: unknown })?.statusCode;
  if (typeof status === 'number') return status >= 500 || status === 429;
  // fetch reports a dropped connection as a TypeError ("terminated", "Failed to fetch", "network error").
  return e instanceof TypeError;
}

function isQuotaError(e: unknown): boolean {
  const name = (e as { name?: unknown })?.name;
  const code = (e as { code?: unknown })?.code;
  return name === 'QuotaExceededError' || code === 'ENOSPC' || code === 'EDQUOT';
}
