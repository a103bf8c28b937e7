/**
 * One item of a benchmark: the dataset's own field names (gsm8k: question, answer; sciq: question,
 * distractor1–3, correct_answer, support; …) and JSON-plain values — strings, numbers, booleans,
 * null, arrays and objects — so a row can be written to results and sample files as it is.
 */
export type DatasetRow = Record<string, unknown>;

/** A file of a dataset repo at one commit. */
export interface RepoFile {
  path: string;
  size: number;
  /** The Hub's SHA-256 of an LFS file (its oid): a download must hash to it. */
  sha256?: string;
}
