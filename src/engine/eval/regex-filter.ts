import { pythonFindAll } from './python-find-all.ts';

/** lm-eval's fallback for a response the regex does not match (RegexFilter's default). */
export const INVALID_ANSWER = '[invalid]';

export interface RegexFilterSpec {
  /** The filter's name as lm-eval writes it in metric keys (`strict-match`, `get-answer`, …). */
  name: string;
  /** The JavaScript translation of `regex_pattern`; the task file shows the Python original. */
  pattern: RegExp;
  /** Which of `re.findall`'s matches to keep; negative counts from the end, as Python indexes. */
  groupSelect: number;
  fallback?: string;
}

/**
 * lm-eval's `regex` filter followed by `take_first` (lm_eval/filters/extraction.py, RegexFilter.apply,
 * commit 03ebd203ed6ca73757d671b57e9444a952a74b5b): `re.findall`, pick `group_select`; when the
 * pattern has several groups the pick is a tuple and the first non-empty group wins; strip the
 * result (Python's str.strip: whitespace at both ends); no match at all gives the fallback.
 */
export function applyRegexFilter(response: string, spec: RegexFilterSpec): string {
  const matches = pythonFindAll(spec.pattern, response);
  if (matches.length === 0) return spec.fallback ?? INVALID_ANSWER;
  const index = spec.groupSelect < 0 ? matches.length + spec.groupSelect : spec.groupSelect;
  const picked = matches[index];
  // Python would raise IndexError here (and lm-eval would stop); no task's pattern gets here.
  if (picked === undefined) throw new Error(`regex filter ${spec.name}: group_select ${spec.groupSelect} out of range`);
  let text: string;
  if (Array.isArray(picked)) {
    const first = picked.find((g) => g !== '');
    if (first === undefined) throw new Error(`regex filter ${spec.name}: every group of the match is empty`);
    text = first;
  } else {
    text = picked;
  }
  return pythonStrip(text);
}

/** Python's `str.strip()` with no argument: Unicode whitespace (str.isspace) at both ends. */
export function pythonStrip(s: string): string {
  return s.replace(PY_SPACE_START, '').replace(PY_SPACE_END, '');
}

// str.isspace() is true for the Unicode White_Space characters plus the ASCII separators
// \x1c-\x1f (bidi class B/S). JavaScript's \s lacks \x1c-\x1f and includes \ufeff, which Python
// does not strip.
const PY_SPACE = '[\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';
const PY_SPACE_START = new RegExp(`^${PY_SPACE}+`, 'u');
const PY_SPACE_END = new RegExp(`${PY_SPACE}+$`, 'u');
