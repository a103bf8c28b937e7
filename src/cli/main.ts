import { StudioError } from '../engine/errors.ts';
import { parseArgs, type CliIO, type Command } from './command.ts';
import { forward } from './commands/forward.ts';
import { generate } from './commands/generate.ts';
import { inspect } from './commands/inspect.ts';
import { merge } from './commands/merge.ts';
import { vector } from './commands/vector.ts';

/** Dispatch is a plain table; each command lives in its own file under commands/. */
const COMMANDS: Record<string, Command> = { inspect, merge, vector, forward, generate };

const USAGE = `usage:\n${Object.values(COMMANDS)
  .map((c) => `  ${c.usage}`)
  .join('\n')}`;

/** Exit status: 0 success, 2 bad input (one clear line on stderr), 1 internal failure. */
export async function runCli(argv: string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h') {
    io.stderr(USAGE);
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.stderr(`studio: unknown command "${name}".\n${USAGE}`);
    return 2;
  }
  try {
    await command.run(parseArgs(rest), io);
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

const isEntry = process.argv[1]?.endsWith('studio.js') || process.argv[1]?.endsWith('main.ts');
if (isEntry) {
  const code = await runCli(process.argv.slice(2), {
    stdout: (l) => process.stdout.write(l + '\n'),
    stderr: (l) => process.stderr.write(l + '\n'),
  });
  process.exitCode = code;
}
