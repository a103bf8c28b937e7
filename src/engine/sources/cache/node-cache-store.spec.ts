import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rejection } from '../../../../test-support/rejection.ts';
import { StudioError } from '../../errors.ts';
import { CacheCorruptError, CacheError, CacheFullError, CacheUnwritableError } from './cache-errors.ts';
import { downloadWithResume } from './download-with-resume.ts';
import { defaultCacheDir, nodeCacheStore } from './node-cache-store.ts';

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'node-cache-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const bytes = (n: number, seed = 0) => new Uint8Array(n).map((_, i) => (i * 31 + seed) & 0xff);
const fresh = (name: string) => join(mkdtempSync(join(root, `${name}-`)), 'cache');

describe('nodeCacheStore', () => {
  it('partial → commit → openComplete, with stat and openPartial at each step', async () => {
    const dir = fresh('steps');
    const store = nodeCacheStore(dir);
    const key = 'owner/name/0123abcd/model.safetensors';
    expect(await store.stat(key)).toEqual({ bytes: 0, complete: false });
    expect(await store.openComplete(key, 'model.safetensors')).toBeUndefined();
    expect(await store.openPartial(key, 'model.safetensors')).toBeUndefined();

    const a = (await store.openAppender(key))!;
    expect([a.offset, a.location]).toEqual([0, join(dir, `${key}.partial`)]);
    await a.write(bytes(1000));
    await a.close();
    expect(await store.stat(key)).toEqual({ bytes: 1000, complete: false });
    expect(existsSync(join(dir, `${key}.partial`))).toBe(true);
    expect(existsSync(join(dir, `${key}.lock`))).toBe(false);
    expect(await store.openComplete(key, 'model.safetensors')).toBeUndefined();
    const prefix = (await store.openPartial(key, 'model.safetensors'))!;
    expect(prefix.size).toBe(1000);
    expect([...(await prefix.read(990, 10))]).toEqual([...bytes(1000).subarray(990)]);

    // A second appender continues at the end of the partial.
    const b = (await store.openAppender(key))!;
    expect(b.offset).toBe(1000);
    await b.write(bytes(500, 7));
    const expected = new Uint8Array([...bytes(1000), ...bytes(500, 7)]);
    expect(await b.sha256!()).toBe(createHash('sha256').update(expected).digest('hex'));
    await b.commit();
    expect(await store.stat(key)).toEqual({ bytes: 1500, complete: true });
    expect(existsSync(join(dir, `${key}.partial`))).toBe(false);
    expect(Buffer.from(readFileSync(join(dir, key))).equals(Buffer.from(expected))).toBe(true);
    expect(await store.openPartial(key, 'model.safetensors')).toBeUndefined();
    // Complete: nothing to append to.
    expect(await store.openAppender(key)).toBeUndefined();

    const f = (await store.openComplete(key, 'model.safetensors'))!;
    expect([f.path, f.size]).toEqual(['model.safetensors', 1500]);
    expect([...(await f.read(995, 10))]).toEqual([...expected.subarray(995, 1005)]);
    const short = await rejection(f.read(1400, 200));
    expect(short).toBeInstanceOf(CacheCorruptError);
    expect(short.message).toBe(
      `The cached file ${join(dir, key)} ends before byte 1600 (it was 1500 bytes when opened); delete it and run the command again to download it afresh.`,
    );

    await store.remove(key);
    expect(await store.stat(key)).toEqual({ bytes: 0, complete: false });
    expect(await store.openComplete(key, 'model.safetensors')).toBeUndefined();
    expect(existsSync(join(dir, key))).toBe(false);
  });

  it('discard drops a partial; remove drops one too; keys are independent', async () => {
    const store = nodeCacheStore(fresh('keys'));
    const a = (await store.openAppender('r/x/1/a'))!;
    await a.write(bytes(10));
    await a.discard();
    expect(await store.stat('r/x/1/a')).toEqual({ bytes: 0, complete: false });
    const c = (await store.openAppender('r/x/1/a'))!;
    await c.write(bytes(10));
    await c.close();
    const b = (await store.openAppender('r/x/1/b'))!;
    await b.write(bytes(20));
    await b.close();
    await store.remove('r/x/1/a');
    expect(await store.stat('r/x/1/a')).toEqual({ bytes: 0, complete: false });
    expect(await store.stat('r/x/1/b')).toEqual({ bytes: 20, complete: false });
    expect(await store.estimate()).toBeUndefined();
  });

  it('one appender per entry: a second waits until the first closes, across store objects', async () => {
    const dir = fresh('lock');
    const first = (await nodeCacheStore(dir).openAppender('r/x/1/f'))!;
    let secondOffset: number | undefined;
    const second = nodeCacheStore(dir)
      .openAppender('r/x/1/f')
      .then((s) => ((secondOffset = s!.offset), s!));
    await first.write(bytes(300));
    await new Promise((r) => setTimeout(r, 50));
    expect(secondOffset).toBeUndefined(); // still waiting
    await first.close();
    const s = await second;
    expect(secondOffset).toBe(300);
    await s.close();
  });

  it('a lock file left by a process that died is taken over; one held by a live process is waited for', async () => {
    const dir = fresh('stale');
    const key = 'r/x/1/f';
    mkdirSync(dirname(join(dir, key)), { recursive: true });
    // A pid that cannot be running: a child that has exited.
    const dead = spawn(process.execPath, ['-e', '0']);
    await new Promise((r) => dead.on('exit', r));
    writeFileSync(join(dir, `${key}.lock`), String(dead.pid));
    const a = (await nodeCacheStore(dir).openAppender(key))!;
    expect(readFileSync(join(dir, `${key}.lock`), 'utf8')).toBe(String(process.pid));
    await a.close();
    expect(existsSync(join(dir, `${key}.lock`))).toBe(false);

    // A live holder (this test's child) keeps it until it goes away.
    const alive = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    try {
      writeFileSync(join(dir, `${key}.lock`), String(alive.pid));
      let got = false;
      const waiting = nodeCacheStore(dir)
        .openAppender(key)
        .then((x) => ((got = true), x!));
      await new Promise((r) => setTimeout(r, 600));
      expect(got).toBe(false);
      alive.kill();
      await new Promise((r) => alive.on('exit', r));
      const b = await waiting;
      expect(got).toBe(true);
      await b.close();
    } finally {
      alive.kill();
    }
  });

  it('refuses keys that escape the cache directory', async () => {
    const base = join(root, 'inner');
    const store = nodeCacheStore(base);
    const e = await rejection(store.stat('../escape'));
    expect(e).toBeInstanceOf(CacheError);
    expect(e.message).toBe(`The cache key ../escape escapes the cache folder ${base}; the Hub listed a file name the studio refuses to write.`);
    await expect(store.openAppender('a/../../escape')).rejects.toThrow('The cache key a/../../escape escapes the cache folder');
    expect(existsSync(join(root, 'escape.partial'))).toBe(false);
  });

  it('defaultCacheDir honours STUDIO_CACHE_DIR, then XDG_CACHE_HOME', () => {
    const saved = { s: process.env.STUDIO_CACHE_DIR, x: process.env.XDG_CACHE_HOME };
    try {
      process.env.STUDIO_CACHE_DIR = '/tmp/studio-x';
      expect(defaultCacheDir()).toBe('/tmp/studio-x');
      process.env.STUDIO_CACHE_DIR = ''; // as `STUDIO_CACHE_DIR= studio …` leaves it: unset
      process.env.XDG_CACHE_HOME = '/tmp/xdg';
      expect(defaultCacheDir()).toBe('/tmp/xdg/reasoning-vector-studio');
    } finally {
      for (const [k, v] of [['STUDIO_CACHE_DIR', saved.s], ['XDG_CACHE_HOME', saved.x]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});

describe('errors a user can cause are CacheErrors naming the path and saying what to do', () => {
  it('a cache folder under a regular file: CacheUnwritableError', async () => {
    const file = join(mkdtempSync(join(root, 'file-')), 'not-a-folder');
    writeFileSync(file, 'x');
    const store = nodeCacheStore(join(file, 'cache'));
    expect(await store.stat('r/x/1/f')).toEqual({ bytes: 0, complete: false });
    const e = await rejection(store.openAppender('r/x/1/f'));
    expect(e).toBeInstanceOf(CacheUnwritableError);
    expect(e).toBeInstanceOf(StudioError);
    expect((e as CacheUnwritableError).path).toBe(join(file, 'cache', 'r/x/1'));
    expect(e.message).toBe(
      `The download cache cannot use ${join(file, 'cache', 'r/x/1')} (ENOTDIR: a file stands where a folder is needed). ` +
        'Make that folder writable, or set STUDIO_CACHE_DIR to a folder you can write.',
    );
  });

  it('a full disk: CacheFullError, and the bytes stored before it stay for a resume', async () => {
    // /dev/full answers every write with ENOSPC: a partial that is a link to it is a full disk.
    const dir = fresh('full');
    const key = 'r/x/1/model.safetensors';
    mkdirSync(dirname(join(dir, key)), { recursive: true });
    symlinkSync('/dev/full', join(dir, `${key}.partial`));
    const e = await rejection(
      downloadWithResume({ key, path: 'model.safetensors', size: 100, store: nodeCacheStore(dir), readRange: async (o, l, sink) => sink(bytes(l, o)) }),
    );
    expect(e).toBeInstanceOf(CacheFullError);
    expect(e.message).toBe(
      `No space left to write ${join(dir, `${key}.partial`)} (ENOSPC). Free disk space there, or set STUDIO_CACHE_DIR to a folder on a disk with room; ` +
        'the download resumes from the bytes already stored.',
    );
    expect(existsSync(join(dir, `${key}.lock`))).toBe(false); // released
  });

  it('a folder where a cache file belongs: CacheCorruptError saying to delete it', async () => {
    const dir = fresh('dir');
    mkdirSync(join(dir, 'r/x/1/config.json'), { recursive: true });
    const e = await rejection(nodeCacheStore(dir).stat('r/x/1/config.json'));
    expect(e).toBeInstanceOf(CacheCorruptError);
    expect(e.message).toBe(
      `The cached file ${join(dir, 'r/x/1/config.json')} is a folder where a file belongs; delete it and run the command again to download it afresh.`,
    );
  });

  it('a partial whose bytes do not hash to the sha256 given: removed, CacheCorruptError', async () => {
    const dir = fresh('hash');
    const key = 'r/x/1/model.safetensors';
    const good = bytes(4000);
    const store = nodeCacheStore(dir);
    const first = (await store.openAppender(key))!;
    const damaged = good.slice(0, 1000);
    damaged[500] ^= 0xff; // bytes stored by an earlier run, damaged on disk since
    await first.write(damaged);
    await first.close();
    const sha256 = createHash('sha256').update(good).digest('hex');
    const reads: number[] = [];
    const e = await rejection(
      downloadWithResume({ key, path: 'model.safetensors', size: good.length, sha256, store, readRange: async (o, l, sink) => (reads.push(o), sink(good.subarray(o, o + l))) }),
    );
    expect(reads).toEqual([1000]); // resumed from the partial
    expect(e).toBeInstanceOf(CacheCorruptError);
    const got = createHash('sha256').update(new Uint8Array([...damaged, ...good.subarray(1000)])).digest('hex');
    expect(e.message).toBe(
      `The cached file ${join(dir, `${key}.partial`)} (model.safetensors) hashes to sha256 ${got.slice(0, 12)}…, not the Hub's ${sha256.slice(0, 12)}…; ` +
        'it was removed, so running the command again downloads it afresh.',
    );
    expect(await store.stat(key)).toEqual({ bytes: 0, complete: false });
    // And the run after that is whole again.
    await downloadWithResume({ key, path: 'model.safetensors', size: good.length, sha256, store, readRange: async (o, l, sink) => sink(good.subarray(o, o + l)) });
    expect(Buffer.from(readFileSync(join(dir, key))).equals(Buffer.from(good))).toBe(true);
  });
});
