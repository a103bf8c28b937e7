import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckpointLayoutError, SourceSpecError } from '../errors.ts';
import { localFolderSource } from './local-folder-source.ts';
import { rejection } from '../../../test-support/rejection.ts';

let root: string;
let dir: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'local-src-'));
  dir = join(root, 'my-model');
  mkdirSync(join(dir, 'sub', 'deeper'), { recursive: true });
  writeFileSync(join(dir, 'config.json'), '{"x":1}');
  writeFileSync(join(dir, 'model.safetensors'), Buffer.from([...Array(300).keys()].map((i) => i & 0xff)));
  writeFileSync(join(dir, 'sub', 'a.txt'), 'aa');
  writeFileSync(join(dir, 'sub', 'deeper', 'b.txt'), 'bbb');
  writeFileSync(join(root, 'secret.txt'), 'outside');
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('localFolderSource', () => {
  it('lists recursively, sorted, with / separators and sizes; labels with the folder name', async () => {
    const src = await localFolderSource(dir);
    expect([src.kind, src.label, src.revision]).toEqual(['local', 'my-model', undefined]);
    expect(await src.listFiles()).toEqual([
      { path: 'config.json', size: 7 },
      { path: 'model.safetensors', size: 300 },
      { path: 'sub/a.txt', size: 2 },
      { path: 'sub/deeper/b.txt', size: 3 },
    ]);
  });

  it('reads exact ranges, nested files included', async () => {
    const src = await localFolderSource(dir + '/');
    const f = await src.open('model.safetensors');
    expect([f.path, f.size]).toEqual(['model.safetensors', 300]);
    expect([...(await f.read(250, 10))]).toEqual([250, 251, 252, 253, 254, 255, 0, 1, 2, 3]);
    expect((await f.read(0, 0)).length).toBe(0);
    expect(new TextDecoder().decode(await (await src.open('sub/deeper/b.txt')).read(0, 3))).toBe('bbb');
  });

  it('a read past the end names the file', async () => {
    const src = await localFolderSource(dir);
    const e = await rejection((await src.open('config.json')).read(5, 10));
    expect(e).toBeInstanceOf(CheckpointLayoutError);
    expect(e.message).toBe('my-model: config.json: ended before byte 15; it changed on disk or is truncated.');
  });

  it('refuses paths that escape the folder', async () => {
    const src = await localFolderSource(dir);
    for (const p of ['../secret.txt', 'sub/../../secret.txt', join(root, 'secret.txt')]) {
      const e = await rejection(src.open(p));
      expect(e).toBeInstanceOf(SourceSpecError);
      expect(e.message).toBe(`${p}: path escapes the checkpoint folder.`);
    }
  });

  it('a missing file in the folder is a CheckpointLayoutError', async () => {
    const src = await localFolderSource(dir);
    const e = await rejection(src.open('nope.json'));
    expect(e).toBeInstanceOf(CheckpointLayoutError);
    expect(e.message).toBe('my-model: nope.json: cannot be opened; is it there and readable?');
  });

  it('a nonexistent folder, and a file instead of a folder', async () => {
    const missing = join(root, 'does-not-exist');
    const e = await rejection(localFolderSource(missing));
    expect(e).toBeInstanceOf(SourceSpecError);
    expect(e.message).toBe(`${missing}: no such folder. Give a checkpoint folder or hf:owner/name.`);
    const file = join(dir, 'config.json');
    const f = await rejection(localFolderSource(file));
    expect(f).toBeInstanceOf(SourceSpecError);
    expect(f.message).toBe(`${file} is a file; give the folder that holds config.json and the safetensors.`);
  });
});
