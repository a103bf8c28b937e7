import { systemInstructionFor } from './conditions.ts';
import type { ChatMessage, EvalCondition, TaskPrompt } from './task-types.ts';

export interface FewshotPromptParts {
  /** The task's `description` (already rendered), or '' when it has none. */
  description: string;
  /** Few-shot examples: doc_to_text and doc_to_target of each, in order (first_n sampler). */
  examples: readonly { text: string; target: string }[];
  /** doc_to_text of the item being asked. */
  question: string;
  /** lm-eval's `target_delimiter` (default " ") and `fewshot_delimiter` (default "\n\n"). */
  targetDelimiter: string;
  fewshotDelimiter: string;
}

/**
 * lm-eval's `ConfigurableTask.fewshot_context` with `ContextSampler.get_context` /
 * `get_chat_context` (lm_eval/api/task.py and lm_eval/api/samplers.py, commit
 * 000488380f82f5259902944d7e5b67baa65212b0 for samplers.py), for the case every task here is in:
 * string doc_to_text and doc_to_target, no gen_prefix, `fewshot_as_multiturn=False`.
 *
 * Without a chat template: system prompt (instruction + fewshot_delimiter + description, or
 * either alone) + for each example `text + target_delimiter + target + fewshot_delimiter`
 * (an empty target adds nothing, not even the delimiter) + the question.
 * With one: a system message with the system prompt if any, the few-shot block as one user
 * message, and the question appended to that user message (or as a new user message when
 * the last message is the system one or there is none).
 */
export function buildFewshotPrompt(parts: FewshotPromptParts, condition: EvalCondition): TaskPrompt {
  const instruction = systemInstructionFor(condition);
  const { description } = parts;
  const systemPrompt =
    instruction !== undefined && description
      ? `${instruction}${parts.fewshotDelimiter}${description}`
      : instruction !== undefined
        ? instruction
        : description;

  let fewshot = '';
  for (const ex of parts.examples) {
    fewshot += ex.text;
    if (ex.target !== '') fewshot += parts.targetDelimiter + ex.target + parts.fewshotDelimiter;
  }

  if (!condition.chatTemplate) return { kind: 'text', text: systemPrompt + fewshot + parts.question };

  const messages: ChatMessage[] = [];
  if (systemPrompt) messages.push({ role: 'system', content: systemPrompt });
  if (parts.examples.length > 0) messages.push({ role: 'user', content: fewshot });
  const last = messages[messages.length - 1];
  if (last === undefined || last.role === 'system') messages.push({ role: 'user', content: parts.question });
  else last.content += parts.question;
  return { kind: 'chat', messages };
}
