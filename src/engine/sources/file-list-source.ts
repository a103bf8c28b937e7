import { SourceSpecError } from '../errors.ts';
import type { ByteFile, CheckpointSource, FileEntry } from './source.ts';

export interface DroppedFile {
  /** Path relative to the dropped folder (or just the name for loose files). */
  path: string;
  file: Blob;
}

/**
 * Files dropped into the page (or picked with a folder input). Paths are made relative to
 * the common top folder, so dropping `Qwen2.5-1.5B/` or its contents gives the same source.
 */
export function fileListSource(label: string, dropped: DroppedFile[]): CheckpointSource {
  if (dropped.length === 0) throw new SourceSpecError(`${label}: nothing was dropped; drop a model folder or its files.`);
  const parts = dropped.map((d) => d.path.replace(/^\/+/, '').split('/'));
  const top = parts[0].length > 1 ? parts[0][0] : undefined;
  const strip = top !== undefined && parts.every((p) => p.length > 1 && p[0] === top);
  const byPath = new Map<string, Blob>();
  dropped.forEach((d, i) => byPath.set((strip ? parts[i].slice(1) : parts[i]).join('/'), d.file));
  return {
    kind: 'files',
    label: strip ? `${top}/` : label,
    async listFiles(): Promise<FileEntry[]> {
      return [...byPath].map(([path, f]) => ({ path, size: f.size }));
    },
    async open(path: string): Promise<ByteFile> {
      const blob = byPath.get(path);
      if (!blob) throw new SourceSpecError(`${label}: ${path} was not among the dropped files.`);
      return {
        path,
        size: blob.size,
        async read(offset, length) {
          return new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer());
        },
      };
    },
  };
}
