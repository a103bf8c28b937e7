import { archiveLength, zipArchive, type ArchiveEntry } from '../../engine/export/zip-archive.ts';

/**
 * "Download all (.zip)" for an export saved in the origin-private file system (browsers without a
 * folder picker). The archive is streamed from the OPFS files through client-zip, never held:
 *
 * 1. showSaveFilePicker (Chromium): straight into the file the user picks.
 * 2. Else into an OPFS file next to the export, offered as a blob URL of that File — a File from
 *    OPFS is backed by the disk, so the download reads it from there (it costs the archive's size
 *    on disk a second time, freed with the next export).
 * 3. Else (no writable OPFS files, e.g. an older Safari): the archive is collected into a Blob,
 *    which may sit in memory whole — the page says so with the size before it starts.
 */

export type ArchiveRoute = 'picker' | 'opfs' | 'memory';

export interface ArchiveProgress {
  bytesDone: number;
  bytesTotal: number;
}

export interface ArchiveResult {
  route: ArchiveRoute;
  name: string;
  bytes: number;
  /** The blob URL offered (opfs, memory); the caller revokes it with the export. */
  url?: string;
}

interface SavePickerWindow {
  showSaveFilePicker?: (o?: { suggestedName?: string; id?: string; types?: { description: string; accept: Record<string, string[]> }[] }) => Promise<FileSystemFileHandle>;
}

const canWriteOpfs = () =>
  typeof navigator !== 'undefined' && !!navigator.storage?.getDirectory && typeof FileSystemFileHandle !== 'undefined' && 'createWritable' in FileSystemFileHandle.prototype;

/** Which route a click on "Download all" takes in this browser (shown before it is clicked). */
export function archiveRoute(): ArchiveRoute {
  if ((window as unknown as SavePickerWindow).showSaveFilePicker) return 'picker';
  return canWriteOpfs() ? 'opfs' : 'memory';
}

/** A file of an export by its path: `onnx/model.onnx` is in the `onnx` subfolder (the ONNX export's layout). */
export async function fileHandleAt(dir: FileSystemDirectoryHandle, path: string): Promise<FileSystemFileHandle> {
  const parts = path.split('/');
  for (const p of parts.slice(0, -1)) dir = await dir.getDirectoryHandle(p);
  return dir.getFileHandle(parts[parts.length - 1]);
}

async function entriesOf(dir: FileSystemDirectoryHandle, names: readonly string[]): Promise<ArchiveEntry[]> {
  const out: ArchiveEntry[] = [];
  for (const name of names) {
    const file = await (await fileHandleAt(dir, name)).getFile();
    out.push({ name, size: file.size, lastModified: new Date(file.lastModified), open: () => file.stream() });
  }
  return out;
}

/** Counts the bytes going through, for the progress bar. */
function counting(total: number, onProgress?: (p: ArchiveProgress) => void) {
  let done = 0;
  return new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      done += chunk.length;
      onProgress?.({ bytesDone: done, bytesTotal: total });
      controller.enqueue(chunk);
    },
  });
}

function clickDownload(url: string, name: string) {
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.style.display = 'none';
  document.body.append(a);
  a.click();
  a.remove();
}

/**
 * Streams `names` (files of `dir`) into `${archiveName}.zip` by the first route this browser
 * offers. `scratch` is where route 2 writes the archive (the export's parent folder in OPFS).
 */
export async function saveArchive(
  dir: FileSystemDirectoryHandle,
  names: readonly string[],
  archiveName: string,
  scratch: FileSystemDirectoryHandle,
  options: { signal?: AbortSignal; onProgress?: (p: ArchiveProgress) => void } = {},
): Promise<ArchiveResult> {
  const entries = await entriesOf(dir, names);
  const bytes = archiveLength(entries);
  const name = `${archiveName}.zip`;
  const zip = () => zipArchive(entries).pipeThrough(counting(bytes, options.onProgress));
  const route = archiveRoute();
  if (route === 'picker') {
    const handle = await (window as unknown as SavePickerWindow).showSaveFilePicker!({
      suggestedName: name,
      id: 'studio-export',
      types: [{ description: 'ZIP archive', accept: { 'application/zip': ['.zip'] } }],
    });
    // pipeTo closes the writable on success (the file appears then) and aborts it on failure (no partial file).
    await zip().pipeTo(await handle.createWritable(), { signal: options.signal });
    return { route, name: handle.name, bytes };
  }
  if (route === 'opfs') {
    await scratch.removeEntry(name).catch(() => {});
    const handle = await scratch.getFileHandle(name, { create: true });
    try {
      await zip().pipeTo(await handle.createWritable(), { signal: options.signal });
    } catch (e) {
      await scratch.removeEntry(name).catch(() => {});
      throw e;
    }
    const url = URL.createObjectURL(await handle.getFile());
    clickDownload(url, name);
    return { route, name, bytes, url };
  }
  // Through a TransformStream so the signal stops it like the other routes.
  const buffer = new TransformStream<Uint8Array, Uint8Array>();
  const [blob] = await Promise.all([new Response(buffer.readable).blob(), zip().pipeTo(buffer.writable, { signal: options.signal })]);
  const url = URL.createObjectURL(new File([blob], name, { type: 'application/zip' }));
  clickDownload(url, name);
  return { route, name, bytes, url };
}
