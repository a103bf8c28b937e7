// The eval engine's public surface: benchmark tasks as lm-evaluation-harness defines them,
// their prompts, filters and metrics, and the aggregation of scores. UI-free.
export { aggregateGroup } from './aggregate-group.ts';
export { aggregateMetric, type MetricAggregate } from './aggregate-metric.ts';
export { buildFewshotPrompt, type FewshotPromptParts } from './build-fewshot-prompt.ts';
export { PLAIN, THINK_INSTRUCTION, systemInstructionFor } from './conditions.ts';
export { EvalDataError, UnknownTaskError } from './eval-errors.ts';
export { exactMatch, type ExactMatchOptions } from './exact-match.ts';
export { TASK_CHOICES, TASK_NAMES, getTask, nearestName } from './get-task.ts';
export { buildHumanEvalProgram, cleanHumanEvalCompletion } from './humaneval-program.ts';
export { numpyArgmax } from './numpy-argmax.ts';
export { pythonFindAll } from './python-find-all.ts';
export { readJsonl, type JsonlRow } from './read-jsonl.ts';
export { INVALID_ANSWER, applyRegexFilter, pythonStrip, type RegexFilterSpec } from './regex-filter.ts';
export { readResponse, scoreItem, summarizeScores, type TaskResponse, type TaskSummary } from './score-responses.ts';
export { scoreMultipleChoice, pythonLength, type MultipleChoiceScore } from './score-multiple-choice.ts';
export { selectItems, type ItemSelection } from './select-items.ts';
export { BBH_GET_ANSWER, BBH_GROUP, BBH_SUBTASKS, BBH_TASKS, type BbhDoc } from './tasks/bbh-cot-fewshot.ts';
export { GSM8K_FILTERS, gsm8kFinalAnswer, type Gsm8kDoc } from './tasks/gsm8k-shared.ts';
export { gsm8kCot } from './tasks/gsm8k-cot.ts';
export { gsm8kCotZeroshot } from './tasks/gsm8k-cot-zeroshot.ts';
export { HUMANEVAL_TIME_LIMIT_MS, humaneval, type HumanEvalDoc } from './tasks/humaneval.ts';
export { sciq, type SciqDoc } from './tasks/sciq.ts';
export { demoArith, demoArithRows, type DemoArithDoc } from './tasks/demo-arith.ts';
export type {
  AnyTask,
  ChatMessage,
  EvalCondition,
  GenerateTask,
  GenerationKwargs,
  ItemScore,
  MultipleChoiceTask,
  Provenance,
  RunProgram,
  ScoreContext,
  TaskPrompt,
} from './task-types.ts';
export { Z_95, wilsonInterval } from './wilson-interval.ts';
