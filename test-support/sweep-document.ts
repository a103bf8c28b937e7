import { encodeVerdicts, RESULTS_FORMAT, RESULTS_VERSION, type SweepPoint, type SweepResultsDocument } from '../src/engine/sweep/results-document.ts';

/**
 * A typical sweep's results document, built the way a run fills it: four tasks (gsm8k_cot and
 * sciq with two metrics each, humaneval, one BBH subtask), 100 shuffled items each, the default
 * 11-α grid (−1 … 1.5 by 0.25), the control series and the three reference lines. Counts and
 * per-item verdicts come from a seeded generator (deterministic), not from a model.
 */
export function typicalSweepDocument(o: { verdicts?: boolean; conditions?: ('plain' | 'think' | 'plain+chat' | 'think+chat')[] } = {}): SweepResultsDocument {
  const alphas = Array.from({ length: 11 }, (_, i) => -1 + 0.25 * i);
  const conditions = o.conditions ?? ['plain'];
  const tasks = [
    { task: 'gsm8k_cot', metrics: ['exact_match,strict-match', 'exact_match,flexible-extract'], source: 'hf:datasets/openai/gsm8k (config main, split test)', rows: 1319 },
    { task: 'sciq', metrics: ['acc', 'acc_norm'], source: 'hf:datasets/allenai/sciq (config default, split test)', rows: 1000 },
    { task: 'humaneval', metrics: ['pass@1'], source: 'hf:datasets/openai/openai_humaneval (config openai_humaneval, split test)', rows: 164 },
    { task: 'bbh_cot_fewshot_date_understanding', metrics: ['exact_match,get-answer'], source: 'hf:datasets/lukaemon/bbh (config date_understanding, split test)', rows: 250 },
  ];
  let state = 7;
  const random = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const points: SweepPoint[] = [];
  for (const series of ['v', 'control', 'sft', 'rl', 'target'] as const) {
    for (const alpha of series === 'v' || series === 'control' ? alphas : [null]) {
      for (const t of tasks) {
        for (const condition of conditions) {
          for (const metric of t.metrics) {
            const p = 0.3 + (series === 'v' && alpha !== null ? 0.2 * alpha : 0);
            const bits = Array.from({ length: 100 }, () => (random() < p ? 1 : 0) as 0 | 1);
            const correct = bits.reduce<number>((a, b) => a + b, 0);
            points.push({ series, alpha, task: t.task, condition, metric, correct, total: 100, ...(o.verdicts ? { verdicts: encodeVerdicts(bits) } : {}) });
          }
        }
      }
    }
  }
  return {
    format: RESULTS_FORMAT,
    version: RESULTS_VERSION,
    sources: {
      sft: { spec: 'hf:michaelbzhu/Qwen2.5-Math-1.5B-GSM8K-SFT', revision: '1'.repeat(40) },
      rl: { spec: 'hf:michaelbzhu/Qwen2.5-Math-1.5B-GSM8K-GRPO', revision: '2'.repeat(40) },
      target: { spec: 'hf:Qwen/Qwen2.5-Math-1.5B', revision: '3'.repeat(40) },
    },
    alphas,
    tasks: tasks.map((t) => ({
      task: t.task,
      conditions,
      selection: { mode: 'shuffle' as const, count: 100, seed: 1234 },
      data: { source: t.source, revision: 'abcdef0123456789abcdef0123456789abcdef01', rows: t.rows },
    })),
    generation: { batch_size: 8, max_new_tokens: null, greedy: true },
    controls: { donors: true, random_vector_seed: 42 },
    points,
    runtime: { provider: 'onnxruntime-web (wasm)', seconds: 4321.5 },
  };
}
