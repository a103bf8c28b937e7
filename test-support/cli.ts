import { runCli } from '../src/cli/main.ts';

/** Runs the CLI in-process, capturing its stdout/stderr lines and exit status. */
export async function cli(...argv: string[]): Promise<{ code: number; stdout: string[]; stderr: string[] }> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const code = await runCli(argv, { stdout: (l) => stdout.push(l), stderr: (l) => stderr.push(l) });
  return { code, stdout, stderr };
}

/**
 * The CLI through its door: `node bin/studio.js …` as a subprocess from the repository root, with
 * no Hub (HF_ENDPOINT empty, no token) and its own model cache. Resolves (never rejects) with the
 * exit code and the whole stdout/stderr.
 */
export function studioBinary(cacheDir: string, opts: { timeout?: number; env?: Record<string, string> } = {}) {
  return async (...args: string[]): Promise<{ code: number | undefined; stdout: string; stderr: string }> => {
    const { execFile } = await import('node:child_process');
    const { promisify } = await import('node:util');
    const { join, resolve } = await import('node:path');
    const { fileURLToPath } = await import('node:url');
    const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
    try {
      const { stdout, stderr } = await promisify(execFile)(process.execPath, [join(root, 'bin/studio.js'), ...args], {
        cwd: root,
        env: { ...process.env, HF_ENDPOINT: '', HF_TOKEN: '', STUDIO_CACHE_DIR: cacheDir, ...opts.env },
        timeout: opts.timeout ?? 60_000,
      });
      return { code: 0, stdout, stderr };
    } catch (e) {
      const err = e as { code?: number; stdout: string; stderr: string };
      return { code: err.code, stdout: err.stdout, stderr: err.stderr };
    }
  };
}
