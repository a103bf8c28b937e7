import { StudioError } from '../engine/errors.ts';
import { removeUnfinishedOutputsSync } from '../engine/merge/output/node-output-folder.ts';
import type { CliIO, Command } from './command.ts';
import { evalCommand } from './commands/eval.ts';
import { exportOnnx } from './commands/export-onnx.ts';
import { forward } from './commands/forward.ts';
import { generate } from './commands/generate.ts';
import { inspect } from './commands/inspect.ts';
import { merge } from './commands/merge.ts';
import { score } from './commands/score.ts';
import { sweep } from './commands/sweep.ts';
import { vector } from './commands/vector.ts';
import { describeFlags, nearestFlag, parseFlags } from './parse-flags.ts';

/**
 * The `studio` CLI as a function. It has no side effects on import: `bin/studio.js` is the one
 * entry point (an "am I the entry?" guess here once made every `npx studio` a silent no-op,
 * because through npm's bin link argv[1] ends in `.bin/studio`).
 */

/** Dispatch is a plain table; each command lives in its own file under commands/. */
const COMMANDS: Record<string, Command> = { inspect, merge, vector, 'export-onnx': exportOnnx, forward, generate, score, eval: evalCommand, sweep };

const USAGE = `usage: studio <command> [flags]   (studio <command> --help for its flags)\n${Object.values(COMMANDS)
  .map((c) => `  ${c.usage}`)
  .join('\n')}`;

const HELP = new Set(['--help', '-h', 'help']);

/** Exit status: 0 success, 2 bad input (one clear line on stderr), 1 internal failure. */
export async function runCli(argv: string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  if (!name) {
    io.stderr(USAGE);
    return 2;
  }
  if (HELP.has(name)) {
    io.stdout(USAGE);
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    const near = nearestFlag(name, Object.keys(COMMANDS));
    io.stderr(`studio: unknown command "${name}"${near ? `; did you mean "${near}"?` : ''} (studio --help lists the commands).`);
    return 2;
  }
  if (rest.some((a) => a === '--help' || a === '-h')) {
    io.stdout(`usage: ${command.usage}\n${describeFlags(command.flags)}`);
    return 0;
  }
  try {
    const args = parseFlags(rest, command.flags, { maxPositionals: command.positionals ?? 0 });
    await command.run(args, io);
    return 0;
  } catch (e) {
    if (e instanceof StudioError) {
      io.stderr(`studio ${name}: ${e.message.replace(/\s+/g, ' ')}`);
      return 2;
    }
    io.stderr(`studio ${name}: internal error: ${(e as Error)?.stack ?? String(e)}`);
    return 1;
  }
}

/** The exit status of a process ended by a signal, as a shell reports it (128 + the signal's number). */
const INTERRUPTS = { SIGINT: 130, SIGTERM: 143 } as const;

/**
 * Ctrl-C and SIGTERM for the process `bin/studio.js` runs (not installed by runCli, which tests
 * also call in-process). Node's default would end the process at once, leaving every output
 * folder's hidden partial sibling behind (100 MB and more each) and saying nothing; instead the
 * partial folders are removed synchronously (engine/merge/output/node-output-folder.ts keeps the
 * list), one line says so, and the exit status is the one a shell gives a signal's death.
 * Nothing else is undone: the download cache's partial files stay, to be resumed by the next
 * run, and a lock file of this process is taken over by the next one (its pid is dead).
 */
export function exitOnInterrupt(argv: readonly string[], io: Pick<CliIO, 'stderr'>): void {
  const name = argv[0] !== undefined && Object.hasOwn(COMMANDS, argv[0]) ? `studio ${argv[0]}` : 'studio';
  for (const [signal, code] of Object.entries(INTERRUPTS)) {
    process.once(signal, () => {
      const removed = removeUnfinishedOutputsSync();
      io.stderr(`${name}: interrupted${removed.length ? '; nothing was saved' : ''}.`);
      process.exit(code);
    });
  }
}
