/**
 * Python's `re.findall(pattern, text)` on a JavaScript RegExp — what lm-eval's RegexFilter calls.
 * Returns the whole match when the pattern has no group, the group (`''` when it did not take
 * part) when it has one, and the tuple of groups when it has several, as Python does.
 *
 * The caller translates the Python pattern (see task files: `.` becomes `[^\n]`, `(?s).`
 * becomes `[\s\S]`, `$` becomes `(?=\n?$)`); this function only adds the `g` and `u` flags —
 * `u` so that `[^\n]` steps over a whole code point, as Python's `.` does on a str.
 *
 * Empty matches: after an empty match JavaScript moves on one code point, while Python 3.7+
 * may still find a non-empty match starting at the same place. The two agree for every pattern
 * the tasks use (an empty match there only happens where no non-empty one exists); the golden
 * cases from Python in test-support/golden/lm-eval-scoring.json check it.
 */
export type FindAllItem = string | string[];

export function pythonFindAll(pattern: RegExp, text: string): FindAllItem[] {
  const flags = new Set(pattern.flags.split(''));
  flags.add('g');
  flags.add('u');
  const re = new RegExp(pattern.source, [...flags].join(''));
  const out: FindAllItem[] = [];
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    const groups = m.slice(1).map((g) => g ?? '');
    out.push(groups.length === 0 ? m[0] : groups.length === 1 ? groups[0] : groups);
    if (m[0] === '') re.lastIndex = nextCodePoint(text, re.lastIndex);
  }
  return out;
}

function nextCodePoint(text: string, i: number): number {
  const c = text.codePointAt(i);
  return i + (c !== undefined && c > 0xffff ? 2 : 1);
}
