import { listFiles, modelInfo } from '@huggingface/hub';
import { HubError, StudioError } from '../errors.ts';
import { cacheKey, listingKey, type CacheStore } from './cache/cache-store.ts';
import { downloadWithResume, isRetryable, TransferCutError, type RangeReader, type ResumableDownload } from './cache/download-with-resume.ts';
import type { DownloadProgress } from './cache/progress.ts';
import { fetchRange, RangeNotHonouredError } from './fetch-range.ts';
import type { ByteFile, CheckpointSource, FileEntry } from './source.ts';

export const DEFAULT_HUB_URL = 'https://huggingface.co';

export interface HubOptions {
  /** Endpoint (HF_ENDPOINT in Node, the settings panel in the page). */
  hubUrl?: string;
  /** Sent only as an Authorization header; never stored in labels, URLs or errors. */
  accessToken?: string;
  fetch?: typeof fetch;
  cache?: CacheStore;
  onProgress?: (p: DownloadProgress) => void;
  /**
   * The CLI's policy: the first read of a weight file's tensor data downloads the whole file
   * into the cache (resuming a partial, reporting progress) and every later read is local.
   * Without it (the page), tensor data is read with ranged requests and only `download()`
   * fetches whole files.
   */
  downloadWholeFiles?: boolean;
}

export interface HubSource extends CheckpointSource {
  readonly kind: 'hub';
  readonly repo: string;
  readonly revision: string;
  /** Downloads one file into the cache (resuming a partial one) and reports progress. */
  download(path: string, opts?: { signal?: AbortSignal; onProgress?: (p: DownloadProgress) => void }): Promise<void>;
}

/** A listed file; `sha256` is the Hub's LFS oid, which a finished download must hash to. */
interface HubFile extends FileEntry {
  sha256?: string;
}

/** Retries for one ranged read outside a download (tensor data in the page). */
const READ_ATTEMPTS = 3;

/**
 * Reads of a weight file that start where its cached prefix ends and add at most this much
 * extend the prefix in the cache: the 8-byte length and the JSON header of a safetensors file
 * (tens to hundreds of KiB in real checkpoints), so a second `inspect` asks the Hub nothing.
 */
const HEADER_READ_BYTES = 1024 * 1024;

const COMMIT_SHA = /^[0-9a-f]{40}$/;

/** Only safetensors are read in ranges; every other file (config, index, tokenizer) is small and read whole. */
const isWeights = (path: string) => path.endsWith('.safetensors');

/**
 * A Hub repo pinned to a commit: the revision (branch, tag, or HEAD) is resolved once, and
 * every listing and read after that uses the commit, so a push to the repo mid-session
 * cannot mix two versions. With a cache, whatever was read is kept per commit — the listing,
 * small files, safetensors headers, downloaded weights — and a revision given as a commit
 * whose listing is cached is not even looked up: a commit's files never change.
 */
export async function openHubSource(repo: string, revision: string | undefined, opts: HubOptions = {}): Promise<HubSource> {
  const hubUrl = (opts.hubUrl ?? DEFAULT_HUB_URL).replace(/\/+$/, '');
  if (opts.accessToken && !opts.accessToken.startsWith('hf_')) {
    // Say it here: the client would throw a bare TypeError that reads like a network failure.
    throw new StudioError('The Hugging Face token must start with "hf_"; copy it again from your Hub settings (Access Tokens).');
  }
  const accessToken = opts.accessToken || undefined;
  const common = { hubUrl, accessToken, fetch: opts.fetch };
  const cache = opts.cache;
  const call = <T>(fn: () => Promise<T>) => hubCall(repo, revision, fn);

  let files = revision && COMMIT_SHA.test(revision) && cache ? await loadListing(cache, repo, revision) : undefined;
  let sha: string;
  if (files) {
    sha = revision!;
  } else {
    const info = await call(() => modelInfo({ ...common, name: repo, revision, additionalFields: ['sha'] }));
    const got = (info as { sha?: unknown }).sha;
    if (typeof got !== 'string' || !COMMIT_SHA.test(got)) {
      throw new HubError(repo, undefined, `${repo}: the Hub did not return a commit for revision ${revision ?? 'main'}; check the endpoint (${hubUrl}).`);
    }
    sha = got;
    if (cache) files = await loadListing(cache, repo, sha);
  }

  const fileUrl = (path: string) => `${hubUrl}/${repo}/resolve/${sha}/${path.split('/').map(encodeURIComponent).join('/')}`;
  const readRange: (path: string) => RangeReader = (path) => (offset, length, sink, signal) =>
    call(() => fetchRange({ url: fileUrl(path), offset, length, sink, signal, accessToken, fetch: opts.fetch }));

  const listing = async (): Promise<HubFile[]> => {
    if (!files) {
      const out: HubFile[] = [];
      await call(async () => {
        for await (const f of listFiles({ ...common, repo, revision: sha, recursive: true })) {
          if (f.type === 'file') out.push({ path: f.path, size: f.size, ...(f.lfs?.oid ? { sha256: f.lfs.oid } : {}) });
        }
      });
      out.sort((a, b) => (a.path < b.path ? -1 : 1));
      if (cache) await storeSmall(cache, listingKey(repo, sha), new TextEncoder().encode(JSON.stringify(out)));
      files = out;
    }
    return files;
  };
  const entryFor = async (path: string) => {
    const entry = (await listing()).find((f) => f.path === path);
    if (!entry) throw new HubError(repo, 404, `${repo}@${sha.slice(0, 7)} has no file ${path}.`);
    return entry;
  };
  const job = (entry: HubFile, store: CacheStore): ResumableDownload => ({
    key: cacheKey(repo, sha, entry.path),
    path: entry.path,
    size: entry.size,
    sha256: entry.sha256,
    store,
    readRange: readRange(entry.path),
  });

  /** Remote bytes, not cached: tensor data in the page. */
  const remoteRead = async (path: string, offset: number, length: number): Promise<Uint8Array> => {
    for (let attempt = 1; ; attempt++) {
      try {
        const parts: Uint8Array[] = [];
        let got = 0;
        await readRange(path)(offset, length, async (c) => {
          parts.push(c);
          got += c.byteLength;
        });
        if (got < length) throw new TransferCutError(`${repo}: ${path}: the Hub ended the transfer after ${got} of ${length} bytes; retry.`);
        return concat(parts, length);
      } catch (e) {
        if (attempt >= READ_ATTEMPTS || !isRetryable(e)) throw e;
      }
    }
  };

  // One whole-file download per path at a time: concurrent tensor reads of one shard share it.
  const downloads = new Map<string, Promise<void>>();
  const downloadWhole = (entry: HubFile, store: CacheStore, onProgress = opts.onProgress, signal?: AbortSignal) => {
    let d = downloads.get(entry.path);
    if (!d) {
      d = downloadWithResume({ ...job(entry, store), onProgress, signal }).finally(() => downloads.delete(entry.path));
      downloads.set(entry.path, d);
    }
    return d;
  };

  // A complete cached file of the wrong size cannot be this commit's file: drop it and fetch again.
  const completes = new Map<string, ByteFile>();
  const cachedWhole = async (entry: HubFile, store: CacheStore): Promise<ByteFile | undefined> => {
    const known = completes.get(entry.path);
    if (known) return known;
    const key = cacheKey(repo, sha, entry.path);
    const f = await store.openComplete(key, entry.path);
    if (f && f.size !== entry.size) {
      await store.remove(key);
      return undefined;
    }
    if (f) completes.set(entry.path, f);
    return f;
  };

  const cachedRead = async (entry: HubFile, store: CacheStore, offset: number, length: number): Promise<Uint8Array> => {
    const whole = await cachedWhole(entry, store);
    if (whole) return whole.read(offset, length);
    const key = cacheKey(repo, sha, entry.path);
    const end = offset + length;
    const stored = (await store.stat(key)).bytes;
    if (end <= stored) {
      const prefix = await store.openPartial(key, entry.path);
      if (prefix && prefix.size >= end) return prefix.read(offset, length);
    }
    if (!isWeights(entry.path)) {
      await downloadWithResume(job(entry, store));
    } else if (offset <= stored && end - stored <= HEADER_READ_BYTES) {
      await downloadWithResume({ ...job(entry, store), until: end });
    } else if (opts.downloadWholeFiles) {
      await downloadWhole(entry, store);
    } else {
      return remoteRead(entry.path, offset, length);
    }
    const local = (await cachedWhole(entry, store)) ?? (await store.openPartial(key, entry.path));
    if (!local || local.size < end) {
      throw new StudioError(`${repo}: ${entry.path}: the download cache lost the bytes right after storing them; run the command again.`);
    }
    return local.read(offset, length);
  };

  const source: HubSource = {
    kind: 'hub',
    repo,
    revision: sha,
    label: `hf:${repo}@${sha}`,
    async listFiles() {
      return (await listing()).map(({ path, size }) => ({ path, size }));
    },
    async open(path): Promise<ByteFile> {
      const entry = await entryFor(path);
      return {
        path,
        size: entry.size,
        async read(offset, length) {
          if (length === 0) return new Uint8Array(0);
          return cache ? cachedRead(entry, cache, offset, length) : remoteRead(path, offset, length);
        },
      };
    },
    async download(path, { signal, onProgress } = {}) {
      if (!cache) throw new StudioError('No download cache is configured.');
      await downloadWhole(await entryFor(path), cache, onProgress ?? opts.onProgress, signal);
    },
  };
  return source;
}

/** The cached listing of a commit, or undefined (absent, or unreadable and then dropped). */
async function loadListing(cache: CacheStore, repo: string, sha: string): Promise<HubFile[] | undefined> {
  const key = listingKey(repo, sha);
  const f = await cache.openComplete(key, key);
  if (!f) return undefined;
  try {
    const list = JSON.parse(new TextDecoder().decode(await f.read(0, f.size))) as unknown;
    const ok =
      Array.isArray(list) &&
      list.every((e) => e && typeof e.path === 'string' && Number.isSafeInteger(e.size) && e.size >= 0 && (e.sha256 === undefined || typeof e.sha256 === 'string'));
    if (ok) return list as HubFile[];
  } catch {
    // Not JSON (a damaged file): fetched again below.
  }
  await cache.remove(key);
  return undefined;
}

/** Stores a small entry in one piece. */
async function storeSmall(cache: CacheStore, key: string, bytes: Uint8Array): Promise<void> {
  for (;;) {
    const a = await cache.openAppender(key);
    if (!a) return;
    if (a.offset > 0) {
      await a.discard(); // left by a run that died mid-write
      continue;
    }
    try {
      await a.write(bytes);
    } catch (e) {
      await a.discard().catch(() => undefined);
      throw e;
    }
    return a.commit();
  }
}

function concat(parts: Uint8Array[], length: number): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(length);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}

/** Turns the client's HubApiError / fetch failures into HubErrors that say what to do. */
async function hubCall<T>(repo: string, revision: string | undefined, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof StudioError) throw e;
    const status = (e as { statusCode?: unknown }).statusCode;
    const rev = revision ? `@${revision}` : '';
    if (e instanceof RangeNotHonouredError) {
      throw new HubError(repo, e.status, `${repo}: ${e.message} The endpoint does not serve byte ranges as the Hub does; check HF_ENDPOINT.`);
    }
    if (status === 401 || status === 403) {
      throw new HubError(
        repo,
        status,
        `${repo}: access denied (HTTP ${status}). The repo is gated or private: accept its licence on the Hub page of ${repo} and provide a token with read access (Settings, or HF_TOKEN).`,
      );
    }
    if (status === 404) {
      throw new HubError(repo, 404, `${repo}${rev}: not found on the Hub (HTTP 404). Check the owner/name spelling and the revision.`);
    }
    if (typeof status === 'number') {
      throw new HubError(repo, status, `${repo}${rev}: the Hub answered HTTP ${status}. This is usually temporary; retry in a moment.`);
    }
    if (e instanceof TypeError) {
      throw new HubError(repo, undefined, `${repo}: network error talking to the Hub (${e.message}). Check your connection and the endpoint, then retry.`);
    }
    throw e;
  }
}
