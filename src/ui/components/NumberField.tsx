import { useCallback, useEffect, useId, useRef, useState, type RefObject } from 'react';

/**
 * A number box that keeps what the user types. A controlled `<input type="number">` whose
 * onChange rejects what does not parse snaps back to the old value on every keystroke, so the
 * box cannot be emptied and retyping "10" over "100" reads "110". Here the draft text is the
 * box's own state: a valid draft is committed at once, an invalid one (empty, not a number, out
 * of range, not whole) stays on screen with the reason beside it and is reported to the panel,
 * whose button then says why it is disabled. Nothing is reverted or concatenated silently.
 */
export interface NumberRule {
  min?: number;
  max?: number;
  /** An exclusive lower bound: a size or budget must be above 0, however small. */
  above?: number;
  /** A whole number is needed (counts, seeds, token limits). */
  integer?: boolean;
  /** Empty is allowed and commits null ("the task's own"). */
  optional?: boolean;
}

/** What the rule asks for, in words: "a whole number ≥ 1", "a number from 1 to 512". */
export function ruleWords(rule: NumberRule): string {
  const kind = rule.integer ? 'a whole number' : 'a finite number';
  if (rule.above !== undefined) return `${kind} above ${rule.above}`;
  if (rule.min !== undefined && rule.max !== undefined) return `${kind} from ${rule.min} to ${rule.max}`;
  if (rule.min !== undefined) return `${kind} ≥ ${rule.min}`;
  if (rule.max !== undefined) return `${kind} ≤ ${rule.max}`;
  return kind;
}

/**
 * Why `text` is not a value under `rule`, or undefined when it is. `badInput` is the browser's
 * word that the box holds text it could not read as a number (its value then reads as "").
 */
export function numberProblem(text: string, rule: NumberRule, badInput = false): string | undefined {
  const want = `enter ${ruleWords(rule)}.`;
  if (badInput) return `Not a number: ${want}`;
  const t = text.trim();
  if (t === '') return rule.optional ? undefined : `Empty: ${want}`;
  const v = Number(t);
  if (!Number.isFinite(v)) return `${t} is not a finite number: ${want}`;
  if (rule.integer && !Number.isInteger(v)) return `${t} is not a whole number: ${want}`;
  if (rule.above !== undefined && v <= rule.above) return `${t} is not above ${rule.above}: ${want}`;
  if (rule.min !== undefined && v < rule.min) return `${t} is below ${rule.min}: ${want}`;
  if (rule.max !== undefined && v > rule.max) return `${t} is above ${rule.max}: ${want}`;
  return undefined;
}

const show = (v: number | null) => (v === null || !Number.isFinite(v) ? '' : String(v));

export interface NumberFieldProps {
  /** The box's accessible name (also the name the panel's message uses). */
  label: string;
  value: number | null;
  rule: NumberRule;
  onCommit: (v: number | null) => void;
  /** Told the box's current problem (undefined when valid), for the panel's button. */
  onProblem?: (label: string, problem: string | undefined) => void;
  disabled?: boolean;
  placeholder?: string;
  step?: number | string;
}

export function NumberField(p: NumberFieldProps) {
  const [draft, setDraft] = useState(() => show(p.value));
  const [badInput, setBadInput] = useState(false);
  const committed = useRef(p.value);
  const messageId = useId();
  // A value changed from outside (a default, a share link's settings) replaces the draft.
  useEffect(() => {
    if (p.value === committed.current) return;
    committed.current = p.value;
    setDraft(show(p.value));
    setBadInput(false);
  }, [p.value]);
  // A disabled box's value is not used (e.g. the seed without a shuffle): it blocks nothing.
  const problem = p.disabled ? undefined : numberProblem(draft, p.rule, badInput);
  const { onProblem, label } = p;
  useEffect(() => {
    onProblem?.(label, problem);
  }, [onProblem, label, problem]);
  useEffect(() => () => onProblem?.(label, undefined), [onProblem, label]);
  return (
    <>
      <input
        aria-label={p.label}
        type="number"
        min={p.rule.min}
        max={p.rule.max}
        step={p.step ?? (p.rule.integer ? 1 : 'any')}
        value={draft}
        placeholder={p.placeholder}
        disabled={p.disabled}
        aria-invalid={problem ? true : undefined}
        aria-describedby={problem ? messageId : undefined}
        onChange={(e) => {
          const text = e.target.value;
          const bad = e.target.validity.badInput;
          setDraft(text);
          setBadInput(bad);
          if (numberProblem(text, p.rule, bad) !== undefined) return;
          const v = text.trim() === '' ? null : Number(text);
          committed.current = v;
          p.onCommit(v);
        }}
      />
      {problem && (
        <span className="error field-problem" id={messageId} data-testid="field-problem">
          {' '}
          {problem}
        </span>
      )}
    </>
  );
}

/**
 * The problems of a panel's number boxes: `report` goes to each NumberField's onProblem; `first`
 * is the sentence the panel's button shows while any box is invalid.
 */
export function useFieldProblems(): { report: (label: string, problem: string | undefined) => void; first: string | undefined } {
  const [problems, setProblems] = useState<Record<string, string>>({});
  const report = useCallback((label: string, problem: string | undefined) => {
    setProblems((old) => {
      if (old[label] === problem) return old;
      const next = { ...old };
      if (problem === undefined) delete next[label];
      else next[label] = problem;
      return next;
    });
  }, []);
  const [label, problem] = Object.entries(problems)[0] ?? [];
  return { report, first: label ? `Fix “${label}” first — ${problem}` : undefined };
}

/**
 * Gives focus back to the button that started some work once the work ends. The button is
 * disabled while the work runs, which drops a keyboard user's focus to <body> (the next Tab would
 * start again at the top of the page). Armed only when the button had focus as it was pressed, and
 * only takes focus back when nothing else has it by then. Without scrolling: the page stays where
 * the user (or a mouse click, which focuses the button too) left it.
 */
export function useFocusReturn(busy: boolean): { ref: RefObject<HTMLButtonElement | null>; arm: () => void } {
  const ref = useRef<HTMLButtonElement>(null);
  const armed = useRef(false);
  const arm = useCallback(() => {
    armed.current = document.activeElement === ref.current;
  }, []);
  useEffect(() => {
    if (busy || !armed.current) return;
    armed.current = false;
    const active = document.activeElement;
    if (ref.current && !ref.current.disabled && (active === null || active === document.body || active === ref.current)) ref.current.focus({ preventScroll: true });
  }, [busy]);
  return { ref, arm };
}
