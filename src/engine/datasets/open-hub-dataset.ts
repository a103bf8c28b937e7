import { datasetInfo, listFiles } from '@huggingface/hub';
import { HubError, StudioError } from '../errors.ts';
import { cacheKey, type CacheStore } from '../sources/cache/cache-store.ts';
import { downloadWithResume, isRetryable, MAX_ATTEMPTS, TransferCutError, type RangeReader } from '../sources/cache/download-with-resume.ts';
import { fetchRange, RangeNotHonouredError } from '../sources/fetch-range.ts';
import type { DownloadProgress } from '../sources/cache/progress.ts';
import { DEFAULT_HUB_URL } from '../sources/hub-source.ts';
import { bytesFile, type ByteFile } from '../sources/source.ts';
import { DatasetFileError, DatasetSplitNotFoundError } from './dataset-errors.ts';
import type { DatasetRow, RepoFile } from './dataset.ts';
import { readParquetRows } from './read-parquet-rows.ts';
import { requireFields } from './require-fields.ts';
import { availableSplits, parquetFilesOf, splitLayout, type SplitLayout } from './split-layout.ts';

/** The branch the Hub's parquet converter writes for repos whose data are not parquet (loading scripts, JSON). */
export const PARQUET_CONVERSION_REF = 'refs/convert/parquet';

const COMMIT = /^[0-9a-f]{40}$/;
const REPO_ID = /^[\w.-]+\/[\w.-]+$/;

export interface OpenHubDatasetParams {
  /** "owner/name", e.g. `openai/gsm8k`. */
  repo: string;
  /** The dataset config (`main` for gsm8k, a subtask for bbh). Default `default`, as `datasets` names an unnamed one. */
  config?: string;
  split: string;
  /** Branch, tag or commit sha; default `main`. Resolved to a commit before anything is read. */
  revision?: string;
  /** Endpoint (HF_ENDPOINT in Node, the settings panel in the page); default the public Hub. */
  hubUrl?: string;
  /** Sent only as an Authorization header; never in a URL, a label, a cache key or an error. */
  accessToken?: string;
  fetch?: typeof fetch;
  /** Where parquet bytes and the resolved file lists are kept: nodeCacheStore() in Node, opfsCacheStore() in the page. */
  cache?: CacheStore;
  /** Fields every row must have (the task's); a row without one is a DatasetFieldError naming it. */
  requiredFields?: readonly string[];
  /** Who reads the rows, for messages: e.g. `gsm8k_cot`. */
  purpose?: string;
  onProgress?: (p: DownloadProgress) => void;
  signal?: AbortSignal;
}

export interface HubDataset {
  repo: string;
  config: string;
  split: string;
  /**
   * The commit (40 hex) the parquet files were read from — what to record with results. Opening
   * the dataset again with `revision` set to it reads the same bytes, from the cache with no
   * request at all. For a repo read through its parquet conversion (lukaemon/bbh) it is a commit
   * of `refs/convert/parquet`.
   */
  revision: string;
  /**
   * How that commit was reached: the revision asked for (`main` by default, or the commit itself when
   * one was asked for), or `refs/convert/parquet` when the asked revision has no parquet for the split.
   */
  ref: string;
  /** `hf://datasets/{repo}@{revision}` — the repo pinned to the commit, as `datasets` and lm-eval print data files. Never a token. */
  label: string;
  /** The parquet files read, in order (shards concatenate in path order). */
  files: RepoFile[];
  /** Column names, in the parquet schema's order. */
  columns: string[];
  /** Every row of the split, in file order, keyed by the dataset's own field names. */
  rows: DatasetRow[];
}

/** What resolving (repo, commit, config, split) found; cached so a second open skips the listing. */
interface Resolution {
  /** The commit holding the files: the one asked for, or the parquet conversion's. */
  revision: string;
  files: RepoFile[];
}

/**
 * Opens one split of a Hub dataset repo: resolves the revision to a commit, finds the split's
 * parquet files (through the dataset card's `configs`, the Hub's file-name layouts, and — when the
 * repo keeps no parquet for it — the converter's `refs/convert/parquet` branch; see split-layout.ts),
 * downloads them into `cache` (resuming a partial download) and reads every row with hyparquet.
 *
 * Requests: one dataset-info call to resolve a branch or tag (none when `revision` is a commit
 * already opened with this cache), then — first time only — the tree listing and the parquet
 * bytes. Errors are StudioErrors: HubError (gated or private repo, not found, network),
 * DatasetSplitNotFoundError (listing the configs and splits there are), DatasetFileError,
 * DatasetFieldError.
 */
export async function openHubDataset(params: OpenHubDatasetParams): Promise<HubDataset> {
  const { repo, split } = params;
  const config = params.config ?? 'default';
  if (!REPO_ID.test(repo)) {
    throw new StudioError(`"${repo}" is not a Hub dataset id; write it as owner/name (e.g. openai/gsm8k).`);
  }
  if (params.accessToken && !params.accessToken.startsWith('hf_')) {
    // Say it here: the client would throw a bare TypeError that reads like a network failure.
    throw new StudioError('The Hugging Face token must start with "hf_"; copy it again from your Hub settings (Access Tokens).');
  }
  const hubUrl = (params.hubUrl ?? DEFAULT_HUB_URL).replace(/\/+$/, '');
  const hub: HubContext = {
    repo,
    hubUrl,
    tokenGiven: Boolean(params.accessToken),
    common: { hubUrl, accessToken: params.accessToken || undefined, fetch: params.fetch },
  };
  const asked = params.revision ?? 'main';
  const { cache } = params;

  let askedCommit = asked;
  let resolution = COMMIT.test(asked) && cache ? await readResolution(cache, repo, asked, config, split) : undefined;
  if (!resolution) {
    const info = await hubCall(hub, asked, () =>
      datasetInfo({ ...hub.common, name: repo, revision: asked, additionalFields: ['sha', 'cardData'] }),
    );
    const sha = (info as { sha?: unknown }).sha;
    if (typeof sha !== 'string' || !COMMIT.test(sha)) {
      throw new HubError(repo, undefined, `Dataset ${repo}: the Hub did not return a commit for revision ${asked}; check the endpoint (${hubUrl}).`);
    }
    askedCommit = sha;
    resolution = cache ? await readResolution(cache, repo, sha, config, split) : undefined;
    if (!resolution) {
      resolution = await resolveSplit(hub, asked, sha, (info as { cardData?: unknown }).cardData, config, split);
      if (cache) {
        await writeResolution(cache, repo, sha, config, split, resolution);
        // The conversion's commit holds the same files itself: pinning it later needs no request either.
        if (resolution.revision !== sha) await writeResolution(cache, repo, resolution.revision, config, split, resolution);
      }
    }
  }

  const columns: string[] = [];
  const rows: DatasetRow[] = [];
  for (const file of resolution.files) {
    params.signal?.throwIfAborted();
    const bytes = await fetchParquet(hub, resolution.revision, file, params);
    const named: ByteFile = { path: `${repo}@${resolution.revision.slice(0, 7)}/${file.path}`, size: bytes.size, read: (o, l) => bytes.read(o, l) };
    let part;
    try {
      part = await readParquetRows(named, {
        hint: cache ? 'It was removed from the cache; opening the dataset again downloads it afresh.' : 'The download may be damaged; try again.',
      });
    } catch (e) {
      // A cached copy that does not parse is dropped, so the next open downloads it afresh.
      if (e instanceof DatasetFileError && cache) await cache.remove(parquetKey(repo, resolution.revision, file.path));
      throw e;
    }
    if (columns.length === 0) columns.push(...part.columns);
    else if (part.columns.join('\0') !== columns.join('\0')) {
      throw new DatasetFileError(
        named.path,
        undefined,
        `has columns ${part.columns.join(', ')} but ${resolution.files[0].path} has ${columns.join(', ')}; the shards of one split must share a schema.`,
      );
    }
    for (const r of part.rows) rows.push(r);
  }

  const where = `${repo} ${config}/${split}`;
  requireFields(rows, params.requiredFields ?? [], { purpose: params.purpose, where: (i) => `${where} row ${i} (of ${rows.length})` });
  return {
    repo,
    config,
    split,
    revision: resolution.revision,
    ref: resolution.revision === askedCommit ? asked : PARQUET_CONVERSION_REF,
    label: `hf://datasets/${repo}@${resolution.revision}`,
    files: resolution.files,
    columns,
    rows,
  };
}

interface HubContext {
  repo: string;
  hubUrl: string;
  tokenGiven: boolean;
  common: { hubUrl: string; accessToken: string | undefined; fetch: typeof fetch | undefined };
}

/** Finds the split's parquet files at `sha`, else in the parquet conversion; never reads parquet bytes. */
async function resolveSplit(hub: HubContext, asked: string, sha: string, cardData: unknown, config: string, split: string): Promise<Resolution> {
  const name = hub.repo.split('/')[1];
  const layout = splitLayout(await listAll(hub, asked, sha), cardData, name);
  const direct = parquetFilesOf(layout, config, split);
  if (direct.length > 0) return { revision: sha, files: direct };

  let converted: SplitLayout = new Map();
  if (asked !== PARQUET_CONVERSION_REF) {
    const conversion = await conversionCommit(hub);
    if (conversion) {
      converted = splitLayout(await listAll(hub, PARQUET_CONVERSION_REF, conversion), undefined, name);
      const files = parquetFilesOf(converted, config, split);
      if (files.length > 0) return { revision: conversion, files };
    }
  }
  throw new DatasetSplitNotFoundError(hub.repo, config, split, availableSplits(layout, converted), asked === sha ? sha.slice(0, 7) : `${asked} (${sha.slice(0, 7)})`);
}

/** The commit of the repo's parquet conversion branch, or undefined when the Hub has none (404). */
async function conversionCommit(hub: HubContext): Promise<string | undefined> {
  try {
    const info = await hubCall(hub, PARQUET_CONVERSION_REF, () =>
      datasetInfo({ ...hub.common, name: hub.repo, revision: PARQUET_CONVERSION_REF, additionalFields: ['sha'] }),
    );
    const sha = (info as { sha?: unknown }).sha;
    return typeof sha === 'string' && COMMIT.test(sha) ? sha : undefined;
  } catch (e) {
    if (e instanceof HubError && e.status === 404) return undefined;
    throw e;
  }
}

async function listAll(hub: HubContext, asked: string, sha: string): Promise<RepoFile[]> {
  const out: RepoFile[] = [];
  await hubCall(hub, asked, async () => {
    for await (const f of listFiles({ ...hub.common, repo: { type: 'dataset', name: hub.repo }, revision: sha, recursive: true })) {
      if (f.type === 'file') out.push({ path: f.path, size: f.size, ...(f.lfs?.oid ? { sha256: f.lfs.oid } : {}) });
    }
  });
  return out;
}

/**
 * The file's bytes: from the cache (downloading into it first, resuming a partial, checking the
 * Hub's sha256 where the store can hash), or into memory without a cache. Bytes come from the
 * commit's resolve URL by ranged GETs, as checkpoint files do (hub-source.ts).
 */
async function fetchParquet(hub: HubContext, revision: string, file: RepoFile, params: OpenHubDatasetParams): Promise<ByteFile> {
  const { cache } = params;
  const url = `${hub.hubUrl}/datasets/${hub.repo}/resolve/${revision}/${file.path.split('/').map(encodeURIComponent).join('/')}`;
  const readRange: RangeReader = (offset, length, sink, signal) =>
    hubCall(hub, revision, () => fetchRange({ url, offset, length, sink, signal, accessToken: hub.common.accessToken, fetch: hub.common.fetch }));
  const key = parquetKey(hub.repo, revision, file.path);
  if (cache) {
    const cached = await cache.openComplete(key, file.path);
    if (cached && cached.size === file.size) return cached;
    if (cached) await cache.remove(key); // not this commit's file
    await downloadWithResume({ key, path: file.path, size: file.size, sha256: file.sha256, store: cache, readRange, onProgress: params.onProgress, signal: params.signal });
    const stored = await cache.openComplete(key, file.path);
    if (!stored) throw new StudioError(`Dataset ${hub.repo}: the cache lost ${file.path} right after storing it; clear the studio's download cache and retry.`);
    return stored;
  }
  const bytes = new Uint8Array(file.size);
  let got = 0;
  for (let attempt = 1; got < file.size; attempt++) {
    params.signal?.throwIfAborted();
    const before = got;
    try {
      await readRange(got, file.size - got, async (c) => {
        bytes.set(c, got);
        got += c.byteLength;
      }, params.signal);
      if (got < file.size) throw new TransferCutError(`Dataset ${hub.repo}: ${file.path}: the Hub ended the transfer at byte ${got} of ${file.size}; retry.`);
    } catch (e) {
      if (got > before) attempt = 0;
      if (attempt >= MAX_ATTEMPTS || !isRetryable(e)) throw e;
    }
  }
  return bytesFile(file.path, bytes);
}

// ---------------------------------------------------------------------------------------------
// Cache entries. Datasets live under "datasets/owner/name", apart from model repos of the same name.

const cacheRepo = (repo: string) => `datasets/${repo}`;
const parquetKey = (repo: string, commit: string, path: string) => cacheKey(cacheRepo(repo), commit, path);
/** Beside the commit's folder (no repo path can collide); dots escaped so a config named ".." stays a name. */
const escapeName = (s: string) => encodeURIComponent(s).replace(/\./g, '%2E');
const resolutionKey = (repo: string, commit: string, config: string, split: string) =>
  `${cacheRepo(repo)}/${commit}.splits/${escapeName(config)}/${escapeName(split)}.json`;

async function readResolution(cache: CacheStore, repo: string, commit: string, config: string, split: string): Promise<Resolution | undefined> {
  const key = resolutionKey(repo, commit, config, split);
  const file = await cache.openComplete(key, 'split.json');
  if (!file) return undefined;
  try {
    const r = JSON.parse(new TextDecoder().decode(await file.read(0, file.size))) as Resolution;
    const valid =
      typeof r.revision === 'string' && COMMIT.test(r.revision) && Array.isArray(r.files) && r.files.length > 0 &&
      r.files.every((f) => typeof f?.path === 'string' && Number.isSafeInteger(f.size) && f.size >= 0);
    if (valid) return { revision: r.revision, files: r.files.map((f) => ({ path: f.path, size: f.size, ...(typeof f.sha256 === 'string' ? { sha256: f.sha256 } : {}) })) };
  } catch {
    /* unreadable: resolve again */
  }
  await cache.remove(key);
  return undefined;
}

async function writeResolution(cache: CacheStore, repo: string, commit: string, config: string, split: string, r: Resolution): Promise<void> {
  const bytes = new TextEncoder().encode(JSON.stringify(r));
  // Through the same resumable writer as downloads, so the entry is committed whole or not at all.
  await downloadWithResume({
    key: resolutionKey(repo, commit, config, split),
    path: 'split.json',
    size: bytes.byteLength,
    store: cache,
    readRange: (offset, length, sink) => sink(bytes.subarray(offset, offset + length)),
  });
}

// ---------------------------------------------------------------------------------------------

/** The dataset's page, where its licence or access conditions are accepted. */
function datasetPage(hub: HubContext): string {
  try {
    const u = new URL(hub.hubUrl);
    return `${u.origin}${u.pathname.replace(/\/+$/, '')}/datasets/${hub.repo}`;
  } catch {
    return `datasets/${hub.repo}`;
  }
}

/** Turns the client's HubApiError / fetch failures into HubErrors that say what to do; never echoes the token. */
async function hubCall<T>(hub: HubContext, revision: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof StudioError) throw e;
    const status = (e as { statusCode?: unknown }).statusCode;
    const { repo } = hub;
    if (e instanceof RangeNotHonouredError) {
      throw new HubError(repo, e.status, `Dataset ${repo}: ${e.message} The endpoint does not serve byte ranges as the Hub does; check HF_ENDPOINT (or the endpoint in Settings).`);
    }
    if (status === 401 || status === 403) {
      const what = hub.tokenGiven
        ? `the Hub refused the token you set (HTTP ${status}). Accept the dataset's access conditions on ${datasetPage(hub)} with the account the token belongs to, or use a token with read access`
        : `the dataset is gated or private (HTTP ${status}). Accept its access conditions on ${datasetPage(hub)}, then set a read token`;
      throw new HubError(repo, status, `Dataset ${repo}: ${what}: HF_TOKEN for the command line, or the token in Settings in the page.`);
    }
    if (status === 404) {
      throw new HubError(repo, 404, `Dataset ${repo}@${revision}: not found on the Hub (HTTP 404). Check the owner/name spelling and the revision.`);
    }
    if (typeof status === 'number') {
      throw new HubError(repo, status, `Dataset ${repo}@${revision}: the Hub answered HTTP ${status}. This is usually temporary; retry in a moment.`);
    }
    if (e instanceof TypeError) {
      throw new HubError(repo, undefined, `Dataset ${repo}: network error talking to the Hub (${e.message}). Check your connection and the endpoint, then retry.`);
    }
    throw e;
  }
}
