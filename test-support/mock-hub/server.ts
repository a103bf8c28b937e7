/**
 * A small local mock of the Hugging Face Hub HTTP API, enough for `@huggingface/hub`'s
 * `modelInfo`, `checkRepoAccess`, `listFiles`, `fileDownloadInfo` and `downloadFile` (WebBlob
 * ranged reads), with CORS for browser pages on another origin and fault injection.
 *
 * Routes (repo = "owner/name", rev = main | HEAD | <40-hex commit sha> | another ref the repo has,
 * URL-encoded as one segment, e.g. refs%2Fconvert%2Fparquet):
 *   GET       /api/models/{repo}                       model info at main (checkRepoAccess)
 *   GET       /api/models/{repo}/revision/{rev}        model info
 *   GET       /api/models/{repo}/tree/{rev}[/{dir}]    ?recursive=&cursor=  (Link: rel="next" pagination)
 *   GET|HEAD  /{repo}/resolve/{rev}/{path}             file bytes, single Range supported (also /raw/)
 *   GET       /api/datasets/{repo}[/revision/{rev}]    dataset info (datasetInfo): sha, and cardData parsed
 *                                                      from README.md's YAML front matter, as the Hub does
 *   GET       /api/datasets/{repo}/tree/{rev}[/{dir}]  as for models
 *   GET|HEAD  /datasets/{repo}/resolve/{rev}/{path}    as for models
 *   POST      /__mock/faults   (JSON MockFault[])      DELETE /__mock/faults
 *   GET       /__mock/requests                         DELETE /__mock/requests
 *
 * Like the real Hub, metadata (info, tree) of a gated repo is public; only file downloads need the token.
 * Dataset repos are keyed `datasets/owner/name` wherever a repo is named for gating or faults, so a
 * model and a dataset of the same name stay apart (as on the Hub, where their URLs differ).
 * Repo folders are re-read on every request (file hashes are cached by size/mtime), and `opts.repos`
 * is looked up live, so callers may mutate it while the server runs.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { parse as parseYaml } from 'yaml';

export interface MockHubOptions {
  /** "owner/name" → folder whose files are the repo content. */
  repos: Record<string, string>;
  /** 0 (default) = random free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /**
   * Dataset repos: "owner/name" → the folder of its main branch, or the folders of several refs
   * (a repo that keeps a loading script on main and its parquet under `refs/convert/parquet`).
   */
  datasets?: Record<string, string | MockRepoRefs>;
  /** "owner/name" (models) or "datasets/owner/name" → the only token that may download the repo's files. */
  gated?: Record<string, string>;
  /** Max entries per tree-listing page before a `Link: rel="next"` header is sent. Default 1000. */
  treePageSize?: number;
}

/** The refs of one repo: `main` and others by their full name (e.g. "refs/convert/parquet"), each a folder. */
export interface MockRepoRefs {
  main: string;
  refs?: Record<string, string>;
}

/** `repo` filters by "owner/name" for models and "datasets/owner/name" for datasets. */
export type MockFault =
  | { kind: 'status'; status: 401 | 404 | 500; repo?: string; path?: string }
  | { kind: 'slow'; delayMs: number; bytesPerSecond?: number; repo?: string; path?: string }
  | { kind: 'drop'; afterBytes: number; times?: number; repo?: string; path?: string };

export interface MockHub {
  url: string;
  close(): Promise<void>;
  setFaults(f: MockFault[]): void;
  clearFaults(): void;
  requests: Array<{ method: string; url: string; range?: string; auth: boolean; status: number }>;
}

type LogEntry = MockHub['requests'][number];

interface FileEntry {
  path: string;
  abs: string;
  size: number;
  lfs: boolean;
  sha256: string;
  /** git oid as listed in the tree: blob sha1 of the content, or of the LFS pointer for LFS files. */
  oid: string;
  pointerSize: number;
}

interface Snapshot {
  sha: string;
  files: Map<string, FileEntry>;
  dirs: Map<string, string>; // dir path → oid
}

type RepoType = 'model' | 'dataset';

/** `repo` is the key used for gating and faults: "owner/name", or "datasets/owner/name" for a dataset. */
type Route = { type: RepoType; id: string; repo: string; rev: string } & (
  | { kind: 'info'; path?: undefined }
  | { kind: 'tree'; path: string }
  | { kind: 'resolve'; path: string }
);

const LFS_EXT = /\.(safetensors|bin|pt|pth|ckpt|gguf|onnx|h5|msgpack|parquet)$/i;
const FIXED_DATE = '2024-01-01T00:00:00.000Z';
const CORS_HEADERS: Record<string, string> = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Expose-Headers':
    'Content-Range, Content-Length, ETag, X-Repo-Commit, X-Linked-Size, X-Linked-ETag, X-Error-Code, X-Request-Id, Link, Accept-Ranges',
};
const ALLOW_HEADERS = ['Authorization', 'Range', 'Accept', 'Content-Type'];

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

const gatedMessage = (type: RepoType, id: string) =>
  `Access to ${type} ${id} is restricted. You must have access to it and be authenticated to access it. Please log in.`;
const repoNotFound = () => new HttpError(404, 'Repository not found', 'RepoNotFound');
const entryNotFound = () => new HttpError(404, 'Entry not found', 'EntryNotFound');

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const sha1 = (data: string | Buffer) => createHash('sha1').update(data).digest('hex');

// ---------------------------------------------------------------------------------------------
// Repo snapshots

const hashCache = new Map<string, { key: string; hashes: Promise<{ sha256: string; blobSha1: string }> }>();

function hashFile(abs: string, size: number, key: string) {
  const cached = hashCache.get(abs);
  if (cached && cached.key === key) return cached.hashes;
  const hashes = new Promise<{ sha256: string; blobSha1: string }>((resolve, reject) => {
    const h256 = createHash('sha256');
    const h1 = createHash('sha1').update(`blob ${size}\0`);
    createReadStream(abs)
      .on('data', (c) => (h256.update(c), h1.update(c)))
      .on('error', reject)
      .on('end', () => resolve({ sha256: h256.digest('hex'), blobSha1: h1.digest('hex') }));
  });
  hashCache.set(abs, { key, hashes });
  hashes.catch(() => hashCache.delete(abs));
  return hashes;
}

/** Files below `root` (relative posix paths), skipping `.git` and symlinks so nothing outside is reachable. */
async function walk(root: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const d of await readdir(join(root, rel), { withFileTypes: true })) {
    const p = rel ? `${rel}/${d.name}` : d.name;
    if (d.isDirectory() && d.name !== '.git') out.push(...(await walk(root, p)));
    else if (d.isFile()) out.push(p);
  }
  return out;
}

async function snapshot(folder: string): Promise<Snapshot> {
  let paths: string[];
  try {
    paths = (await walk(folder)).sort();
  } catch {
    throw repoNotFound();
  }
  const files = new Map<string, FileEntry>();
  const commit = createHash('sha1');
  for (const path of paths) {
    const abs = join(folder, path);
    const st = await stat(abs);
    const { sha256, blobSha1 } = await hashFile(abs, st.size, `${st.size}:${st.mtimeMs}:${st.ino}`);
    const lfs = LFS_EXT.test(path);
    const pointer = `version https://git-lfs.github.com/spec/v1\noid sha256:${sha256}\nsize ${st.size}\n`;
    const oid = lfs ? sha1(`blob ${Buffer.byteLength(pointer)}\0${pointer}`) : blobSha1;
    files.set(path, { path, abs, size: st.size, lfs, sha256, oid, pointerSize: Buffer.byteLength(pointer) });
    commit.update(`${path}\0${sha256}\n`);
  }
  const dirs = new Map<string, string>();
  for (const path of paths) {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (!dirs.has(dir)) {
        const inside = paths.filter((p) => p.startsWith(`${dir}/`)).map((p) => files.get(p)!.oid);
        dirs.set(dir, sha1(`${dir}\0${inside.join(',')}`));
      }
    }
  }
  return { sha: commit.digest('hex'), files, dirs };
}

// ---------------------------------------------------------------------------------------------
// Request helpers

function parseRoute(rawPath: string): Route | null {
  let seg: string[];
  try {
    seg = rawPath.split('/').slice(1).map(decodeURIComponent);
  } catch {
    throw new HttpError(400, 'Invalid URL encoding');
  }
  const subPath = (rest: string[]) => {
    if (rest.length && rest[rest.length - 1] === '') rest = rest.slice(0, -1); // trailing slash
    if (rest.some((s) => s === '' || s === '.' || s === '..' || /[\\/\0]/.test(s))) {
      throw new HttpError(400, 'Invalid path');
    }
    return rest.join('/');
  };
  if (seg[0] === 'api' && (seg[1] === 'models' || seg[1] === 'datasets') && seg.length >= 4) {
    const type: RepoType = seg[1] === 'models' ? 'model' : 'dataset';
    const id = `${seg[2]}/${seg[3]}`;
    const at = { type, id, repo: repoKey(type, id) };
    if (seg.length === 4) return { ...at, kind: 'info', rev: 'main' };
    if (seg[4] === 'revision' && seg.length === 6) return { ...at, kind: 'info', rev: seg[5] };
    if (seg[4] === 'tree' && seg.length >= 6) return { ...at, kind: 'tree', rev: seg[5], path: subPath(seg.slice(6)) };
    return null;
  }
  // A dataset's files live under /datasets/; a model whose owner is "datasets" has "resolve" one segment earlier.
  const isDataset = seg[0] === 'datasets' && (seg[3] === 'resolve' || seg[3] === 'raw');
  const type: RepoType = isDataset ? 'dataset' : 'model';
  const rest = isDataset ? seg.slice(1) : seg;
  if ((rest[2] === 'resolve' || rest[2] === 'raw') && rest.length >= 5) {
    const path = subPath(rest.slice(4));
    const id = `${rest[0]}/${rest[1]}`;
    return path ? { type, id, repo: repoKey(type, id), kind: 'resolve', rev: rest[3], path } : null;
  }
  return null;
}

function repoKey(type: RepoType, id: string): string {
  return type === 'dataset' ? `datasets/${id}` : id;
}

/** The YAML front matter of a README.md (the Hub's `cardData`), or undefined when it has none or it does not parse. */
function frontMatter(readme: string): unknown {
  const m = /^---\r?\n([\s\S]*?)\r?\n---(\r?\n|$)/.exec(readme);
  if (!m) return undefined;
  try {
    return parseYaml(m[1]) ?? undefined;
  } catch {
    return undefined;
  }
}

/** Single `bytes=a-b`, `bytes=a-` or `bytes=-n`. Anything else (multi-range, garbage) is ignored → 200. */
function parseRange(header: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  const m = header ? /^bytes=(\d*)-(\d*)$/.exec(header.trim()) : null;
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const n = Number(m[2]);
    return n === 0 || size === 0 ? 'unsatisfiable' : { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  if (m[2] !== '' && Number(m[2]) < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  return { start, end: m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1) };
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(text)),
  });
  res.end(res.req.method === 'HEAD' ? undefined : text);
}

function sendError(res: ServerResponse, err: HttpError) {
  sendJson(res, err.status, { error: err.message }, err.code ? { 'X-Error-Code': err.code } : {});
}

/** Resolves once `buf` is flushed to the socket (or the response is gone). */
function write(res: ServerResponse, buf: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const done = () => (res.off('close', done), resolve());
    res.once('close', done);
    res.write(buf, done);
  });
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

// ---------------------------------------------------------------------------------------------

interface ActiveFault {
  fault: MockFault;
  remaining: number; // drops left; Infinity for the other kinds
}

export async function startMockHub(opts: MockHubOptions): Promise<MockHub> {
  const host = opts.host ?? '127.0.0.1';
  const pageSize = opts.treePageSize ?? 1000;
  const requests: LogEntry[] = [];
  let faults: ActiveFault[] = [];
  let nextRequestId = 1;

  const setFaults = (list: MockFault[]) => {
    faults = list.map((fault) => ({ fault, remaining: fault.kind === 'drop' ? (fault.times ?? 1) : Infinity }));
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendError(res, err instanceof HttpError ? err : new HttpError(500, 'Internal Error'));
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const method = req.method ?? 'GET';
    const [rawPath = '/', query = ''] = (req.url ?? '/').split('?', 2);
    for (const [k, v] of Object.entries(CORS_HEADERS)) res.setHeader(k, v);
    res.setHeader('X-Request-Id', `mock-${nextRequestId++}`);

    // Control endpoints (not logged, never faulted).
    if (rawPath === '/__mock/faults' || rawPath === '/__mock/requests') {
      if (method === 'OPTIONS') return preflight(req, res);
      if (rawPath === '/__mock/requests' && method === 'GET') return sendJson(res, 200, requests);
      if (rawPath === '/__mock/requests' && method === 'DELETE') return (requests.length = 0), sendJson(res, 200, { ok: true });
      if (rawPath === '/__mock/faults' && method === 'DELETE') return setFaults([]), sendJson(res, 200, { ok: true });
      if (rawPath === '/__mock/faults' && method === 'POST') {
        let list: unknown;
        try {
          list = JSON.parse(await readBody(req));
        } catch {
          throw new HttpError(400, 'Body must be JSON');
        }
        const kinds = ['status', 'slow', 'drop'];
        if (!Array.isArray(list) || !list.every((f) => f && typeof f === 'object' && kinds.includes(f.kind))) {
          throw new HttpError(400, 'Body must be a MockFault[]');
        }
        setFaults(list as MockFault[]);
        return sendJson(res, 200, { ok: true, count: list.length });
      }
      throw new HttpError(405, 'Method not allowed');
    }

    // Log: only whether a token was sent, and the URL with any known token scrubbed.
    const auth = req.headers.authorization;
    const token = auth?.startsWith('Bearer ') ? auth.slice(7).trim() : undefined;
    let loggedUrl = req.url ?? '/';
    for (const t of [token, ...Object.values(opts.gated ?? {})]) if (t) loggedUrl = loggedUrl.split(t).join('***');
    const entry: LogEntry = { method, url: loggedUrl, auth: auth !== undefined, status: 0 };
    if (typeof req.headers.range === 'string') entry.range = req.headers.range;
    requests.push(entry);
    const writeHead = res.writeHead.bind(res) as (...a: unknown[]) => ServerResponse;
    res.writeHead = ((status: number, ...rest: unknown[]) => ((entry.status = status), writeHead(status, ...rest))) as typeof res.writeHead;

    if (method === 'OPTIONS') return preflight(req, res);

    const route = parseRoute(rawPath);
    if (!route) throw new HttpError(404, 'Not Found');
    const isGetLike = method === 'GET' || method === 'HEAD';
    if (!isGetLike) throw new HttpError(405, 'Method not allowed');

    // Faults, in list order.
    let bytesPerSecond: number | undefined;
    let drop: ActiveFault | undefined;
    for (const active of faults) {
      const f = active.fault;
      if ((f.repo !== undefined && f.repo !== route.repo) || (f.path !== undefined && f.path !== route.path)) continue;
      if (f.kind === 'slow') {
        await sleep(f.delayMs);
        if (f.bytesPerSecond) bytesPerSecond = Math.min(bytesPerSecond ?? Infinity, f.bytesPerSecond);
      } else if (f.kind === 'status') {
        if (f.status === 401) throw new HttpError(401, gatedMessage(route.type, route.id), 'GatedRepo');
        if (f.status === 404) throw route.kind === 'resolve' ? entryNotFound() : repoNotFound();
        throw new HttpError(500, 'Internal Error');
      } else if (!drop && active.remaining > 0 && route.kind === 'resolve' && method === 'GET') {
        drop = active;
      }
    }

    const snap = await snapshotAt(route);
    const requiredToken = opts.gated?.[route.repo];

    if (route.kind === 'info' && route.type === 'dataset') {
      const readme = snap.files.get('README.md');
      const cardData = readme ? frontMatter(await readFile(readme.abs, 'utf8')) : undefined;
      const [owner] = route.id.split('/');
      return sendJson(res, 200, {
        _id: sha1(route.repo).slice(0, 24),
        id: route.id,
        author: owner,
        sha: snap.sha,
        private: false,
        gated: requiredToken ? 'manual' : false,
        disabled: false,
        tags: [],
        downloads: 0,
        likes: 0,
        createdAt: FIXED_DATE,
        lastModified: FIXED_DATE,
        ...(cardData ? { cardData } : {}),
        siblings: [...snap.files.keys()].map((rfilename) => ({ rfilename })),
        usedStorage: [...snap.files.values()].reduce((n, f) => n + f.size, 0),
      });
    }

    if (route.kind === 'info') {
      let config: unknown;
      const cfg = snap.files.get('config.json');
      if (cfg) {
        try {
          const { architectures, model_type } = JSON.parse(await readFile(cfg.abs, 'utf8'));
          config = { architectures, model_type };
        } catch {
          /* not JSON: leave config out */
        }
      }
      const [owner] = route.repo.split('/');
      return sendJson(res, 200, {
        _id: sha1(route.repo).slice(0, 24),
        id: route.repo,
        modelId: route.repo,
        author: owner,
        sha: snap.sha,
        private: false,
        gated: requiredToken ? 'manual' : false,
        disabled: false,
        pipeline_tag: 'text-generation',
        library_name: 'transformers',
        tags: [],
        downloads: 0,
        likes: 0,
        createdAt: FIXED_DATE,
        lastModified: FIXED_DATE,
        ...(config ? { config } : {}),
        siblings: [...snap.files.keys()].map((rfilename) => ({ rfilename })),
        usedStorage: [...snap.files.values()].reduce((n, f) => n + f.size, 0),
      });
    }

    if (route.kind === 'tree') return listTree(req, res, snap, route.path, rawPath, new URLSearchParams(query));

    // resolve
    if (requiredToken !== undefined && token !== requiredToken) {
      throw new HttpError(401, gatedMessage(route.type, route.id), 'GatedRepo');
    }
    const file = snap.files.get(route.path);
    if (!file) throw entryNotFound();
    const etag = `"${file.lfs ? file.sha256 : file.oid}"`;
    const headers: Record<string, string> = {
      'Content-Type': 'application/octet-stream',
      'Accept-Ranges': 'bytes',
      ETag: etag,
      'X-Repo-Commit': snap.sha,
      ...(file.lfs ? { 'X-Linked-Size': String(file.size), 'X-Linked-ETag': etag } : {}),
    };
    const range = parseRange(req.headers.range, file.size);
    if (range === 'unsatisfiable') {
      return sendJson(res, 416, { error: 'Requested Range Not Satisfiable' }, { ...headers, 'Content-Range': `bytes */${file.size}` });
    }
    const { start, end } = range ?? { start: 0, end: file.size - 1 };
    res.writeHead(range ? 206 : 200, {
      ...headers,
      'Content-Length': String(end - start + 1),
      ...(range ? { 'Content-Range': `bytes ${start}-${end}/${file.size}` } : {}),
    });
    if (method === 'HEAD' || end < start) return void res.end();
    await sendBody(req, res, file.abs, start, end, bytesPerSecond, drop);
  }

  /**
   * The snapshot a route's revision names: main/HEAD, another ref by its full name, or any of
   * the refs' commit shas (so a caller that pinned a ref's commit keeps reading that ref).
   */
  async function snapshotAt(route: Route): Promise<Snapshot> {
    const table: Record<string, string | MockRepoRefs> = route.type === 'model' ? opts.repos : (opts.datasets ?? {});
    const entry = Object.hasOwn(table, route.id) ? table[route.id] : undefined;
    const refs: Record<string, string> | undefined =
      typeof entry === 'string' ? { main: entry } : entry && typeof entry.main === 'string' ? { ...entry.refs, main: entry.main } : undefined;
    if (!refs) throw repoNotFound();
    const named = route.rev === 'HEAD' ? 'main' : route.rev;
    if (Object.hasOwn(refs, named)) return snapshot(refs[named]);
    if (/^[0-9a-f]{40}$/.test(route.rev)) {
      for (const folder of Object.values(refs)) {
        const snap = await snapshot(folder);
        if (snap.sha === route.rev) return snap;
      }
    }
    throw new HttpError(404, `Invalid rev id: ${route.rev}`, 'RevisionNotFound');
  }

  function preflight(req: IncomingMessage, res: ServerResponse) {
    const requested = (req.headers['access-control-request-headers'] ?? '')
      .split(',')
      .map((h) => h.trim())
      .filter((h) => h && !ALLOW_HEADERS.some((a) => a.toLowerCase() === h.toLowerCase()));
    res.writeHead(204, {
      'Access-Control-Allow-Methods': 'GET, HEAD, POST, OPTIONS',
      'Access-Control-Allow-Headers': [...ALLOW_HEADERS, ...requested].join(', '),
      'Access-Control-Max-Age': '600',
      'Content-Length': '0',
    });
    res.end();
  }

  function listTree(req: IncomingMessage, res: ServerResponse, snap: Snapshot, dir: string, rawPath: string, params: URLSearchParams) {
    if (dir && !snap.dirs.has(dir)) throw entryNotFound();
    const recursive = params.get('recursive') === 'true';
    const prefix = dir ? `${dir}/` : '';
    const wanted = (p: string) => p.startsWith(prefix) && (recursive || !p.slice(prefix.length).includes('/'));
    const entries = [
      ...[...snap.dirs].filter(([p]) => wanted(p)).map(([path, oid]) => ({ type: 'directory' as const, oid, size: 0, path })),
      ...[...snap.files.values()]
        .filter((f) => wanted(f.path))
        .map((f) => ({
          type: 'file' as const,
          oid: f.oid,
          size: f.size,
          path: f.path,
          ...(f.lfs ? { lfs: { oid: f.sha256, size: f.size, pointerSize: f.pointerSize } } : {}),
        })),
    ].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const offset = Math.max(0, Number(params.get('cursor') ?? 0) || 0);
    const page = entries.slice(offset, offset + pageSize);
    const headers: Record<string, string> = {};
    if (offset + pageSize < entries.length) {
      params.set('cursor', String(offset + pageSize));
      headers.Link = `<http://${req.headers.host ?? `${host}:${port}`}${rawPath}?${params}>; rel="next"`;
    }
    sendJson(res, 200, page, headers);
  }

  async function sendBody(
    req: IncomingMessage,
    res: ServerResponse,
    abs: string,
    start: number,
    end: number,
    bytesPerSecond: number | undefined,
    drop: ActiveFault | undefined,
  ) {
    const afterBytes = drop?.fault.kind === 'drop' ? drop.fault.afterBytes : Infinity;
    if (drop && end - start + 1 > afterBytes) drop.remaining--;
    else drop = undefined;
    const highWaterMark = bytesPerSecond ? Math.min(64 * 1024, Math.max(1, Math.floor(bytesPerSecond / 20))) : 64 * 1024;
    const stream = createReadStream(abs, { start, end, highWaterMark });
    let sent = 0;
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        if (res.destroyed) return;
        if (drop && sent + chunk.length >= afterBytes) {
          const part = chunk.subarray(0, afterBytes - sent);
          if (part.length) await write(res, part);
          else res.flushHeaders();
          // Let what was written reach the kernel, then cut the connection mid-body.
          await new Promise<void>((r) => (req.socket.writable ? req.socket.write('', () => r()) : r()));
          req.socket.destroy();
          return;
        }
        await write(res, chunk);
        sent += chunk.length;
        if (bytesPerSecond) await sleep((chunk.length / bytesPerSecond) * 1000);
      }
      res.end();
    } finally {
      stream.destroy();
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => (server.off('error', reject), resolve()));
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;

  return {
    url: `http://${urlHost}:${port}`,
    requests,
    setFaults,
    clearFaults: () => setFaults([]),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
