import { nodeCacheStore } from '../engine/sources/cache/node-cache-store.ts';
import { openHubSource } from '../engine/sources/hub-source.ts';
import { localFolderSource } from '../engine/sources/local-folder-source.ts';
import { parseSourceSpec } from '../engine/sources/parse-source-spec.ts';
import type { CheckpointSource } from '../engine/sources/source.ts';
import type { DownloadProgress } from '../engine/sources/cache/progress.ts';
import { DownloadProgressBoard } from './download-progress.ts';

/** One board per process: the sources of one command download at once and share stderr. */
let board: DownloadProgressBoard | undefined;

/** The process's download progress board (checkpoints and datasets share it). */
export function downloadBoard(): DownloadProgressBoard {
  return (board ??= new DownloadProgressBoard(process.stderr));
}

/**
 * A source named on the command line: `hf:owner/name[@rev]` (HF_ENDPOINT, HF_TOKEN) or a folder.
 * Hub files go through the download cache ($STUDIO_CACHE_DIR, default
 * ~/.cache/reasoning-vector-studio): headers and small files as they are read, weight files
 * whole (resumable, progress on stderr) on their first tensor read, so a second run reads
 * them from disk.
 */
export async function openCliSource(spec: string, onProgress?: (p: DownloadProgress) => void): Promise<CheckpointSource> {
  const parsed = parseSourceSpec(spec);
  if (parsed.kind === 'local') return localFolderSource(parsed.path);
  return openHubSource(parsed.repo, parsed.revision, {
    hubUrl: process.env.HF_ENDPOINT || undefined,
    accessToken: process.env.HF_TOKEN || undefined,
    cache: nodeCacheStore(),
    downloadWholeFiles: true,
    onProgress: onProgress ?? downloadBoard().reporter(`hf:${parsed.repo}`),
  });
}
