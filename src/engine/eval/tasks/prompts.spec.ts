import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BENCHMARKS, readBbhExamples, readBenchmarkJsonl } from '../../../../test-support/benchmark-files.ts';
import { THINK_INSTRUCTION } from '../conditions.ts';
import { getTask } from '../get-task.ts';
import { buildHumanEvalProgram } from '../humaneval-program.ts';
import type { EvalCondition, GenerateTask, MultipleChoiceTask, TaskPrompt } from '../task-types.ts';

// Prompts for the first items of ../shared/benchmarks, written out by hand from the yaml rules.
const PLAIN: EvalCondition = { mode: 'plain', chatTemplate: false };
const text = (p: TaskPrompt) => {
  if (p.kind !== 'text') throw new Error('expected a text prompt');
  return p.text;
};
const gen = (name: string) => getTask(name) as GenerateTask<never>;

describe('gsm8k_cot (8-shot, "Q: …\\nA:", target_delimiter " ", fewshot_delimiter "\\n\\n")', () => {
  const [item0] = readBenchmarkJsonl('gsm8k/test_first200.jsonl');
  const prompt = text(gen('gsm8k_cot').buildPrompt(item0 as never, PLAIN));
  it('starts with the first exemplars and ends with the item', () => {
    expect(prompt.startsWith(
      'Q: There are 15 trees in the grove. Grove workers will plant trees in the grove today. After they are done, there will be 21 trees. How many trees did the grove workers plant today?\n' +
        'A: There are 15 trees originally. Then there were 21 trees after some more were planted. So there must have been 21 - 15 = 6. The answer is 6.\n\n' +
        'Q: If there are 3 cars in the parking lot and 2 more cars arrive, how many cars are in the parking lot?\n' +
        'A: There are originally 3 cars. 2 more cars arrive. 3 + 2 = 5. The answer is 5.\n\nQ: Leah had 32',
    )).toBe(true);
    expect(prompt.endsWith(
      'Q: Olivia has $23. She bought five bagels for $3 each. How much money does she have left?\n' +
        'A: Olivia had 23 dollars. 5 bagels for 3 dollars each will be 5 x 3 = 15 dollars. So she has 23 - 15 dollars left. 23 - 15 is 8. The answer is 8.\n\n' +
        `Q: ${item0.question}\nA:`,
    )).toBe(true);
    expect(prompt.split('\n\nQ: ')).toHaveLength(9);
    expect(prompt.startsWith('Q: ')).toBe(true);
  });
  it('think: the instruction as lm-eval --system_instruction puts it (no separator without a description)', () => {
    expect(text(gen('gsm8k_cot').buildPrompt(item0 as never, { mode: 'think', chatTemplate: false }))).toBe(`${THINK_INSTRUCTION}${prompt}`);
  });
  it('chat template: few-shot block and question in one user turn; think adds a system turn', () => {
    expect(gen('gsm8k_cot').buildPrompt(item0 as never, { mode: 'plain', chatTemplate: true })).toEqual({
      kind: 'chat',
      messages: [{ role: 'user', content: prompt }],
    });
    expect(gen('gsm8k_cot').buildPrompt(item0 as never, { mode: 'think', chatTemplate: true })).toEqual({
      kind: 'chat',
      messages: [
        { role: 'system', content: THINK_INSTRUCTION },
        { role: 'user', content: prompt },
      ],
    });
  });
  it('generation settings and target', () => {
    expect(gen('gsm8k_cot').generation).toEqual({ until: ['Q:', '</s>', '<|im_end|>'], maxGenToks: 256, doSample: false });
    expect(gen('gsm8k_cot').target(item0 as never)).toBe('18');
  });
});

describe('gsm8k_cot_zeroshot', () => {
  it('"Q: <question>\\nA: Let\'s think step by step." and nothing else; the whole answer is the target', () => {
    const [item0] = readBenchmarkJsonl('gsm8k/test_first200.jsonl');
    expect(text(gen('gsm8k_cot_zeroshot').buildPrompt(item0 as never, PLAIN))).toBe(`Q: ${item0.question}\nA: Let's think step by step.`);
    expect(gen('gsm8k_cot_zeroshot').target(item0 as never)).toBe(item0.answer);
  });
});

describe('bbh_cot_fewshot (3-shot, target_delimiter "")', () => {
  // The BIG-Bench-Hard repository's own cot-prompts/<subtask>.txt: canary line, "-----", the
  // description, and the 3 exemplars — an independent source for lm-eval's prompt.
  const upstream = (sub: string) => readFileSync(new URL(`bbh/cot-prompts/${sub}.txt`, BENCHMARKS), 'utf8').split('-----\n')[1];
  it.each(['boolean_expressions', 'date_understanding', 'logical_deduction_three_objects', 'navigate', 'web_of_lies'])(
    '%s: the upstream CoT prompt, "\\n\\n", then "Q: <input>\\nA: Let\'s think step by step.\\n"',
    (sub) => {
      const [item0, item1] = readBbhExamples(sub);
      for (const item of [item0, item1]) {
        expect(text(gen(`bbh_cot_fewshot_${sub}`).buildPrompt(item as never, PLAIN))).toBe(
          `${upstream(sub)}\n\nQ: ${item.input}\nA: Let's think step by step.\n`,
        );
      }
    },
  );
  it('sports_understanding: lm-eval puts a newline after "Let\'s think step by step." where upstream has a space', () => {
    const [item0] = readBbhExamples('sports_understanding');
    const lmEval = text(gen('bbh_cot_fewshot_sports_understanding').buildPrompt(item0 as never, PLAIN));
    expect(lmEval.replaceAll("Let's think step by step.\n", "Let's think step by step. ")).toBe(
      `${upstream('sports_understanding')}\n\nQ: ${item0.input}\nA: Let's think step by step. `,
    );
  });
  it('chat template with think: description after the instruction in the system turn', () => {
    const [item0] = readBbhExamples('navigate');
    const p = gen('bbh_cot_fewshot_navigate').buildPrompt(item0 as never, { mode: 'think', chatTemplate: true });
    if (p.kind !== 'chat') throw new Error('chat expected');
    expect(p.messages.map((m) => m.role)).toEqual(['system', 'user']);
    expect(p.messages[0].content).toBe(`${THINK_INSTRUCTION}\n\nGiven a series of navigation instructions, determine whether one would end up back at the starting point.\n\n`);
    expect(p.messages[1].content.endsWith(`So the answer is Yes.\n\nQ: ${item0.input}\nA: Let's think step by step.\n`)).toBe(true);
  });
  it('27 subtasks, lm-eval generation settings', () => {
    const names = ['boolean_expressions', 'causal_judgement', 'date_understanding', 'disambiguation_qa', 'dyck_languages', 'formal_fallacies',
      'geometric_shapes', 'hyperbaton', 'logical_deduction_five_objects', 'logical_deduction_seven_objects', 'logical_deduction_three_objects',
      'movie_recommendation', 'multistep_arithmetic_two', 'navigate', 'object_counting', 'penguins_in_a_table', 'reasoning_about_colored_objects',
      'ruin_names', 'salient_translation_error_detection', 'snarks', 'sports_understanding', 'temporal_sequences',
      'tracking_shuffled_objects_five_objects', 'tracking_shuffled_objects_seven_objects', 'tracking_shuffled_objects_three_objects',
      'web_of_lies', 'word_sorting'];
    for (const n of names) expect(gen(`bbh_cot_fewshot_${n}`).generation).toEqual({ until: ['</s>', 'Q', '\n\n'], maxGenToks: 1024, doSample: false });
  });
});

describe('sciq', () => {
  const items = readBenchmarkJsonl('sciq/test_first200.jsonl');
  const task = getTask('sciq') as MultipleChoiceTask<never>;
  it('context "{support.lstrip()}\\nQuestion: …\\nAnswer:", continuations " " + choice in distractor1-3, correct order', () => {
    const item0 = items[0];
    const r = task.buildRequests(item0 as never, PLAIN);
    expect(text(r.context)).toBe(`${item0.support}\nQuestion: Compounds that are capable of accepting electrons, such as o 2 or f2, are called what?\nAnswer:`);
    expect(r.continuations).toEqual([' antioxidants', ' Oxygen', ' residues', ' oxidants']);
    expect(task.gold(item0 as never)).toBe(3);
  });
  it('an empty support gives a context starting with "\\nQuestion:"; the chat template drops the space', () => {
    const empty = items.find((it) => it.support === '')!;
    expect(text(task.buildRequests(empty as never, PLAIN).context)).toBe(`\nQuestion: ${empty.question}\nAnswer:`);
    const chat = task.buildRequests(items[0] as never, { mode: 'plain', chatTemplate: true });
    expect(chat.continuations).toEqual(['antioxidants', 'Oxygen', 'residues', 'oxidants']);
  });
});

describe('humaneval', () => {
  const [item0] = readBenchmarkJsonl('humaneval/HumanEval.jsonl') as unknown as { prompt: string; canonical_solution: string; test: string; entry_point: string }[];
  it('the prompt is the dataset prompt; the program is prompt + completion + "\\n" + test + "\\ncheck(entry_point)"', () => {
    expect(text(gen('humaneval').buildPrompt(item0 as never, PLAIN))).toBe(item0.prompt);
    expect(buildHumanEvalProgram(item0, item0.canonical_solution)).toBe(`${item0.prompt}${item0.canonical_solution}\n${item0.test}\ncheck(has_close_elements)`);
  });
  it('cleaning: every "```python\\n" removed, "\\n▁▁" indents become spaces; other fences stay', () => {
    const p = { prompt: 'def f():\n', test: 'def check(c): pass', entry_point: 'f' };
    expect(buildHumanEvalProgram(p, '```python\n    return 1\n```')).toBe('def f():\n    return 1\n```\ndef check(c): pass\ncheck(f)');
    expect(buildHumanEvalProgram(p, '    x = 1\n\u2581\u2581\u2581\u2581return x')).toBe('def f():\n    x = 1\n    return x\ndef check(c): pass\ncheck(f)');
  });
});
