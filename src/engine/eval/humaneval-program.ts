/**
 * The completion cleaning of lm-eval's humaneval `build_predictions` filter
 * (lm_eval/tasks/humaneval/utils.py at commit 16d043adb2b03afd1c1cfce219fc6c6950965ae9): every
 * "```python\n" removed (`r.replace`), then `clean_text` — a newline followed by SentencePiece
 * "▁" (U+2581) marks becomes a newline and that many spaces.
 */
export function cleanHumanEvalCompletion(completion: string): string {
  return completion.replaceAll('```python\n', '').replace(/\n(\u2581+)/gu, (_, marks: string) => '\n' + ' '.repeat(marks.length));
}

/**
 * The program HF evaluate's `code_eval` runs for one candidate (lm-eval's pass_at_k calls it):
 * the prediction `prompt + cleaned completion`, then "\n", then the reference
 * `test + "\ncheck(" + entry_point + ")"` — i.e. human-eval's
 * `prompt + completion + "\n" + test + "\n" + f"check({entry_point})"`.
 */
export function buildHumanEvalProgram(
  doc: { prompt: string; test: string; entry_point: string },
  completion: string,
): string {
  return `${doc.prompt}${cleanHumanEvalCompletion(completion)}\n${doc.test}\ncheck(${doc.entry_point})`;
}
