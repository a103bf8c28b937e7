import { describe, expect, it } from 'vitest';
import type { DownloadProgress } from '../engine/sources/cache/progress.ts';
import { BAR_REDRAW_MS, DownloadProgressBoard, PLAIN_LINE_INTERVAL_MS } from './download-progress.ts';

const KiB = 1024;
const event = (file: string, bytesDone: number, bytesTotal: number, bytesPerSecond = 0, resumedFrom = 0): DownloadProgress => ({
  file,
  bytesDone,
  bytesTotal,
  bytesPerSecond,
  resumedFrom,
  etaSeconds: undefined,
});

function fakeOutput(isTTY: boolean, columns = 120) {
  const writes: string[] = [];
  let t = 0;
  const board = new DownloadProgressBoard({ isTTY, columns, write: (s) => writes.push(s) }, () => t);
  return { writes, board, at: (ms: number) => (t = ms) };
}

describe('plain lines (stderr not a terminal)', () => {
  it('a line when a file starts, one per PLAIN_LINE_INTERVAL_MS while it runs, one when it ends: bytes, total, rate', () => {
    const { writes, board, at } = fakeOutput(false);
    const report = board.reporter('hf:o/m');
    at(0);
    report(event('model.safetensors', 0, 1000 * KiB));
    at(1000);
    report(event('model.safetensors', 100 * KiB, 1000 * KiB, 100 * KiB));
    at(PLAIN_LINE_INTERVAL_MS - 1);
    report(event('model.safetensors', 400 * KiB, 1000 * KiB, 100 * KiB));
    at(PLAIN_LINE_INTERVAL_MS + 1);
    report(event('model.safetensors', 500 * KiB, 1000 * KiB, 100 * KiB));
    at(PLAIN_LINE_INTERVAL_MS + 2);
    report(event('model.safetensors', 510 * KiB, 1000 * KiB, 100 * KiB));
    at(8000);
    report(event('model.safetensors', 1000 * KiB, 1000 * KiB, 125 * KiB));
    expect(writes).toEqual([
      'downloading hf:o/m model.safetensors: 0 B / 1000.0 KiB (0%)\n',
      'downloading hf:o/m model.safetensors: 500.0 KiB / 1000.0 KiB (50%), 100.0 KiB/s\n',
      // The average over the whole download: 1000 KiB in 8 s.
      'downloaded hf:o/m model.safetensors: 1000.0 KiB / 1000.0 KiB (100%), 125.0 KiB/s, 8.0 s\n',
    ]);
  });

  it('a resumed file says how much was cached already, and its rate counts only what this run fetched', () => {
    const { writes, board, at } = fakeOutput(false);
    const report = board.reporter('hf:o/m');
    at(0);
    report(event('a.safetensors', 600 * KiB, 1000 * KiB, 0, 600 * KiB));
    at(2000);
    report(event('a.safetensors', 1000 * KiB, 1000 * KiB, 0, 600 * KiB));
    expect(writes).toEqual([
      'downloading hf:o/m a.safetensors: 600.0 KiB / 1000.0 KiB (60%), 600.0 KiB of it already cached\n',
      'downloaded hf:o/m a.safetensors: 1000.0 KiB / 1000.0 KiB (100%), 200.0 KiB/s, 2.0 s (600.0 KiB of it was already cached)\n',
    ]);
  });
});

describe('a bar redrawn in place (stderr a terminal)', () => {
  it('one bar sums the files downloading at once; each finished file leaves a line; redraws at most every BAR_REDRAW_MS', () => {
    const { writes, board, at } = fakeOutput(true);
    const a = board.reporter('hf:o/a');
    const b = board.reporter('hf:o/b');
    at(0);
    a(event('model.safetensors', 0, 100 * KiB));
    expect(writes.at(-1)).toBe('\r\x1b[2Khf:o/a model.safetensors [------------------------] 0% 0 B / 100.0 KiB 0 B/s');
    at(10);
    b(event('model.safetensors', 0, 300 * KiB));
    at(20);
    a(event('model.safetensors', 50 * KiB, 100 * KiB, 10 * KiB)); // within BAR_REDRAW_MS: not drawn
    expect(writes).toHaveLength(2);
    at(20 + BAR_REDRAW_MS);
    b(event('model.safetensors', 150 * KiB, 300 * KiB, 40 * KiB));
    // 200 of 400 KiB at 50 KiB/s: half the bar, 4 s left.
    expect(writes.at(-1)).toBe('\r\x1b[2K2 files [############------------] 50% 200.0 KiB / 400.0 KiB 50.0 KiB/s ETA 4 s');
    at(2000);
    a(event('model.safetensors', 100 * KiB, 100 * KiB, 10 * KiB));
    expect(writes.slice(-2)).toEqual([
      '\r\x1b[2Kdownloaded hf:o/a model.safetensors: 100.0 KiB / 100.0 KiB (100%), 50.0 KiB/s, 2.0 s\n',
      '\r\x1b[2Khf:o/b model.safetensors [############------------] 50% 150.0 KiB / 300.0 KiB 40.0 KiB/s ETA 4 s',
    ]);
    at(5010);
    b(event('model.safetensors', 300 * KiB, 300 * KiB, 40 * KiB));
    expect(writes.at(-1)).toBe('\r\x1b[2Kdownloaded hf:o/b model.safetensors: 300.0 KiB / 300.0 KiB (100%), 60.0 KiB/s, 5.0 s\n');
  });

  it('on a narrow terminal the name is shortened from the left; the bar and the numbers stay', () => {
    const { writes, board, at } = fakeOutput(true, 80);
    at(0);
    board.reporter('hf:some-owner/a-rather-long-model-name')(event('model-00001-of-00002.safetensors', 1024, 2048));
    const tail = ' [############------------] 50% 1.0 KiB / 2.0 KiB 0 B/s';
    const name = 'hf:some-owner/a-rather-long-model-name model-00001-of-00002.safetensors';
    expect(writes).toEqual([`\r\x1b[2K…${name.slice(name.length - (79 - tail.length - 1))}${tail}`]);
    expect(writes[0].length).toBe('\r\x1b[2K'.length + 79);
  });
});
