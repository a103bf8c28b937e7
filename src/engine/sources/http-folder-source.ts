import { CheckpointLayoutError, HubError } from '../errors.ts';
import type { ByteFile, CheckpointSource, FileEntry } from './source.ts';

/**
 * A checkpoint served as plain static files next to a `manifest.json` listing them
 * (`{"files":[{"path","size"}]}`): the studio's embedded demo trio, or any folder on a
 * static host that answers Range requests.
 */
/** Answers with fewer bytes than asked for, tolerated before a read fails. */
const SHORT_READ_ATTEMPTS = 3;

export async function httpFolderSource(baseUrl: string, label: string, fetchImpl: typeof fetch = fetch): Promise<CheckpointSource> {
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  const res = await fetchImpl(`${base}manifest.json`);
  if (!res.ok) throw new HubError(label, res.status, `${label}: ${base}manifest.json answered HTTP ${res.status}; the folder is not served here.`);
  const manifest = (await res.json()) as { files?: FileEntry[] };
  if (!Array.isArray(manifest.files)) throw new CheckpointLayoutError(label, 'manifest.json', 'has no "files" list.');
  const files = manifest.files;
  return {
    kind: 'files',
    label,
    async listFiles() {
      return files;
    },
    async open(path): Promise<ByteFile> {
      const entry = files.find((f) => f.path === path);
      if (!entry) throw new CheckpointLayoutError(label, path, 'is not in the manifest.');
      return {
        path,
        size: entry.size,
        async read(offset, length) {
          if (length === 0) return new Uint8Array(0);
          for (let attempt = 1; ; attempt++) {
            const r = await fetchImpl(`${base}${path}`, { headers: { Range: `bytes=${offset}-${offset + length - 1}` } });
            if (!r.ok) throw new HubError(label, r.status, `${label}: reading ${path} answered HTTP ${r.status}.`);
            const bytes = new Uint8Array(await r.arrayBuffer());
            // A server that ignores Range answers 200 with the whole file.
            const answer = r.status === 206 ? bytes : bytes.subarray(offset, offset + length);
            if (answer.length === length) return answer;
            // Vite's dev server under load was seen to answer 206 with the right Content-Range and an
            // empty body; merged silently, that became another chunk's weights. Ask again, then refuse.
            if (attempt >= SHORT_READ_ATTEMPTS) {
              throw new HubError(label, undefined, `${label}: reading ${path} (bytes ${offset}–${offset + length - 1}) returned ${answer.length} of ${length} bytes ${attempt} times; the server cut its answers short. Try again.`);
            }
          }
        },
      };
    },
  };
}
