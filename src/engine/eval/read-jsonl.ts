import { EvalDataError } from './eval-errors.ts';

export interface JsonlRow {
  value: unknown;
  /** 1-based line number in the file, for messages. */
  line: number;
}

/**
 * Parses JSON Lines text: one JSON value per line; blank lines are skipped but still counted,
 * so a malformed line is reported as `file:line` as an editor shows it.
 */
export function readJsonl(text: string, file: string): JsonlRow[] {
  const rows: JsonlRow[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i].replace(/\r$/, '');
    if (raw.trim() === '') continue;
    try {
      rows.push({ value: JSON.parse(raw), line: i + 1 });
    } catch (e) {
      throw new EvalDataError(`${file}:${i + 1}`, `not valid JSON (${(e as Error).message}); each line must be one JSON object.`);
    }
  }
  return rows;
}
