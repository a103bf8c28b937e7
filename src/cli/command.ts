import { StudioError } from '../engine/errors.ts';

export interface ParsedArgs {
  positionals: string[];
  flags: Map<string, string | true>;
}

export interface CliIO {
  stdout(line: string): void;
  stderr(line: string): void;
}

export interface Command {
  usage: string;
  run(args: ParsedArgs, io: CliIO): Promise<void>;
}

/** Bad command-line usage: exit status 2, like any other bad input. */
export class UsageError extends StudioError {}

/** `--flag value`, `--flag=value`, and bare `--flag` (true). */
export function parseArgs(argv: string[]): ParsedArgs {
  const positionals: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) {
      positionals.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    if (eq > 0) {
      flags.set(a.slice(2, eq), a.slice(eq + 1));
    } else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) {
      flags.set(a.slice(2), argv[++i]);
    } else {
      flags.set(a.slice(2), true);
    }
  }
  return { positionals, flags };
}
