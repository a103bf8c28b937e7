/** An HTTP failure answer; `statusCode` is what `isRetryable` and the Hub error mapping read. */
export class HttpStatusError extends Error {
  constructor(
    readonly statusCode: number,
    readonly url: string,
  ) {
    super(`HTTP ${statusCode} for ${url}`);
  }
}

/** The server answered a ranged GET with other bytes than asked for. Not retryable: it will do it again. */
export class RangeNotHonouredError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface RangeRequest {
  url: string;
  offset: number;
  length: number;
  /** Sent only as a header. */
  accessToken?: string;
  fetch?: typeof fetch;
  signal?: AbortSignal;
  /** Receives the body as it arrives; what it received stays valid when the transfer then fails. */
  sink(chunk: Uint8Array): Promise<void>;
}

/**
 * One ranged GET whose body is handed on piece by piece, so a download can store (and
 * report) bytes as they arrive and resume from the exact byte a dropped connection reached.
 * Resolves when `length` bytes were delivered or the body ended early (the caller counts);
 * rejects with an HttpStatusError, a TypeError (network), or whatever `sink` threw.
 */
export async function fetchRange(r: RangeRequest): Promise<void> {
  const res = await (r.fetch ?? fetch)(r.url, {
    headers: { Range: `bytes=${r.offset}-${r.offset + r.length - 1}`, ...(r.accessToken ? { Authorization: `Bearer ${r.accessToken}` } : {}) },
    signal: r.signal,
  });
  if (!res.ok) {
    await res.body?.cancel().catch(() => undefined);
    throw new HttpStatusError(res.status, r.url);
  }
  const start = res.status === 206 ? Number(/^bytes (\d+)-/.exec(res.headers.get('Content-Range') ?? '')?.[1]) : 0;
  if (start !== r.offset) {
    await res.body?.cancel().catch(() => undefined);
    throw new RangeNotHonouredError(res.status, `${r.url}: asked for bytes from ${r.offset}, the server sent from ${Number.isNaN(start) ? 'an unknown offset' : start}.`);
  }
  if (!res.body) return;
  const reader = res.body.getReader();
  let got = 0;
  try {
    while (got < r.length) {
      const { done, value } = await reader.read();
      if (done) break;
      const piece = value.byteLength > r.length - got ? value.subarray(0, r.length - got) : value;
      got += piece.byteLength;
      await r.sink(piece);
    }
  } finally {
    // Stops the transfer when the sink failed or the server sent more than asked.
    await reader.cancel().catch(() => undefined);
  }
}
