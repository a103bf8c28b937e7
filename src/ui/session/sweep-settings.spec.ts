import { describe, expect, it } from 'vitest';
import { typicalSweepDocument } from '../../../test-support/sweep-document.ts';
import { parseSweepConfig } from '../../engine/sweep/sweep-config.ts';
import type { SweepSettings } from '../store.ts';
import { parseAlphaText, settingsFromDocument, shareRefusalText, sweepJsonOf, sweepProblem } from './sweep-settings.ts';

const SETTINGS: SweepSettings = {
  alphasText: '-1, 0.5',
  tasks: ['demo_arith', 'sciq'],
  conditions: ['plain', 'think+chat'],
  count: 40,
  selection: 'shuffle',
  seed: 99,
  batchSize: 16,
  maxNewTokens: null,
  donors: true,
  control: false,
  controlSeed: 5,
};

describe('the α grid as typed', () => {
  it('takes commas, spaces, semicolons and the minus sign, sorts, drops repeats and adds 0 and 1', () => {
    expect(parseAlphaText('1.5 −1; -0.25,0.25  0.25')).toEqual({ alphas: [-1, -0.25, 0, 0.25, 1, 1.5] });
    expect(parseAlphaText('-0')).toEqual({ alphas: [0, 1] });
    expect(parseAlphaText('2e-1')).toEqual({ alphas: [0, 0.2, 1] });
  });
  it('refuses what is not a finite number, naming it', () => {
    expect(parseAlphaText('0.5, abc')).toEqual({ error: '"abc" is not a finite number; α values are numbers like -1, 0.25 or 1.5.' });
    expect(parseAlphaText('1e999')).toEqual({ error: expect.stringContaining('"1e999"') });
    expect(parseAlphaText('0x10')).toEqual({ error: expect.stringContaining('"0x10"') });
    expect(parseAlphaText('  ')).toEqual({ error: 'Give at least one α (0 and 1 are always added).' });
  });
});

describe('sweep.json from the panel', () => {
  it('is the file `studio sweep` reads: the engine parses it to the same grid, tasks × conditions, selection and controls', () => {
    const json = sweepJsonOf(SETTINGS, [-1, 0, 0.5, 1], { sft: 'demo:demo-arith-sft', rl: 'demo:demo-arith-rl', target: 'demo:demo-arith-target' });
    // A task under plain and think+chat is two entries (sweep.json's chat flag is per entry).
    expect(json.tasks).toEqual([
      { task: 'demo_arith', limit: 40, seed: 99, conditions: ['plain'], chat: false },
      { task: 'demo_arith', limit: 40, seed: 99, conditions: ['think'], chat: true },
      { task: 'sciq', limit: 40, seed: 99, conditions: ['plain'], chat: false },
      { task: 'sciq', limit: 40, seed: 99, conditions: ['think'], chat: true },
    ]);
    const config = parseSweepConfig(JSON.parse(JSON.stringify(json)));
    expect(config.alphas).toEqual([-1, 0, 0.5, 1]);
    expect(config.tasks.map((t) => [t.task.name, t.selection, t.conditions])).toEqual([
      ['demo_arith', { mode: 'shuffle', count: 40, seed: 99 }, [{ mode: 'plain', chatTemplate: false }]],
      ['demo_arith', { mode: 'shuffle', count: 40, seed: 99 }, [{ mode: 'think', chatTemplate: true }]],
      ['sciq', { mode: 'shuffle', count: 40, seed: 99 }, [{ mode: 'plain', chatTemplate: false }]],
      ['sciq', { mode: 'shuffle', count: 40, seed: 99 }, [{ mode: 'think', chatTemplate: true }]],
    ]);
    expect(config.generation).toEqual({ batchSize: 16, maxNewTokens: null });
    expect(config.controls).toEqual({ donors: true, randomVectorSeed: null });
  });
  it('first-n has no seed; a max-new-tokens override and a control seed are passed on', () => {
    const json = sweepJsonOf({ ...SETTINGS, selection: 'first-n', maxNewTokens: 64, control: true, tasks: ['gsm8k_cot'], conditions: ['plain'] }, [0, 1], { sft: 'a', rl: 'b', target: 'c' });
    expect(json).toEqual({
      sft: 'a',
      rl: 'b',
      target: 'c',
      alphas: [0, 1],
      tasks: [{ task: 'gsm8k_cot', limit: 40, conditions: ['plain'], chat: false }],
      generation: { batch_size: 16, max_new_tokens: 64 },
      controls: { donors: true, random_vector_seed: 5 },
    });
    expect(parseSweepConfig(json).tasks[0].selection).toEqual({ mode: 'first-n', count: 40 });
  });
});

describe('a results document back into the panel (Re-run)', () => {
  it('gives the grid, tasks, conditions, selection and controls the document records', () => {
    const doc = typicalSweepDocument({ conditions: ['plain', 'think+chat'] });
    expect(settingsFromDocument(doc, { seed: 1, controlSeed: 2 })).toEqual({
      alphasText: doc.alphas.join(', '),
      tasks: ['gsm8k_cot', 'sciq', 'humaneval', 'bbh_cot_fewshot_date_understanding'],
      conditions: ['plain', 'think+chat'],
      count: 100,
      selection: 'shuffle',
      seed: 1234,
      batchSize: 8,
      maxNewTokens: null,
      donors: true,
      control: true,
      controlSeed: 42,
    });
  });
});

describe('why Run is disabled', () => {
  it('names the missing choice', () => {
    expect(sweepProblem({ ...SETTINGS, tasks: [] }, 'demo')).toBe('Choose at least one task.');
    expect(sweepProblem({ ...SETTINGS, conditions: [] }, 'demo')).toBe('Choose at least one condition.');
    expect(sweepProblem(SETTINGS, 'none')).toBe("demo_arith is the demo trio's own task: load the demo trio, or untick it.");
    expect(sweepProblem(SETTINGS, 'other')).toMatch(/^demo_arith is the demo trio's own task and needs the demo's tokenizer .*this target's tokenizer is not the demo's/);
    expect(sweepProblem(SETTINGS, 'demo')).toBeUndefined();
  });
});

describe('shareRefusalText', () => {
  it('puts the engine\'s reason in a sentence of its own: one colon, not two', () => {
    expect(shareRefusalText('the share URL: does not start with an encoding version ("1.").')).toBe(
      'This share link was refused and nothing from it is shown. The share URL: does not start with an encoding version ("1.").',
    );
  });
});
