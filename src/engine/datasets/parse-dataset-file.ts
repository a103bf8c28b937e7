import { bytesFile } from '../sources/source.ts';
import { DatasetFileError } from './dataset-errors.ts';
import type { DatasetRow } from './dataset.ts';
import { readParquetRows } from './read-parquet-rows.ts';
import { requireFields } from './require-fields.ts';

export interface DatasetFileOptions {
  /** Fields every row must have (the task's own: gsm8k needs question, answer). */
  requiredFields?: readonly string[];
  /** Who reads the rows, for messages: e.g. `gsm8k_cot`. */
  purpose?: string;
}

/** Extensions a local dataset file may have, and how each is read. */
export const DATASET_FILE_KINDS = { '.jsonl': 'jsonl', '.ndjson': 'jsonl', '.parquet': 'parquet' } as const;

/**
 * The rows of a local dataset file — `--data items.jsonl|items.parquet` in the CLI, a dropped file
 * in the page — with the dataset's own field names, the same objects a Hub dataset yields.
 * `name` is what errors call the file (its path or file name); the kind follows its extension.
 * JSONL: one JSON object per line; blank lines are skipped, a leading BOM and CRLF endings are
 * accepted; anything else is a DatasetFileError naming `name:line`.
 */
export async function parseDatasetFile(name: string, bytes: Uint8Array, opts: DatasetFileOptions = {}): Promise<DatasetRow[]> {
  const ext = Object.keys(DATASET_FILE_KINDS).find((e) => name.toLowerCase().endsWith(e)) as keyof typeof DATASET_FILE_KINDS | undefined;
  if (!ext) {
    throw new DatasetFileError(name, undefined, `unknown dataset file type; use a .jsonl file (one JSON object per line) or a .parquet file.`);
  }
  if (DATASET_FILE_KINDS[ext] === 'parquet') {
    const { rows } = await readParquetRows(bytesFile(name, bytes), { hint: 'Check that it is a parquet file, or give the items as JSONL.' });
    requireFields(rows, opts.requiredFields ?? [], { purpose: opts.purpose, where: (i) => `${name} row ${i + 1}` });
    return rows;
  }
  const { rows, lines } = parseJsonl(name, bytes);
  requireFields(rows, opts.requiredFields ?? [], { purpose: opts.purpose, where: (i) => `${name}:${lines[i]}` });
  return rows;
}

function parseJsonl(name: string, bytes: Uint8Array): { rows: DatasetRow[]; lines: number[] } {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new DatasetFileError(name, undefined, 'is not UTF-8 text; save it as UTF-8 JSONL (one JSON object per line).');
  }
  if (text.startsWith('\uFEFF')) text = text.slice(1);
  const rows: DatasetRow[] = [];
  const lines: number[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      throw new DatasetFileError(name, i + 1, `not valid JSON (${(e as Error).message}); each line must be one JSON object with the dataset's fields.`);
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      const kind = value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
      throw new DatasetFileError(name, i + 1, `is ${kind}, not a JSON object; each line must be one object with the dataset's fields.`);
    }
    rows.push(value as DatasetRow);
    lines.push(i + 1);
  });
  if (rows.length === 0) throw new DatasetFileError(name, undefined, 'has no items (no non-blank lines).');
  return { rows, lines };
}
