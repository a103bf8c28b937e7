import { StorageQuotaError, StudioError } from '../../errors.ts';
import { CacheCorruptError, isQuotaError } from './cache-errors.ts';
import type { CacheAppender, CacheStore } from './cache-store.ts';
import { ProgressTracker, type DownloadProgress } from './progress.ts';

/** Attempts in a row that make no real progress before giving up; the stored prefix survives, so a later call resumes. */
export const MAX_ATTEMPTS = 5;

/**
 * A transfer that delivered at least this much before failing was a flaky connection, not a
 * dead one: the attempt count starts again, so a long download over a link that drops every
 * few minutes still finishes, while one that drops after a few bytes every time gives up.
 */
export const PROGRESS_RESETS_ATTEMPTS_BYTES = 1024 * 1024;

/**
 * Bytes arrive in network-sized pieces (tens of KiB); a progress event for each would be
 * thousands a second. Ten a second moves a bar smoothly.
 */
export const PROGRESS_INTERVAL_MS = 100;

/** Streams bytes into `sink` as they arrive; rejects when the transfer fails (what reached `sink` before stays valid). */
export type RangeReader = (offset: number, length: number, sink: (chunk: Uint8Array) => Promise<void>, signal?: AbortSignal) => Promise<void>;

export interface ResumableDownload {
  key: string;
  path: string;
  size: number;
  store: CacheStore;
  /** One ranged read of the remote file. */
  readRange: RangeReader;
  /** Stop once this many bytes are stored (a header read); default the whole file, which is then committed. */
  until?: number;
  /** The Hub's SHA-256 of the file (its LFS oid): the finished file must hash to it, where the store can hash. */
  sha256?: string;
  onProgress?: (p: DownloadProgress) => void;
  /** Wait before retry `attempt` (1-based). */
  backoffMs?: (attempt: number) => number;
  signal?: AbortSignal;
}

/** The server ended a ranged response early without an error: worth retrying from the byte reached. */
export class TransferCutError extends StudioError {
  override readonly retryable = true;
}

/**
 * Downloads a file into the cache, continuing from the exact byte an earlier, interrupted
 * call (or attempt) stored: every piece is appended as it arrives. Resolves once the first
 * `until` bytes (default: all, committed) are in the cache.
 */
export async function downloadWithResume(d: ResumableDownload): Promise<void> {
  const until = Math.min(d.until ?? d.size, d.size);
  const backoff = d.backoffMs ?? ((a: number) => Math.min(250 * 2 ** (a - 1), 4000));
  for (;;) {
    const appender = await d.store.openAppender(d.key);
    if (!appender) return; // complete (perhaps finished by another holder while this one waited)
    if (appender.offset > d.size) {
      // Longer than the file of this pinned commit: it cannot be a prefix of it. Start over.
      await appender.discard();
      continue;
    }
    try {
      await fill(d, appender, until, backoff);
    } catch (e) {
      await appender.close().catch(() => undefined);
      throw e;
    }
    return;
  }
}

async function fill(d: ResumableDownload, appender: CacheAppender, until: number, backoff: (attempt: number) => number) {
  let done = appender.offset;
  if (done >= until && until < d.size) return appender.close();
  const tracker = new ProgressTracker(d.path, d.size, done);
  let lastEmit = -Infinity;
  let lastBytes = -1;
  const emit = (force: boolean) => {
    const now = performance.now();
    if (!d.onProgress || lastBytes === done || (!force && now - lastEmit < PROGRESS_INTERVAL_MS)) return;
    lastEmit = now;
    lastBytes = done;
    d.onProgress(tracker.update(done));
  };
  emit(true);
  const sink = async (chunk: Uint8Array) => {
    const piece = chunk.byteLength > until - done ? chunk.subarray(0, until - done) : chunk;
    try {
      await appender.write(piece);
    } catch (e) {
      if (e instanceof StudioError || !isQuotaError(e)) throw e;
      throw new StorageQuotaError(d.path, d.size - done, await d.store.estimate());
    }
    done += piece.byteLength;
    emit(false);
  };
  let attempt = 0;
  while (done < until) {
    d.signal?.throwIfAborted();
    const before = done;
    try {
      await d.readRange(done, until - done, sink, d.signal);
      if (done < until) throw new TransferCutError(`${d.path}: the server ended the transfer at byte ${done} of ${until}; retry to continue from there.`);
    } catch (e) {
      if (done - before >= PROGRESS_RESETS_ATTEMPTS_BYTES) attempt = 0;
      if (++attempt >= MAX_ATTEMPTS || !isRetryable(e)) throw e;
      await new Promise((r) => setTimeout(r, backoff(attempt)));
    }
  }
  emit(true);
  if (done < d.size) return appender.close();
  if (d.sha256 && appender.sha256) {
    const got = await appender.sha256();
    if (got !== d.sha256.toLowerCase()) {
      await appender.discard();
      throw new CacheCorruptError(
        appender.location,
        `(${d.path}) hashes to sha256 ${got.slice(0, 12)}…, not the Hub's ${d.sha256.slice(0, 12)}…`,
        true,
      );
    }
  }
  await appender.commit();
}

/** Network failures and 5xx/429 are worth retrying; bad input and 4xx are not. */
export function isRetryable(e: unknown): boolean {
  if (e instanceof StudioError) return e.retryable;
  const status = (e as { statusCode?: unknown })?.statusCode;
  if (typeof status === 'number') return status >= 500 || status === 429;
  // fetch reports a dropped connection as a TypeError ("terminated", "Failed to fetch", "network error").
  return e instanceof TypeError;
}
