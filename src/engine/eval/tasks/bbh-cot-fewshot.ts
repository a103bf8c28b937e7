// Mirrors lm-evaluation-harness lm_eval/tasks/bbh/cot_fewshot/ (the 3-shot chain-of-thought BBH):
// _cot_fewshot_template_yaml task version 4.0 at commit 478562342bc95d21cf894a6975b50e2463eaaa31
// (dataset SaylorTwift/bbh, a parquet copy of lukaemon/bbh; doc_to_target "{{target}}";
// target_delimiter ""; num_fewshot 3; until ["</s>", "Q", "\n\n"]; max_gen_toks 1024; do_sample
// false; filter get-answer = regex "(?<=the answer is )(.*)(?=.)" + take_first; exact_match with
// ignore_case and ignore_punctuation commented out, i.e. case-sensitive, no regexes) and each
// <subtask>.yaml for its description and 3 fewshot_config samples (sampler first_n), shipped in
// ../data/bbh-cot-fewshot/<subtask>.json with the commit each was read at. The version-4.0
// subtask yamls have doc_to_text 'Q: {{input}}\nA: Let''s think step by step.\n' and targets
// without the repeated "Let's think step by step." (lm-eval PR #3140). Some subtask files were
// read at a commit whose yaml moves "A: Let's think step by step.\n" into gen_prefix; their
// samples and description are the same text, and the prompt here is the version-4.0 one.
// The group bbh_cot_fewshot (_bbh_cot_fewshot.yaml) lists these 27 subtasks.
import booleanExpressions from '../data/bbh-cot-fewshot/boolean_expressions.json';
import causalJudgement from '../data/bbh-cot-fewshot/causal_judgement.json';
import dateUnderstanding from '../data/bbh-cot-fewshot/date_understanding.json';
import disambiguationQa from '../data/bbh-cot-fewshot/disambiguation_qa.json';
import dyckLanguages from '../data/bbh-cot-fewshot/dyck_languages.json';
import formalFallacies from '../data/bbh-cot-fewshot/formal_fallacies.json';
import geometricShapes from '../data/bbh-cot-fewshot/geometric_shapes.json';
import hyperbaton from '../data/bbh-cot-fewshot/hyperbaton.json';
import logicalDeductionFiveObjects from '../data/bbh-cot-fewshot/logical_deduction_five_objects.json';
import logicalDeductionSevenObjects from '../data/bbh-cot-fewshot/logical_deduction_seven_objects.json';
import logicalDeductionThreeObjects from '../data/bbh-cot-fewshot/logical_deduction_three_objects.json';
import movieRecommendation from '../data/bbh-cot-fewshot/movie_recommendation.json';
import multistepArithmeticTwo from '../data/bbh-cot-fewshot/multistep_arithmetic_two.json';
import navigate from '../data/bbh-cot-fewshot/navigate.json';
import objectCounting from '../data/bbh-cot-fewshot/object_counting.json';
import penguinsInATable from '../data/bbh-cot-fewshot/penguins_in_a_table.json';
import reasoningAboutColoredObjects from '../data/bbh-cot-fewshot/reasoning_about_colored_objects.json';
import ruinNames from '../data/bbh-cot-fewshot/ruin_names.json';
import salientTranslationErrorDetection from '../data/bbh-cot-fewshot/salient_translation_error_detection.json';
import snarks from '../data/bbh-cot-fewshot/snarks.json';
import sportsUnderstanding from '../data/bbh-cot-fewshot/sports_understanding.json';
import temporalSequences from '../data/bbh-cot-fewshot/temporal_sequences.json';
import trackingShuffledObjectsFiveObjects from '../data/bbh-cot-fewshot/tracking_shuffled_objects_five_objects.json';
import trackingShuffledObjectsSevenObjects from '../data/bbh-cot-fewshot/tracking_shuffled_objects_seven_objects.json';
import trackingShuffledObjectsThreeObjects from '../data/bbh-cot-fewshot/tracking_shuffled_objects_three_objects.json';
import webOfLies from '../data/bbh-cot-fewshot/web_of_lies.json';
import wordSorting from '../data/bbh-cot-fewshot/word_sorting.json';
import { buildFewshotPrompt } from '../build-fewshot-prompt.ts';
import { exactMatch } from '../exact-match.ts';
import { readStringFields } from '../read-doc.ts';
import { applyRegexFilter, type RegexFilterSpec } from '../regex-filter.ts';
import type { GenerateTask } from '../task-types.ts';

interface BbhFewshotFile {
  source: { repository: string; path: string; commit: string };
  description: string;
  samples: { input: string; target: string }[];
}

const FEWSHOT: Record<string, BbhFewshotFile> = {
  boolean_expressions: booleanExpressions,
  causal_judgement: causalJudgement,
  date_understanding: dateUnderstanding,
  disambiguation_qa: disambiguationQa,
  dyck_languages: dyckLanguages,
  formal_fallacies: formalFallacies,
  geometric_shapes: geometricShapes,
  hyperbaton: hyperbaton,
  logical_deduction_five_objects: logicalDeductionFiveObjects,
  logical_deduction_seven_objects: logicalDeductionSevenObjects,
  logical_deduction_three_objects: logicalDeductionThreeObjects,
  movie_recommendation: movieRecommendation,
  multistep_arithmetic_two: multistepArithmeticTwo,
  navigate: navigate,
  object_counting: objectCounting,
  penguins_in_a_table: penguinsInATable,
  reasoning_about_colored_objects: reasoningAboutColoredObjects,
  ruin_names: ruinNames,
  salient_translation_error_detection: salientTranslationErrorDetection,
  snarks: snarks,
  sports_understanding: sportsUnderstanding,
  temporal_sequences: temporalSequences,
  tracking_shuffled_objects_five_objects: trackingShuffledObjectsFiveObjects,
  tracking_shuffled_objects_seven_objects: trackingShuffledObjectsSevenObjects,
  tracking_shuffled_objects_three_objects: trackingShuffledObjectsThreeObjects,
  web_of_lies: webOfLies,
  word_sorting: wordSorting,
};

/** The 27 subtasks, in the order of lm-eval's _bbh_cot_fewshot.yaml (alphabetical). */
export const BBH_SUBTASKS: readonly string[] = Object.keys(FEWSHOT).sort();

/** A row of lukaemon/bbh (one config per subtask): the dataset's own fields. */
export interface BbhDoc {
  input: string;
  target: string;
}

/**
 * get-answer, Python `(?<=the answer is )(.*)(?=.)`: lower-case "the answer is " only; `.` is
 * "any character but a newline", so `[^\n]`. The group keeps all of the rest of the line except
 * its last character — "the answer is (B)." gives "(B)", and "the answer is (B)" at the very end
 * gives "(B" (the lookahead needs one more character). A miss gives "[invalid]".
 */
export const BBH_GET_ANSWER: RegexFilterSpec = {
  name: 'get-answer',
  pattern: /(?<=the answer is )([^\n]*)(?=[^\n])/u,
  groupSelect: 0,
};

const TEMPLATE_COMMIT = '478562342bc95d21cf894a6975b50e2463eaaa31';

function bbhTask(subtask: string): GenerateTask<BbhDoc> {
  const file = FEWSHOT[subtask];
  const name = `bbh_cot_fewshot_${subtask}`;
  const text = (input: string) => `Q: ${input}\nA: Let's think step by step.\n`;
  return {
    name,
    outputType: 'generate_until',
    dataset: { path: 'lukaemon/bbh', name: subtask, split: 'test' },
    fields: ['input', 'target'],
    metricKeys: ['exact_match,get-answer'],
    sources: [
      { repository: 'EleutherAI/lm-evaluation-harness', path: 'lm_eval/tasks/bbh/cot_fewshot/_cot_fewshot_template_yaml', commit: TEMPLATE_COMMIT },
      file.source,
    ],
    generation: { until: ['</s>', 'Q', '\n\n'], maxGenToks: 1024, doSample: false },
    readDoc: (row, where) => readStringFields(row, ['input', 'target'] as const, where, name),
    buildPrompt: (doc, condition) =>
      buildFewshotPrompt(
        {
          description: file.description,
          examples: file.samples.map((s) => ({ text: text(s.input), target: s.target })),
          question: text(doc.input),
          targetDelimiter: '',
          fewshotDelimiter: '\n\n',
        },
        condition,
      ),
    target: (doc) => doc.target,
    async score(doc, output) {
      const answer = applyRegexFilter(output, BBH_GET_ANSWER);
      return { metrics: { 'exact_match,get-answer': exactMatch(answer, doc.target) }, extracted: { 'get-answer': answer } };
    },
  };
}

export const BBH_TASKS: readonly GenerateTask<BbhDoc>[] = BBH_SUBTASKS.map(bbhTask);

/**
 * The group: lm-eval's _bbh_cot_fewshot.yaml aggregates exact_match over the 27 subtasks with
 * `weight_by_size: true`; issue 9 asks for the unweighted mean (see aggregate-group.ts).
 */
export const BBH_GROUP = {
  name: 'bbh_cot_fewshot',
  subtasks: BBH_TASKS.map((t) => t.name),
  metricKey: 'exact_match,get-answer',
  lmEvalWeightBySize: true,
} as const;
