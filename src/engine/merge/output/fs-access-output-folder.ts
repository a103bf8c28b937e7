import { StudioError } from '../../errors.ts';
import type { OutputFile, OutputFolder } from './output-folder.ts';

/**
 * A folder through the File System Access API: a folder the user picked
 * (`showDirectoryPicker`) or the origin-private file system (`navigator.storage.getDirectory()`).
 * Each file is streamed to disk as `<name>.partial` (`createWritable`, never a whole-file Blob in
 * memory) and renamed to its final name only by `commit()`; `abort()` deletes the folder.
 */

const PARTIAL = '.partial';

interface MovableHandle extends FileSystemFileHandle {
  move?(newName: string): Promise<void>;
}

export async function fsAccessOutputFolder(parent: FileSystemDirectoryHandle, name: string): Promise<OutputFolder & { dir: FileSystemDirectoryHandle }> {
  let existed = true;
  try {
    await parent.getDirectoryHandle(name);
  } catch {
    existed = false;
  }
  const dir = await parent.getDirectoryHandle(name, { create: true });
  if (existed) {
    for await (const _ of (dir as unknown as { keys(): AsyncIterable<string> }).keys()) {
      throw new StudioError(`The folder "${name}" already exists in ${parent.name || 'the chosen folder'} and is not empty; pick another place (nothing is overwritten).`);
    }
  }
  const written: string[] = [];
  const open = new Set<FileSystemWritableFileStream>();
  return {
    label: name,
    dir,
    async create(file) {
      const handle = await dir.getFileHandle(file + PARTIAL, { create: true });
      const stream = await handle.createWritable();
      open.add(stream);
      written.push(file);
      const out: OutputFile = {
        async write(bytes) {
          await stream.write(bytes as Uint8Array<ArrayBuffer>);
        },
        async close() {
          open.delete(stream);
          await stream.close();
        },
      };
      return out;
    },
    async commit() {
      for (const file of written) {
        const partial = (await dir.getFileHandle(file + PARTIAL)) as MovableHandle;
        if (typeof partial.move === 'function') {
          await partial.move(file);
        } else {
          // No rename in this browser: stream the bytes across, then drop the partial file.
          const target = await (await dir.getFileHandle(file, { create: true })).createWritable();
          await (await partial.getFile()).stream().pipeTo(target);
          await dir.removeEntry(file + PARTIAL);
        }
      }
    },
    async abort() {
      for (const s of [...open]) await s.abort().catch(() => {});
      open.clear();
      await parent.removeEntry(name, { recursive: true }).catch(() => {});
    },
  };
}
