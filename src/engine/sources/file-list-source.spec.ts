import { describe, expect, it } from 'vitest';
import { SourceSpecError } from '../errors.ts';
import { fileListSource } from './file-list-source.ts';
import { rejection } from '../../../test-support/rejection.ts';

const blob = (text: string) => new Blob([text]);

describe('fileListSource', () => {
  it('strips the common top folder of a dropped folder and labels the source with it', async () => {
    const src = fileListSource('dropped', [
      { path: 'Qwen2.5-1.5B/config.json', file: blob('{"a":1}') },
      { path: '/Qwen2.5-1.5B/model.safetensors', file: blob('0123456789') },
      { path: 'Qwen2.5-1.5B/sub/tokenizer.json', file: blob('tok') },
    ]);
    expect([src.kind, src.label, src.revision]).toEqual(['files', 'Qwen2.5-1.5B/', undefined]);
    expect(await src.listFiles()).toEqual([
      { path: 'config.json', size: 7 },
      { path: 'model.safetensors', size: 10 },
      { path: 'sub/tokenizer.json', size: 3 },
    ]);
    const f = await src.open('model.safetensors');
    expect([f.path, f.size]).toEqual(['model.safetensors', 10]);
    expect(new TextDecoder().decode(await f.read(2, 5))).toBe('23456');
    expect(new TextDecoder().decode(await f.read(8, 100))).toBe('89');
  });

  it('loose files keep their names and the given label', async () => {
    const src = fileListSource('my files', [
      { path: 'config.json', file: blob('{}') },
      { path: 'model.safetensors', file: blob('abc') },
    ]);
    expect(src.label).toBe('my files');
    expect(await src.listFiles()).toEqual([
      { path: 'config.json', size: 2 },
      { path: 'model.safetensors', size: 3 },
    ]);
  });

  it('does not strip when the files do not share one top folder', async () => {
    const src = fileListSource('x', [
      { path: 'a/config.json', file: blob('{}') },
      { path: 'b/model.safetensors', file: blob('abc') },
    ]);
    expect(src.label).toBe('x');
    expect((await src.listFiles()).map((f) => f.path)).toEqual(['a/config.json', 'b/model.safetensors']);
    const mixed = fileListSource('y', [
      { path: 'a/config.json', file: blob('{}') },
      { path: 'model.safetensors', file: blob('abc') },
    ]);
    expect((await mixed.listFiles()).map((f) => f.path)).toEqual(['a/config.json', 'model.safetensors']);
  });

  it('an unknown path and an empty drop are SourceSpecErrors', async () => {
    const src = fileListSource('drop', [{ path: 'm/config.json', file: blob('{}') }]);
    const e = await rejection(src.open('model.safetensors'));
    expect(e).toBeInstanceOf(SourceSpecError);
    expect(e.message).toBe('drop: model.safetensors was not among the dropped files.');
    let empty: unknown;
    try {
      fileListSource('drop', []);
    } catch (err) {
      empty = err;
    }
    expect(empty).toBeInstanceOf(SourceSpecError);
    expect((empty as Error).message).toBe('drop: nothing was dropped; drop a model folder or its files.');
  });
});
