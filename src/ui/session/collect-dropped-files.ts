import type { DroppedFile } from '../../engine/sources/file-list-source.ts';

/**
 * Turns a drop into files with paths relative to what was dropped. A dropped *folder* only
 * reaches us through `webkitGetAsEntry()` (its `files` list is empty), so entries are walked;
 * loose files fall back to `dataTransfer.files`.
 */
export async function collectDroppedFiles(dt: DataTransfer): Promise<DroppedFile[]> {
  const entries = [...dt.items]
    .filter((i) => i.kind === 'file')
    .map((i) => i.webkitGetAsEntry?.())
    .filter((e): e is FileSystemEntry => !!e);
  if (entries.length > 0) {
    const out: DroppedFile[] = [];
    for (const entry of entries) await walk(entry, '', out);
    if (out.length > 0) return out;
  }
  return [...dt.files].map((f) => ({ path: f.name, file: f }));
}

/** Files from `<input type="file" webkitdirectory>`: `webkitRelativePath` keeps the folder structure. */
export function filesFromInput(list: FileList): DroppedFile[] {
  return [...list].map((f) => ({ path: f.webkitRelativePath || f.name, file: f }));
}

async function walk(entry: FileSystemEntry, prefix: string, out: DroppedFile[]): Promise<void> {
  const path = prefix ? `${prefix}/${entry.name}` : entry.name;
  if (entry.isFile) {
    const file = await new Promise<File>((res, rej) => (entry as FileSystemFileEntry).file(res, rej));
    out.push({ path, file });
    return;
  }
  const reader = (entry as FileSystemDirectoryEntry).createReader();
  // readEntries returns at most 100 entries per call; keep reading until it returns none.
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((res, rej) => reader.readEntries(res, rej));
    if (batch.length === 0) break;
    for (const child of batch) await walk(child, path, out);
  }
}
