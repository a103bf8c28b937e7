import { CheckpointLayoutError, SafetensorsError } from '../errors.ts';
import { parseSafetensorsHeader, type SafetensorsHeader, type TensorEntry } from '../safetensors/parse-safetensors-header.ts';
import { INDEX_FILE, parseShardedIndex, SINGLE_FILE } from '../safetensors/sharded-index.ts';
import { readText, type ByteFile, type CheckpointSource, type FileEntry } from '../sources/source.ts';
import { parseModelConfig, type ModelConfig } from './model-config.ts';

export interface TensorInfo extends TensorEntry {
  /** Shard file the tensor lives in. */
  file: string;
}

export interface Checkpoint {
  source: CheckpointSource;
  config: ModelConfig;
  files: FileEntry[];
  shards: SafetensorsHeader[];
  sharded: boolean;
  tensors: Map<string, TensorInfo>;
  /** True when no `lm_head.weight` is stored: the head is the embedding matrix. */
  tiedHead: boolean;
  tokenizerFiles: string[];
  /** Reads `length` bytes of one tensor starting `offset` bytes into it: a ranged read, nothing more. */
  readTensorBytes(name: string, offset?: number, length?: number): Promise<Uint8Array>;
}

export interface OpenProgress {
  phase: 'listing' | 'headers';
  done: number;
  total: number;
}

export const TOKENIZER_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'generation_config.json',
  'special_tokens_map.json',
  'vocab.json',
  'merges.txt',
];

/** How many shard headers are fetched at once: a 7B model has ~4 shards, a 70B ~30. */
const HEADER_CONCURRENCY = 4;

/**
 * Opens a checkpoint from headers only: config.json, the shard index, and each shard's
 * safetensors header. No tensor data is read.
 */
/** "label/path" with one slash: a dropped folder's label already ends in one ("Qwen2.5-1.5B/"). */
export function pathInSource(label: string, path: string): string {
  return `${label.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
}

export async function openCheckpoint(source: CheckpointSource, onProgress?: (p: OpenProgress) => void): Promise<Checkpoint> {
  onProgress?.({ phase: 'listing', done: 0, total: 1 });
  const files = await source.listFiles();
  const present = new Set(files.map((f) => f.path));
  if (!present.has('config.json')) {
    throw new CheckpointLayoutError(
      source.label,
      'config.json',
      'is missing; a checkpoint needs the config.json saved next to its safetensors (use the whole model folder, not only its weight files).',
    );
  }
  const config = parseModelConfig(source.label, await readText(await source.open('config.json')));

  let shardFiles: string[];
  let weightMap: Map<string, string> | undefined;
  if (present.has(INDEX_FILE)) {
    const index = parseShardedIndex(source.label, await readText(await source.open(INDEX_FILE)), present);
    shardFiles = index.shards;
    weightMap = index.weightMap;
  } else if (present.has(SINGLE_FILE)) {
    shardFiles = [SINGLE_FILE];
  } else {
    const found = files.filter((f) => f.path.endsWith('.safetensors') && !f.path.includes('/')).map((f) => f.path);
    if (found.length !== 1) {
      throw new CheckpointLayoutError(
        source.label,
        SINGLE_FILE,
        found.length === 0
          ? 'no safetensors weights found (expected model.safetensors, or shards with model.safetensors.index.json).'
          : `found ${found.length} safetensors files but no model.safetensors.index.json to say how they fit together.`,
      );
    }
    shardFiles = found;
  }

  onProgress?.({ phase: 'headers', done: 0, total: shardFiles.length });
  let done = 0;
  const shards = await mapLimited(shardFiles, HEADER_CONCURRENCY, async (path) => {
    const header = await parseSafetensorsHeader(await source.open(path), pathInSource(source.label, path));
    onProgress?.({ phase: 'headers', done: ++done, total: shardFiles.length });
    return header;
  });

  const tensors = new Map<string, TensorInfo>();
  for (const shard of shards) {
    for (const t of shard.tensors) {
      const other = tensors.get(t.name);
      if (other) throw new SafetensorsError(shard.file, `is also stored in ${other.file}; the checkpoint is inconsistent.`, t.name);
      if (weightMap && weightMap.get(t.name) !== shard.file) {
        throw new CheckpointLayoutError(
          source.label,
          INDEX_FILE,
          `maps "${t.name}" to ${weightMap.get(t.name) ?? 'nothing'} but it is stored in ${shard.file}; the index does not match the shards.`,
        );
      }
      tensors.set(t.name, { ...t, file: shard.file });
    }
  }
  if (weightMap) {
    for (const [name, file] of weightMap) {
      if (!tensors.has(name)) {
        throw new CheckpointLayoutError(source.label, INDEX_FILE, `maps "${name}" to ${file} but that shard does not contain it.`);
      }
    }
  }

  const openFiles = new Map<string, Promise<ByteFile>>();
  const fileFor = (path: string) => {
    let f = openFiles.get(path);
    if (!f) openFiles.set(path, (f = source.open(path)));
    return f;
  };

  return {
    source,
    config,
    files,
    shards,
    sharded: weightMap !== undefined,
    tensors,
    tiedHead: !tensors.has('lm_head.weight'),
    tokenizerFiles: TOKENIZER_FILES.filter((f) => present.has(f)),
    async readTensorBytes(name, offset = 0, length) {
      const t = tensors.get(name);
      if (!t) throw new CheckpointLayoutError(source.label, 'weights', `has no tensor "${name}".`);
      const len = length ?? t.byteLength - offset;
      if (offset < 0 || len < 0 || offset + len > t.byteLength) {
        throw new RangeError(`read of ${name} [${offset}, ${offset + len}) outside its ${t.byteLength} bytes`);
      }
      return (await fileFor(t.file)).read(t.byteOffset + offset, len);
    },
  };
}

async function mapLimited<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  });
  await Promise.all(workers);
  return results;
}
