import { clearOpfsCache, ROOT_DIR as DOWNLOAD_DIR } from '../../engine/sources/cache/opfs-cache-store.ts';
import { formatBytes } from '../format.ts';
import { ROLES } from '../../engine/checkpoint/compatibility.ts';
import { useStudio } from '../store.ts';
import { EXPORTS_DIR, forgetStoredExport, mergeJobRunning } from './merge-session.ts';
import { reopenHubSlots } from './slot-loader.ts';

/**
 * Settings → "Clear downloads and exports": what the origin-private file system holds, removed,
 * and every part of the page that pointed into it brought back to "not stored" — the slots'
 * "weights cached" lines and the last export's file links and "Download all (.zip)". Before this,
 * the page kept showing what it had deleted and the ZIP failed with a raw NotFoundError.
 */

export interface StoredBytes {
  downloads: number;
  exports: number;
}

async function folderBytes(dir: FileSystemDirectoryHandle): Promise<number> {
  let total = 0;
  // entries() is in every OPFS browser but not in TypeScript's DOM lib yet.
  for await (const [, entry] of (dir as unknown as { entries(): AsyncIterable<[string, FileSystemHandle]> }).entries()) {
    total += entry.kind === 'file' ? (await (entry as FileSystemFileHandle).getFile()).size : await folderBytes(entry as FileSystemDirectoryHandle);
  }
  return total;
}

/** Bytes under the download cache and the exports folder (0 for a folder that does not exist). */
export async function storedBytes(): Promise<StoredBytes> {
  const root = await navigator.storage.getDirectory();
  const sizeOf = (name: string) =>
    root.getDirectoryHandle(name).then(folderBytes, (e: DOMException) => {
      if (e.name === 'NotFoundError') return 0;
      throw e;
    });
  return { downloads: await sizeOf(DOWNLOAD_DIR), exports: await sizeOf(EXPORTS_DIR) };
}

/** Why clearing now would pull files from under running work, or undefined. */
export function clearProblem(): string | undefined {
  const downloading = ROLES.filter((r) => useStudio.getState().slots[r].download?.state === 'running');
  if (downloading.length > 0) return `A weight download is running (${downloading.join(', ')}): wait for it to finish, then clear.`;
  if (mergeJobRunning()) return 'A merge job is running and may be writing an export: cancel it or wait, then clear.';
  return undefined;
}

/** Removes both folders and resets what the page said about them; returns what was removed, in words. */
export async function clearDownloadsAndExports(): Promise<{ bytes: StoredBytes; message: string }> {
  const problem = clearProblem();
  if (problem) throw new Error(problem);
  const bytes = await storedBytes();
  const hadExport = forgetStoredExport();
  await clearOpfsCache();
  const st = useStudio.getState();
  for (const r of ROLES) if (st.slots[r].download) st.patchSlot(r, { download: undefined });
  const job = st.merge.job;
  // Only an export into this site's storage has links (a picked folder is the user's, untouched).
  if (job?.files?.some((f) => f.url)) {
    st.patchMerge({ job: { ...job, files: undefined, message: `${job.message ?? 'The export'} Its files were cleared since (Settings → Clear downloads and exports): save it again to download them.` } });
  }
  const reopened = reopenHubSlots();
  const total = bytes.downloads + bytes.exports;
  const message =
    total === 0 && !hadExport
      ? 'Nothing was stored: no downloads or exports to clear.'
      : `Cleared ${formatBytes(total)}: ${formatBytes(bytes.downloads)} of downloaded weights and datasets, ${formatBytes(bytes.exports)} of exports.${reopened.length ? ` The Hub checkpoints (${reopened.join(', ')}) are opened again from the Hub, since their cached files are gone; weights are read from the Hub until downloaded again.` : ''}`;
  return { bytes, message };
}
