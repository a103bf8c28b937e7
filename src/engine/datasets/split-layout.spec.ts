import { describe, expect, it } from 'vitest';
import type { RepoFile } from './dataset.ts';
import { availableSplits, cardConfigs, globRegExp, parquetFilesOf, splitLayout } from './split-layout.ts';

const files = (...paths: string[]): RepoFile[] => paths.map((path, i) => ({ path, size: 100 + i }));
const paths = (list: RepoFile[]) => list.map((f) => f.path);

describe('globRegExp (fsspec semantics of data_files patterns)', () => {
  it('* and ? stay within a folder; ** crosses folders; **/ may match no folder', () => {
    expect(globRegExp('main/test-*').test('main/test-00000-of-00001.parquet')).toBe(true);
    expect(globRegExp('main/test-*').test('main/sub/test-0.parquet')).toBe(false);
    expect(globRegExp('main/test-*').test('socratic/test-00000-of-00001.parquet')).toBe(false);
    expect(globRegExp('data/?est.parquet').test('data/test.parquet')).toBe(true);
    expect(globRegExp('data/**').test('data/a/b/c.parquet')).toBe(true);
    expect(globRegExp('**/test.parquet').test('test.parquet')).toBe(true);
    expect(globRegExp('**/test.parquet').test('a/b/test.parquet')).toBe(true);
    expect(globRegExp('data/test-[0-9]*.parquet').test('data/test-7.parquet')).toBe(true);
    expect(globRegExp('data/test-[!0-9]*.parquet').test('data/test-7.parquet')).toBe(false);
    // regex metacharacters in names are literal
    expect(globRegExp('a+b/(x).parquet').test('a+b/(x).parquet')).toBe(true);
    expect(globRegExp('a.b').test('axb')).toBe(false);
  });
});

describe('cardConfigs (README.md YAML `configs`, as the Hub returns it in cardData)', () => {
  it('reads the list-of-splits form push_to_hub writes (openai/gsm8k)', () => {
    const card = {
      configs: [
        { config_name: 'main', data_files: [{ split: 'train', path: 'main/train-*' }, { split: 'test', path: 'main/test-*' }] },
        { config_name: 'socratic', data_files: [{ split: 'test', path: ['socratic/test-*'] }] },
      ],
    };
    expect(cardConfigs(card)).toEqual(
      new Map([
        ['main', new Map([['train', ['main/train-*']], ['test', ['main/test-*']]])],
        ['socratic', new Map([['test', ['socratic/test-*']]])],
      ]),
    );
  });

  it('reads a bare pattern as the train split, a mapping form, and an unnamed config as "default"', () => {
    expect(cardConfigs({ configs: [{ data_files: 'data/*.parquet' }] })).toEqual(new Map([['default', new Map([['train', ['data/*.parquet']]])]]));
    expect(cardConfigs({ configs: [{ config_name: 'x', data_files: { test: ['a/*', 'b/*'], validation: 'v/*' } }] })).toEqual(
      new Map([['x', new Map([['test', ['a/*', 'b/*']], ['validation', ['v/*']]])]]),
    );
  });

  it('is undefined for a card without configs (lukaemon/bbh, a loading-script repo)', () => {
    expect(cardConfigs(undefined)).toBeUndefined();
    expect(cardConfigs({ license: 'mit' })).toBeUndefined();
    expect(cardConfigs({ configs: [] })).toBeUndefined();
  });
});

describe('splitLayout', () => {
  it('follows the card when there is one: only the files its patterns name', () => {
    const listing = files('.gitattributes', 'README.md', 'main/test-00000-of-00001.parquet', 'main/train-00000-of-00001.parquet', 'other/test-00000-of-00001.parquet');
    const layout = splitLayout(listing, { configs: [{ config_name: 'main', data_files: [{ split: 'test', path: 'main/test-*' }] }] }, 'gsm8k');
    expect(paths(parquetFilesOf(layout, 'main', 'test'))).toEqual(['main/test-00000-of-00001.parquet']);
    expect(availableSplits(layout)).toEqual({ main: ['test'] });
  });

  it('keeps card splits in other formats, so a caller can tell "not parquet" from "no such split"', () => {
    const layout = splitLayout(files('data/test.jsonl'), { configs: [{ config_name: 'default', data_files: [{ split: 'test', path: 'data/test.jsonl' }] }] }, 'x');
    expect(parquetFilesOf(layout, 'default', 'test')).toEqual([]);
    expect(availableSplits(layout)).toEqual({ default: ['test'] });
  });

  it('reads a card config that only names a data_dir by the file names inside it', () => {
    const layout = splitLayout(files('sub/data/test-00000-of-00001.parquet', 'sub/data/train-00000-of-00001.parquet'), { configs: [{ config_name: 'c', data_dir: 'sub' }] }, 'x');
    expect(availableSplits(layout)).toEqual({ c: ['test', 'train'] });
  });

  it('without a card: the converter layout {config}/{split}/NNNN.parquet (refs/convert/parquet)', () => {
    const listing = files('.gitattributes', 'navigate/test/0000.parquet', 'web_of_lies/test/0001.parquet', 'web_of_lies/test/0000.parquet', 'navigate/test/index.duckdb');
    const layout = splitLayout(listing, undefined, 'bbh');
    expect(paths(parquetFilesOf(layout, 'web_of_lies', 'test'))).toEqual(['web_of_lies/test/0000.parquet', 'web_of_lies/test/0001.parquet']);
    expect(availableSplits(layout)).toEqual({ navigate: ['test'], web_of_lies: ['test'] });
  });

  it('without a card: push_to_hub names, data/ meaning config "default", and the converter\'s pre-2023 names', () => {
    const listing = files(
      'data/test-00000-of-00002.parquet',
      'data/test-00001-of-00002.parquet',
      'main/validation-00000-of-00001-0123456789abcdef.parquet',
      'train-00000-of-00001.parquet',
      'socratic/gsm8k-train.parquet',
      'socratic/gsm8k-test-00000-of-00002.parquet',
      'notes/readme.parquet',
    );
    const layout = splitLayout(listing, undefined, 'gsm8k');
    expect(paths(parquetFilesOf(layout, 'default', 'test'))).toEqual(['data/test-00000-of-00002.parquet', 'data/test-00001-of-00002.parquet']);
    expect(availableSplits(layout)).toEqual({ default: ['test', 'train'], main: ['validation'], socratic: ['test', 'train'] });
  });

  it('finds nothing in a loading-script repo (its data are only in the conversion)', () => {
    expect(availableSplits(splitLayout(files('README.md', 'bbh.py'), undefined, 'bbh'))).toEqual({});
  });
});
