import type { EvalCondition } from './task-types.ts';

/**
 * The "think step by step" instruction of the `think` condition.
 *
 * The paper (Zbeeb et al. 2025, ../shared/reference/paper.md) evaluates "with a think step by
 * step" prompt but does not give its wording or placement. The studio's choice, so that a run
 * can be repeated with lm-eval itself: the zero-shot chain-of-thought trigger of Kojima et al.
 * (2022) passed as lm-eval's `--system_instruction`. lm-eval then puts it
 * - with the chat template: in a system message (joined to the task description by "\n\n");
 * - without: in front of the description / few-shot examples, exactly as its fewshot_context
 *   concatenates them (note: with no description lm-eval adds no separator, so the instruction
 *   runs straight into "Q: …"; we keep that, because it is what `lm_eval --system_instruction`
 *   gives).
 */
export const THINK_INSTRUCTION = "Let's think step by step.";

export const PLAIN: EvalCondition = Object.freeze({ mode: 'plain', chatTemplate: false });

export function systemInstructionFor(condition: EvalCondition): string | undefined {
  return condition.mode === 'think' ? THINK_INSTRUCTION : undefined;
}
