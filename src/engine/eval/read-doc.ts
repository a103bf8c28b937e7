import { EvalDataError } from './eval-errors.ts';

/**
 * Checks that a dataset row is an object whose `fields` are all strings (the datasets' own
 * field names) and returns it typed. Extra fields are kept; a missing or non-string field is
 * an EvalDataError naming the field and the row.
 */
export function readStringFields<K extends string>(row: unknown, fields: readonly K[], where: string, task: string): Record<K, string> {
  if (typeof row !== 'object' || row === null || Array.isArray(row)) {
    throw new EvalDataError(where, `a ${task} item must be a JSON object with the fields ${fields.join(', ')}.`);
  }
  const rec = row as Record<string, unknown>;
  for (const f of fields) {
    if (!(f in rec)) {
      throw new EvalDataError(where, `missing field "${f}": a ${task} item needs ${fields.join(', ')} (the dataset's own field names).`);
    }
    if (typeof rec[f] !== 'string') {
      throw new EvalDataError(where, `field "${f}" must be a string, not ${rec[f] === null ? 'null' : typeof rec[f]}.`);
    }
  }
  return rec as Record<K, string>;
}
