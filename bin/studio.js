#!/usr/bin/env node
// The one entry point of the `studio` CLI (npx studio, npm exec, npm link, a global install).
// It runs the TypeScript engine directly through tsx: no build step between a checkout and
// `npx studio`.
import './register.js';

const { exitOnInterrupt, runCli } = await import('../src/cli/main.ts');
const io = {
  stdout: (line) => process.stdout.write(line + '\n'),
  stderr: (line) => process.stderr.write(line + '\n'),
};
// Ctrl-C / SIGTERM remove the unfinished output folder and say so (main.ts).
exitOnInterrupt(process.argv.slice(2), io);
process.exitCode = await runCli(process.argv.slice(2), io);
