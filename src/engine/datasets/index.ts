// The datasets engine: benchmark items from the Hub (parquet, pinned to a commit, cached) or from a
// local file, as plain rows with the dataset's own field names. Works in the page and in Node;
// the Node-only file reader is in ./node.ts.
export type { DatasetRow, RepoFile } from './dataset.ts';
export { DatasetFieldError, DatasetFileError, DatasetSplitNotFoundError } from './dataset-errors.ts';
export { openHubDataset, PARQUET_CONVERSION_REF, type HubDataset, type OpenHubDatasetParams } from './open-hub-dataset.ts';
export { parseDatasetFile, DATASET_FILE_KINDS, type DatasetFileOptions } from './parse-dataset-file.ts';
export { readParquetRows, type ParquetRows } from './read-parquet-rows.ts';
export { requireFields, type RequireFieldsOptions } from './require-fields.ts';
export { availableSplits, cardConfigs, globRegExp, parquetFilesOf, splitLayout, type SplitLayout } from './split-layout.ts';
