import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { datasetInfo, downloadFile, fileDownloadInfo, HubApiError, listFiles, modelInfo, type ListFileEntry } from '@huggingface/hub';
import { startMockHub, type MockHub } from './server.ts';

const REPO = 'test/tiny';
const GATED = 'test/gated';
const TOKEN = 'hf_mock_gated_token';

let tmp: string;
let mock: MockHub;
const model = randomBytes(300 * 1024);
const config = Buffer.from(JSON.stringify({ architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2' }));
const nested = Buffer.from('nested file\n');

const gitBlobSha1 = (b: Buffer) => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

async function rejection(p: Promise<unknown>): Promise<HubApiError> {
  try {
    await p;
  } catch (e) {
    return e as HubApiError;
  }
  throw new Error('expected a rejection');
}

/** Reads a stream to the end or to its error; returns the bytes seen and the error. */
async function drain(stream: ReadableStream<Uint8Array>): Promise<{ bytes: Buffer; error?: unknown }> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { bytes: Buffer.concat(chunks) };
      chunks.push(value);
    }
  } catch (error) {
    return { bytes: Buffer.concat(chunks), error };
  }
}

/** Byte equality without vitest's slow element-wise diff of large buffers. */
function expectBytes(actual: ArrayBuffer | Uint8Array, expected: Uint8Array) {
  const a = Buffer.from(actual instanceof ArrayBuffer ? new Uint8Array(actual) : actual);
  expect(a.length).toBe(expected.length);
  expect(a.equals(expected)).toBe(true);
}

const resolveUrl = (repo: string, path: string, rev = 'main') => `${mock.url}/${repo}/resolve/${rev}/${path}`;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'mock-hub-'));
  const dir = join(tmp, 'tiny');
  mkdirSync(join(dir, 'sub'), { recursive: true });
  writeFileSync(join(dir, 'config.json'), config);
  writeFileSync(join(dir, 'model.safetensors'), model);
  writeFileSync(join(dir, 'sub', 'file.txt'), nested);
  writeFileSync(join(tmp, 'secret.txt'), 'outside the repo');
  mock = await startMockHub({ repos: { [REPO]: dir, [GATED]: dir }, gated: { [GATED]: TOKEN } });
});

afterAll(async () => {
  await mock?.close();
  rmSync(tmp, { recursive: true, force: true });
});

beforeEach(() => mock.clearFaults());

describe('model info and revisions', () => {
  it('returns info with a deterministic 40-hex sha that matches X-Repo-Commit', async () => {
    const info = await modelInfo({ name: REPO, hubUrl: mock.url, additionalFields: ['sha'] });
    expect(info.name).toBe(REPO);
    expect(info.sha).toMatch(/^[0-9a-f]{40}$/);
    expect(info.gated).toBe(false);
    expect(info.updatedAt).toBeInstanceOf(Date);
    const head = await fetch(resolveUrl(REPO, 'config.json'), { method: 'HEAD' });
    expect(head.headers.get('x-repo-commit')).toBe(info.sha);
    // same content served under another name → same sha
    const again = await modelInfo({ name: GATED, hubUrl: mock.url, additionalFields: ['sha'] });
    expect(again.sha).toBe(info.sha);
  });

  it('accepts main, HEAD and the full sha; rejects other revisions with RevisionNotFound', async () => {
    const { sha } = await modelInfo({ name: REPO, hubUrl: mock.url, additionalFields: ['sha'] });
    for (const revision of ['main', 'HEAD', sha]) {
      expect((await modelInfo({ name: REPO, hubUrl: mock.url, revision })).name).toBe(REPO);
    }
    const blob = await downloadFile({ repo: REPO, path: 'config.json', revision: sha, hubUrl: mock.url });
    expectBytes(await blob!.arrayBuffer(), config);

    const err = await rejection(modelInfo({ name: REPO, hubUrl: mock.url, revision: 'v1.0' }));
    expect(err).toBeInstanceOf(HubApiError);
    expect(err.statusCode).toBe(404);
    expect(err.message).toContain('Invalid rev id: v1.0');
    const res = await fetch(resolveUrl(REPO, 'config.json', 'deadbeef'));
    expect(res.status).toBe(404);
    expect(res.headers.get('x-error-code')).toBe('RevisionNotFound');
  });

  it('answers 404 RepoNotFound for an unknown repo', async () => {
    const err = await rejection(modelInfo({ name: 'nobody/nothing', hubUrl: mock.url }));
    expect(err).toBeInstanceOf(HubApiError);
    expect(err.statusCode).toBe(404);
    expect(err.message).toContain('Repository not found');
    const listErr = await rejection(all(listFiles({ repo: 'nobody/nothing', hubUrl: mock.url })));
    expect(listErr.statusCode).toBe(404);
    const res = await fetch(resolveUrl('nobody/nothing', 'config.json'));
    expect(res.headers.get('x-error-code')).toBe('RepoNotFound');
    expect(await res.json()).toEqual({ error: 'Repository not found' });
  });
});

describe('tree listing', () => {
  it('lists files recursively with git and LFS oids', async () => {
    const files = await all(listFiles({ repo: REPO, hubUrl: mock.url, recursive: true }));
    const byPath = Object.fromEntries(files.map((f) => [f.path, f]));
    expect(Object.keys(byPath).sort()).toEqual(['config.json', 'model.safetensors', 'sub', 'sub/file.txt']);
    expect(byPath['sub'].type).toBe('directory');
    expect(byPath['config.json']).toEqual({ type: 'file', path: 'config.json', size: config.length, oid: gitBlobSha1(config) });
    expect(byPath['sub/file.txt'].oid).toBe(gitBlobSha1(nested));
    const st = byPath['model.safetensors'];
    expect(st.size).toBe(model.length);
    expect(st.lfs).toEqual({ oid: sha256(model), size: model.length, pointerSize: expect.any(Number) });
    const pointer = `version https://git-lfs.github.com/spec/v1\noid sha256:${sha256(model)}\nsize ${model.length}\n`;
    expect(st.lfs!.pointerSize).toBe(pointer.length);
    expect(st.oid).toBe(gitBlobSha1(Buffer.from(pointer)));
  });

  it('lists one level, with directories, when not recursive; and a sub folder', async () => {
    const top = await all(listFiles({ repo: REPO, hubUrl: mock.url }));
    expect(top.map((f) => [f.type, f.path])).toEqual([
      ['file', 'config.json'],
      ['file', 'model.safetensors'],
      ['directory', 'sub'],
    ]);
    const sub = await all(listFiles({ repo: REPO, hubUrl: mock.url, path: 'sub' }));
    expect(sub.map((f) => f.path)).toEqual(['sub/file.txt']);
  });

  it('paginates through Link: rel="next"', async () => {
    const dir = join(tmp, 'many');
    mkdirSync(dir, { recursive: true });
    for (let i = 0; i < 7; i++) writeFileSync(join(dir, `f${i}.txt`), `file ${i}`);
    const small = await startMockHub({ repos: { 'test/many': dir }, treePageSize: 3 });
    try {
      const files: ListFileEntry[] = await all(listFiles({ repo: 'test/many', hubUrl: small.url, recursive: true }));
      expect(files.map((f) => f.path)).toEqual([0, 1, 2, 3, 4, 5, 6].map((i) => `f${i}.txt`));
      const pages = small.requests.filter((r) => r.url.includes('/tree/'));
      expect(pages).toHaveLength(3);
      expect(pages.every((p) => p.status === 200)).toBe(true);
      expect(pages[1].url).toContain('cursor=3');
    } finally {
      await small.close();
    }
  });
});

describe('file downloads', () => {
  it('downloads, slices and streams exact bytes', async () => {
    const blob = await downloadFile({ repo: REPO, path: 'model.safetensors', hubUrl: mock.url });
    expect(blob).not.toBeNull();
    expect(blob!.size).toBe(model.length);
    expectBytes(await blob!.arrayBuffer(), model);
    expectBytes(await blob!.slice(1000, 5000).arrayBuffer(), model.subarray(1000, 5000));
    const ranged = mock.requests.filter((r) => r.range === 'bytes=1000-4999');
    expect(ranged.at(-1)?.status).toBe(206);
    expectBytes(await blob!.slice(model.length - 10).arrayBuffer(), model.subarray(-10));
    const streamed = await drain(blob!.stream());
    expect(streamed.error).toBeUndefined();
    expectBytes(streamed.bytes, model);
    const sub = await downloadFile({ repo: REPO, path: 'sub/file.txt', hubUrl: mock.url });
    expect(await sub!.text()).toBe(nested.toString());
  });

  it('returns download info, and null for a missing file', async () => {
    const info = await fileDownloadInfo({ repo: REPO, path: 'model.safetensors', hubUrl: mock.url });
    expect(info).toMatchObject({ size: model.length, etag: `"${sha256(model)}"` });
    expect(await fileDownloadInfo({ repo: REPO, path: 'nope.bin', hubUrl: mock.url })).toBeNull();
    expect(await downloadFile({ repo: REPO, path: 'sub/nope.txt', hubUrl: mock.url })).toBeNull();
    const res = await fetch(resolveUrl(REPO, 'nope.bin'));
    expect(res.status).toBe(404);
    expect(res.headers.get('x-error-code')).toBe('EntryNotFound');
    expect(await res.json()).toEqual({ error: 'Entry not found' });
  });

  it('handles Range edge cases', async () => {
    const n = model.length;
    const last = await fetch(resolveUrl(REPO, 'model.safetensors'), { headers: { Range: `bytes=${n - 1}-${n - 1}` } });
    expect(last.status).toBe(206);
    expect(last.headers.get('content-range')).toBe(`bytes ${n - 1}-${n - 1}/${n}`);
    expect(last.headers.get('content-length')).toBe('1');
    expectBytes(await last.arrayBuffer(), model.subarray(n - 1));

    const open = await fetch(resolveUrl(REPO, 'model.safetensors'), { headers: { Range: 'bytes=1000-' } });
    expect(open.status).toBe(206);
    expect(open.headers.get('content-range')).toBe(`bytes 1000-${n - 1}/${n}`);
    expectBytes(await open.arrayBuffer(), model.subarray(1000));

    const past = await fetch(resolveUrl(REPO, 'model.safetensors'), { headers: { Range: `bytes=${n - 5}-${n + 100}` } });
    expect(past.status).toBe(206);
    expectBytes(await past.arrayBuffer(), model.subarray(n - 5));

    const bad = await fetch(resolveUrl(REPO, 'model.safetensors'), { headers: { Range: `bytes=${n}-` } });
    expect(bad.status).toBe(416);
    expect(bad.headers.get('content-range')).toBe(`bytes */${n}`);
    await bad.body?.cancel();

    const full = await fetch(resolveUrl(REPO, 'config.json'));
    expect(full.status).toBe(200);
    expect(full.headers.get('accept-ranges')).toBe('bytes');
    expect(full.headers.get('content-type')).toBe('application/octet-stream');
    expect(full.headers.get('etag')).toBe(`"${gitBlobSha1(config)}"`);
    expectBytes(await full.arrayBuffer(), config);

    const head = await fetch(resolveUrl(REPO, 'model.safetensors'), { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(n));
  });

  it('never serves files outside the repo folder', async () => {
    const status = (path: string) =>
      new Promise<number>((resolve, reject) => {
        const u = new URL(mock.url);
        httpRequest({ host: u.hostname, port: u.port, path }, (res) => (res.resume(), resolve(res.statusCode!)))
          .on('error', reject)
          .end();
      });
    expect(await status(`/${REPO}/resolve/main/../secret.txt`)).toBe(400);
    expect(await status(`/${REPO}/resolve/main/sub/../../secret.txt`)).toBe(400);
    expect(await status(`/${REPO}/resolve/main/..%2Fsecret.txt`)).toBe(400);
    expect(await status(`/api/models/${REPO}/tree/main/..`)).toBe(400);
  });
});

describe('gated repos', () => {
  it('refuses downloads without the token (401 GatedRepo) and serves them with it', async () => {
    const err = await rejection(downloadFile({ repo: GATED, path: 'config.json', hubUrl: mock.url }));
    expect(err).toBeInstanceOf(HubApiError);
    expect(err.statusCode).toBe(401);
    expect(err.message).toContain(`Access to model ${GATED} is restricted`);
    const wrong = await rejection(downloadFile({ repo: GATED, path: 'config.json', hubUrl: mock.url, accessToken: 'hf_wrong' }));
    expect(wrong.statusCode).toBe(401);
    const res = await fetch(resolveUrl(GATED, 'config.json'));
    expect(res.headers.get('x-error-code')).toBe('GatedRepo');
    await res.body?.cancel();

    const blob = await downloadFile({ repo: GATED, path: 'model.safetensors', hubUrl: mock.url, accessToken: TOKEN });
    expectBytes(await blob!.arrayBuffer(), model);
    expectBytes(await blob!.slice(10, 20).arrayBuffer(), model.subarray(10, 20));
  });

  it('keeps metadata public like the real Hub, reporting gated: "manual"', async () => {
    const info = await modelInfo({ name: GATED, hubUrl: mock.url });
    expect(info.gated).toBe('manual');
    const files = await all(listFiles({ repo: GATED, hubUrl: mock.url }));
    expect(files.length).toBeGreaterThan(0);
  });

  it('never logs a token', async () => {
    await modelInfo({ name: GATED, hubUrl: mock.url, accessToken: TOKEN });
    await fetch(`${mock.url}/api/models/${GATED}?token=${TOKEN}`).then((r) => r.body?.cancel());
    expect(mock.requests.some((r) => r.auth)).toBe(true);
    expect(JSON.stringify(mock.requests)).not.toContain(TOKEN);
    const remote = await (await fetch(`${mock.url}/__mock/requests`)).text();
    expect(remote).not.toContain(TOKEN);
    expect(remote).not.toContain('hf_wrong');
  });
});

describe('faults', () => {
  it('answers status faults, filtered by repo and path', async () => {
    mock.setFaults([{ kind: 'status', status: 500, repo: REPO, path: 'config.json' }]);
    const err = await rejection(downloadFile({ repo: REPO, path: 'config.json', hubUrl: mock.url }));
    expect(err.statusCode).toBe(500);
    expect(err.message).toContain('Internal Error');
    expect(await downloadFile({ repo: REPO, path: 'sub/file.txt', hubUrl: mock.url })).not.toBeNull();
    expect(await modelInfo({ name: REPO, hubUrl: mock.url })).toBeTruthy();

    mock.setFaults([{ kind: 'status', status: 401, repo: REPO }]);
    const unauth = await rejection(modelInfo({ name: REPO, hubUrl: mock.url }));
    expect(unauth.statusCode).toBe(401);
    expect(unauth.message).toContain('is restricted');

    mock.setFaults([{ kind: 'status', status: 404, path: 'config.json' }]);
    expect(await fileDownloadInfo({ repo: REPO, path: 'config.json', hubUrl: mock.url })).toBeNull();

    mock.clearFaults();
    expect(await fileDownloadInfo({ repo: REPO, path: 'config.json', hubUrl: mock.url })).not.toBeNull();
  });

  it('delays responses and throttles bodies', async () => {
    mock.setFaults([{ kind: 'slow', delayMs: 300, repo: REPO }]);
    let t0 = performance.now();
    await modelInfo({ name: REPO, hubUrl: mock.url });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(280);

    mock.setFaults([{ kind: 'slow', delayMs: 0, bytesPerSecond: 100_000, path: 'model.safetensors' }]);
    t0 = performance.now();
    const res = await fetch(resolveUrl(REPO, 'model.safetensors'), { headers: { Range: 'bytes=0-49999' } });
    expectBytes(await res.arrayBuffer(), model.subarray(0, 50_000));
    expect(performance.now() - t0).toBeGreaterThanOrEqual(400); // 50 kB at 100 kB/s

    t0 = performance.now();
    await fetch(resolveUrl(REPO, 'config.json')).then((r) => r.arrayBuffer());
    expect(performance.now() - t0).toBeLessThan(200); // path filter: other files are fast
  });

  it('drops the connection mid-body after exactly afterBytes, then recovers', async () => {
    mock.setFaults([{ kind: 'drop', afterBytes: 100_000, repo: REPO, path: 'model.safetensors' }]);
    const blob = await downloadFile({ repo: REPO, path: 'model.safetensors', hubUrl: mock.url }); // 1-byte probe passes
    const broken = await drain(blob!.stream());
    expect(broken.error).toBeDefined();
    expect(broken.bytes.length).toBe(100_000);
    expectBytes(broken.bytes, model.subarray(0, 100_000));

    const again = await drain(blob!.stream());
    expect(again.error).toBeUndefined();
    expectBytes(again.bytes, model);
  });

  it('drops `times` responses, also right after the headers', async () => {
    mock.setFaults([{ kind: 'drop', afterBytes: 0, times: 2, path: 'config.json' }]);
    for (let i = 0; i < 2; i++) {
      const res = await fetch(resolveUrl(REPO, 'config.json'));
      expect(res.status).toBe(200);
      await expect(res.arrayBuffer()).rejects.toThrow();
    }
    const ok = await fetch(resolveUrl(REPO, 'config.json'));
    expectBytes(await ok.arrayBuffer(), config);
  });

  it('is controllable over HTTP for out-of-process e2e tests', async () => {
    const set = await fetch(`${mock.url}/__mock/faults`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify([{ kind: 'status', status: 500 }]),
    });
    expect(set.status).toBe(200);
    await set.body?.cancel();
    expect((await rejection(modelInfo({ name: REPO, hubUrl: mock.url }))).statusCode).toBe(500);
    const invalid = await fetch(`${mock.url}/__mock/faults`, { method: 'POST', body: '{"kind":"nope"}' });
    expect(invalid.status).toBe(400);
    await invalid.body?.cancel();
    await fetch(`${mock.url}/__mock/faults`, { method: 'DELETE' }).then((r) => r.body?.cancel());
    expect((await modelInfo({ name: REPO, hubUrl: mock.url })).name).toBe(REPO);
    const log = (await (await fetch(`${mock.url}/__mock/requests`)).json()) as MockHub['requests'];
    expect(log.some((r) => r.status === 500 && r.url.startsWith(`/api/models/${REPO}/revision/HEAD`))).toBe(true);
    expect(log.some((r) => r.url.startsWith('/__mock'))).toBe(false);
  });
});

describe('CORS', () => {
  it('answers preflights', async () => {
    const res = await fetch(resolveUrl(REPO, 'model.safetensors'), {
      method: 'OPTIONS',
      headers: {
        Origin: 'http://localhost:5173',
        'Access-Control-Request-Method': 'GET',
        'Access-Control-Request-Headers': 'authorization,range',
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    const allowHeaders = res.headers.get('access-control-allow-headers')!.toLowerCase();
    for (const h of ['authorization', 'range', 'accept', 'content-type']) expect(allowHeaders).toContain(h);
    expect(res.headers.get('access-control-allow-methods')).toBe('GET, HEAD, POST, OPTIONS');
  });

  it('sends CORS headers on success and error responses', async () => {
    for (const url of [resolveUrl(REPO, 'config.json'), resolveUrl(REPO, 'missing'), `${mock.url}/api/models/x/y`]) {
      const res = await fetch(url, { headers: { Origin: 'http://localhost:5173' } });
      await res.body?.cancel();
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
      const exposed = res.headers.get('access-control-expose-headers')!;
      for (const h of ['Content-Range', 'ETag', 'X-Repo-Commit', 'X-Error-Code', 'Link', 'X-Linked-ETag']) expect(exposed).toContain(h);
    }
  });
});

describe('dataset repos', () => {
  const DS = 'test/dataset';
  const DS_TOKEN = 'hf_mock_dataset_token';
  const card = '---\nconfigs:\n- config_name: main\n  data_files:\n  - split: test\n    path: main/test-*\n---\n# A dataset\n';
  const mainShard = randomBytes(5000);
  const converted = randomBytes(3000);
  let hub: MockHub;

  beforeAll(async () => {
    const main = join(tmp, 'ds-main');
    const conv = join(tmp, 'ds-conv');
    mkdirSync(join(main, 'main'), { recursive: true });
    mkdirSync(join(conv, 'main', 'test'), { recursive: true });
    writeFileSync(join(main, 'README.md'), card);
    writeFileSync(join(main, 'main', 'test-00000-of-00001.parquet'), mainShard);
    writeFileSync(join(conv, 'main', 'test', '0000.parquet'), converted);
    hub = await startMockHub({
      repos: { [DS]: join(tmp, 'tiny') },
      datasets: { [DS]: { main, refs: { 'refs/convert/parquet': conv } }, 'test/gated-ds': main },
      gated: { 'datasets/test/gated-ds': DS_TOKEN },
    });
  });
  afterAll(() => hub?.close());

  it('answers datasetInfo with the commit and the README front matter as cardData', async () => {
    const info = await datasetInfo({ name: DS, hubUrl: hub.url, additionalFields: ['sha', 'cardData'] });
    expect(info.name).toBe(DS);
    expect(info.sha).toMatch(/^[0-9a-f]{40}$/);
    expect(info.cardData).toEqual({ configs: [{ config_name: 'main', data_files: [{ split: 'test', path: 'main/test-*' }] }] });
    expect(hub.requests.at(-1)?.url).toMatch(/^\/api\/datasets\/test\/dataset\/revision\/HEAD\?/);
    // The model repo of the same name is another repo.
    expect((await modelInfo({ name: DS, hubUrl: hub.url, additionalFields: ['sha'] })).sha).not.toBe(info.sha);
  });

  it('serves refs/convert/parquet by name and by its commit, apart from main', async () => {
    const main = (await datasetInfo({ name: DS, hubUrl: hub.url, revision: 'main', additionalFields: ['sha'] })).sha;
    const conv = (await datasetInfo({ name: DS, hubUrl: hub.url, revision: 'refs/convert/parquet', additionalFields: ['sha'] })).sha;
    expect(conv).toMatch(/^[0-9a-f]{40}$/);
    expect(conv).not.toBe(main);
    expect(hub.requests.at(-1)?.url).toContain('/revision/refs%2Fconvert%2Fparquet?');
    const repo = { type: 'dataset' as const, name: DS };
    const mainFiles = await all(listFiles({ repo, hubUrl: hub.url, revision: main, recursive: true }));
    expect(mainFiles.filter((f) => f.type === 'file').map((f) => f.path)).toEqual(['README.md', 'main/test-00000-of-00001.parquet']);
    const shard = mainFiles.find((f) => f.path.endsWith('.parquet'))!;
    expect(shard.lfs).toEqual({ oid: sha256(mainShard), size: mainShard.length, pointerSize: expect.any(Number) });
    const convFiles = await all(listFiles({ repo, hubUrl: hub.url, revision: conv, recursive: true }));
    expect(convFiles.filter((f) => f.type === 'file').map((f) => f.path)).toEqual(['main/test/0000.parquet']);

    const blob = await downloadFile({ repo, path: 'main/test/0000.parquet', revision: conv, hubUrl: hub.url });
    expectBytes(await blob!.arrayBuffer(), converted);
    expectBytes(await blob!.slice(100, 200).arrayBuffer(), converted.subarray(100, 200));
    expect(hub.requests.some((r) => r.url === `/datasets/${DS}/resolve/${conv}/main/test/0000.parquet` && r.status === 206)).toBe(true);
    const head = await fetch(`${hub.url}/datasets/${DS}/resolve/refs%2Fconvert%2Fparquet/main/test/0000.parquet`, { method: 'HEAD' });
    expect(head.headers.get('x-repo-commit')).toBe(conv);
    // A file of one ref is not in the other.
    expect(await downloadFile({ repo, path: 'main/test/0000.parquet', revision: main, hubUrl: hub.url })).toBeNull();
    const err = await rejection(datasetInfo({ name: DS, hubUrl: hub.url, revision: 'refs/pr/1' }));
    expect(err.statusCode).toBe(404);
    expect(err.message).toContain('Invalid rev id: refs/pr/1');
  });

  it('gates a dataset by its datasets/ key, with the Hub\'s wording; metadata stays public', async () => {
    const repo = { type: 'dataset' as const, name: 'test/gated-ds' };
    const info = await datasetInfo({ name: 'test/gated-ds', hubUrl: hub.url });
    expect(info.gated).toBe('manual');
    const err = await rejection(downloadFile({ repo, path: 'README.md', hubUrl: hub.url }));
    expect(err.statusCode).toBe(401);
    expect(err.message).toContain('Access to dataset test/gated-ds is restricted');
    const blob = await downloadFile({ repo, path: 'main/test-00000-of-00001.parquet', hubUrl: hub.url, accessToken: DS_TOKEN });
    expectBytes(await blob!.arrayBuffer(), mainShard);
    expect(JSON.stringify(hub.requests)).not.toContain(DS_TOKEN);
  });

  it('filters faults by the datasets/ key', async () => {
    hub.setFaults([{ kind: 'status', status: 500, repo: `datasets/${DS}` }]);
    try {
      expect((await rejection(datasetInfo({ name: DS, hubUrl: hub.url }))).statusCode).toBe(500);
      expect((await modelInfo({ name: DS, hubUrl: hub.url })).name).toBe(DS);
    } finally {
      hub.clearFaults();
    }
  });
});
