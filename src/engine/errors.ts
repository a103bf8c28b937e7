/**
 * Errors a user can meet. Each names the thing at fault (file, tensor, repo) and says what
 * to do; `retryable` tells callers whether trying again can help (network) or not (bad bytes).
 * The CLI maps any StudioError to exit status 2 ("bad input") and anything else to 1.
 */
export class StudioError extends Error {
  readonly retryable: boolean = false;
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A safetensors file is malformed: not retryable, the bytes are wrong. */
export class SafetensorsError extends StudioError {
  constructor(
    readonly file: string,
    detail: string,
    readonly tensor?: string,
  ) {
    super(`${file}: ${tensor ? `tensor "${tensor}": ` : ''}${detail}`);
  }
}

/** A tensor uses a dtype the merge cannot compute with (F8, integer-quantised, …). */
export class UnsupportedDtypeError extends StudioError {
  constructor(
    readonly file: string,
    readonly tensor: string,
    readonly dtype: string,
  ) {
    super(
      `${file}: tensor "${tensor}" has dtype ${dtype}; the studio merges BF16, F16 and F32 only. ` +
        `Use an unquantised checkpoint (or convert it to bf16/f16/f32 first).`,
    );
  }
}

/** config.json (or model.safetensors.index.json) is missing or does not say what we need. */
export class CheckpointLayoutError extends StudioError {
  constructor(
    readonly source: string,
    readonly file: string,
    detail: string,
  ) {
    super(`${source}: ${file}: ${detail}`);
  }
}

export class SourceSpecError extends StudioError {}

/** The Hub refused or failed. `status` is the HTTP status when there was one. */
export class HubError extends StudioError {
  override readonly retryable: boolean;
  constructor(
    readonly repo: string,
    readonly status: number | undefined,
    message: string,
  ) {
    super(message);
    this.retryable = status === undefined || status >= 500 || status === 429;
  }
}

/** The download cache could not store the bytes (browser quota, disk full). */
export class StorageQuotaError extends StudioError {
  constructor(
    readonly file: string,
    readonly neededBytes: number,
    readonly estimate: { usage?: number; quota?: number } | undefined,
  ) {
    const fmt = (n: number | undefined) => (n === undefined ? 'unknown' : formatBytes(n));
    super(
      `Not enough storage to cache ${file}: it needs ${formatBytes(neededBytes)} more. ` +
        `The browser reports ${fmt(estimate?.usage)} used of a ${fmt(estimate?.quota)} quota ` +
        `(navigator.storage.estimate()). Free space, clear the studio's cache in Settings, or drop the files from disk instead.`,
    );
  }
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}
