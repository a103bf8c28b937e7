/**
 * `studio eval` through the real binary, checked against the other doors: every sample's
 * verdict is what `studio score` says for its output, every generated output is what
 * `studio generate` gives for the same prompt and α, and Hub datasets are read pinned.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { benchmarksDir, writeBenchmarkDatasets } from '../../test-support/benchmark-datasets.ts';
import { makeFixtureDir, type FixtureDir } from '../../test-support/fixture-dir.ts';
import { startMockHub, type MockHub } from '../../test-support/mock-hub/server.ts';
import { getTask } from '../engine/eval/index.ts';

const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
let work: string;
let fx: FixtureDir;
let env: NodeJS.ProcessEnv;

async function studio(...args: string[]) {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [join(REPO_ROOT, 'bin/studio.js'), ...args], { cwd: work, env, timeout: 240_000, maxBuffer: 64 << 20 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

const jsonl = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
const readJsonl = (path: string) => readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const trio = () => ['--sft', fx.model('demo-arith-sft'), '--rl', fx.model('demo-arith-rl'), '--target', fx.model('demo-arith-target')];

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'studio-eval-'));
  fx = makeFixtureDir('studio-eval-fixtures-', { demo: true });
  env = { ...process.env, HF_ENDPOINT: '', HF_TOKEN: '', STUDIO_CACHE_DIR: join(work, 'cache') };
}, 60_000);
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
  fx?.cleanup();
});

describe('studio eval on local items (--data), merged on the fly', () => {
  // Items of our own in gsm8k's fields (short prompts: the demo model has 128 positions).
  const gsmItems = [
    { question: '3+4=', answer: 'Add them.\n#### 7' },
    { question: '9+9=', answer: '#### 18' },
    { question: '1+2=', answer: '#### 3' },
  ];
  const sciqItems = [
    { question: 'What is 2+2?', distractor1: '3', distractor2: '5', distractor3: '22', correct_answer: '4', support: '' },
    { question: '5+1=', distractor1: '7', distractor2: '1', distractor3: '0', correct_answer: '6', support: ' Sums. ' },
  ];

  it('gsm8k_cot_zeroshot: each sample = studio score on its output = studio generate on its prompt', async () => {
    writeFileSync(join(work, 'gsm.jsonl'), jsonl(gsmItems));
    const r = await studio('eval', ...trio(), '--alpha', '1', '--task', 'gsm8k_cot_zeroshot', '--data', 'gsm.jsonl', '--max-new-tokens', '5', '--batch-size', '2', '--out', 'gsm-results.json', '--samples', 'gsm-samples.jsonl');
    expect(r.code, r.stderr).toBe(0);
    const samples = readJsonl(join(work, 'gsm-samples.jsonl'));
    expect(samples.map((s) => [s.task, s.index, s.alpha, s.condition])).toEqual(gsmItems.map((_, i) => ['gsm8k_cot_zeroshot', i, 1, 'plain']));
    expect(Object.keys(samples[0])).toEqual(['task', 'index', 'alpha', 'condition', 'prompt', 'output', 'extracted', 'metrics']);
    // The zero-shot prompt as lm-eval's gsm8k-cot-zeroshot.yaml writes it.
    expect(samples[0].prompt).toBe("Q: 3+4=\nA: Let's think step by step.");

    // studio score on the outputs gives the same verdicts and extractions.
    writeFileSync(join(work, 'gsm-responses.jsonl'), jsonl(samples.map((s) => ({ text: s.output }))));
    const scored = await studio('score', '--task', 'gsm8k_cot_zeroshot', '--items', 'gsm.jsonl', '--responses', 'gsm-responses.jsonl');
    expect(scored.code, scored.stderr).toBe(0);
    const lines = scored.stdout.trim().split('\n').map((l) => JSON.parse(l));
    samples.forEach((s, i) => expect({ metrics: lines[i].metrics, extracted: lines[i].extracted }).toEqual({ metrics: s.metrics, extracted: s.extracted }));

    // studio generate on the same prompt and α gives the same text (cut at the task's stop strings).
    const until = getTask('gsm8k_cot_zeroshot').outputType === 'generate_until' ? (getTask('gsm8k_cot_zeroshot') as { generation: { until: readonly string[] } }).generation.until : [];
    for (const s of samples) {
      const g = await studio('generate', ...trio(), '--alpha', '1', '--prompt', s.prompt, '--max-new-tokens', '5');
      expect(g.code, g.stderr).toBe(0);
      let text: string = JSON.parse(g.stdout.trim().split('\n').at(-1)!).text;
      for (const u of until) if (text.includes(u)) text = text.slice(0, text.indexOf(u));
      expect(s.output).toBe(text);
    }

    // The results file: lm-eval's keys, the summary of the samples, and what ran.
    const doc = JSON.parse(readFileSync(join(work, 'gsm-results.json'), 'utf8'));
    const strict = samples.reduce((a, s) => a + s.metrics['exact_match,strict-match'], 0) / samples.length;
    expect(doc.results.gsm8k_cot_zeroshot['exact_match,strict-match']).toBeCloseTo(strict, 12);
    expect(Object.keys(doc.results.gsm8k_cot_zeroshot).sort()).toEqual(
      ['alias', 'exact_match,flexible-extract', 'exact_match,strict-match', 'exact_match_stderr,flexible-extract', 'exact_match_stderr,strict-match'].sort(),
    );
    expect(doc['n-samples'].gsm8k_cot_zeroshot).toEqual({ original: 3, effective: 3 });
    expect(doc.studio.alpha).toBe(1);
    expect(doc.studio.sources.map((s: { role: string }) => s.role)).toEqual(['sft', 'rl', 'target']);
    expect(doc.studio.condition).toEqual({ mode: 'plain', chatTemplate: false, label: 'plain' });
    expect(doc.studio.data.gsm8k_cot_zeroshot).toMatchObject({ source: join(work, 'gsm.jsonl'), revision: null, indices: [0, 1, 2] });
    expect(r.stderr).toMatch(/gsm8k_cot_zeroshot: 3\/3 items, [\d.]+ items\/s/);
  }, 600_000);

  it("sciq: lm-eval's context and continuations, one log-likelihood per choice, re-scored by studio score to the same verdicts", async () => {
    writeFileSync(join(work, 'sciq.jsonl'), jsonl(sciqItems));
    const r = await studio('eval', ...trio(), '--alpha', '1', '--task', 'sciq', '--data', 'sciq.jsonl', '--out', 'sciq-results.json', '--samples', 'sciq-samples.jsonl');
    expect(r.code, r.stderr).toBe(0);
    const samples = readJsonl(join(work, 'sciq-samples.jsonl'));
    expect(Object.keys(samples[0])).toEqual(['task', 'index', 'alpha', 'condition', 'prompt', 'context_ids', 'continuations', 'extracted', 'metrics']);
    // lm-eval's context and continuations: "{support.lstrip()}\nQuestion: …\nAnswer:", " " + choice.
    expect(samples[1].prompt).toBe('Sums. \nQuestion: 5+1=\nAnswer:');
    expect(samples[1].continuations.map((c: { text: string }) => c.text)).toEqual([' 7', ' 1', ' 0', ' 6']);
    for (const s of samples) for (const c of s.continuations) expect(c.loglikelihood).toBeLessThan(0);
    writeFileSync(join(work, 'sciq-responses.jsonl'), jsonl(samples.map((s) => ({ loglikelihoods: s.continuations.map((c: { loglikelihood: number }) => c.loglikelihood) }))));
    const scored = await studio('score', '--task', 'sciq', '--items', 'sciq.jsonl', '--responses', 'sciq-responses.jsonl');
    const lines = scored.stdout.trim().split('\n').map((l) => JSON.parse(l));
    samples.forEach((s, i) => expect(lines[i].metrics).toEqual(s.metrics));
  }, 600_000);

  it('bad input: exit 2 with one line, nothing written', async () => {
    const cases: [string[], RegExp][] = [
      [['--task', 'gsm8k_cott', '--out', 'x.json'], /unknown task "gsm8k_cott".*gsm8k_cot/],
      [['--task', 'sciq,gsm8k_cot', '--data', 'sciq.jsonl', '--out', 'x.json'], /--data holds the items of one task/],
      [['--task', 'sciq', '--condition', 'deep', '--out', 'x.json'], /--condition must be plain or think, got "deep"/],
      [['--task', 'sciq', '--data', 'gsm.jsonl', '--out', 'x.json'], /gsm\.jsonl.*(distractor1|field)/],
      [['--task', 'sciq', '--out', 'x.json', '--limt', '3'], /unknown flag --limt; did you mean --limit\?/],
    ];
    for (const [args, message] of cases) {
      const r = await studio('eval', '--model', fx.model('demo-arith-target'), ...args);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(message);
      expect(existsSync(join(work, 'x.json'))).toBe(false);
    }
  }, 120_000);
});

describe.skipIf(!existsSync(benchmarksDir()))('studio eval on Hub datasets (mock Hub serving ../shared/benchmarks)', () => {
  let mock: MockHub;
  beforeAll(async () => {
    mock = await startMockHub({ repos: {}, datasets: writeBenchmarkDatasets(join(work, 'repos')) });
  });
  afterAll(async () => mock?.close());

  it('items picked by a seeded shuffle, the dataset pinned to its commit, read from the cache on a second run', async () => {
    env = { ...env, HF_ENDPOINT: mock.url };
    const args = ['eval', '--model', fx.model('demo-arith-target'), '--task', 'sciq', '--limit', '2', '--seed', '7', '--out', 'hub.json'];
    const first = await studio(...args);
    expect(first.code, first.stderr).toBe(0);
    const doc = JSON.parse(readFileSync(join(work, 'hub.json'), 'utf8'));
    const data = doc.studio.data.sciq;
    expect(data.revision).toMatch(/^[0-9a-f]{40}$/);
    expect(data.source).toContain(`hf://datasets/allenai/sciq@${data.revision}`);
    expect(data.rows).toBe(200);
    expect(data.indices).toHaveLength(2);
    expect(doc.studio.selection).toEqual({ mode: 'shuffle', count: 2, seed: 7 });
    const before = mock.requests.length;
    const second = await studio(...args);
    expect(second.code, second.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(work, 'hub.json'), 'utf8')).studio.data.sciq.indices).toEqual(data.indices);
    expect(mock.requests.slice(before).filter((q) => q.url.includes('.parquet'))).toEqual([]);
  }, 300_000);
});
