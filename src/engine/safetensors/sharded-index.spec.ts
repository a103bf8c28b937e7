import { describe, expect, it } from 'vitest';
import { CheckpointLayoutError } from '../errors.ts';
import { INDEX_FILE, parseShardedIndex } from './sharded-index.ts';
import { thrown } from '../../../test-support/rejection.ts';

const S1 = 'model-00001-of-00002.safetensors';
const S2 = 'model-00002-of-00002.safetensors';
const present = new Set(['config.json', INDEX_FILE, S1, S2]);

const layoutError = (fn: () => unknown) => thrown(CheckpointLayoutError, fn);

describe('parseShardedIndex', () => {
  it('maps every tensor to its shard, lists shards sorted and unique, reads total_size', () => {
    const text = JSON.stringify({
      metadata: { total_size: 1234 },
      weight_map: { 'b.weight': S2, 'a.weight': S1, 'c.weight': S2 },
    });
    const idx = parseShardedIndex('ckpt', text, present);
    expect([...idx.weightMap]).toEqual([
      ['b.weight', S2],
      ['a.weight', S1],
      ['c.weight', S2],
    ]);
    expect(idx.shards).toEqual([S1, S2]);
    expect(idx.totalSize).toBe(1234);
  });

  it('total_size is optional', () => {
    expect(parseShardedIndex('ckpt', JSON.stringify({ weight_map: { a: S1 } }), present).totalSize).toBeUndefined();
    expect(parseShardedIndex('ckpt', JSON.stringify({ metadata: null, weight_map: { a: S1 } }), present).totalSize).toBeUndefined();
    expect(parseShardedIndex('ckpt', JSON.stringify({ metadata: { total_size: '9' }, weight_map: { a: S1 } }), present).totalSize).toBeUndefined();
  });

  it('a shard named by the index but not present is an error naming it', () => {
    const e = layoutError(() => parseShardedIndex('ckpt', JSON.stringify({ weight_map: { a: S1, b: 'model-00003-of-00003.safetensors' } }), present));
    expect([e.source, e.file]).toEqual(['ckpt', INDEX_FILE]);
    expect(e.message).toBe(
      'ckpt: model.safetensors.index.json: names shard "model-00003-of-00003.safetensors", which is not in the checkpoint; re-download the missing shard or fix the index.',
    );
  });

  it('malformed indexes', () => {
    expect(layoutError(() => parseShardedIndex('c', '{', present)).message).toMatch(/^c: model\.safetensors\.index\.json: is not valid JSON \(.+\)\.$/);
    for (const bad of ['null', '5', '"x"', '{}', '{"weight_map": []}', '{"weight_map": null}', '{"weight_map": "a"}']) {
      expect(layoutError(() => parseShardedIndex('c', bad, present)).message).toBe('c: model.safetensors.index.json: has no "weight_map" object.');
    }
    expect(layoutError(() => parseShardedIndex('c', '{"weight_map": {"a": 3}}', present)).message).toBe(
      'c: model.safetensors.index.json: maps "a" to a non-string.',
    );
  });
});
