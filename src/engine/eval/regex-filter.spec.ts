import { describe, expect, it } from 'vitest';
import { applyRegexFilter, INVALID_ANSWER, pythonStrip } from './regex-filter.ts';
import { BBH_GET_ANSWER } from './tasks/bbh-cot-fewshot.ts';
import { GSM8K_COT_IGNORE, GSM8K_FILTERS, GSM8K_ZEROSHOT_IGNORE, scoreGsm8k } from './tasks/gsm8k-shared.ts';

// Hand-checked cases; scripts/golden/lm-eval-scoring.py checks many more against Python's re.
const [STRICT, FLEX] = GSM8K_FILTERS;
const strict = (s: string) => applyRegexFilter(s, STRICT);
const flex = (s: string) => applyRegexFilter(s, FLEX);

describe('gsm8k strict-match: "The answer is (\\-?[0-9\\.\\,]+)." first match', () => {
  it('keeps commas and drops the character after the number (any character, not only a period)', () => {
    expect(strict('So 9 * 2 = 18. The answer is 18.')).toBe('18');
    expect(strict('The answer is 1,000.')).toBe('1,000');
    expect(strict('The answer is -5!')).toBe('-5');
    expect(strict('The answer is 18.\n\nQ:')).toBe('18');
    // Greedy: with a character after it, the period stays in the group (exact_match's "\.$" drops it).
    expect(strict('The answer is 5. The answer is 6.')).toBe('5.');
  });
  it('the final "." needs one more character: "The answer is 18" at the very end gives "1"', () => {
    expect(strict('The answer is 18')).toBe('1');
    // …and a newline is not "any character" for Python's `.`: backtracks the same way.
    expect(strict('The answer is 18\nmore')).toBe('1');
  });
  it('"The Answer is" (capital A), "$18" and no answer at all are misses', () => {
    expect(strict('The Answer is 18.')).toBe(INVALID_ANSWER);
    expect(strict('The answer is $18.')).toBe(INVALID_ANSWER);
    expect(strict('I do not know')).toBe(INVALID_ANSWER);
  });
});

describe('gsm8k flexible-extract: "(-?[$0-9.,]{2,})|(-?[0-9]+)" last match, first non-empty group', () => {
  it('takes the last number of several, with its $ , . characters', () => {
    expect(flex('First 3, then 12, finally 45.')).toBe('45.');
    expect(flex('Total: $1,234.56.')).toBe('$1,234.56.');
    expect(flex('#### 18')).toBe('18');
  });
  it('a single digit matches through the second group; nothing numeric is a miss', () => {
    expect(flex('x 7 y')).toBe('7');
    expect(flex('no numbers here')).toBe(INVALID_ANSWER);
    expect(flex('')).toBe(INVALID_ANSWER);
  });
});

describe('gsm8k exact_match after the filters (ignore_case, "," "\\$" "(?s).*#### " "\\.$")', () => {
  it('"$1,000." equals "1000"; "18." equals "18"', () => {
    expect(scoreGsm8k('The profit is $1,000.', '1000', GSM8K_COT_IGNORE).metrics).toEqual({
      'exact_match,strict-match': 0,
      'exact_match,flexible-extract': 1,
    });
    expect(scoreGsm8k('The answer is 18.', '18', GSM8K_COT_IGNORE).metrics).toEqual({
      'exact_match,strict-match': 1,
      'exact_match,flexible-extract': 1,
    });
  });
  it('"18.00" equals "18" only in gsm8k_cot_zeroshot (its extra "\\.0+$")', () => {
    expect(scoreGsm8k('The answer is 18.00.', '18', GSM8K_COT_IGNORE).metrics['exact_match,strict-match']).toBe(0);
    expect(scoreGsm8k('The answer is 18.00.', '18', GSM8K_ZEROSHOT_IGNORE).metrics['exact_match,strict-match']).toBe(1);
  });
  it('the zero-shot reference is the whole answer; "(?s).*#### " leaves its final number across newlines', () => {
    const answer = 'Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day.\nShe makes $18.\n#### 18';
    expect(scoreGsm8k('The answer is 18.', answer, GSM8K_ZEROSHOT_IGNORE).metrics['exact_match,strict-match']).toBe(1);
  });
  it('a miss never matches', () => {
    expect(scoreGsm8k('no idea', '18', GSM8K_COT_IGNORE).metrics).toEqual({
      'exact_match,strict-match': 0,
      'exact_match,flexible-extract': 0,
    });
  });
});

describe('bbh get-answer: "(?<=the answer is )(.*)(?=.)" first match', () => {
  const get = (s: string) => applyRegexFilter(s, BBH_GET_ANSWER);
  it('drops the last character of the line, usually the period', () => {
    expect(get('So the answer is (B).')).toBe('(B)');
    expect(get('So the answer is yes.')).toBe('yes');
    expect(get('the answer is ] } ].')).toBe('] } ]');
    expect(get('So the answer is (B).\n\nQ: next')).toBe('(B)');
  });
  it('with no character after the answer it loses one: "(B)" at the end gives "(B"', () => {
    expect(get('So the answer is (B)')).toBe('(B');
    expect(get('So the answer is (B)\nQ')).toBe('(B');
  });
  it('only lower-case "the answer is " matches; the first of several wins; a bare "the answer is ." gives ""', () => {
    expect(get('So The Answer is (B).')).toBe(INVALID_ANSWER);
    expect(get('the answer is Yes. Also the answer is No.')).toBe('Yes. Also the answer is No');
    expect(get('So the answer is .')).toBe('');
  });
  it('an astral character is one character, as in Python', () => {
    expect(get('So the answer is 😀😀')).toBe('😀');
  });
});

describe('pythonStrip', () => {
  it('strips what str.strip() strips, and not U+FEFF', () => {
    expect(pythonStrip('\u00a0\t x \x1c\u3000')).toBe('x');
    expect(pythonStrip('\ufeffx')).toBe('\ufeffx');
  });
});
