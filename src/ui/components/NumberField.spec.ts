import { describe, expect, it } from 'vitest';
import { numberProblem, ruleWords } from './NumberField.tsx';

describe('a number box draft', () => {
  const count = { integer: true, min: 1 };
  it('takes what the rule allows', () => {
    expect(numberProblem('10', count)).toBeUndefined();
    expect(numberProblem(' 7 ', count)).toBeUndefined();
    expect(numberProblem('', { ...count, optional: true })).toBeUndefined();
    expect(numberProblem('-0.5', {})).toBeUndefined();
    expect(numberProblem('512', { integer: true, min: 1, max: 512 })).toBeUndefined();
  });

  it('says why anything else is refused, and what to type instead', () => {
    expect(numberProblem('', count)).toBe('Empty: enter a whole number ≥ 1.');
    expect(numberProblem('0', count)).toBe('0 is below 1: enter a whole number ≥ 1.');
    expect(numberProblem('-5', count)).toBe('-5 is below 1: enter a whole number ≥ 1.');
    expect(numberProblem('1.5', count)).toBe('1.5 is not a whole number: enter a whole number ≥ 1.');
    expect(numberProblem('513', { integer: true, min: 1, max: 512 })).toBe('513 is above 512: enter a whole number from 1 to 512.');
    expect(numberProblem('1e999', {})).toBe('1e999 is not a finite number: enter a finite number.');
    // The browser's word that the box holds text it cannot read ("-", "1e"): its value reads "".
    expect(numberProblem('', { ...count, optional: true }, true)).toBe('Not a number: enter a whole number ≥ 1.');
  });

  it('words the rule', () => {
    expect(ruleWords({ integer: true })).toBe('a whole number');
    expect(ruleWords({ max: 2 })).toBe('a finite number ≤ 2');
  });
});
