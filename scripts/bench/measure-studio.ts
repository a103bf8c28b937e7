import { execFile } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));

/** One `studio` command as a user runs it: exit code, wall seconds, peak RSS (getrusage), output. */
export interface Measured {
  code: number;
  seconds: number;
  peakRss: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `node bin/studio.js …args` as a child process with test-support/peak-rss.mjs preloaded
 * (it writes the process's peak RSS to PEAK_RSS_FILE on exit); no Hub endpoint or token leaks in
 * from the caller's environment unless `env` sets one.
 */
export function measureStudio(args: string[], env: Record<string, string>, label = 'bench'): Promise<Measured> {
  const rssFile = join(tmpdir(), `${label}-rss-${process.pid}`);
  rmSync(rssFile, { force: true });
  const started = performance.now();
  return new Promise((done) => {
    execFile(
      process.execPath,
      ['--import', join(root, 'test-support/peak-rss.mjs'), join(root, 'bin/studio.js'), ...args],
      { cwd: root, env: { ...process.env, HF_ENDPOINT: '', HF_TOKEN: '', PEAK_RSS_FILE: rssFile, ...env }, maxBuffer: 1 << 30 },
      (error, stdout, stderr) => {
        const seconds = (performance.now() - started) / 1000;
        const peakRss = existsSync(rssFile) ? Number(readFileSync(rssFile, 'utf8')) : NaN;
        rmSync(rssFile, { force: true });
        done({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, seconds, peakRss, stdout, stderr });
      },
    );
  });
}
