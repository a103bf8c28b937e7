import { CheckpointLayoutError } from '../errors.ts';

export const INDEX_FILE = 'model.safetensors.index.json';
export const SINGLE_FILE = 'model.safetensors';

export interface ShardedIndex {
  /** tensor name → shard file name */
  weightMap: Map<string, string>;
  shards: string[];
  totalSize?: number;
}

/** Parses model.safetensors.index.json and checks every shard it names is present. */
export function parseShardedIndex(source: string, text: string, presentFiles: ReadonlySet<string>): ShardedIndex {
  const fail = (detail: string): never => {
    throw new CheckpointLayoutError(source, INDEX_FILE, detail);
  };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return fail(`is not valid JSON (${(e as Error).message}).`);
  }
  const weightMapRaw = (json as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMapRaw !== 'object' || weightMapRaw === null || Array.isArray(weightMapRaw)) {
    return fail('has no "weight_map" object.');
  }
  const weightMap = new Map<string, string>();
  for (const [tensor, shard] of Object.entries(weightMapRaw)) {
    if (typeof shard !== 'string') fail(`maps "${tensor}" to a non-string.`);
    weightMap.set(tensor, shard as string);
  }
  const shards = [...new Set(weightMap.values())].sort();
  for (const shard of shards) {
    if (!presentFiles.has(shard)) {
      fail(`names shard "${shard}", which is not in the checkpoint; re-download the missing shard or fix the index.`);
    }
  }
  const totalSize = (json as { metadata?: { total_size?: unknown } }).metadata?.total_size;
  return { weightMap, shards, totalSize: typeof totalSize === 'number' ? totalSize : undefined };
}
