// Node only (CLI `--data`): the page reads a dropped file's bytes and calls parseDatasetFile itself.
import { readFile } from 'node:fs/promises';
import { DatasetFileError } from './dataset-errors.ts';
import type { DatasetRow } from './dataset.ts';
import { parseDatasetFile, type DatasetFileOptions } from './parse-dataset-file.ts';

/** The rows of a local `.jsonl` or `.parquet` file; errors name `path` (and the line, for JSONL). */
export async function readDatasetFile(path: string, opts: DatasetFileOptions = {}): Promise<DatasetRow[]> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a folder, not a file' : code === 'EACCES' ? 'not readable (permission denied)' : String(code ?? (e as Error).message);
    throw new DatasetFileError(path, undefined, `cannot be read: ${why}. Give a .jsonl or .parquet file of items.`);
  }
  return parseDatasetFile(path, bytes, opts);
}
