/**
 * lm-eval's `exact_match` for one (prediction, reference) pair — `exact_match_hf_evaluate` in
 * lm_eval/api/metrics.py (commit 001722ba6deac35c527d7d8e6c85ce823ed25fbb, ported from HF
 * evaluate): every regex in `regexesToIgnore` is removed from both strings in order
 * (`re.sub(s, "", x)`, all occurrences), then lower-casing (`ignore_case`), then ASCII
 * punctuation removal (`ignore_punctuation`), then string equality. Returns 1 or 0.
 */
export interface ExactMatchOptions {
  /** JavaScript translations of the task's `regexes_to_ignore` (each with the `g` flag). */
  regexesToIgnore?: readonly RegExp[];
  ignoreCase?: boolean;
  ignorePunctuation?: boolean;
}

export function exactMatch(prediction: string, reference: string, opts: ExactMatchOptions = {}): 0 | 1 {
  return normalize(prediction, opts) === normalize(reference, opts) ? 1 : 0;
}

function normalize(s: string, opts: ExactMatchOptions): string {
  let out = s;
  for (const re of opts.regexesToIgnore ?? []) {
    if (!re.global) throw new Error(`regexes_to_ignore ${re} must be global: re.sub replaces every match`);
    out = out.replace(re, '');
  }
  if (opts.ignoreCase) out = out.toLowerCase();
  // string.punctuation: the 32 ASCII punctuation characters.
  if (opts.ignorePunctuation) out = out.replace(/[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/g, '');
  return out;
}
