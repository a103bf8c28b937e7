import { parquetMetadataAsync, parquetReadObjects, parquetSchema, toJson, type AsyncBuffer } from 'hyparquet';
import type { ByteFile } from '../sources/source.ts';
import { DatasetFileError } from './dataset-errors.ts';
import type { DatasetRow } from './dataset.ts';

export interface ParquetRows {
  /** Top-level column names, in the file's schema order. */
  columns: string[];
  rows: DatasetRow[];
}

/**
 * All rows of one parquet file as plain objects keyed by the file's column names. Values are made
 * JSON-plain (hyparquet's `toJson`: INT64 → number, bytes → number arrays, dates → ISO strings), so
 * rows can go into results and sample files unchanged. Reads go through `file.read`, so a cached
 * file is read in place. Snappy-compressed and uncompressed files are read (what `datasets`,
 * pyarrow and the Hub's converter write by default); a file in another codec, or not parquet at
 * all, is a DatasetFileError naming `file.path` and ending with `hint` (what the user can do).
 */
export async function readParquetRows(file: ByteFile, opts: { hint?: string } = {}): Promise<ParquetRows> {
  const buffer: AsyncBuffer = {
    byteLength: file.size,
    // hyparquet wants an ArrayBuffer holding exactly the slice, but a read may return a view into a
    // larger one (a Node Buffer from the shared pool, whose .slice() does not even copy): copy it.
    slice: async (start, end) => new Uint8Array(await file.read(start, (end ?? file.size) - start)).buffer,
  };
  try {
    const metadata = await parquetMetadataAsync(buffer);
    const columns = parquetSchema(metadata).children.map((c) => c.element.name);
    const objects = await parquetReadObjects({ file: buffer, metadata });
    return { columns, rows: objects.map((o) => toJson(o) as DatasetRow) };
  } catch (e) {
    const hint = opts.hint ?? 'Check that it is a parquet file.';
    throw new DatasetFileError(file.path, undefined, `cannot be read as parquet (${(e as Error).message}). ${hint}`);
  }
}

