// Node-only parts of the datasets engine (they read the file system); the CLI imports these.
export { readDatasetFile } from './read-dataset-file.ts';
