// Node only (CLI): ONNX models with external data in the cache folder, for onnxruntime-node.
import { createHash } from 'node:crypto';
import { readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { StudioError } from '../errors.ts';
import type { MergeSink } from '../merge/merge-executor.ts';
import { CacheError, fsErrorCode, isQuotaError } from '../sources/cache/cache-errors.ts';
import { defaultCacheDir, nodeCacheStore } from '../sources/cache/node-cache-store.ts';
import { EXTERNAL_DATA_FILE, externalDataSink, externalRanges, type ExternalDataLayout } from './external-data.ts';
import type { ExternalModelFiles } from './decoder-model.ts';
import { q4ExternalDataSink } from '../quant/q4-weights.ts';

/**
 * The CLI's models on disk: `$STUDIO_CACHE_DIR/models/<key>/` holds
 * - `model.onnx.data`: every weight in float32 (external-data.ts), written once by the merge
 *   executor — streamed, never whole in memory — under `.partial` until complete (the download
 *   cache's own appender: one writer across processes, a lock file, a rename to commit);
 * - `manifest.json`: what it was made from (the `identity`) and where each tensor lies;
 * - `model.onnx` / `model-last.onnx`: the decoder graphs (all logits / the last position's), a few
 *   hundred KB each, rewritten whenever the graph builder's bytes differ, so a newer studio never
 *   runs an older graph over cached weights.
 * (`models/` cannot collide with a Hub repo's cache entries, `owner/name/…`: the Hub reserves
 * "models" as a top-level path, as it does "datasets", which the dataset cache uses the same way.)
 * `<key>` hashes the identity: the sources (a Hub commit, or a folder's files by path, size,
 * mtime and inode), α, the vocab policy, the dtype and MODEL_FORMAT. While those are unchanged a
 * command reuses the entry and reads nothing from the checkpoints; any change makes a new entry.
 * Entries are evicted least recently used first once they exceed the budget
 * (STUDIO_MODEL_CACHE_GB, default DEFAULT_BUDGET_GB); the entry in use is always kept.
 */

/** Bump when the data file's layout or contents change meaning: older entries are then never reused. */
export const MODEL_FORMAT = 1;

/**
 * 24 GB: four 1.5B models in float32 (6.2 GB each), so a command re-run at a recent α (or a
 * forward after a generate) reuses its weights, while a sweep over many α cannot fill the disk.
 */
export const DEFAULT_BUDGET_GB = 24;
export const MODEL_CACHE_BUDGET_ENV = 'STUDIO_MODEL_CACHE_GB';

const MANIFEST = 'manifest.json';

/** The model cache could not be written (disk full, permissions): names the folder and what to do. */
export class ModelCacheError extends StudioError {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

export interface ModelStoreRequest {
  /** What the weights are made from; JSON. Its hash is the entry's key. */
  identity: unknown;
  layout: ExternalDataLayout;
  /** Runs the merge executor into `sink` (called only when the entry must be written). */
  fill(sink: MergeSink): Promise<unknown>;
  /** Default: $STUDIO_CACHE_DIR (node-cache-store.ts). */
  root?: string;
  /** One line when the weights are written rather than reused. */
  log?: (line: string) => void;
  /**
   * A 4-bit model (`--weights q4`): these weights are stored as MatMulNBits inputs, quantised on the
   * way to the file (`layout` from quant/q4-weights.ts layoutQ4ExternalData). The identity must
   * say so, so 4-bit and float data never share an entry.
   */
  quantized?: ReadonlySet<string>;
}

export interface StoredModel extends ExternalModelFiles {
  folder: string;
  /** The weights were already there. */
  reused: boolean;
}

interface Manifest {
  format: number;
  identity: unknown;
  layout: ExternalDataLayout;
}

const GB = 1e9;

/** The entry for `identity`: reused when complete and identical, else written through `fill`. */
export async function openStoredModel(r: ModelStoreRequest): Promise<StoredModel> {
  const root = r.root ?? defaultCacheDir();
  const manifest: Manifest = { format: MODEL_FORMAT, identity: r.identity, layout: r.layout };
  const manifestText = JSON.stringify(manifest);
  const key = createHash('sha256').update(manifestText).digest('hex').slice(0, 32);
  const rel = `models/${key}`;
  const folder = join(root, 'models', key);
  const store = nodeCacheStore(root);
  const dataKey = `${rel}/${EXTERNAL_DATA_FILE}`;
  const dataPath = join(folder, EXTERNAL_DATA_FILE);

  const complete = async () => {
    const st = await store.stat(dataKey);
    if (!st.complete) return false;
    const text = await readFile(join(folder, MANIFEST), 'utf8').catch(() => undefined);
    if (text === manifestText && st.bytes === r.layout.bytes) return true;
    // Complete bytes without their manifest (or another's) cannot be trusted: write them again.
    await store.remove(dataKey);
    return false;
  };

  let reused = await complete();
  while (!reused) {
    const appender = await wrapFs(folder, () => store.openAppender(dataKey));
    if (!appender) {
      // Another process finished it while this one waited for the lock.
      reused = await complete();
      continue;
    }
    if (appender.offset > 0) {
      // A partial from an interrupted run: the merge is not resumable mid-way, start afresh.
      await appender.discard();
      continue;
    }
    try {
      await wrapFs(folder, () => writeAtomically(join(folder, MANIFEST), manifestText));
      r.log?.(`studio: writing the model's ${r.quantized ? '4-bit (MatMulNBits) and float32' : 'float32'} weights (${(r.layout.bytes / GB).toFixed(2)} GB) to ${dataPath}`);
      const writer = { write: (b: Uint8Array) => wrapFs(folder, () => appender.write(b)) };
      const sink = r.quantized ? q4ExternalDataSink(r.layout, r.quantized, writer) : externalDataSink(r.layout, writer);
      await r.fill(sink);
      await wrapFs(folder, () => appender.commit());
    } catch (e) {
      await appender.discard().catch(() => {});
      throw e;
    }
    break;
  }
  // Last use, for eviction: the manifest's mtime.
  const now = new Date();
  await utimes(join(folder, MANIFEST), now, now).catch(() => {});
  await evict(join(root, 'models'), key, budgetBytes());

  return {
    folder,
    reused,
    location: EXTERNAL_DATA_FILE,
    tensors: externalRanges(r.layout),
    quantized: r.quantized,
    writeGraph: (name, bytes) => wrapFs(folder, () => writeGraphFile(folder, name, bytes)),
  };
}

function budgetBytes(): number {
  const raw = process.env[MODEL_CACHE_BUDGET_ENV];
  const gb = raw === undefined || raw.trim() === '' ? DEFAULT_BUDGET_GB : Number(raw);
  if (!Number.isFinite(gb) || gb < 0) throw new StudioError(`${MODEL_CACHE_BUDGET_ENV} must be a number of gigabytes ≥ 0, got "${raw}".`);
  return gb * GB;
}

/** Writes a graph file unless the same bytes are already there; returns its path. */
async function writeGraphFile(folder: string, name: string, bytes: Uint8Array): Promise<string> {
  const path = join(folder, name);
  const existing = await readFile(path).catch(() => undefined);
  if (!existing || !Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).equals(existing)) await writeAtomically(path, bytes);
  return path;
}

/** Temporary name, then rename: another process never reads half a file. */
async function writeAtomically(path: string, data: string | Uint8Array): Promise<void> {
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, data);
  await rename(temp, path);
}

/**
 * Removes complete entries other than `keep`, least recently used first, until the rest fit the
 * budget. Entries being written (a lock file, no complete data) are not touched.
 */
async function evict(modelsDir: string, keep: string, budget: number): Promise<void> {
  const entries: { key: string; bytes: number; used: number }[] = [];
  for (const key of await readdir(modelsDir).catch(() => [] as string[])) {
    if (key === keep) continue;
    const dir = join(modelsDir, key);
    const [data, manifest, lock] = await Promise.all(
      [EXTERNAL_DATA_FILE, MANIFEST, `${EXTERNAL_DATA_FILE}.lock`].map((f) => stat(join(dir, f)).catch(() => undefined)),
    );
    if (!data || lock) continue;
    entries.push({ key, bytes: data.size, used: manifest?.mtimeMs ?? 0 });
  }
  const keepBytes = (await stat(join(modelsDir, keep, EXTERNAL_DATA_FILE)).catch(() => undefined))?.size ?? 0;
  let total = keepBytes + entries.reduce((a, e) => a + e.bytes, 0);
  entries.sort((a, b) => a.used - b.used);
  for (const e of entries) {
    if (total <= budget) break;
    await rm(join(modelsDir, e.key), { recursive: true, force: true }).catch(() => {});
    total -= e.bytes;
  }
}

/** Node fs failures in the model cache, in the words of what the user can do. */
async function wrapFs<T>(folder: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof ModelCacheError) throw e;
    const code = fsErrorCode(e);
    if (isQuotaError(e) || (e instanceof CacheError && /No space left/.test(e.message))) {
      throw new ModelCacheError(folder, `No space left to write the model's weights in ${folder}${code ? ` (${code})` : ''}. Free disk space there (or lower ${MODEL_CACHE_BUDGET_ENV}), or set STUDIO_CACHE_DIR to a folder on a disk with room.`);
    }
    if (e instanceof CacheError) throw e;
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS' || code === 'ENOTDIR') {
      throw new ModelCacheError(folder, `The model cache cannot use ${folder} (${code}). Make that folder writable, or set STUDIO_CACHE_DIR to a folder you can write.`);
    }
    throw e;
  }
}
