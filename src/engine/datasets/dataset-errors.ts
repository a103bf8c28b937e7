import { StudioError } from '../errors.ts';

/**
 * A local dataset file (`--data items.jsonl|items.parquet`, a dropped file) or a downloaded parquet
 * file cannot be read: not retryable, the bytes are wrong. `line` is 1-based (JSONL only).
 */
export class DatasetFileError extends StudioError {
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    detail: string,
  ) {
    super(`${file}${line === undefined ? '' : `:${line}`}: ${detail}`);
  }
}

/** Rows lack a field the task reads. `where` names the file:line or repo/config/split. */
export class DatasetFieldError extends StudioError {
  constructor(
    readonly where: string,
    readonly field: string,
    detail: string,
  ) {
    super(`${where}: ${detail}`);
  }
}

/**
 * The repo has no parquet data for the config/split asked for, neither in the revision asked for
 * nor in its `refs/convert/parquet` conversion. `available` maps each config found to its splits.
 */
export class DatasetSplitNotFoundError extends StudioError {
  constructor(
    readonly repo: string,
    readonly config: string,
    readonly split: string,
    readonly available: Record<string, string[]>,
    revision: string,
  ) {
    const configs = Object.keys(available).sort();
    const where = `${repo}@${revision}`;
    let detail: string;
    if (configs.length === 0) {
      detail = `${where} has no parquet data files (none in the repo, none under refs/convert/parquet), so there is no config "${config}" to read. Check the repo id, or load the items from a local file (--data items.jsonl).`;
    } else if (!Object.hasOwn(available, config)) {
      detail = `${where} has no config "${config}". Its configs: ${configs.join(', ')}.`;
    } else {
      detail = `${where}, config "${config}", has no split "${split}". Its splits: ${available[config].join(', ')}.`;
    }
    super(detail);
  }
}
