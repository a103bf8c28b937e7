import { numpyArgmax } from './numpy-argmax.ts';

export interface MultipleChoiceScore {
  acc: 0 | 1;
  acc_norm: 0 | 1;
  /** The choice index `acc` picked (argmax of the log-likelihoods). */
  pred: number;
  /** The choice index `acc_norm` picked (argmax of log-likelihood ÷ choice length). */
  predNorm: number;
}

/**
 * lm-eval's multiple_choice scoring (ConfigurableTask.process_results, lm_eval/api/task.py):
 * `pred = np.argmax(lls)`, `pred_norm = np.argmax(lls / completion_len)` where completion_len is
 * `len(choice)` of each choice *as doc_to_choice returns it* — without the target delimiter's
 * leading space — counted in Python characters (code points, not UTF-16 units).
 */
export function scoreMultipleChoice(
  loglikelihoods: readonly number[],
  choices: readonly string[],
  gold: number,
): MultipleChoiceScore {
  if (loglikelihoods.length !== choices.length) {
    throw new Error(`${loglikelihoods.length} log-likelihoods for ${choices.length} choices`);
  }
  const pred = numpyArgmax(loglikelihoods);
  const predNorm = numpyArgmax(loglikelihoods.map((ll, i) => ll / pythonLength(choices[i])));
  return { acc: pred === gold ? 1 : 0, acc_norm: predNorm === gold ? 1 : 0, pred, predNorm };
}

/** Python's `len(str)`: code points. */
export function pythonLength(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}
