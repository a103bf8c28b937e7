import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetBytes } from '../../../test-support/benchmark-datasets.ts';
import { rejection } from '../../../test-support/rejection.ts';
import { DatasetFieldError, DatasetFileError } from './dataset-errors.ts';
import { parseDatasetFile } from './parse-dataset-file.ts';
import { readDatasetFile } from './read-dataset-file.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const GSM = [
  { question: 'Janet has 3 apples and buys 2 more. How many?', answer: '3 + 2 = 5\n#### 5' },
  { question: 'Ünïcode — “quotes” and a tab\there?', answer: '#### 1,000' },
];
const gsmJsonl = GSM.map((r) => JSON.stringify(r)).join('\n') + '\n';

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'studio-data-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('JSONL', () => {
  it('reads one object per line with the file\'s own field names', async () => {
    expect(await parseDatasetFile('items.jsonl', enc(gsmJsonl), { requiredFields: ['question', 'answer'] })).toEqual(GSM);
  });

  it('accepts a BOM, CRLF endings, blank lines and no final newline', async () => {
    const text = '\uFEFF' + JSON.stringify(GSM[0]) + '\r\n\r\n   \n' + JSON.stringify(GSM[1]);
    expect(await parseDatasetFile('items.jsonl', enc(text))).toEqual(GSM);
  });

  it('a malformed line is an error naming file:line', async () => {
    const text = `${JSON.stringify(GSM[0])}\n\n{"question": "cut off", "answer": \n${JSON.stringify(GSM[1])}\n`;
    const err = await rejection(parseDatasetFile('items.jsonl', enc(text)));
    expect(err).toBeInstanceOf(DatasetFileError);
    expect((err as DatasetFileError).line).toBe(3);
    expect(err.message).toMatch(/^items\.jsonl:3: not valid JSON \(.+\); each line must be one JSON object with the dataset's fields\.$/);
  });

  it('a line that is JSON but not an object is an error naming file:line and what it is', async () => {
    const err = await rejection(parseDatasetFile('data/x.jsonl', enc(`${JSON.stringify(GSM[0])}\n["question", "answer"]\n`)));
    expect(err.message).toBe("data/x.jsonl:2: is an array, not a JSON object; each line must be one object with the dataset's fields.");
    const num = await rejection(parseDatasetFile('x.jsonl', enc('42\n')));
    expect(num.message).toBe("x.jsonl:1: is a number, not a JSON object; each line must be one object with the dataset's fields.");
  });

  it('a row missing a required field names file:line, the field, what is needed and what the row has', async () => {
    const text = `${JSON.stringify(GSM[0])}\n\n${JSON.stringify({ question: 'q', solution: 's' })}\n`;
    const err = await rejection(parseDatasetFile('items.jsonl', enc(text), { requiredFields: ['question', 'answer'], purpose: 'gsm8k_cot' }));
    expect(err).toBeInstanceOf(DatasetFieldError);
    expect((err as DatasetFieldError).field).toBe('answer');
    expect(err.message).toBe(
      'items.jsonl:3: no field "answer" (gsm8k_cot items need "question", "answer"; this row has "question", "solution"). ' +
        "Rows must use the dataset's own field names.",
    );
    const nul = await rejection(parseDatasetFile('items.jsonl', enc('{"question": null, "answer": "x"}\n'), { requiredFields: ['question'] }));
    expect(nul.message).toMatch(/^items\.jsonl:1: field "question" is null \(items need "question"; /);
  });

  it('an empty file and a non-UTF-8 file are errors naming the file', async () => {
    expect((await rejection(parseDatasetFile('e.jsonl', enc('\n\n')))).message).toBe('e.jsonl: has no items (no non-blank lines).');
    expect((await rejection(parseDatasetFile('b.jsonl', new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])))).message).toBe(
      'b.jsonl: is not UTF-8 text; save it as UTF-8 JSONL (one JSON object per line).',
    );
  });
});

describe('parquet', () => {
  it('reads the same row objects as the JSONL of the same items', async () => {
    const bytes = parquetBytes(['question', 'answer'], GSM);
    expect(await parseDatasetFile('items.parquet', bytes, { requiredFields: ['question', 'answer'] })).toEqual(
      await parseDatasetFile('items.jsonl', enc(gsmJsonl)),
    );
  });

  it('a missing column names the file, the row and the field', async () => {
    const err = await rejection(parseDatasetFile('items.parquet', parquetBytes(['question'], GSM), { requiredFields: ['question', 'answer'] }));
    expect(err).toBeInstanceOf(DatasetFieldError);
    expect(err.message).toBe(
      'items.parquet row 1: no field "answer" (items need "question", "answer"; this row has "question"). ' + "Rows must use the dataset's own field names.",
    );
  });

  it('bytes that are not parquet are an error naming the file', async () => {
    const err = await rejection(parseDatasetFile('items.parquet', enc(gsmJsonl)));
    expect(err).toBeInstanceOf(DatasetFileError);
    expect(err.message).toMatch(/^items\.parquet: cannot be read as parquet \(.+\)\. Check that it is a parquet file, or give the items as JSONL\.$/);
  });
});

describe('readDatasetFile (Node, --data)', () => {
  it('reads .jsonl and .parquet files from disk into the same rows', async () => {
    writeFileSync(join(tmp, 'items.jsonl'), gsmJsonl);
    writeFileSync(join(tmp, 'items.parquet'), parquetBytes(['question', 'answer'], GSM));
    expect(await readDatasetFile(join(tmp, 'items.jsonl'))).toEqual(GSM);
    expect(await readDatasetFile(join(tmp, 'items.parquet'))).toEqual(GSM);
  });

  it('a missing file, a folder and an unknown extension are errors naming the path', async () => {
    const missing = join(tmp, 'nope.jsonl');
    expect((await rejection(readDatasetFile(missing))).message).toBe(`${missing}: cannot be read: no such file. Give a .jsonl or .parquet file of items.`);
    expect((await rejection(readDatasetFile(tmp))).message).toBe(`${tmp}: cannot be read: is a folder, not a file. Give a .jsonl or .parquet file of items.`);
    writeFileSync(join(tmp, 'items.csv'), 'question,answer\n');
    const csv = await rejection(readDatasetFile(join(tmp, 'items.csv')));
    expect(csv).toBeInstanceOf(DatasetFileError);
    expect(csv.message).toBe(`${join(tmp, 'items.csv')}: unknown dataset file type; use a .jsonl file (one JSON object per line) or a .parquet file.`);
  });
});
