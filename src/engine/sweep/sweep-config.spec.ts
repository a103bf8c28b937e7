import { describe, expect, it } from 'vitest';
import { thrown } from '../../../test-support/rejection.ts';
import { DEFAULT_ALPHAS, normalizeAlphas } from './alpha-grid.ts';
import { SweepConfigError, parseSweepConfig } from './sweep-config.ts';

const base = { sft: 'hf:a/sft', rl: 'hf:a/rl', target: 'hf:a/target', tasks: [{ task: 'demo_arith' }] };
const refusal = (over: Record<string, unknown>) => thrown(SweepConfigError, () => parseSweepConfig({ ...base, ...over }, 'sweep.json')).message;

describe('parseSweepConfig', () => {
  it('fills the defaults: the −1…1.5 grid, all items first-n, plain, no chat, batch 8, donors and control seed 0', () => {
    const c = parseSweepConfig(base);
    expect(c.alphas).toEqual([-1, -0.75, -0.5, -0.25, 0, 0.25, 0.5, 0.75, 1, 1.25, 1.5]);
    expect(c.tasks).toHaveLength(1);
    expect(c.tasks[0]).toMatchObject({ limit: null, seed: null, conditions: [{ mode: 'plain', chatTemplate: false }], selection: { mode: 'first-n' } });
    expect(c.generation).toEqual({ batchSize: 8, maxNewTokens: null });
    expect(c.controls).toEqual({ donors: true, randomVectorSeed: 0 });
  });

  it('reads every field; bbh_cot_fewshot stands for its 27 subtasks', () => {
    const c = parseSweepConfig({
      ...base,
      alphas: [0.5, -2, 0.5],
      tasks: [{ task: 'sciq', limit: 50, seed: 9, conditions: ['plain', 'think'], chat: true, data: 'sciq.jsonl' }, { task: 'bbh_cot_fewshot', limit: 3 }],
      generation: { batch_size: 4, max_new_tokens: 64 },
      controls: { donors: false, random_vector_seed: null },
      vocab_policy: 'overlap',
    });
    expect(c.alphas).toEqual([-2, 0, 0.5, 1]);
    expect(c.tasks[0]).toMatchObject({ limit: 50, seed: 9, data: 'sciq.jsonl', selection: { mode: 'shuffle', count: 50, seed: 9 }, conditions: [{ mode: 'plain', chatTemplate: true }, { mode: 'think', chatTemplate: true }] });
    expect(c.tasks).toHaveLength(28);
    expect(c.tasks[1].task.name).toBe('bbh_cot_fewshot_boolean_expressions');
    expect(c).toMatchObject({ generation: { batchSize: 4, maxNewTokens: 64 }, controls: { donors: false, randomVectorSeed: null }, vocabPolicy: 'overlap' });
  });

  it('refuses bad fields, naming each', () => {
    expect(refusal({ tasks: [{ task: 'gsm8k_cot', limit: 0 }] })).toBe('sweep.json: tasks[0].limit: must be at least 1 (got 0).');
    expect(refusal({ tasks: [{ task: 'gsm8k_cot', limit: '10' }] })).toBe('sweep.json: tasks[0].limit: must be a number (got "10").');
    expect(refusal({ tasks: [{ task: 'gsm8k_cot', conditions: ['plain', 'cot'] }] })).toBe('sweep.json: tasks[0].conditions[1]: must be "plain" or "think" (got "cot").');
    expect(refusal({ tasks: [{ task: 'gsm8k_cott' }] })).toMatch(/^sweep\.json: tasks\[0\]\.task: unknown task "gsm8k_cott"; did you mean "gsm8k_cot"\?/);
    expect(refusal({ tasks: [{ task: 'sciq', lmit: 3 }] })).toBe('sweep.json: tasks[0].lmit: is not a sweep.json field (known: task, limit, seed, conditions, chat, data).');
    expect(refusal({ alpha: [1] })).toBe('sweep.json: alpha: is not a sweep.json field (known: sft, rl, target, alphas, tasks, generation, controls, vocab_policy).');
    expect(refusal({ alphas: [0, 'one'] })).toBe('sweep.json: alphas[1]: must be a number (got "one").');
    expect(refusal({ alphas: [0, Number.NaN] })).toBe('sweep.json: alphas[1]: must be a number (got NaN).');
    expect(refusal({ tasks: [] })).toBe('sweep.json: tasks: must list at least one task (got 0).');
    expect(thrown(SweepConfigError, () => parseSweepConfig({ sft: 'a', rl: 'b', tasks: base.tasks }, 'sweep.json')).message).toBe('sweep.json: target: is missing; sweep.json names the SFT donor, the RL donor and the target (hf:owner/name[@revision] or a folder).');
    expect(refusal({ tasks: [{ limit: 3 }] })).toBe('sweep.json: tasks[0].task: is missing.');
    expect(refusal({ controls: { random_vector_seed: -1 } })).toBe('sweep.json: controls.random_vector_seed: must be ≥ 0 (got -1).');
    expect(refusal({ generation: { batch_size: 2.5 } })).toBe('sweep.json: generation.batch_size: must be an integer (got 2.5).');
    expect(refusal({ tasks: [{ task: 'sciq' }, { task: 'sciq', limit: 4 }] })).toBe('sweep.json: tasks[1].task: sciq under plain is already in the sweep.');
    expect(refusal({ tasks: [{ task: 'bbh_cot_fewshot', data: 'x.jsonl' }] })).toBe('sweep.json: tasks[0].data: holds the items of one task; bbh_cot_fewshot is a group of 27.');
  });
});

describe('normalizeAlphas', () => {
  it('sorts, drops repeats (−0 is 0) and always includes 0 and 1', () => {
    expect(normalizeAlphas([2, -0, 0.5, 2])).toEqual([0, 0.5, 1, 2]);
    expect(Object.is(normalizeAlphas([-0])[0], 0)).toBe(true);
    expect(normalizeAlphas()).toEqual([...DEFAULT_ALPHAS]);
  });
});
