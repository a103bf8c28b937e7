#!/usr/bin/env node
// The one entry point of the `studio` CLI (npx studio, npm exec, npm link, a global install).
// It runs the TypeScript engine directly through tsx: no build step between a checkout and
// `npx studio`.
import './register.js';

const { runCli } = await import('../src/cli/main.ts');
process.exitCode = await runCli(process.argv.slice(2), {
  stdout: (line) => process.stdout.write(line + '\n'),
  stderr: (line) => process.stderr.write(line + '\n'),
});
