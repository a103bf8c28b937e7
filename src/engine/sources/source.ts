/**
 * The one interface the rest of the engine reads checkpoints through, whatever they come
 * from: the Hub, a folder on disk (CLI), or files dropped into the page.
 */

/** Random access to one file's bytes. `read` must not buffer more than it returns. */
export interface ByteFile {
  /** Path inside the checkpoint, e.g. `model-00001-of-00002.safetensors`. */
  readonly path: string;
  readonly size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
}

export interface FileEntry {
  path: string;
  size: number;
}

export interface CheckpointSource {
  readonly kind: 'hub' | 'local' | 'files';
  /** What the user sees and what goes in share URLs: `hf:owner/name@sha`, a folder name. Never a token. */
  readonly label: string;
  /** For the Hub: the commit the revision resolved to, pinned for every later read. */
  readonly revision?: string;
  listFiles(): Promise<FileEntry[]>;
  open(path: string): Promise<ByteFile>;
}

export async function readText(file: ByteFile): Promise<string> {
  return new TextDecoder().decode(await file.read(0, file.size));
}

/** A ByteFile over bytes already in memory (small files, tests). */
export function bytesFile(path: string, bytes: Uint8Array): ByteFile {
  return {
    path,
    size: bytes.byteLength,
    async read(offset, length) {
      return bytes.subarray(offset, offset + length);
    },
  };
}
