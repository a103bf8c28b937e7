import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { makeFixtureDir, type FixtureDir } from '../../test-support/fixture-dir.ts';
import { startMockHub, type MockHub } from '../../test-support/mock-hub/server.ts';

/**
 * The CLI's download cache, through the user's door: `node bin/studio.js` as a subprocess
 * against a mock Hub (HF_ENDPOINT) with STUDIO_CACHE_DIR in a temporary folder, checked
 * against the mock's request log.
 */
const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const STUDIO = join(REPO_ROOT, 'bin/studio.js');
const ROLES = ['sft', 'rl', 'target'] as const;
const repoOf = (role: string) => `studio-fixtures/demo-arith-${role}`;
const WEIGHTS = 'model.safetensors';

let fx: FixtureDir;
let mock: MockHub;
let work: string;
let size: number;
const sha: Record<string, string> = {};

beforeAll(async () => {
  fx = makeFixtureDir('cli-cache-fixtures-', { demo: true });
  work = mkdtempSync(join(tmpdir(), 'cli-cache-'));
  mock = await startMockHub({ repos: Object.fromEntries(ROLES.map((r) => [repoOf(r), fx.model(`demo-arith-${r}`)])) });
  for (const r of ROLES) {
    const info = (await (await fetch(`${mock.url}/api/models/${repoOf(r)}/revision/main`)).json()) as { sha: string };
    sha[r] = info.sha;
  }
  size = statSync(join(fx.model('demo-arith-sft'), WEIGHTS)).size;
}, 60_000);

afterAll(async () => {
  await mock?.close();
  fx?.cleanup();
  rmSync(work, { recursive: true, force: true });
});

beforeEach(() => {
  mock.clearFaults();
  mock.requests.length = 0;
});

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function studio(args: string[], cacheDir: string, started?: (child: ChildProcess) => void): Promise<Run> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [STUDIO, ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, HF_ENDPOINT: mock.url, HF_TOKEN: '', STUDIO_CACHE_DIR: cacheDir },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolveRun({ code, signal, stdout, stderr }));
    started?.(child);
  });
}

const mergeArgs = (out: string, pin = false) => [
  'merge',
  ...ROLES.flatMap((r) => [`--${r}`, `hf:${repoOf(r)}${pin ? `@${sha[r]}` : ''}`]),
  '--alpha',
  '0.5',
  '--out',
  out,
  '--device',
  'cpu',
];

/** Ranged GETs of one repo's weight file, as [first, last] byte pairs in the order the mock saw them. */
const weightRanges = (role: string) =>
  mock.requests
    .filter((r) => r.method === 'GET' && r.url.startsWith(`/${repoOf(role)}/resolve/`) && r.url.endsWith(`/${WEIGHTS}`))
    .map((r) => r.range!.replace('bytes=', '').split('-').map(Number) as [number, number]);

const cachedFile = (cacheDir: string, role: string, path: string) => join(cacheDir, repoOf(role), sha[role], path);
const fixtureBytes = (role: string, path = WEIGHTS) => readFileSync(join(fx.model(`demo-arith-${role}`), path));
const leftovers = (dir: string): string[] =>
  readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.partial') || f.endsWith('.lock'));

describe('the second identical run asks the Hub for no weights', () => {
  it('merge: the first run downloads each weight file once into $STUDIO_CACHE_DIR with progress lines; the second asks only for the revisions; pinned to commits, nothing', async () => {
    const cacheDir = join(work, 'merge-cache'); // not created yet: the CLI makes it
    const out1 = join(work, 'merge-1');
    const first = await studio(mergeArgs(out1), cacheDir);
    expect([first.code, first.signal]).toEqual([0, null]);

    // Each weight file was fetched once in total: its header, then the rest, no byte twice.
    for (const r of ROLES) {
      const ranges = weightRanges(r);
      expect(ranges.length, r).toBeGreaterThanOrEqual(2);
      expect(ranges.reduce((n, [a, b]) => n + (b - a + 1), 0), r).toBe(size);
      expect(ranges.at(-1)![1], r).toBe(size - 1);
    }
    // The cache holds the files, byte for byte, and nothing half-written.
    expect(existsSync(cacheDir)).toBe(true);
    for (const r of ROLES) {
      expect(readFileSync(cachedFile(cacheDir, r, WEIGHTS)).equals(fixtureBytes(r)), r).toBe(true);
      expect(readFileSync(cachedFile(cacheDir, r, 'config.json')).equals(fixtureBytes(r, 'config.json')), r).toBe(true);
      expect(existsSync(join(cacheDir, repoOf(r), `${sha[r]}.files.json`)), r).toBe(true);
    }
    expect(leftovers(cacheDir)).toEqual([]);

    // Progress on stderr (a pipe here, so plain lines): bytes, total and rate per file.
    const lines = first.stderr.split('\n');
    for (const r of ROLES) {
      const label = `hf:${repoOf(r)} ${WEIGHTS}`;
      expect(lines.filter((l) => l.startsWith(`downloading ${label}: `)).length, r).toBeGreaterThanOrEqual(1);
      const done = lines.filter((l) => l.startsWith(`downloaded ${label}: `));
      expect(done, r).toHaveLength(1);
      expect(done[0]).toMatch(/: 725\.0 KiB \/ 725\.0 KiB \(100%\), [\d.]+ (B|KiB|MiB|GiB)\/s, \d+\.\d s( \([\d.]+ KiB of it was already cached\))?$/);
    }
    const firstOut = readFileSync(join(out1, WEIGHTS));

    mock.requests.length = 0;
    const out2 = join(work, 'merge-2');
    const second = await studio(mergeArgs(out2), cacheDir);
    expect(second.code).toBe(0);
    expect(mock.requests.filter((r) => r.url.includes('.safetensors'))).toEqual([]);
    // Only the branch → commit lookups: `main` may have moved since the first run.
    expect(mock.requests.map((r) => r.url.split('?')[0]).sort()).toEqual(ROLES.map((r) => `/api/models/${repoOf(r)}/revision/HEAD`).sort());
    expect(second.stderr).not.toMatch(/download/);
    expect(readFileSync(join(out2, WEIGHTS)).equals(firstOut)).toBe(true);

    // Pinned to the commits, the cache answers everything: a commit's files never change.
    mock.requests.length = 0;
    const out3 = join(work, 'merge-3');
    const pinned = await studio(mergeArgs(out3, true), cacheDir);
    expect(pinned.code).toBe(0);
    expect(mock.requests).toEqual([]);
    expect(readFileSync(join(out3, WEIGHTS)).equals(firstOut)).toBe(true);
  }, 120_000);

  it('inspect: reads only the safetensors header (8 bytes, then the JSON), keeps it, and the second inspect asks only for the revision', async () => {
    const cacheDir = join(work, 'inspect-cache');
    const first = await studio(['inspect', `hf:${repoOf('sft')}`], cacheDir);
    expect([first.code, first.stderr]).toEqual([0, '']);
    const summary = JSON.parse(first.stdout) as { tensors: unknown[]; revision: string };
    expect(summary.revision).toBe(sha.sft);
    const ranges = weightRanges('sft');
    expect(ranges[0]).toEqual([0, 7]);
    expect(ranges).toHaveLength(2);
    const headerEnd = ranges[1][1] + 1;
    expect(ranges[1][0]).toBe(8);
    expect(headerEnd).toBe(8 + Number(fixtureBytes('sft').readBigUInt64LE(0)));
    expect(statSync(`${cachedFile(cacheDir, 'sft', WEIGHTS)}.partial`).size).toBe(headerEnd);

    mock.requests.length = 0;
    const second = await studio(['inspect', `hf:${repoOf('sft')}`], cacheDir);
    expect([second.code, second.stderr]).toEqual([0, '']);
    expect(JSON.parse(second.stdout)).toEqual(summary);
    expect(mock.requests.map((r) => r.url.split('?')[0])).toEqual([`/api/models/${repoOf('sft')}/revision/HEAD`]);
  }, 60_000);
});

describe('an interrupted download continues from the byte it reached', () => {
  it('a merge stopped with Ctrl-C (SIGINT) mid-download: the next run asks for the rest of the file, from the first byte not stored', async () => {
    const cacheDir = join(work, 'interrupt-cache');
    // The SFT weights trickle (about 7 s for the file); everything else is fast.
    mock.setFaults([{ kind: 'slow', delayMs: 0, bytesPerSecond: 100_000, repo: repoOf('sft'), path: WEIGHTS }]);
    const partial = `${cachedFile(cacheDir, 'sft', WEIGHTS)}.partial`;
    const stopped = await studio(mergeArgs(join(work, 'interrupt-1')), cacheDir, (child) => {
      const poll = setInterval(() => {
        if (existsSync(partial) && statSync(partial).size > 200_000) {
          clearInterval(poll);
          child.kill('SIGINT');
        }
      }, 20);
      child.on('close', () => clearInterval(poll));
    });
    expect(stopped.signal ?? stopped.code).not.toBe(0);
    const reached = statSync(partial).size;
    expect(reached).toBeGreaterThan(200_000);
    expect(reached).toBeLessThan(size);
    expect(existsSync(cachedFile(cacheDir, 'sft', WEIGHTS))).toBe(false);

    mock.clearFaults();
    mock.requests.length = 0;
    const out = join(work, 'interrupt-2');
    const resumed = await studio(mergeArgs(out), cacheDir); // the dead run's lock file is taken over
    expect([resumed.code, resumed.stderr.includes('internal error')]).toEqual([0, false]);
    // From the first byte not stored to the end, each byte once.
    const ranges = weightRanges('sft');
    expect(ranges[0][0]).toBe(reached);
    expect(ranges.reduce((n, [a, b]) => n + (b - a + 1), 0)).toBe(size - reached);
    expect(ranges.at(-1)![1]).toBe(size - 1);
    expect(resumed.stderr).toContain(`downloading hf:${repoOf('sft')} ${WEIGHTS}: `);
    expect(resumed.stderr).toMatch(new RegExp(`downloaded hf:${repoOf('sft')} ${WEIGHTS}: 725\\.0 KiB / 725\\.0 KiB \\(100%\\), .* already cached\\)`));
    expect(readFileSync(cachedFile(cacheDir, 'sft', WEIGHTS)).equals(fixtureBytes('sft'))).toBe(true);
    expect(leftovers(cacheDir)).toEqual([]);
    expect(existsSync(join(out, WEIGHTS))).toBe(true);
  }, 120_000);

  it('a connection dropped mid-download: the same run asks again from the exact byte the drop reached', async () => {
    const cacheDir = join(work, 'drop-cache');
    mock.setFaults([{ kind: 'drop', afterBytes: 100_000, times: 1, repo: repoOf('rl'), path: WEIGHTS }]);
    const run = await studio(mergeArgs(join(work, 'drop-out')), cacheDir);
    expect(run.code).toBe(0);
    const ranges = weightRanges('rl');
    // The request cut after the mock Hub sent 100 000 bytes; its retry asks from the byte the cache
    // reached, up to the end. How many of those bytes the client's fetch handed over before it saw
    // the cut is timing (seen 100 000 and 65 162): every byte handed over is kept, so the retry
    // starts within [cut start, cut start + 100 000] and nothing after it is asked twice.
    const cut = ranges.findIndex(([a, b]) => b - a + 1 > 100_000);
    const [retryStart, retryEnd] = ranges[cut + 1];
    expect(retryEnd).toBe(size - 1);
    expect(retryStart).toBeGreaterThanOrEqual(ranges[cut][0]);
    expect(retryStart).toBeLessThanOrEqual(ranges[cut][0] + 100_000);
    for (const [a] of ranges.slice(cut + 2)) expect(a).toBeGreaterThan(retryStart);
    expect(readFileSync(cachedFile(cacheDir, 'rl', WEIGHTS)).equals(fixtureBytes('rl'))).toBe(true);
  }, 120_000);
});

describe('cache errors a user can cause: exit 2, one line naming the path and what to do', () => {
  it('STUDIO_CACHE_DIR under a regular file', async () => {
    const file = join(work, 'a-file');
    writeFileSync(file, 'not a folder');
    const run = await studio(['inspect', `hf:${repoOf('sft')}`], join(file, 'cache'));
    expect([run.code, run.stdout]).toEqual([2, '']);
    expect(run.stderr).toBe(
      `studio inspect: The download cache cannot use ${join(file, 'cache', repoOf('sft'))} (ENOTDIR: a file stands where a folder is needed). ` +
        'Make that folder writable, or set STUDIO_CACHE_DIR to a folder you can write.\n',
    );
  }, 60_000);

  it('a full disk (the partial is a link to /dev/full)', async () => {
    const cacheDir = join(work, 'full-cache');
    const partial = `${cachedFile(cacheDir, 'sft', WEIGHTS)}.partial`;
    mkdirSync(join(cacheDir, repoOf('sft'), sha.sft), { recursive: true });
    symlinkSync('/dev/full', partial);
    const run = await studio(['inspect', `hf:${repoOf('sft')}`], cacheDir);
    expect([run.code, run.stdout]).toEqual([2, '']);
    expect(run.stderr).toBe(
      `studio inspect: No space left to write ${partial} (ENOSPC). Free disk space there, or set STUDIO_CACHE_DIR to a folder on a disk with room; ` +
        'the download resumes from the bytes already stored.\n',
    );
  }, 60_000);

  it('a damaged partial: the finished file does not hash to the Hub sha256, so it is removed and the next run downloads it afresh', async () => {
    const cacheDir = join(work, 'corrupt-cache');
    const partial = `${cachedFile(cacheDir, 'sft', WEIGHTS)}.partial`;
    mkdirSync(join(cacheDir, repoOf('sft'), sha.sft), { recursive: true });
    const damaged = Buffer.from(fixtureBytes('sft').subarray(0, 300_000));
    damaged[250_000] ^= 0xff;
    writeFileSync(partial, damaged);
    const run = await studio(mergeArgs(join(work, 'corrupt-1')), cacheDir);
    expect([run.code, run.stdout]).toEqual([2, '']);
    const lfsSha = createHash('sha256').update(fixtureBytes('sft')).digest('hex');
    const got = createHash('sha256').update(Buffer.concat([damaged, fixtureBytes('sft').subarray(300_000)])).digest('hex');
    // Resumed from the (damaged) partial: the rest of the file, each byte once.
    expect(weightRanges('sft')[0][0]).toBe(300_000);
    expect(weightRanges('sft').reduce((n, [a, b]) => n + (b - a + 1), 0)).toBe(size - 300_000);
    expect(run.stderr.split('\n').filter((l) => l.startsWith('studio merge:'))).toEqual([
      `studio merge: The cached file ${partial} (${WEIGHTS}) hashes to sha256 ${got.slice(0, 12)}…, not the Hub's ${lfsSha.slice(0, 12)}…; ` +
        'it was removed, so running the command again downloads it afresh.',
    ]);
    expect(existsSync(partial)).toBe(false);

    mock.requests.length = 0;
    const again = await studio(mergeArgs(join(work, 'corrupt-2')), cacheDir);
    expect(again.code).toBe(0);
    expect(weightRanges('sft').reduce((n, [a, b]) => n + (b - a + 1), 0)).toBe(size);
    expect(readFileSync(cachedFile(cacheDir, 'sft', WEIGHTS)).equals(fixtureBytes('sft'))).toBe(true);
  }, 120_000);
});

describe('progress on a terminal', () => {
  it('stderr a TTY (under script(1)): a bar redrawn in place, then one line per finished file', async () => {
    const cacheDir = join(work, 'tty-cache');
    mock.setFaults([{ kind: 'slow', delayMs: 0, bytesPerSecond: 1_000_000, path: WEIGHTS }]);
    // A wide terminal, so every bar shows the whole name.
    const cmd = `stty cols 200; ${[process.execPath, STUDIO, ...mergeArgs(join(work, 'tty-out'))].map((a) => `'${a}'`).join(' ')}`;
    const run = await new Promise<Run>((resolveRun, reject) => {
      const child = spawn('script', ['-q', '-e', '-c', cmd, '/dev/null'], {
        cwd: REPO_ROOT,
        env: { ...process.env, HF_ENDPOINT: mock.url, HF_TOKEN: '', STUDIO_CACHE_DIR: cacheDir },
      });
      let stdout = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.on('error', reject);
      child.on('close', (code, signal) => resolveRun({ code, signal, stdout, stderr: '' }));
    });
    expect(run.code).toBe(0);
    const bars = [...run.stdout.matchAll(/\r\x1b\[2K(.*?)(?=\r|\n|$)/g)].map((m) => m[1]).filter((l) => l.includes('['));
    expect(bars.length).toBeGreaterThanOrEqual(3);
    for (const bar of bars) expect(bar).toMatch(/^(hf:studio-fixtures\/demo-arith-\w+ model\.safetensors|\d files) \[[#-]{24}\] \d+% [\d.]+ (B|KiB|MiB) \/ [\d.]+ (B|KiB|MiB) [\d.]+ (B|KiB|MiB)\/s( ETA .*)?$/);
    expect(bars.some((b) => / [1-9]\d?% /.test(b))).toBe(true); // seen between 0 and 100%
    for (const r of ROLES) expect(run.stdout).toMatch(new RegExp(`\\r\\x1b\\[2Kdownloaded hf:${repoOf(r)} ${WEIGHTS}: 725\\.0 KiB / 725\\.0 KiB \\(100%\\)`));
    expect(run.stdout).not.toMatch(/^downloading /m); // no plain lines on a terminal
  }, 120_000);
});
