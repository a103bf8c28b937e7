import { useState } from 'react';
import { archiveRoute, type ArchiveProgress, type ArchiveResult } from '../session/archive-export.ts';
import { downloadExportArchive } from '../session/merge-session.ts';
import { formatBytes } from '../format.ts';
import '../export-files.css';

type Files = { name: string; size: number; url?: string }[];

const ROUTE_NOTE = {
  picker: 'streamed into the file you pick',
  opfs: 'built in this site’s private storage (the export’s size again on disk until the next export), then downloaded from there',
  memory: 'this browser cannot write files as streams: the archive is assembled in memory',
} as const;

/**
 * The files of a finished export. Saved into the origin-private file system (no folder picker),
 * they are offered as one streamed ZIP; the per-file links stay under a disclosure.
 */
export function ExportFiles({ files }: { files: Files }) {
  const [progress, setProgress] = useState<ArchiveProgress>();
  const [result, setResult] = useState<ArchiveResult>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const linked = files.some((f) => f.url);
  const total = files.reduce((s, f) => s + f.size, 0);
  const route = linked ? archiveRoute() : undefined;

  const download = async () => {
    setBusy(true);
    setError(undefined);
    setResult(undefined);
    try {
      setResult(await downloadExportArchive(setProgress));
    } catch (e) {
      // The user closing the save dialog is not an error.
      if (e instanceof DOMException && e.name === 'NotFoundError') setError("The export's files are no longer in this site's storage (cleared in Settings?): save the export again to download it.");
      else if (!(e instanceof DOMException && e.name === 'AbortError')) setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  const list = (
    <ul className="files" data-testid="merge-files">
      {files.map((f) => (
        <li key={f.name}>
          {f.url ? (
            <a href={f.url} download={f.name}>
              {f.name}
            </a>
          ) : (
            <span className="mono">{f.name}</span>
          )}{' '}
          <span className="muted">{formatBytes(f.size)}</span>
        </li>
      ))}
    </ul>
  );
  if (!linked) return list;
  return (
    <div className="export-files" data-testid="export-files">
      <button onClick={() => void download()} disabled={busy}>
        Download all (.zip)
      </button>{' '}
      <span className="muted" data-testid="archive-route" data-route={route}>
        {files.length} files, {formatBytes(total)}, stored uncompressed (safetensors do not compress); {ROUTE_NOTE[route!]}
        {route === 'memory' ? ` — about ${formatBytes(total)} of memory.` : '.'}
      </span>
      {busy && progress && (
        <div className="progress">
          <progress max={progress.bytesTotal || 1} value={progress.bytesDone} />
          <span>
            {formatBytes(progress.bytesDone)} of {formatBytes(progress.bytesTotal)}
          </span>
        </div>
      )}
      {result && (
        <p className="muted" data-testid="archive-result" data-bytes={result.bytes}>
          {/* The opfs/memory routes end by clicking a link to the finished archive: from then on the browser's own downloads hold it. */}
          {result.route === 'picker'
            ? `Saved "${result.name}" (${formatBytes(result.bytes)}).`
            : `Handed "${result.name}" (${formatBytes(result.bytes)}) to the browser: it is in the browser's downloads (or asks where to save it).`}
        </p>
      )}
      {error && (
        <p className="error" data-testid="archive-error">
          {error}
        </p>
      )}
      <details>
        <summary>Files one by one</summary>
        {list}
      </details>
    </div>
  );
}
