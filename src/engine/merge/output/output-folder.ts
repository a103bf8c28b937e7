/**
 * Where a merge writes: a folder whose files only appear, under their final names, once the
 * whole merge has succeeded. Until `commit()` everything lives under temporary names; `abort()`
 * removes it. Implementations: Node (output/node-output-folder.ts), the browser's File System
 * Access API or OPFS (output/fs-access-output-folder.ts), memory (tests, benchmarks).
 */
export interface OutputFile {
  write(bytes: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

export interface OutputFolder {
  /** For messages: a path or folder name. */
  readonly label: string;
  create(name: string): Promise<OutputFile>;
  /** Publishes every closed file under its final name. */
  commit(): Promise<void>;
  /** Deletes whatever was written. Safe to call after a failed commit or twice. */
  abort(): Promise<void>;
}

/** Keeps files in memory (tests; small fixtures only) or, with `discard`, only counts bytes (benchmarks). */
export function memoryOutputFolder(options: { discard?: boolean } = {}) {
  const files = new Map<string, Uint8Array[]>();
  const sizes = new Map<string, number>();
  let committed = false;
  return {
    label: 'memory',
    files,
    sizes,
    get committed() {
      return committed;
    },
    /** A committed file's bytes, concatenated. */
    bytes(name: string): Uint8Array {
      const parts = files.get(name);
      if (!parts) throw new Error(`no file ${name}`);
      const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
      let at = 0;
      for (const p of parts) (out.set(p, at), (at += p.length));
      return out;
    },
    async create(name: string): Promise<OutputFile> {
      const parts: Uint8Array[] = [];
      files.set(name, parts);
      sizes.set(name, 0);
      return {
        async write(bytes) {
          if (!options.discard) parts.push(bytes.slice());
          sizes.set(name, sizes.get(name)! + bytes.length);
        },
        async close() {},
      };
    },
    async commit() {
      committed = true;
    },
    async abort() {
      files.clear();
      sizes.clear();
    },
  } satisfies OutputFolder & Record<string, unknown>;
}
