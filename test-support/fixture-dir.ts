/**
 * Test helper: generates the fixture checkpoints (scripts/make-fixtures.ts) into a fresh
 * temporary directory, so specs never depend on `npm run fixtures` having been run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeFixtures } from '../scripts/make-fixtures.ts';
import type { ByteFile } from '../src/engine/sources/source.ts';

export interface FixtureDir {
  root: string;
  model(name: string): string;
  bad(name: string): string;
  cleanup(): void;
}

export function makeFixtureDir(prefix = 'studio-fixtures-', options: { demo?: boolean } = {}): FixtureDir {
  const root = mkdtempSync(join(tmpdir(), prefix));
  makeFixtures(root, options);
  return {
    root,
    model: (name) => join(root, 'models', name),
    bad: (name) => join(root, 'bad', name),
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}

export const MODEL_FIXTURES = [
  'tiny-qwen2-sft',
  'tiny-qwen2-rl',
  'tiny-qwen2-target',
  'tiny-qwen2-f16',
  'tiny-qwen2-f32',
  'tiny-qwen2-sharded',
  'tiny-qwen2-untied-sft',
  'tiny-qwen2-untied-rl',
  'tiny-qwen2-untied-target',
  'tiny-qwen2-v5',
  'tiny-qwen2-vocab320-target',
] as const;

export const BAD_FIXTURES = [
  'header-too-long',
  'bad-json',
  'f8-dtype',
  'shape-size-mismatch',
  'overlapping-spans',
  'out-of-range-span',
  'missing-config',
  'missing-shard',
] as const;

/** A ByteFile over bytes that records every read as [offset, length]. */
export function recordingFile(path: string, bytes: Uint8Array): ByteFile & { reads: Array<[number, number]> } {
  const reads: Array<[number, number]> = [];
  return {
    path,
    size: bytes.byteLength,
    reads,
    async read(offset, length) {
      reads.push([offset, length]);
      return bytes.slice(offset, offset + length);
    },
  };
}
