import { downloadFile, listFiles, modelInfo } from '@huggingface/hub';
import { HubError, StudioError } from '../errors.ts';
import { cacheKey, type CacheStore } from './cache/cache-store.ts';
import { downloadWithResume, isRetryable } from './cache/download-with-resume.ts';
import type { DownloadProgress } from './cache/progress.ts';
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
}

export interface HubSource extends CheckpointSource {
  readonly kind: 'hub';
  readonly repo: string;
  readonly revision: string;
  /** Downloads one file into the cache (resuming a partial one) and reports progress. */
  download(path: string, opts?: { signal?: AbortSignal; onProgress?: (p: DownloadProgress) => void }): Promise<void>;
}

/** Retries for one ranged read outside a download (a header, a config file). */
const READ_ATTEMPTS = 3;

/**
 * A Hub repo pinned to a commit: the revision (branch, tag, or HEAD) is resolved once, and
 * every listing and read after that uses the commit, so a push to the repo mid-session
 * cannot mix two versions.
 */
export async function openHubSource(repo: string, revision: string | undefined, opts: HubOptions = {}): Promise<HubSource> {
  const hubUrl = (opts.hubUrl ?? DEFAULT_HUB_URL).replace(/\/+$/, '');
  if (opts.accessToken && !opts.accessToken.startsWith('hf_')) {
    // Say it here: the client would throw a bare TypeError that reads like a network failure.
    throw new StudioError('The Hugging Face token must start with "hf_"; copy it again from your Hub settings (Access Tokens).');
  }
  const common = { hubUrl, accessToken: opts.accessToken || undefined, fetch: opts.fetch };
  const info = await hubCall(repo, revision, () => modelInfo({ ...common, name: repo, revision, additionalFields: ['sha'] }));
  const sha = (info as { sha?: unknown }).sha;
  if (typeof sha !== 'string' || !/^[0-9a-f]{40}$/.test(sha)) {
    throw new HubError(repo, undefined, `${repo}: the Hub did not return a commit for revision ${revision ?? 'main'}; check the endpoint (${hubUrl}).`);
  }

  let listing: FileEntry[] | undefined;
  const blobs = new Map<string, ReturnType<typeof downloadFile>>();
  const blobFor = (path: string) => {
    let b = blobs.get(path);
    if (!b) {
      b = hubCall(repo, revision, () => downloadFile({ ...common, repo, path, revision: sha }));
      blobs.set(path, b);
      b.catch(() => blobs.delete(path));
    }
    return b;
  };
  const remoteRead = async (path: string, offset: number, length: number, onReceived?: (bytes: number) => void): Promise<Uint8Array> => {
    const blob = await blobFor(path);
    if (!blob) throw new HubError(repo, 404, `${repo}@${sha.slice(0, 7)}: ${path} not found.`);
    const slice = blob.slice(offset, offset + length);
    return hubCall(repo, revision, async () => (onReceived ? readCounting(slice, onReceived) : new Uint8Array(await slice.arrayBuffer())));
  };
  const sizeOf = async (path: string) => {
    const entry = (await source.listFiles()).find((f) => f.path === path);
    if (!entry) throw new HubError(repo, 404, `${repo}@${sha.slice(0, 7)} has no file ${path}.`);
    return entry.size;
  };

  const source: HubSource = {
    kind: 'hub',
    repo,
    revision: sha,
    label: `hf:${repo}@${sha}`,
    async listFiles() {
      if (!listing) {
        const out: FileEntry[] = [];
        await hubCall(repo, revision, async () => {
          for await (const f of listFiles({ ...common, repo, revision: sha, recursive: true })) {
            if (f.type === 'file') out.push({ path: f.path, size: f.size });
          }
        });
        listing = out.sort((a, b) => (a.path < b.path ? -1 : 1));
      }
      return listing;
    },
    async open(path): Promise<ByteFile> {
      const size = await sizeOf(path);
      const key = cacheKey(repo, sha, path);
      return {
        path,
        size,
        async read(offset, length) {
          if (length === 0) return new Uint8Array(0);
          const cached = await opts.cache?.openComplete(key, path);
          if (cached) return cached.read(offset, length);
          for (let attempt = 1; ; attempt++) {
            try {
              return await remoteRead(path, offset, length);
            } catch (e) {
              if (attempt >= READ_ATTEMPTS || !isRetryable(e)) throw e;
            }
          }
        },
      };
    },
    async download(path, { signal, onProgress } = {}) {
      if (!opts.cache) throw new StudioError('No download cache is configured.');
      await downloadWithResume({
        key: cacheKey(repo, sha, path),
        path,
        size: await sizeOf(path),
        store: opts.cache,
        readRange: (offset, length, onReceived) => remoteRead(path, offset, length, onReceived),
        onProgress: onProgress ?? opts.onProgress,
        signal,
      });
    },
  };
  return source;
}

/**
 * A blob's bytes read as a stream, telling `onReceived` the running total per network chunk.
 * The client's WebBlob.stream() turns an HTTP error into a bare message string (it aborts the
 * stream with `error.message`), which would lose the status the retry logic needs; such a failure
 * is read again with arrayBuffer(), which throws the typed HubApiError (or, if the server has
 * recovered, returns the bytes).
 */
async function readCounting(blob: Blob, onReceived: (bytes: number) => void): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let received = 0;
  try {
    const reader = blob.stream().getReader();
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      parts.push(r.value);
      received += r.value.byteLength;
      onReceived(received);
    }
  } catch (e) {
    if (e instanceof Error || received > 0) throw e;
    return new Uint8Array(await blob.arrayBuffer());
  }
  const out = new Uint8Array(received);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
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
