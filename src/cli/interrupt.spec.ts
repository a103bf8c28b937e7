import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFixtureDir, type FixtureDir } from '../../test-support/fixture-dir.ts';
import { startMockHub, type MockHub } from '../../test-support/mock-hub/server.ts';

/**
 * Ctrl-C (SIGINT) and SIGTERM while a command writes its output folder, through the user's door:
 * `node bin/studio.js` as a subprocess, stopped while its hidden `.<out>.partial-<hex>` sibling
 * exists. To stop it there every time, whatever the machine's load, the SFT weights come from a
 * mock Hub that trickles them: the output folder is created once the headers are read, and the
 * merge cannot finish before the whole file has arrived (many seconds later).
 */
const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const STUDIO = join(REPO_ROOT, 'bin/studio.js');
const ROLES = ['sft', 'rl', 'target'] as const;
const repoOf = (role: string) => `studio-fixtures/demo-arith-${role}`;
const WEIGHTS = 'model.safetensors';

let fx: FixtureDir;
let mock: MockHub;
let work: string;
let size: number;

beforeAll(async () => {
  fx = makeFixtureDir('cli-interrupt-fixtures-', { demo: true });
  work = mkdtempSync(join(tmpdir(), 'cli-interrupt-'));
  mock = await startMockHub({ repos: Object.fromEntries(ROLES.map((r) => [repoOf(r), fx.model(`demo-arith-${r}`)])) });
  size = statSync(join(fx.model('demo-arith-sft'), WEIGHTS)).size;
}, 60_000);

afterAll(async () => {
  await mock?.close();
  fx?.cleanup();
  rmSync(work, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function studio(args: string[], cacheDir: string, started: (child: ChildProcess) => void): Promise<Run> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [STUDIO, ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, HF_ENDPOINT: mock.url, HF_TOKEN: '', STUDIO_CACHE_DIR: cacheDir },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolveRun({ code, signal, stdout, stderr }));
    started(child);
  });
}

/** Hidden partial siblings of `--out <parent>/<name>` (node-output-folder.ts names them `.<name>.partial-<hex>`). */
const partialsOf = (parent: string, name: string) => (existsSync(parent) ? readdirSync(parent).filter((f) => f.startsWith(`.${name}.partial-`)) : []);

/** The download cache's partial files (resumable, so they must survive the interrupt). */
const cachePartials = (cacheDir: string) =>
  readdirSync(cacheDir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.partial'))
    .map((f) => ({ file: f, bytes: statSync(join(cacheDir, f)).size }));

/**
 * The moment to stop the run: the RL and target weights are in the cache (fast), the trickled SFT
 * weights are past their first 50 000 bytes and far from complete.
 */
function sftPartOnly(cacheDir: string): boolean {
  if (!existsSync(cacheDir)) return false;
  const files = readdirSync(cacheDir, { recursive: true, encoding: 'utf8' });
  const done = (role: string) => files.some((f) => f.includes(repoOf(role)) && f.endsWith(`/${WEIGHTS}`));
  const sft = cachePartials(cacheDir).find((p) => p.file.includes(repoOf('sft')));
  return done('rl') && done('target') && sft !== undefined && sft.bytes > 50_000;
}

/**
 * Runs `args` (which write `--out <parent>/<name>`) and sends `signal` once the partial sibling
 * exists and the trickled file has started arriving.
 */
async function interrupted(command: string, extra: string[], signal: NodeJS.Signals, label: string) {
  const cacheDir = join(work, `${label}-cache`);
  // A parent folder the run itself creates: removed again with the partial folder.
  const parent = join(work, `${label}-parent`, 'nested');
  const name = 'out';
  mock.setFaults([{ kind: 'slow', delayMs: 0, bytesPerSecond: 50_000, repo: repoOf('sft'), path: WEIGHTS }]);
  let partialSeen: string[] = [];
  const run = await studio(
    [command, ...ROLES.flatMap((r) => [`--${r}`, `hf:${repoOf(r)}`]), '--alpha', '0.5', '--device', 'cpu', ...extra, '--out', join(parent, name)],
    cacheDir,
    (child) => {
      const poll = setInterval(() => {
        const partials = partialsOf(parent, name);
        if (partials.length && sftPartOnly(cacheDir)) {
          clearInterval(poll);
          partialSeen = partials;
          child.kill(signal);
        }
      }, 20);
      child.on('close', () => clearInterval(poll));
    },
  );
  mock.clearFaults();
  return { run, cacheDir, parent, name, partialSeen };
}

describe('Ctrl-C or SIGTERM while the output folder is written: its partial folder is removed, one line says so', () => {
  it('merge stopped with SIGINT: exit 130, "studio merge: interrupted; nothing was saved.", no partial folder, no --out, the created parent gone; the download cache keeps its partial file to resume', async () => {
    const { run, cacheDir, parent, name, partialSeen } = await interrupted('merge', [], 'SIGINT', 'merge-int');
    expect(partialSeen).toHaveLength(1);
    expect([run.code, run.signal, run.stdout]).toEqual([130, null, '']);
    // Download progress lines may come first; the last line is the interrupt's.
    expect(run.stderr.trimEnd().split('\n').at(-1)).toBe('studio merge: interrupted; nothing was saved.');
    expect(run.stderr).not.toContain('internal error');
    expect(partialsOf(parent, name)).toEqual([]);
    expect(existsSync(join(parent, name))).toBe(false);
    // `<label>-parent/nested` did not exist before the run: both levels are removed again.
    expect(existsSync(join(work, 'merge-int-parent'))).toBe(false);
    // The trickled download stopped part-way and stays, to be resumed from its last byte.
    const kept = cachePartials(cacheDir);
    expect(kept).toHaveLength(1);
    expect(kept[0].file).toMatch(new RegExp(`^${repoOf('sft')}/[0-9a-f]+/${WEIGHTS}\\.partial$`));
    expect(kept[0].bytes).toBeGreaterThan(50_000);
    expect(kept[0].bytes).toBeLessThan(size);
  }, 120_000);

  it('export-onnx stopped with SIGTERM: exit 143, "studio export-onnx: interrupted; nothing was saved.", no partial folder; the next run into the same --out succeeds and leaves none', async () => {
    const { run, cacheDir, parent, name } = await interrupted('export-onnx', [], 'SIGTERM', 'export-term');
    expect([run.code, run.signal, run.stdout]).toEqual([143, null, '']);
    expect(run.stderr.trimEnd().split('\n').at(-1)).toBe('studio export-onnx: interrupted; nothing was saved.');
    expect(partialsOf(parent, name)).toEqual([]);
    expect(existsSync(join(parent, name))).toBe(false);

    const again = await studio(['export-onnx', ...ROLES.flatMap((r) => [`--${r}`, `hf:${repoOf(r)}`]), '--alpha', '0.5', '--device', 'cpu', '--out', join(parent, name)], cacheDir, () => {});
    expect(again.code).toBe(0);
    expect(readdirSync(join(parent, name, 'onnx')).sort()).toEqual(['model.onnx', 'model.onnx_data']);
    expect(readdirSync(parent)).toEqual([name]);
    expect(cachePartials(cacheDir)).toEqual([]);
  }, 120_000);
});
