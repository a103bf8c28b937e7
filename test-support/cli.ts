import { runCli } from '../src/cli/main.ts';

/** Runs the CLI in-process, capturing its stdout/stderr lines and exit status. */
export async function cli(...argv: string[]): Promise<{ code: number; stdout: string[]; stderr: string[] }> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const code = await runCli(argv, { stdout: (l) => stdout.push(l), stderr: (l) => stderr.push(l) });
  return { code, stdout, stderr };
}
