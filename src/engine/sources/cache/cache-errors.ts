import { StudioError } from '../../errors.ts';

/**
 * The download cache itself failed (Node: a folder on disk). Each names the path at fault
 * and says what to do; none is retryable as is — the user has to change something first.
 */
export class CacheError extends StudioError {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

/** The cache folder (or a file in it) cannot be created, written or read: permissions, a read-only disk, a file where a folder should be. */
export class CacheUnwritableError extends CacheError {
  constructor(path: string, code: string | undefined) {
    super(
      path,
      `The download cache cannot use ${path}${code ? ` (${code})` : ''}. ` +
        'Make that folder writable, or set STUDIO_CACHE_DIR to a folder you can write.',
    );
  }
}

/** The disk holding the cache is full (ENOSPC) or the user's quota is spent (EDQUOT). */
export class CacheFullError extends CacheError {
  constructor(path: string, code: string) {
    super(
      path,
      `No space left to write ${path} (${code}). Free disk space there, or set STUDIO_CACHE_DIR to a folder on a disk with room; ` +
        'the download resumes from the bytes already stored.',
    );
  }
}

/** A cached file is not what was downloaded: truncated, or its bytes do not hash to the Hub's sha256. */
export class CacheCorruptError extends CacheError {
  constructor(path: string, detail: string, removed: boolean) {
    super(
      path,
      `The cached file ${path} ${detail}; ` +
        (removed ? 'it was removed, so running the command again downloads it afresh.' : 'delete it and run the command again to download it afresh.'),
    );
  }
}

/** Node's fs error code (`ENOSPC`, `EACCES`, …), if `e` is one. */
export function fsErrorCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown })?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Errors that mean "the disk is full", in Node (ENOSPC/EDQUOT) and the browser (QuotaExceededError). */
export function isQuotaError(e: unknown): boolean {
  const code = fsErrorCode(e);
  return (e as { name?: unknown })?.name === 'QuotaExceededError' || code === 'ENOSPC' || code === 'EDQUOT';
}
