import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultCacheDir, nodeCacheStore } from './node-cache-store.ts';

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'node-cache-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const bytes = (n: number, seed = 0) => new Uint8Array(n).map((_, i) => (i * 31 + seed) & 0xff);

describe('nodeCacheStore', () => {
  it('partial → commit → openComplete, with stat at each step', async () => {
    const store = nodeCacheStore(root);
    const key = 'owner/name/0123abcd/model.safetensors';
    expect(await store.stat(key)).toEqual({ bytes: 0, complete: false });
    expect(await store.openComplete(key, 'model.safetensors')).toBeUndefined();

    const a = await store.openAppender(key);
    expect(a.offset).toBe(0);
    await a.write(bytes(1000));
    await a.close();
    expect(await store.stat(key)).toEqual({ bytes: 1000, complete: false });
    expect(existsSync(join(root, `${key}.partial`))).toBe(true);
    expect(await store.openComplete(key, 'model.safetensors')).toBeUndefined();

    // A second appender continues at the end of the partial.
    const b = await store.openAppender(key);
    expect(b.offset).toBe(1000);
    await b.write(bytes(500, 7));
    await b.close();
    expect(await store.stat(key)).toEqual({ bytes: 1500, complete: false });

    await store.commit(key);
    expect(await store.stat(key)).toEqual({ bytes: 1500, complete: true });
    expect(existsSync(join(root, `${key}.partial`))).toBe(false);
    const expected = new Uint8Array([...bytes(1000), ...bytes(500, 7)]);
    expect(Buffer.from(readFileSync(join(root, key))).equals(Buffer.from(expected))).toBe(true);

    const f = (await store.openComplete(key, 'model.safetensors'))!;
    expect([f.path, f.size]).toEqual(['model.safetensors', 1500]);
    expect([...(await f.read(995, 10))]).toEqual([...expected.subarray(995, 1005)]);
    await expect(f.read(1400, 200)).rejects.toThrow(`cached model.safetensors is shorter than expected; clear the cache (${root}).`);

    await store.remove(key);
    expect(await store.stat(key)).toEqual({ bytes: 0, complete: false });
    expect(await store.openComplete(key, 'model.safetensors')).toBeUndefined();
    expect(existsSync(join(root, key))).toBe(false);
  });

  it('remove drops a partial too; keys are independent', async () => {
    const store = nodeCacheStore(root);
    const a = await store.openAppender('r/x/1/a');
    await a.write(bytes(10));
    await a.close();
    const b = await store.openAppender('r/x/1/b');
    await b.write(bytes(20));
    await b.close();
    await store.remove('r/x/1/a');
    expect(await store.stat('r/x/1/a')).toEqual({ bytes: 0, complete: false });
    expect(await store.stat('r/x/1/b')).toEqual({ bytes: 20, complete: false });
    expect(await store.estimate()).toBeUndefined();
  });

  it('refuses keys that escape the cache directory', async () => {
    const store = nodeCacheStore(join(root, 'inner'));
    await expect(store.stat('../escape')).rejects.toThrow('cache key escapes the cache directory: ../escape');
    await expect(store.openAppender('a/../../escape')).rejects.toThrow('cache key escapes the cache directory: a/../../escape');
    expect(existsSync(join(root, 'escape.partial'))).toBe(false);
  });

  it('defaultCacheDir honours STUDIO_CACHE_DIR, then XDG_CACHE_HOME', () => {
    const saved = { s: process.env.STUDIO_CACHE_DIR, x: process.env.XDG_CACHE_HOME };
    try {
      process.env.STUDIO_CACHE_DIR = '/tmp/studio-x';
      expect(defaultCacheDir()).toBe('/tmp/studio-x');
      delete process.env.STUDIO_CACHE_DIR;
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
