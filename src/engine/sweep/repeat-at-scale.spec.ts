import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { typicalSweepDocument } from '../../../test-support/sweep-document.ts';
import { selectItems } from '../eval/index.ts';
import { bestAlpha, bestAlphaRecipe, lmEvalCommands, lmEvalModelOf, shellQuote } from './repeat-at-scale.ts';
import type { SweepResultsDocument } from './results-document.ts';

const docWith = (over: Partial<SweepResultsDocument>) => ({ ...typicalSweepDocument(), ...over });

describe('lm_eval command lines', () => {
  it('HF backend: the pinned target, the tasks, a seeded selection as --samples, the think condition and chat template as lm-eval flags', () => {
    const doc = typicalSweepDocument({ conditions: ['plain', 'think+chat'] });
    const plan = lmEvalCommands(doc, lmEvalModelOf(doc.sources.target), { backend: 'hf' });
    expect(plan.skipped).toEqual([]);
    expect(plan.commands.map((c) => c.condition)).toEqual(['plain', 'think+chat']);
    const samples = JSON.stringify({
      gsm8k_cot: selectItems(1319, { mode: 'shuffle', count: 100, seed: 1234 }),
      sciq: selectItems(1000, { mode: 'shuffle', count: 100, seed: 1234 }),
      humaneval: selectItems(164, { mode: 'shuffle', count: 100, seed: 1234 }),
      bbh_cot_fewshot_date_understanding: selectItems(250, { mode: 'shuffle', count: 100, seed: 1234 }),
    });
    expect(plan.commands[1].command).toBe(
      `lm_eval --model hf --model_args pretrained=Qwen/Qwen2.5-Math-1.5B,revision=${'3'.repeat(40)},dtype=auto --tasks gsm8k_cot,sciq,humaneval,bbh_cot_fewshot_date_understanding --batch_size auto ` +
        `--samples '${samples}' --system_instruction 'Let'\\''s think step by step.' --apply_chat_template --confirm_run_unsafe_code --log_samples --output_path lm-eval-results/think-chat`,
    );
    expect(plan.commands[0].command).not.toContain('--system_instruction');
    expect(plan.commands[0].command).not.toContain('--apply_chat_template');
  });

  it('vLLM backend; a first-n selection is --limit; max new tokens go to --gen_kwargs', () => {
    const doc = docWith({ generation: { batch_size: 8, max_new_tokens: 512, greedy: true } });
    doc.tasks = doc.tasks.map((t) => ({ ...t, selection: { mode: 'first-n', count: 50, seed: null } }));
    const [c] = lmEvalCommands(doc, { pretrained: './merged-alpha-1' }, { backend: 'vllm', outputPath: 'out' }).commands;
    expect(c.command).toBe(
      'lm_eval --model vllm --model_args pretrained=./merged-alpha-1,dtype=auto,gpu_memory_utilization=0.8 --tasks gsm8k_cot,sciq,humaneval,bbh_cot_fewshot_date_understanding --batch_size auto --limit 50 --gen_kwargs max_gen_toks=512 --confirm_run_unsafe_code --log_samples --output_path out/plain',
    );
  });

  it('lists what lm-eval cannot repeat: the studio\'s demo task and items from a local file', () => {
    const doc = docWith({});
    doc.tasks = [
      { task: 'demo_arith', conditions: ['plain'], selection: { mode: 'first-n', count: null, seed: null }, data: { source: 'built-in (studio/demo_arith)', revision: null, rows: 100 } },
      { task: 'sciq', conditions: ['plain'], selection: { mode: 'first-n', count: null, seed: null }, data: { source: '/data/sciq.jsonl', revision: null, rows: 10 } },
    ];
    const plan = lmEvalCommands(doc, { pretrained: 'x' }, { backend: 'hf' });
    expect(plan.commands).toEqual([]);
    expect(plan.skipped.map((s) => s.task)).toEqual(['demo_arith', 'sciq']);
  });

  it('quotes for a POSIX shell', () => {
    expect(shellQuote('pretrained=a/b,revision=c')).toBe('pretrained=a/b,revision=c');
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
    expect(shellQuote('{"a":[1]}')).toBe(`'{"a":[1]}'`);
  });
});

describe('best α and its mergekit recipe', () => {
  it('takes the α whose v points have the best mean of each task\'s first metric; ties go to the smaller |α|', () => {
    const doc = typicalSweepDocument();
    const primary = ['exact_match,strict-match', 'acc', 'pass@1', 'exact_match,get-answer'];
    const means = doc.alphas.map((a) => {
      const pts = doc.points.filter((p) => p.series === 'v' && p.alpha === a && primary.includes(p.metric));
      return pts.reduce((s, p) => s + p.correct / p.total, 0) / pts.length;
    });
    const i = means.indexOf(Math.max(...means));
    expect(bestAlpha(doc)).toEqual({ alpha: doc.alphas[i], mean: means[i] });
    const flat = docWith({ points: doc.points.map((p) => ({ ...p, correct: 50 })) });
    expect(bestAlpha(flat)?.alpha).toBe(0);
  });

  it('writes mergekit\'s linear recipe with the sources pinned to their commits', () => {
    const doc = typicalSweepDocument();
    const r = bestAlphaRecipe(doc, 'BF16')!;
    const y = parse(r.yaml);
    expect(y).toEqual({
      merge_method: 'linear',
      base_model: `Qwen/Qwen2.5-Math-1.5B@${'3'.repeat(40)}`,
      models: [
        { model: `Qwen/Qwen2.5-Math-1.5B@${'3'.repeat(40)}`, parameters: { weight: 1 } },
        { model: `michaelbzhu/Qwen2.5-Math-1.5B-GSM8K-SFT@${'1'.repeat(40)}`, parameters: { weight: r.alpha === 0 ? 0 : -r.alpha } },
        { model: `michaelbzhu/Qwen2.5-Math-1.5B-GSM8K-GRPO@${'2'.repeat(40)}`, parameters: { weight: r.alpha } },
      ],
      parameters: { normalize: false },
      dtype: 'float32',
      out_dtype: 'bfloat16',
    });
  });
});
