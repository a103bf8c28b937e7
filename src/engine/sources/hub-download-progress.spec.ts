import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { makeFixtureDir, type FixtureDir } from '../../../test-support/fixture-dir.ts';
import { startMockHub, type MockHub } from '../../../test-support/mock-hub/server.ts';
import { rejection } from '../../../test-support/rejection.ts';
import { HubError } from '../errors.ts';
import { cacheKey } from './cache/cache-store.ts';
import { MAX_ATTEMPTS } from './cache/download-with-resume.ts';
import { nodeCacheStore } from './cache/node-cache-store.ts';
import type { DownloadProgress } from './cache/progress.ts';
import { openHubSource } from './hub-source.ts';

/**
 * Download progress moves as bytes arrive, not once per ranged request: the fixture file
 * (about 30 KB) is a single request, served slowly by the mock Hub.
 */
const REPO = 'studio-fixtures/tiny-qwen2-target';
const FILE = 'model.safetensors';

let fx: FixtureDir;
let mock: MockHub;
let cacheRoot: string;
let fileBytes: Buffer;

beforeAll(async () => {
  fx = makeFixtureDir();
  cacheRoot = mkdtempSync(join(tmpdir(), 'hub-progress-'));
  fileBytes = readFileSync(join(fx.model('tiny-qwen2-target'), FILE));
  mock = await startMockHub({ repos: { [REPO]: fx.model('tiny-qwen2-target') } });
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

const cache = () => nodeCacheStore(mkdtempSync(join(cacheRoot, 'c-')));
const source = (store = cache()) => openHubSource(REPO, undefined, { hubUrl: mock.url, cache: store });
/** GETs of the file's bytes (not the client's one-byte probe for its size). */
const fileGets = () => mock.requests.filter((r) => r.method === 'GET' && r.url.endsWith(`/${FILE}`) && r.range !== 'bytes=0-0');

it('a slow single-request download reports bytes as they arrive, in order, ending at the file size', async () => {
  const src = await source();
  // 20 kB/s in 1 kB network pieces: about 1.5 s for the one ranged read.
  mock.setFaults([{ kind: 'slow', delayMs: 0, bytesPerSecond: 20_000, path: FILE }]);
  const events: DownloadProgress[] = [];
  await src.download(FILE, { onProgress: (p) => events.push(p) });

  const done = events.map((e) => e.bytesDone);
  expect(done[0]).toBe(0);
  expect(done.at(-1)).toBe(fileBytes.length);
  for (let i = 1; i < done.length; i++) expect(done[i]).toBeGreaterThan(done[i - 1]);
  const between = done.filter((b) => b > 0 && b < fileBytes.length);
  expect(between.length).toBeGreaterThanOrEqual(5);
  expect(fileGets()).toHaveLength(1); // one request: the updates came from inside it
  expect(events.at(-1)!.bytesPerSecond).toBeGreaterThan(0);
});

it('a dropped connection mid-transfer: after the retry, progress has never run backwards and the bytes are right', async () => {
  const src = await source();
  mock.setFaults([
    { kind: 'drop', afterBytes: 12_000, times: 1, path: FILE },
    { kind: 'slow', delayMs: 0, bytesPerSecond: 20_000, path: FILE },
  ]);
  const events: DownloadProgress[] = [];
  await src.download(FILE, { onProgress: (p) => events.push(p) });
  const done = events.map((e) => e.bytesDone);
  for (let i = 1; i < done.length; i++) expect(done[i]).toBeGreaterThan(done[i - 1]);
  expect(done.some((b) => b > 0 && b <= 12_000)).toBe(true); // seen before the drop
  expect(done.at(-1)).toBe(fileBytes.length);
  expect(fileGets()).toHaveLength(2);
  const cache = await src.open(FILE);
  expect(Buffer.from(await cache.read(0, cache.size)).equals(fileBytes)).toBe(true);
});

it('an HTTP 500 during a download is a retryable HubError with its status, even though the body is streamed', async () => {
  const store = cache();
  const src = await source(store);
  await (await src.open(FILE)).read(0, 8); // the file is known; only the download's reads fail
  const key = cacheKey(REPO, src.revision, FILE);
  const before = await store.stat(key);
  mock.setFaults([{ kind: 'status', status: 500, path: FILE }]);
  const e = await rejection(src.download(FILE));
  expect(e).toBeInstanceOf(HubError);
  expect((e as HubError).status).toBe(500);
  expect((e as HubError).retryable).toBe(true);
  expect((e as HubError).message).toContain('HTTP 500');
  expect(await store.stat(key)).toEqual({ ...before, complete: false }); // nothing added, nothing lost
  expect(fileGets().length).toBeGreaterThanOrEqual(1 + MAX_ATTEMPTS); // the 8-byte read, then every attempt
}, 20_000);
