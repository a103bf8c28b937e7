import {
  MAX_DOCUMENT_BYTES,
  ResultsDocumentError,
  base64urlToBytes,
  bytesToBase64url,
  validateResultsDocument,
  withoutSamples,
  type SweepResultsDocument,
} from './results-document.ts';

/**
 * Share URLs: the results document (without samples) in the URL's hash, as
 * `#r=1.<base64url(deflate-raw(JSON))>`. The `1` is the encoding's version (the document has its
 * own). The hash never reaches a server, so the page opens it offline; decoding checks the size
 * before and after inflating, then validates exactly as a file is validated. Uses the Compression
 * Streams API, which Node ≥ 18 and every current browser have.
 */

export const SHARE_HASH_KEY = 'r';
export const SHARE_ENCODING_VERSION = 1;
/**
 * Payload characters accepted in a URL. Browsers take far longer URLs (Chrome ~2 MB), but chat
 * tools, mail clients and proxies truncate or refuse beyond a few tens of KiB, and a link that
 * long is not a link anyone shares; a 4-task × 11-α sweep needs ~6 KB.
 */
export const MAX_SHARE_PAYLOAD_CHARS = 64 * 1024;
/** What the tests and the page aim for: a typical sweep's link fits comfortably in a message. */
export const TYPICAL_SHARE_URL_BUDGET = 8 * 1024;
/** The address `npm start` serves the studio on (vite.config.ts, port 5173), the default `--base-url`. */
export const DEFAULT_SHARE_BASE_URL = 'http://127.0.0.1:5173/';

const ORIGIN = 'the share URL';

export interface EncodeShareOptions {
  /** Drop per-item verdict bits when the payload would be longer than this (default: the typical budget). */
  verdictBudgetChars?: number;
}

export interface EncodedShare {
  /** `r=1.<payload>` (without `#`). */
  hash: string;
  /** Whether per-item verdicts were dropped to stay within the budget. */
  droppedVerdicts: boolean;
}

/**
 * The hash for a document. Samples never travel; verdict bits travel when the link stays within
 * `verdictBudgetChars` with them. A document whose link exceeds MAX_SHARE_PAYLOAD_CHARS even
 * without verdicts is refused here, so no URL is made that the page would refuse.
 */
export async function encodeShareHash(doc: SweepResultsDocument, o: EncodeShareOptions = {}): Promise<EncodedShare> {
  const plain = withoutSamples(doc);
  validateResultsDocument(plain, { origin: ORIGIN });
  const budget = o.verdictBudgetChars ?? TYPICAL_SHARE_URL_BUDGET;
  let payload = await deflateToBase64url(JSON.stringify(plain));
  let droppedVerdicts = false;
  if (payload.length > budget && plain.points.some((p) => p.verdicts !== undefined)) {
    payload = await deflateToBase64url(JSON.stringify({ ...plain, points: plain.points.map(({ verdicts: _v, ...p }) => p) }));
    droppedVerdicts = true;
  }
  if (payload.length > MAX_SHARE_PAYLOAD_CHARS) {
    throw new ResultsDocumentError('oversize', undefined, `would be ${payload.length} characters; the limit is ${MAX_SHARE_PAYLOAD_CHARS}. Share the results file instead.`, ORIGIN);
  }
  return { hash: `${SHARE_HASH_KEY}=${SHARE_ENCODING_VERSION}.${payload}`, droppedVerdicts };
}

/** A full URL: `base` with its hash replaced by the document's. */
export async function encodeShareUrl(doc: SweepResultsDocument, base: string = DEFAULT_SHARE_BASE_URL, o: EncodeShareOptions = {}): Promise<string> {
  const url = new URL(base);
  if (url.username || url.password) throw new ResultsDocumentError('token', 'base URL', 'holds credentials; a share URL never carries any.', ORIGIN);
  url.hash = (await encodeShareHash(doc, o)).hash;
  return url.toString();
}

/** Whether a URL's hash (with or without `#`) carries a shared document. */
export function hasSharedDocument(hash: string): boolean {
  return new URLSearchParams(hash.replace(/^#/, '')).has(SHARE_HASH_KEY);
}

/**
 * The document in a hash (`#r=1.…`) or a whole URL, validated. Every failure is a
 * ResultsDocumentError whose `reason` says which: oversize, version, compression, json,
 * schema, markup, token.
 */
export async function decodeShareHash(hashOrUrl: string): Promise<SweepResultsDocument> {
  const hash = hashOrUrl.includes('#') ? hashOrUrl.slice(hashOrUrl.indexOf('#') + 1) : hashOrUrl;
  // Checked before anything is parsed: the limit bounds all the work below.
  if (hash.length > MAX_SHARE_PAYLOAD_CHARS + 16) {
    throw new ResultsDocumentError('oversize', undefined, `is ${hash.length} characters; the limit is ${MAX_SHARE_PAYLOAD_CHARS}.`, ORIGIN);
  }
  const value = new URLSearchParams(hash).get(SHARE_HASH_KEY);
  if (value === null) throw new ResultsDocumentError('schema', undefined, `has no "#${SHARE_HASH_KEY}=" part; it does not carry a results document.`, ORIGIN);
  const m = /^(\d+)\.(.*)$/s.exec(value);
  if (!m) throw new ResultsDocumentError('version', undefined, `does not start with an encoding version ("${SHARE_ENCODING_VERSION}.").`, ORIGIN);
  if (Number(m[1]) !== SHARE_ENCODING_VERSION) {
    throw new ResultsDocumentError('version', undefined, `uses encoding version ${m[1]}; this studio reads version ${SHARE_ENCODING_VERSION}${Number(m[1]) > SHARE_ENCODING_VERSION ? ' — it was made by a newer studio' : ''}.`, ORIGIN);
  }
  const bytes = base64urlToBytes(m[2]);
  if (!bytes || bytes.length === 0) throw new ResultsDocumentError('compression', undefined, 'is not valid base64url; the link was cut or changed.', ORIGIN);
  const json = await inflateLimited(bytes, MAX_DOCUMENT_BYTES);
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (e) {
    throw new ResultsDocumentError('json', undefined, `does not hold JSON (${(e as Error).message}).`, ORIGIN);
  }
  return validateResultsDocument(parsed, { origin: ORIGIN, byteLength: new TextEncoder().encode(json).length });
}

async function deflateToBase64url(json: string): Promise<string> {
  const stream = new Blob([json]).stream().pipeThrough(new CompressionStream('deflate-raw'));
  return bytesToBase64url(new Uint8Array(await new Response(stream).arrayBuffer()));
}

/** Inflates, stopping as soon as the output passes `limit` bytes (a small link can inflate to gigabytes). */
async function inflateLimited(bytes: Uint8Array, limit: number): Promise<string> {
  const reader = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('deflate-raw')).getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > limit) {
        await reader.cancel().catch(() => undefined);
        throw new ResultsDocumentError('oversize', undefined, `inflates to more than ${limit} bytes; the limit is ${limit}.`, ORIGIN);
      }
      parts.push(value);
    }
  } catch (e) {
    if (e instanceof ResultsDocumentError) throw e;
    throw new ResultsDocumentError('compression', undefined, `is not valid deflate data (${(e as Error).message}); the link was cut or changed.`, ORIGIN);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(all);
  } catch {
    throw new ResultsDocumentError('compression', undefined, 'does not inflate to UTF-8 text; the link was cut or changed.', ORIGIN);
  }
}
