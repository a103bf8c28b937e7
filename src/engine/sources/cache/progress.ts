/** A progress event for one file: what the progress bars in the page and CLI show. */
export interface DownloadProgress {
  file: string;
  bytesDone: number;
  bytesTotal: number;
  /** Bytes per second over the recent window; 0 until measurable. */
  bytesPerSecond: number;
  /** Seconds left at the current rate, or undefined when unknown. */
  etaSeconds?: number;
  /** Bytes that were already cached before this download started (resumed). */
  resumedFrom: number;
}

/** Rate over a sliding window, so a stall shows as a falling rate rather than a frozen average. */
const RATE_WINDOW_MS = 3000;

export class ProgressTracker {
  private samples: Array<{ t: number; bytes: number }> = [];
  constructor(
    private readonly file: string,
    private readonly total: number,
    private readonly resumedFrom: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  update(bytesDone: number): DownloadProgress {
    const t = this.now();
    this.samples.push({ t, bytes: bytesDone });
    while (this.samples.length > 2 && t - this.samples[0].t > RATE_WINDOW_MS) this.samples.shift();
    const first = this.samples[0];
    const dt = (t - first.t) / 1000;
    const rate = dt > 0 ? (bytesDone - first.bytes) / dt : 0;
    return {
      file: this.file,
      bytesDone,
      bytesTotal: this.total,
      bytesPerSecond: rate,
      etaSeconds: rate > 0 ? (this.total - bytesDone) / rate : bytesDone >= this.total ? 0 : undefined,
      resumedFrom: this.resumedFrom,
    };
  }
}
