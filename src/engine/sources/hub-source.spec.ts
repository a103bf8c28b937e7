import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { makeFixtureDir, type FixtureDir } from '../../../test-support/fixture-dir.ts';
import { startMockHub, type MockHub } from '../../../test-support/mock-hub/server.ts';
import { summarizeCheckpoint } from '../checkpoint/inspect-checkpoint.ts';
import { openCheckpoint } from '../checkpoint/open-checkpoint.ts';
import { formatBytes, HubError, StorageQuotaError, StudioError } from '../errors.ts';
import { cacheKey, listingKey, memoryCacheStore, type CacheStore } from './cache/cache-store.ts';
import { downloadWithResume, MAX_ATTEMPTS } from './cache/download-with-resume.ts';
import { nodeCacheStore } from './cache/node-cache-store.ts';
import type { DownloadProgress } from './cache/progress.ts';
import { openHubSource, type HubSource } from './hub-source.ts';
import { localFolderSource } from './local-folder-source.ts';
import { rejection } from '../../../test-support/rejection.ts';

const REPO = 'studio-fixtures/tiny-qwen2-target';
const SHARDED = 'studio-fixtures/tiny-qwen2-sharded';
const GATED = 'studio-fixtures/gated-model';
const TOKEN = 'hf_mock_gated_token';
const FILE = 'model.safetensors';

let fx: FixtureDir;
let mock: MockHub;
let cacheRoot: string;
let fileBytes: Buffer;

beforeAll(async () => {
  fx = makeFixtureDir();
  cacheRoot = mkdtempSync(join(tmpdir(), 'hub-cache-'));
  fileBytes = readFileSync(join(fx.model('tiny-qwen2-target'), FILE));
  mock = await startMockHub({
    repos: { [REPO]: fx.model('tiny-qwen2-target'), [SHARDED]: fx.model('tiny-qwen2-sharded'), [GATED]: fx.model('tiny-qwen2-target') },
    gated: { [GATED]: TOKEN },
  });
});

afterAll(async () => {
  await mock?.close();
  fx?.cleanup();
  rmSync(cacheRoot, { recursive: true, force: true });
});

beforeEach(() => {
  mock.clearFaults();
  mock.requests.length = 0;
});

const hub = (repo: string, revision?: string, opts: Parameters<typeof openHubSource>[2] = {}) =>
  openHubSource(repo, revision, { hubUrl: mock.url, ...opts });

const sameBytes = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

/** The start offsets of the ranged GETs of one file, in the order the mock saw them. */
const rangeStarts = (path: string) =>
  mock.requests.filter((r) => r.method === 'GET' && r.url.includes(`/resolve/`) && r.url.endsWith(`/${path}`)).map((r) => r.range);

describe('revisions and labels', () => {
  it('resolves the default revision to the 40-hex commit and pins the label to it', async () => {
    const src = await hub(REPO);
    expect(src.revision).toMatch(/^[0-9a-f]{40}$/);
    expect(src.label).toBe(`hf:${REPO}@${src.revision}`);
    expect([src.kind, src.repo]).toEqual(['hub', REPO]);
  });

  it('@main and the explicit sha resolve to the same commit; every later read uses the sha', async () => {
    const main = await hub(REPO, 'main');
    const pinned = await hub(REPO, main.revision);
    expect(pinned.revision).toBe(main.revision);
    expect(pinned.label).toBe(main.label);
    mock.requests.length = 0;
    await (await pinned.open('config.json')).read(0, 10);
    const urls = mock.requests.map((r) => r.url);
    expect(urls.length).toBeGreaterThan(0);
    for (const u of urls) expect(u.includes(`/${main.revision}`)).toBe(true);
  });

  it('an unknown revision and an unknown repo are HubErrors saying "not found"', async () => {
    const e = await rejection(hub(REPO, 'no-such-branch'));
    expect(e).toBeInstanceOf(HubError);
    expect(e.message).toBe(`${REPO}@no-such-branch: not found on the Hub (HTTP 404). Check the owner/name spelling and the revision.`);
    const r = await rejection(hub('nobody/nothing'));
    expect(r).toBeInstanceOf(HubError);
    expect([(r as HubError).status, (r as HubError).retryable, (r as HubError).repo]).toEqual([404, false, 'nobody/nothing']);
    expect(r.message).toBe('nobody/nothing: not found on the Hub (HTTP 404). Check the owner/name spelling and the revision.');
  });

  it('a missing file in a repo is a 404 HubError', async () => {
    const src = await hub(REPO);
    const e = await rejection(src.open('nope.json'));
    expect(e).toBeInstanceOf(HubError);
    expect(e.message).toBe(`${REPO}@${src.revision.slice(0, 7)} has no file nope.json.`);
  });

  it('lists files recursively with sizes, like the local folder', async () => {
    const src = await hub(SHARDED);
    const local = await localFolderSource(fx.model('tiny-qwen2-sharded'));
    expect(await src.listFiles()).toEqual(await local.listFiles());
  });
});

describe('opening checkpoints over the Hub', () => {
  it.each([
    [REPO, 'tiny-qwen2-target'],
    [SHARDED, 'tiny-qwen2-sharded'],
  ])('%s gives the same summary as the local folder (except source and revision)', async (repo, folder) => {
    const src = await hub(repo);
    const viaHub = summarizeCheckpoint(await openCheckpoint(src));
    const viaDisk = summarizeCheckpoint(await openCheckpoint(await localFolderSource(fx.model(folder))));
    expect(viaHub.source).toBe(`hf:${repo}@${src.revision}`);
    expect(viaHub.revision).toBe(src.revision);
    expect(viaDisk.revision).toBeNull();
    expect({ ...viaHub, source: '', revision: null }).toEqual({ ...viaDisk, source: '', revision: null });
    // Headers only: no ranged read went past a safetensors header.
    const ckpt = await openCheckpoint(await hub(repo));
    expect(mock.requests.filter((x) => x.url.endsWith('.safetensors') && x.method === 'GET' && !x.range)).toEqual([]);
    for (const r of mock.requests.filter((x) => x.url.endsWith('.safetensors') && x.range)) {
      const [a, b] = r.range!.replace('bytes=', '').split('-').map(Number);
      const shard = ckpt.shards.find((s) => r.url.endsWith(`/${s.file}`))!;
      expect(b).toBeLessThan(8 + shard.headerLength);
      expect(a).toBeGreaterThanOrEqual(0);
    }
  });

  it('readTensorBytes over the Hub returns the file slice', async () => {
    const ckpt = await openCheckpoint(await hub(REPO));
    const t = ckpt.tensors.get('model.layers.0.self_attn.q_proj.weight')!;
    expect(sameBytes(await ckpt.readTensorBytes(t.name), fileBytes.subarray(t.byteOffset, t.byteOffset + t.byteLength))).toBe(true);
  });
});

describe('gated repos and tokens', () => {
  it('without a token: a 401 HubError about the licence and a token', async () => {
    const src = await hub(GATED); // metadata is public, like on the real Hub
    const e = await rejection(openCheckpoint(src));
    expect(e).toBeInstanceOf(HubError);
    expect((e as HubError).status).toBe(401);
    expect((e as HubError).retryable).toBe(false);
    expect(e.message).toBe(
      `${GATED}: access denied (HTTP 401). The repo is gated or private: accept its licence on the Hub page of ${GATED} and provide a token with read access (Settings, or HF_TOKEN).`,
    );
  });

  it('with the token: opens, and the token is nowhere in labels, errors or the request log', async () => {
    const src = await hub(GATED, undefined, { accessToken: TOKEN });
    const s = summarizeCheckpoint(await openCheckpoint(src));
    expect(s.tensors.length).toBe(26);
    expect(src.label).not.toContain(TOKEN);
    expect(mock.requests.some((r) => r.auth)).toBe(true);
    // A wrong token is refused too, and not echoed.
    const wrong = 'hf_wrong_token_value';
    const e = await rejection(openCheckpoint(await hub(GATED, undefined, { accessToken: wrong })));
    expect(e).toBeInstanceOf(HubError);
    expect(e.message).not.toContain(wrong);
    expect(e.stack ?? '').not.toContain(wrong);
    const log = JSON.stringify(mock.requests);
    expect(log).not.toContain(TOKEN);
    expect(log).not.toContain(wrong);
  });

  it('a token not starting with hf_ is refused before any request, without echoing it', async () => {
    const e = await rejection(hub(REPO, undefined, { accessToken: 'secret-abc' }));
    expect(e).toBeInstanceOf(StudioError);
    expect(e.message).toBe('The Hugging Face token must start with "hf_"; copy it again from your Hub settings (Access Tokens).');
    expect(mock.requests).toEqual([]);
  });
});

describe('transient failures', () => {
  it('a 500 on a read is retried and then succeeds', async () => {
    // A fetch that lifts the fault once the mock has answered 500.
    const fetch500Once: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      if (res.status === 500) mock.clearFaults();
      return res;
    };
    const src = await hub(REPO, undefined, { fetch: fetch500Once });
    mock.setFaults([{ kind: 'status', status: 500, path: 'config.json' }]);
    const f = await src.open('config.json');
    const text = new TextDecoder().decode(await f.read(0, f.size));
    expect(text).toBe(readFileSync(join(fx.model('tiny-qwen2-target'), 'config.json'), 'utf8'));
    const statuses = mock.requests.filter((r) => r.url.endsWith('/config.json')).map((r) => r.status);
    expect(statuses[0]).toBe(500);
    expect(statuses.at(-1)).toBe(206); // every read is a ranged GET
  });

  it('a persistent 500 ends in a retryable HubError', async () => {
    const src = await hub(REPO);
    mock.setFaults([{ kind: 'status', status: 500, path: 'config.json' }]);
    const e = await rejection((await src.open('config.json')).read(0, 10));
    expect(e).toBeInstanceOf(HubError);
    expect([(e as HubError).status, (e as HubError).retryable]).toEqual([500, true]);
    expect(e.message).toBe(`${REPO}: the Hub answered HTTP 500. This is usually temporary; retry in a moment.`);
    expect(mock.requests.filter((r) => r.url.endsWith('/config.json')).length).toBe(3);
  });
});

describe('downloads into the cache', () => {
  const progressChecks = (events: DownloadProgress[], total: number, from = 0) => {
    expect(events.length).toBeGreaterThan(0);
    expect(events[0].bytesDone).toBe(from);
    for (let i = 1; i < events.length; i++) expect(events[i].bytesDone).toBeGreaterThan(events[i - 1].bytesDone);
    for (const e of events) expect([e.file, e.bytesTotal, e.resumedFrom]).toEqual([FILE, total, from]);
    expect(events.at(-1)!.bytesDone).toBe(total);
  };

  it.each([
    ['memoryCacheStore', () => memoryCacheStore()],
    ['nodeCacheStore', () => nodeCacheStore(mkdtempSync(join(cacheRoot, 'n-')))],
  ])('%s: a connection dropped mid-file continues from the byte reached; cached bytes equal the file; later reads hit the cache', async (_n, make) => {
    const cache = make();
    const src = await hub(REPO, undefined, { cache });
    mock.setFaults([{ kind: 'drop', afterBytes: 5000, times: 1, repo: REPO, path: FILE }]);
    const events: DownloadProgress[] = [];
    await src.download(FILE, { onProgress: (p) => events.push(p) });
    progressChecks(events, fileBytes.length);
    expect(rangeStarts(FILE)).toEqual([`bytes=0-${fileBytes.length - 1}`, `bytes=5000-${fileBytes.length - 1}`]);

    const key = cacheKey(REPO, src.revision, FILE);
    expect(await cache.stat(key)).toEqual({ bytes: fileBytes.length, complete: true });
    const cached = (await cache.openComplete(key, FILE))!;
    expect(sameBytes(await cached.read(0, cached.size), fileBytes)).toBe(true);

    mock.requests.length = 0;
    const f = await src.open(FILE);
    expect(sameBytes(await f.read(100, 500), fileBytes.subarray(100, 600))).toBe(true);
    expect(mock.requests).toEqual([]); // size from the pinned listing, bytes from the cache
    const ckpt = await openCheckpoint(src);
    expect(ckpt.tensors.size).toBe(26);
    // Only config.json (read for the first time, then cached) is fetched; the weights come from the cache.
    expect(mock.requests.map((r) => r.url)).toEqual([`/${REPO}/resolve/${src.revision}/config.json`]);

    // Downloading again is a no-op; so is opening the checkpoint again.
    mock.requests.length = 0;
    await src.download(FILE);
    await openCheckpoint(src);
    expect(mock.requests).toEqual([]);
  });

  it('a connection that keeps dropping: each retry continues from the byte reached; after the last one the partial stays and the next download() continues from it', async () => {
    const cache = nodeCacheStore(mkdtempSync(join(cacheRoot, 'r-')));
    const src: HubSource = await hub(REPO, undefined, { cache });
    const key = cacheKey(REPO, src.revision, FILE);
    const end = fileBytes.length - 1;
    mock.setFaults([{ kind: 'drop', afterBytes: 3000, times: MAX_ATTEMPTS, repo: REPO, path: FILE }]);
    const first = await rejection(src.download(FILE));
    expect(first).toBeInstanceOf(HubError);
    expect((first as HubError).retryable).toBe(true);
    expect(first.message).toBe(`${REPO}: network error talking to the Hub (terminated). Check your connection and the endpoint, then retry.`);
    expect(rangeStarts(FILE)).toEqual([0, 3000, 6000, 9000, 12000].map((o) => `bytes=${o}-${end}`));
    expect(await cache.stat(key)).toEqual({ bytes: MAX_ATTEMPTS * 3000, complete: false });
    expect(await cache.openComplete(key, FILE)).toBeUndefined();

    mock.clearFaults();
    mock.requests.length = 0;
    const events: DownloadProgress[] = [];
    await src.download(FILE, { onProgress: (p) => events.push(p) });
    expect(rangeStarts(FILE)).toEqual([`bytes=${MAX_ATTEMPTS * 3000}-${end}`]);
    progressChecks(events, fileBytes.length, MAX_ATTEMPTS * 3000);
    expect(await cache.stat(key)).toEqual({ bytes: fileBytes.length, complete: true });
    const cached = (await cache.openComplete(key, FILE))!;
    expect(sameBytes(await cached.read(0, cached.size), fileBytes)).toBe(true);
  }, 20_000);

  it('with a cache, header and config reads are kept: a second source of the commit asks only for the revision, a commit-pinned one asks nothing', async () => {
    const cache = nodeCacheStore(mkdtempSync(join(cacheRoot, 'h-')));
    const first = await hub(SHARDED, undefined, { cache });
    const summary = summarizeCheckpoint(await openCheckpoint(first));
    const weightGets = mock.requests.filter((r) => r.url.endsWith('.safetensors'));
    expect(weightGets.length).toBe(2 * 3); // 8-byte length + JSON header, per shard
    mock.requests.length = 0;

    const again = await hub(SHARDED, undefined, { cache });
    expect(summarizeCheckpoint(await openCheckpoint(again))).toEqual(summary);
    expect(mock.requests.map((r) => r.url.split('?')[0])).toEqual([`/api/models/${SHARDED}/revision/HEAD`]);
    mock.requests.length = 0;

    const pinned = await hub(SHARDED, first.revision, { cache });
    expect(summarizeCheckpoint(await openCheckpoint(pinned))).toEqual(summary);
    expect(mock.requests).toEqual([]);
    // Without the cache the same pin is looked up (one request) and the files listed again.
    await hub(SHARDED, first.revision);
    expect(mock.requests.length).toBe(1);
  });

  it('downloadWholeFiles: the first tensor read downloads the file once (concurrent reads share it), with progress; later reads are local', async () => {
    const cache = nodeCacheStore(mkdtempSync(join(cacheRoot, 'w-')));
    const events: DownloadProgress[] = [];
    const src = await hub(REPO, undefined, { cache, downloadWholeFiles: true, onProgress: (p) => events.push(p) });
    const ckpt = await openCheckpoint(src);
    const names = [...ckpt.tensors.keys()].filter((n) => n.includes('mlp'));
    const headerEnd = 8 + ckpt.shards[0].headerLength;
    mock.requests.length = 0;
    const reads = await Promise.all(names.map((n) => ckpt.readTensorBytes(n)));
    for (const [i, n] of names.entries()) {
      const t = ckpt.tensors.get(n)!;
      expect(sameBytes(reads[i], fileBytes.subarray(t.byteOffset, t.byteOffset + t.byteLength)), n).toBe(true);
    }
    expect(rangeStarts(FILE)).toEqual([`bytes=${headerEnd}-${fileBytes.length - 1}`]); // the rest of the file, once
    progressChecks(events, fileBytes.length, headerEnd);
    mock.requests.length = 0;
    await ckpt.readTensorBytes('model.embed_tokens.weight');
    expect(mock.requests).toEqual([]);
  });

  it('a cached file of the wrong size and a damaged cached listing are dropped and fetched again', async () => {
    const dir = mkdtempSync(join(cacheRoot, 'd-'));
    const cache = nodeCacheStore(dir);
    const src = await hub(REPO, undefined, { cache });
    await src.download(FILE);
    const key = cacheKey(REPO, src.revision, FILE);
    writeFileSync(join(dir, key), fileBytes.subarray(0, 1000)); // truncated behind the cache's back
    writeFileSync(join(dir, listingKey(REPO, src.revision)), '{ not json');
    mock.requests.length = 0;
    const again = await hub(REPO, src.revision, { cache });
    const f = await again.open(FILE);
    expect(sameBytes(await f.read(2000, 100), fileBytes.subarray(2000, 2100))).toBe(true);
    expect(mock.requests.map((r) => r.url.split('?')[0])).toEqual([
      `/api/models/${REPO}/revision/${src.revision}`,
      `/api/models/${REPO}/tree/${src.revision}`,
      `/${REPO}/resolve/${src.revision}/${FILE}`, // not a header-sized read: a ranged read, not cached (no downloadWholeFiles)
    ]);
    expect(await cache.stat(key)).toEqual({ bytes: 0, complete: false });
  });

  it('a full storage quota is a StorageQuotaError saying what is needed and what the browser reports', async () => {
    const inner = memoryCacheStore();
    let writes = 0;
    const cache: CacheStore = {
      ...inner,
      async openAppender(key) {
        const a = await inner.openAppender(key);
        if (!a) return a;
        return {
          ...a,
          offset: a.offset,
          async write(chunk) {
            if (++writes > 2) throw Object.assign(new Error('x'), { name: 'QuotaExceededError' });
            return a.write(chunk);
          },
        };
      },
      estimate: async () => ({ usage: 1024 * 1024, quota: 2 * 1024 * 1024 }),
    };
    const size = fileBytes.length;
    // Bytes arrive in 4096-byte pieces; the third does not fit.
    const readRange = async (o: number, l: number, sink: (c: Uint8Array) => Promise<void>) => {
      for (let p = o; p < o + l; p += 4096) await sink(fileBytes.subarray(p, Math.min(p + 4096, o + l)));
    };
    const e = await rejection(downloadWithResume({ key: 'q', path: FILE, size, store: cache, readRange }));
    expect(e).toBeInstanceOf(StorageQuotaError);
    const needed = size - 2 * 4096;
    expect((e as StorageQuotaError).neededBytes).toBe(needed);
    expect(e.message).toBe(
      `Not enough storage to cache ${FILE}: it needs ${formatBytes(needed)} more. The browser reports 1.0 MiB used of a 2.0 MiB quota ` +
        `(navigator.storage.estimate()). Free space, clear the studio's cache in Settings, or drop the files from disk instead.`,
    );
    expect(formatBytes(needed)).toBe('12.8 KiB');
    expect(await inner.stat('q')).toEqual({ bytes: 8192, complete: false });
  });

  it('download() without a cache is a StudioError', async () => {
    const src = await hub(REPO);
    const e = await rejection(src.download(FILE));
    expect(e).toBeInstanceOf(StudioError);
    expect(e.message).toBe('No download cache is configured.');
  });
});
