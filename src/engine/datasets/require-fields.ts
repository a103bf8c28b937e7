import { DatasetFieldError } from './dataset-errors.ts';
import type { DatasetRow } from './dataset.ts';

export interface RequireFieldsOptions {
  /** What reads the rows, for the message: e.g. `gsm8k_cot`. */
  purpose?: string;
  /** Names the row at `index`: `items.jsonl:3`, or `openai/gsm8k main/test row 3`. */
  where(index: number): string;
}

/**
 * Every row must carry every field in `fields` with a value other than null; the first row that
 * does not is an error naming it, the field, the fields needed and the fields the row has.
 */
export function requireFields(rows: readonly DatasetRow[], fields: readonly string[], opts: RequireFieldsOptions): void {
  if (fields.length === 0) return;
  const needs = `${opts.purpose ? `${opts.purpose} ` : ''}items need ${fields.map((f) => `"${f}"`).join(', ')}`;
  rows.forEach((row, i) => {
    for (const field of fields) {
      const value = row[field];
      if (value === undefined || value === null) {
        const has = Object.keys(row);
        const state = value === null ? `field "${field}" is null` : `no field "${field}"`;
        throw new DatasetFieldError(
          opts.where(i),
          field,
          `${state} (${needs}; this row has ${has.length ? has.map((f) => `"${f}"`).join(', ') : 'no fields'}). ` +
            'Rows must use the dataset\'s own field names.',
        );
      }
    }
  });
}
