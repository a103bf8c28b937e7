import { parseArgs } from 'node:util';
import { StudioError } from '../engine/errors.ts';

/**
 * Strict command-line flags through Node's `util.parseArgs`. A hand-written parser used to
 * accept anything (`--dtpye f32` exited 0 and wrote BF16), so every command declares its
 * flags and anything else is bad input naming the nearest known flag.
 */

export interface FlagSpec {
  type: 'string' | 'boolean';
  /** Shown by `--help`. */
  help?: string;
}
export type FlagSpecs = Record<string, FlagSpec>;

export interface ParsedFlags {
  positionals: string[];
  /** String flags map to their value, boolean flags to `true`; absent flags are absent. */
  flags: Map<string, string | true>;
}

/** Bad command-line usage: exit status 2, like any other bad input. */
export class UsageError extends StudioError {}

/**
 * `--alpha -0.5` is how people write a negative α, but `util.parseArgs` reads a value that starts
 * with "-" as a forgotten argument. A string flag followed by a negative number takes it as its value.
 */
const NEGATIVE_NUMBER = /^-(\d|\.\d|Infinity\b|inf\b)/i;

/**
 * A decimal number as people write one: `2`, `-0.5`, `.5`, `1e-3`, `+3`. Number() alone also
 * reads `0x10` (16), `0b11` (3), `0o7` and whitespace-padded or empty strings (0); a flag value
 * like that is a mistake, not a number. NaN when `raw` is not decimal (callers say what they need).
 */
export function decimalNumber(raw: string): number {
  return /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(raw) ? Number(raw) : NaN;
}

export function parseFlags(
  argv: string[],
  specs: FlagSpecs,
  opts: { maxPositionals?: number; context?: string } = {},
): ParsedFlags {
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const name = a.startsWith('--') && !a.includes('=') ? a.slice(2) : undefined;
    if (name && specs[name]?.type === 'string' && i + 1 < argv.length && NEGATIVE_NUMBER.test(argv[i + 1])) {
      args.push(`${a}=${argv[++i]}`);
    } else {
      args.push(a);
    }
  }
  const where = opts.context ? `${opts.context}: ` : '';
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args,
      options: Object.fromEntries(Object.entries(specs).map(([k, s]) => [k, { type: s.type }])),
      strict: true,
      allowPositionals: (opts.maxPositionals ?? 0) > 0,
      tokens: true,
    });
  } catch (e) {
    throw new UsageError(where + describeParseError(e, argv, specs));
  }
  // parseArgs keeps the last of a repeated flag: `--alpha 1 --alpha 2` would merge at 2 without a
  // word, which is never what a typo or a pasted line meant. No flag here is declared `multiple`.
  const seen = new Map<string, string[]>();
  for (const t of parsed.tokens ?? []) {
    if (t.kind !== 'option') continue;
    const values = seen.get(t.name) ?? [];
    values.push(t.value ?? '');
    seen.set(t.name, values);
    if (values.length === 2) {
      const which = specs[t.name]?.type === 'string' ? ` (${values.map((v) => JSON.stringify(v)).join(' and ')})` : '';
      throw new UsageError(`${where}--${t.name} is given twice${which}; give it once.`);
    }
  }
  if (parsed.positionals.length > (opts.maxPositionals ?? 0)) {
    const extra = parsed.positionals[opts.maxPositionals ?? 0];
    throw new UsageError(`${where}unexpected argument "${extra}"${opts.maxPositionals ? '' : ' (this command takes only --flags)'}.`);
  }
  const flags = new Map<string, string | true>();
  for (const [k, v] of Object.entries(parsed.values)) {
    if (v === undefined || v === false) continue;
    flags.set(k, typeof v === 'string' ? v : true);
  }
  return { positionals: parsed.positionals, flags };
}

function describeParseError(e: unknown, argv: string[], specs: FlagSpecs): string {
  const err = e as { code?: string; message?: string };
  const message = String(err?.message ?? e);
  const flag = /'(-{1,2}[\w-]+)/.exec(message)?.[1] ?? '';
  if (err?.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const near = nearestFlag(flag.replace(/^-+/, '').split('=')[0], Object.keys(specs));
    return `unknown flag ${flag}${near ? `; did you mean --${near}?` : ''} (--help lists the flags).`;
  }
  if (err?.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const name = flag.replace(/^-+/, '');
    if (specs[name]?.type === 'boolean') return `${flag} takes no value.`;
    const i = argv.indexOf(flag);
    const next = i >= 0 ? argv[i + 1] : undefined;
    if (next === undefined || next.startsWith('--')) return `${flag} needs a value.`;
    return `${flag} needs a value; to give one that starts with "-", write ${flag}=${next}.`;
  }
  if (err?.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
    return `unexpected argument ${/'([^']*)'/.exec(message)?.[1] ?? ''} (this command takes only --flags).`;
  }
  return message.split('\n')[0];
}

/** The known flag closest to a misspelt one (underscores read as hyphens), if any is close. */
export function nearestFlag(typed: string, known: string[]): string | undefined {
  const t = typed.toLowerCase().replace(/_/g, '-');
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = k === t ? 0 : editDistance(t, k);
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  // Close enough to be a typo: a third of the name (at least 2 edits), or a prefix of it.
  const limit = Math.max(2, Math.ceil(t.length / 3));
  if (best && (bestDistance <= limit || best.startsWith(t) || t.startsWith(best))) return best;
  return undefined;
}

/** Damerau–Levenshtein (optimal string alignment): a swap of two letters is one edit. */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** `--help` text for one command's flags. */
export function describeFlags(specs: FlagSpecs): string {
  const rows = Object.entries(specs).map(([k, s]) => [`--${k}${s.type === 'string' ? ' <value>' : ''}`, s.help ?? '']);
  const width = Math.max(...rows.map(([a]) => a.length), 0);
  return rows.map(([a, h]) => `  ${a.padEnd(width)}  ${h}`.trimEnd()).join('\n');
}
