import { exactMatch } from '../exact-match.ts';
import { readStringFields } from '../read-doc.ts';
import { applyRegexFilter, pythonStrip, type RegexFilterSpec } from '../regex-filter.ts';
import type { ItemScore } from '../task-types.ts';

/** A row of openai/gsm8k (config "main"): the dataset's own fields. */
export interface Gsm8kDoc {
  question: string;
  answer: string;
}

export const GSM8K_FIELDS = ['question', 'answer'] as const;

export function readGsm8kDoc(row: unknown, where: string, task: string): Gsm8kDoc {
  return readStringFields(row, GSM8K_FIELDS, where, task);
}

/**
 * The two filters of gsm8k-cot.yaml / gsm8k-cot-zeroshot.yaml, translated from Python `re`:
 * - strict-match, Python `The answer is (\-?[0-9\.\,]+).` — the final `.` is "any character but
 *   a newline" (it is not a literal period), so in JavaScript `[^\n]`; `\-`, `\.`, `\,` are plain
 *   characters (those escapes are not allowed with the `u` flag).
 * - flexible-extract, Python `(-?[$0-9.,]{2,})|(-?[0-9]+)` with group_select -1: the last
 *   match, and of its two groups the first that is not empty.
 */
export const GSM8K_FILTERS: readonly RegexFilterSpec[] = [
  { name: 'strict-match', pattern: /The answer is (-?[0-9.,]+)[^\n]/u, groupSelect: 0 },
  { name: 'flexible-extract', pattern: /(-?[$0-9.,]{2,})|(-?[0-9]+)/u, groupSelect: -1 },
];

/**
 * `regexes_to_ignore` of gsm8k-cot.yaml: Python `,`  `\$`  `(?s).*#### `  `\.$`.
 * `(?s)` (dot matches newline) is not JavaScript syntax: `[\s\S]` is its dot. Python's `$`
 * without MULTILINE matches at the end *or before a newline that ends the string*, hence
 * `(?=\n?$)`. All global: re.sub replaces every match.
 */
export const GSM8K_COT_IGNORE: readonly RegExp[] = [/,/gu, /\$/gu, /[\s\S]*#### /gu, /\.(?=\n?$)/gu];

/** gsm8k-cot-zeroshot.yaml adds Python `\.0+$` (so "18.00" equals "18"). */
export const GSM8K_ZEROSHOT_IGNORE: readonly RegExp[] = [...GSM8K_COT_IGNORE, /\.0+(?=\n?$)/gu];

/** gsm8k_cot's doc_to_target: `answer.split('####')[-1].strip()`. */
export function gsm8kFinalAnswer(answer: string): string {
  const parts = answer.split('####');
  return pythonStrip(parts[parts.length - 1]);
}

/** Both filters, then exact_match (ignore_case, the given regexes) against `reference`. */
export function scoreGsm8k(output: string, reference: string, ignore: readonly RegExp[]): ItemScore {
  const metrics: Record<string, 0 | 1> = {};
  const extracted: Record<string, string> = {};
  for (const f of GSM8K_FILTERS) {
    const answer = applyRegexFilter(output, f);
    extracted[f.name] = answer;
    metrics[`exact_match,${f.name}`] = exactMatch(answer, reference, { ignoreCase: true, regexesToIgnore: ignore });
  }
  return { metrics, extracted };
}

export const GSM8K_METRIC_KEYS = GSM8K_FILTERS.map((f) => `exact_match,${f.name}`);
