import { nodeCacheStore } from '../engine/sources/cache/node-cache-store.ts';
import { openHubSource } from '../engine/sources/hub-source.ts';
import { localFolderSource } from '../engine/sources/local-folder-source.ts';
import { parseSourceSpec } from '../engine/sources/parse-source-spec.ts';
import type { CheckpointSource } from '../engine/sources/source.ts';
import type { DownloadProgress } from '../engine/sources/cache/progress.ts';

/** A source named on the command line: `hf:owner/name[@rev]` (HF_ENDPOINT, HF_TOKEN) or a folder. */
export async function openCliSource(spec: string, onProgress?: (p: DownloadProgress) => void): Promise<CheckpointSource> {
  const parsed = parseSourceSpec(spec);
  if (parsed.kind === 'local') return localFolderSource(parsed.path);
  return openHubSource(parsed.repo, parsed.revision, {
    hubUrl: process.env.HF_ENDPOINT || undefined,
    accessToken: process.env.HF_TOKEN || undefined,
    cache: nodeCacheStore(),
    onProgress,
  });
}
