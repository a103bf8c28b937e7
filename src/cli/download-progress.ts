import { formatBytes } from '../engine/errors.ts';
import type { DownloadProgress } from '../engine/sources/cache/progress.ts';

/** Where progress goes: process.stderr, or a fake in tests. */
export interface ProgressOutput {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

/** A log or a pipe gets a line per file at most this often (plus its start and end), not one per network chunk. */
export const PLAIN_LINE_INTERVAL_MS = 5000;
/** A terminal bar is redrawn at most this often: smooth to the eye, cheap on a slow terminal. */
export const BAR_REDRAW_MS = 100;
const BAR_CELLS = 24;

interface Active {
  label: string;
  started: number;
  lastLine: number;
  p: DownloadProgress;
}

/**
 * Download progress on stderr for every download of one CLI process. On a terminal, one bar
 * redrawn in place sums the files downloading at once (merge reads its three models
 * together) and each finished file leaves one line; elsewhere, plain lines with bytes, total
 * and rate at the start, every PLAIN_LINE_INTERVAL_MS, and at the end.
 */
export class DownloadProgressBoard {
  private readonly active = new Map<string, Active>();
  private lastDraw = -Infinity;
  private barShown = false;

  constructor(
    private readonly out: ProgressOutput,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /** The progress callback for one source's downloads; `source` names it (`hf:owner/name`). */
  reporter(source: string): (p: DownloadProgress) => void {
    return (p) => this.update(`${source} ${p.file}`, p);
  }

  private update(label: string, p: DownloadProgress) {
    const t = this.now();
    let a = this.active.get(label);
    const first = !a;
    if (!a) this.active.set(label, (a = { label, started: t, lastLine: t, p }));
    a.p = p;
    const finished = p.bytesDone >= p.bytesTotal;
    if (finished) this.active.delete(label);
    if (this.out.isTTY) {
      if (finished) {
        this.out.write(`${this.barShown ? '\r\x1b[2K' : ''}${this.doneLine(a, t)}\n`);
        this.barShown = false;
        if (this.active.size) this.draw(t);
      } else if (first || t - this.lastDraw >= BAR_REDRAW_MS) {
        this.draw(t);
      }
      return;
    }
    if (finished) {
      this.out.write(`${this.doneLine(a, t)}\n`);
    } else if (first) {
      const resumed = p.resumedFrom > 0 ? `, ${formatBytes(p.resumedFrom)} of it already cached` : '';
      this.out.write(`downloading ${label}: ${amounts(p)}${resumed}\n`);
    } else if (t - a.lastLine >= PLAIN_LINE_INTERVAL_MS) {
      a.lastLine = t;
      this.out.write(`downloading ${label}: ${amounts(p)}, ${formatBytes(p.bytesPerSecond)}/s\n`);
    }
  }

  private doneLine(a: Active, t: number): string {
    const seconds = Math.max(t - a.started, 1) / 1000;
    const rate = (a.p.bytesTotal - a.p.resumedFrom) / seconds;
    const resumed = a.p.resumedFrom > 0 ? ` (${formatBytes(a.p.resumedFrom)} of it was already cached)` : '';
    return `downloaded ${a.label}: ${amounts(a.p)}, ${formatBytes(rate)}/s, ${seconds.toFixed(1)} s${resumed}`;
  }

  private draw(t: number) {
    this.lastDraw = t;
    const all = [...this.active.values()];
    const done = all.reduce((n, a) => n + a.p.bytesDone, 0);
    const total = all.reduce((n, a) => n + a.p.bytesTotal, 0);
    const rate = all.reduce((n, a) => n + a.p.bytesPerSecond, 0);
    const fraction = total > 0 ? done / total : 1;
    const filled = Math.round(fraction * BAR_CELLS);
    const eta = rate > 0 ? ` ETA ${formatSeconds((total - done) / rate)}` : '';
    const tail = ` [${'#'.repeat(filled)}${'-'.repeat(BAR_CELLS - filled)}] ${(100 * fraction).toFixed(0)}% ${formatBytes(done)} / ${formatBytes(total)} ${formatBytes(rate)}/s${eta}`;
    let what = all.length === 1 ? all[0].label : `${all.length} files`;
    // A narrow terminal keeps the numbers and the end of the name (the file), not the repo owner.
    const width = (this.out.columns || 80) - 1; // a pty without a size reports 0
    if (what.length + tail.length > width) what = `…${what.slice(what.length - Math.max(width - tail.length - 1, 0))}`;
    const line = (what + tail).slice(0, width);
    this.out.write(`\r\x1b[2K${line}`);
    this.barShown = true;
  }
}

function amounts(p: DownloadProgress): string {
  const pct = p.bytesTotal > 0 ? Math.floor((100 * p.bytesDone) / p.bytesTotal) : 100;
  return `${formatBytes(p.bytesDone)} / ${formatBytes(p.bytesTotal)} (${pct}%)`;
}

function formatSeconds(s: number): string {
  if (s < 60) return `${Math.ceil(s)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.ceil(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.ceil((s % 3600) / 60)} min`;
}
