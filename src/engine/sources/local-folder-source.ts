// Node only: imported by the CLI, never by the page.
import { open, readdir, stat } from 'node:fs/promises';
import { basename, join, relative, resolve, sep } from 'node:path';
import { CheckpointLayoutError, SourceSpecError } from '../errors.ts';
import { readFileRange } from './node-file-range.ts';
import type { ByteFile, CheckpointSource, FileEntry } from './source.ts';

/**
 * A checkpoint folder on disk. Reads are positioned `read(2)` calls: no file is loaded whole.
 * `label` names it in errors and summaries (default: the folder's name). The CLI passes the path
 * as typed, since three donors are often `a/ckpt`, `b/ckpt`, `c/ckpt` and "ckpt" names none.
 */
export async function localFolderSource(path: string, opts: { label?: string } = {}): Promise<CheckpointSource> {
  const root = resolve(path);
  const st = await stat(root).catch(() => undefined);
  if (!st) throw new SourceSpecError(`${path}: no such folder. Give a checkpoint folder or hf:owner/name.`);
  if (!st.isDirectory()) throw new SourceSpecError(`${path} is a file; give the folder that holds config.json and the safetensors.`);
  const label = opts.label ?? basename(root);
  return {
    kind: 'local',
    label,
    async listFiles(): Promise<FileEntry[]> {
      const out: FileEntry[] = [];
      for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
        if (!entry.isFile()) continue;
        const full = join(entry.parentPath, entry.name);
        out.push({ path: relative(root, full).split(sep).join('/'), size: (await stat(full)).size });
      }
      return out.sort((a, b) => (a.path < b.path ? -1 : 1));
    },
    async open(file: string): Promise<ByteFile> {
      const full = resolve(root, file);
      if (!full.startsWith(root + sep)) throw new SourceSpecError(`${file}: path escapes the checkpoint folder.`);
      const handle = await open(full, 'r').catch(() => {
        throw new CheckpointLayoutError(label, file, 'cannot be opened; is it there and readable?');
      });
      const size = (await handle.stat()).size;
      await handle.close();
      return {
        path: file,
        size,
        read: (offset, length) =>
          readFileRange(full, offset, length, () => new CheckpointLayoutError(label, file, `ended before byte ${offset + length}; it changed on disk or is truncated.`)),
      };
    },
  };
}
