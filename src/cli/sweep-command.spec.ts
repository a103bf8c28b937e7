/**
 * `studio sweep` through the real binary on the demo trio: the demo task's accuracy at α −1, 0, 1
 * is demo.json's table (as `studio eval` gives it too), the control series and the donors alone
 * are there, the results document validates, the share URL decodes to it, and the plot file is
 * the page's chart with one curve per task × condition.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { makeFixtureDir, type FixtureDir } from '../../test-support/fixture-dir.ts';
import { decodeShareHash, parseResultsDocument, withoutSamples, type SweepResultsDocument } from '../engine/sweep/index.ts';

const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
let work: string;
let fx: FixtureDir;
let env: NodeJS.ProcessEnv;
let accuracy: { alpha: number; digitsOnly: number }[];

async function studio(...args: string[]) {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [join(REPO_ROOT, 'bin/studio.js'), ...args], { cwd: work, env, timeout: 300_000, maxBuffer: 64 << 20 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

const demoAccuracy = (alpha: number) => accuracy.find((a) => a.alpha === alpha)!.digitsOnly;
const writeConfig = (name: string, config: unknown) => writeFileSync(join(work, name), JSON.stringify(config));
const trio = () => ({ sft: fx.model('demo-arith-sft'), rl: fx.model('demo-arith-rl'), target: fx.model('demo-arith-target') });

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'studio-sweep-'));
  fx = makeFixtureDir('studio-sweep-fixtures-', { demo: true });
  env = { ...process.env, HF_ENDPOINT: '', HF_TOKEN: '', STUDIO_CACHE_DIR: join(work, 'cache') };
  accuracy = JSON.parse(readFileSync(join(fx.model('demo-arith-target'), 'demo.json'), 'utf8')).accuracy;
}, 60_000);
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
  fx?.cleanup();
});

describe('the demo task through studio eval', () => {
  it("gives demo.json's accuracy at α = −1, 0 and 1", async () => {
    const m = trio();
    for (const alpha of [-1, 0, 1]) {
      const r = await studio('eval', '--sft', m.sft, '--rl', m.rl, '--target', m.target, '--alpha', String(alpha), '--task', 'demo_arith', '--batch-size', '25', '--out', `eval-${alpha}.json`);
      expect(r.code, r.stderr).toBe(0);
      const doc = JSON.parse(readFileSync(join(work, `eval-${alpha}.json`), 'utf8'));
      expect(doc.results.demo_arith['acc,none']).toBe(demoAccuracy(alpha));
      expect(doc['n-samples'].demo_arith).toEqual({ original: 100, effective: 100 });
    }
  }, 300_000);
});

describe('studio sweep on the demo trio', () => {
  let doc: SweepResultsDocument;
  let stdout: string[];
  let stderr: string[];

  beforeAll(async () => {
    writeConfig('sweep.json', { ...trio(), alphas: [1, -1, 0], tasks: [{ task: 'demo_arith', conditions: ['plain', 'think'] }], generation: { batch_size: 25 }, controls: { donors: true, random_vector_seed: 7 } });
    const r = await studio('sweep', '--config', 'sweep.json', '--out', 'results.json', '--plot', 'plot.svg', '--share-url', '--base-url', 'https://studio.example/app/', '--samples', 'samples.jsonl');
    expect(r.code, r.stderr).toBe(0);
    stdout = r.stdout.trim().split('\n');
    stderr = r.stderr.trim().split('\n');
    // Progress on stderr with items/s and an ETA.
    // Progress lines come at most once a second (how many depends on the machine's speed); each
    // has the format, the intermediate ones an ETA, and the last one says all items are done.
    const progress = r.stderr.split('\n').filter((l) => l.startsWith('sweep: '));
    for (const l of progress) expect(l).toMatch(/^sweep: \d+\/1400 items \(((v|control) α=-?[\d.]+|(sft|rl|target) alone), demo_arith (plain|think)\), [\d.]+ items\/s/);
    for (const l of progress.slice(0, -1)) expect(l).toMatch(/, ETA \d+ s$/);
    expect(progress.at(-1)).toMatch(/^sweep: 1400\/1400 items /);
    doc = parseResultsDocument(readFileSync(join(work, 'results.json'), 'utf8'), { allowSamples: true, origin: 'results.json' });
  }, 300_000);

  it("v's points are demo.json's accuracies (plain), the control and the donors alone are beside them", () => {
    const at = (series: string, alpha: number | null, condition = 'plain') => doc.points.find((p) => p.series === series && p.alpha === alpha && p.condition === condition);
    expect(doc.alphas).toEqual([-1, 0, 1]);
    for (const alpha of [-1, 0, 1]) expect(at('v', alpha)).toMatchObject({ task: 'demo_arith', metric: 'acc', correct: Math.round(100 * demoAccuracy(alpha)), total: 100 });
    expect(at('target', null)?.correct).toBe(at('v', 0)?.correct);
    for (const alpha of [-1, 0, 1]) expect(at('control', alpha)?.total).toBe(100);
    expect(at('sft', null)?.total).toBe(100);
    expect(at('rl', null)?.total).toBe(100);
    // The random vector does not do what v does.
    expect(at('control', 1)!.correct).toBeLessThan(at('v', 1)!.correct / 2);
    // Series × α × conditions: v 3, control 3, sft, rl, target → 9 per condition.
    expect(doc.points).toHaveLength(18);
    expect(doc.controls).toEqual({ donors: true, random_vector_seed: 7 });
    expect(doc.tasks).toEqual([{ task: 'demo_arith', conditions: ['plain', 'think'], selection: { mode: 'first-n', count: null, seed: null }, data: { source: 'built-in (studio/demo_arith)', revision: null, rows: 100 } }]);
    expect(doc.sources.target).toEqual({ spec: fx.model('demo-arith-target'), revision: null });
  });

  it('keeps a sample per item, series and α, in results.json and samples.jsonl alike', () => {
    // Computed points: v 3 α, control 2 (α 0 is v's), SFT, RL → 7 × 100 items × 2 conditions.
    expect(doc.samples).toHaveLength(1400);
    const lines = readFileSync(join(work, 'samples.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.length).toBe(1400);
    const key = (s: { series: string; alpha: number | null; condition: string; index: number }) => `${s.series} ${s.alpha} ${s.condition} ${s.index}`;
    expect(new Set(lines.map(key))).toEqual(new Set(doc.samples!.map(key)));
    const s = doc.samples!.find((x) => x.series === 'v' && x.alpha === 1 && x.index === 34 && x.condition === 'plain')!;
    expect(s.prompt).toBe('3+4=');
    expect(s.continuations!.map((c) => c.text)).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(doc.samples!.find((x) => x.condition === 'think')!.prompt).toBe("Let's think step by step.0+0=");
  });

  it('--share-url: stdout is one JSON document, the summary, whose share_url decodes to results.json without its samples; people read the link on stderr', async () => {
    expect(stdout).toHaveLength(1);
    const summary = JSON.parse(stdout[0]);
    expect(summary).toMatchObject({ out: 'results.json', points: 18, plot: 'plot.svg', best_alpha: 1 });
    const url: string = summary.share_url;
    expect(url.startsWith('https://studio.example/app/#r=1.')).toBe(true);
    expect(await decodeShareHash(url)).toEqual(withoutSamples(doc));
    expect(stderr.filter((l) => l.startsWith('share URL'))).toEqual([`share URL (${url.length} characters): ${url}`]);
  });

  it("the summary carries the best α's mergekit recipe and says lm_eval cannot repeat the studio's own task", () => {
    const summary = JSON.parse(stdout.at(-1)!);
    const recipe = parse(summary.mergekit_yaml);
    expect(recipe.models.map((m: { model: string; parameters: { weight: number } }) => [m.model, m.parameters.weight])).toEqual([
      [trio().target, 1],
      [trio().sft, -1],
      [trio().rl, 1],
    ]);
    expect(summary.lm_eval).toEqual({ target: { hf: [], vllm: [] }, merged: { hf: [], vllm: [] }, skipped: [{ task: 'demo_arith', reason: "the studio's own task; lm-eval has no equivalent" }] });
  });

  it('--plot writes the page\'s chart as SVG: one curve per task × condition for v and for the control, a line per model alone', () => {
    const svg = readFileSync(join(work, 'plot.svg'), 'utf8');
    expect(svg.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<svg')).toBe(true);
    const series = [...svg.matchAll(/data-series="([^"]+)"/g)].map((m) => m[1]);
    expect(series.sort()).toEqual(['control|demo_arith|plain|acc', 'control|demo_arith|think|acc', 'v|demo_arith|plain|acc', 'v|demo_arith|think|acc']);
    const refs = [...svg.matchAll(/data-reference="([^"]+)"/g)].map((m) => m[1]);
    expect(refs.sort()).toEqual(['rl|demo_arith|plain|acc', 'rl|demo_arith|think|acc', 'sft|demo_arith|plain|acc', 'sft|demo_arith|think|acc', 'target|demo_arith|plain|acc', 'target|demo_arith|think|acc']);
    expect(svg).toContain('accuracy (%)');
    expect(svg).not.toContain('tabindex');
  });
});

describe('studio sweep from another folder than sweep.json\'s', () => {
  it('the mergekit recipe names the local sources by absolute path (sweep.json\'s are relative to its folder)', async () => {
    mkdirSync(join(work, 'configs'), { recursive: true });
    const rel = (p: string) => relative(join(work, 'configs'), p);
    const m = trio();
    writeConfig('configs/relative.json', { sft: rel(m.sft), rl: rel(m.rl), target: rel(m.target), alphas: [1], tasks: [{ task: 'demo_arith', limit: 10 }], controls: { donors: false, random_vector_seed: null } });
    expect(JSON.parse(readFileSync(join(work, 'configs/relative.json'), 'utf8')).target.startsWith('..')).toBe(true);
    const r = await studio('sweep', '--config', 'configs/relative.json', '--out', 'relative-results.json');
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.mergekit_yaml).toBe(
      '# Reasoning-vector merge θ = θ_target + α·(θ_RL − θ_SFT) with α = 1, as a mergekit recipe:\n' +
        '#   mergekit-yaml mergekit_config.yml ./merged\n' +
        'merge_method: linear\n' +
        `base_model: ${m.target}\n` +
        'models:\n' +
        `  - model: ${m.target}\n    parameters:\n      weight: 1\n` +
        `  - model: ${m.sft}\n    parameters:\n      weight: -1\n` +
        `  - model: ${m.rl}\n    parameters:\n      weight: 1\n` +
        'parameters:\n  normalize: false\ndtype: float32\nout_dtype: bfloat16\n',
    );
    // results.json (and so the share URL) keeps the specs as sweep.json wrote them.
    expect(JSON.parse(readFileSync(join(work, 'relative-results.json'), 'utf8')).sources.target).toEqual({ spec: rel(m.target), revision: null });
  }, 120_000);
});

describe('studio sweep --plot plot.png', () => {
  it('rasterises the same chart', async () => {
    writeConfig('small.json', { ...trio(), alphas: [0, 1], tasks: [{ task: 'demo_arith', limit: 10 }], controls: { donors: false, random_vector_seed: null } });
    const r = await studio('sweep', '--config', 'small.json', '--out', 'small.json.out', '--plot', 'plot.png');
    expect(r.code, r.stderr).toBe(0);
    const png = readFileSync(join(work, 'plot.png'));
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    // IHDR: width and height, big-endian, at bytes 16–23: 900 units × 2.
    expect(png.readUInt32BE(16)).toBe(1800);
    const doc = JSON.parse(readFileSync(join(work, 'small.json.out'), 'utf8'));
    expect(doc.points.map((p: { series: string; alpha: number | null }) => `${p.series} ${p.alpha}`)).toEqual(['v 0', 'v 1', 'target null']);
  }, 120_000);
});

describe('studio sweep: bad input exits 2 naming the field, nothing written', () => {
  it.each([
    ['limit 0', { tasks: [{ task: 'demo_arith', limit: 0 }] }, 'bad.json: tasks[0].limit: must be at least 1 (got 0).'],
    ['unknown field', { tasks: [{ task: 'demo_arith', condition: 'think' }] }, 'bad.json: tasks[0].condition: is not a sweep.json field (known: task, limit, seed, conditions, chat, data).'],
    ['unknown task', { tasks: [{ task: 'demo_arithm' }] }, 'bad.json: tasks[0].task: unknown task "demo_arithm"; did you mean "demo_arith"? (tasks: gsm8k_cot, gsm8k_cot_zeroshot, bbh_cot_fewshot_<subtask>, sciq, humaneval, and the studio\'s demo_arith).'],
    ['α not a number', { alphas: ['1'], tasks: [{ task: 'demo_arith' }] }, 'bad.json: alphas[0]: must be a number (got "1").'],
    ['bad condition', { tasks: [{ task: 'demo_arith', conditions: ['cot'] }] }, 'bad.json: tasks[0].conditions[0]: must be "plain" or "think" (got "cot").'],
    ['missing source', { sft: undefined, tasks: [{ task: 'demo_arith' }] }, 'bad.json: sft: is missing; sweep.json names the SFT donor, the RL donor and the target (hf:owner/name[@revision] or a folder).'],
  ])('%s', async (_, spoil, message) => {
    writeConfig('bad.json', { ...trio(), ...spoil });
    const r = await studio('sweep', '--config', 'bad.json', '--out', 'bad-results.json');
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([`studio sweep: ${message}`]);
    expect(existsSync(join(work, 'bad-results.json'))).toBe(false);
  });

  it('a config that is not JSON, a missing config, a plot that is neither SVG nor PNG, a misspelt flag', async () => {
    writeFileSync(join(work, 'broken.json'), '{"sft": ');
    const cases: [string[], RegExp][] = [
      [['--config', 'broken.json', '--out', 'x.json'], /^studio sweep: broken\.json: is not valid JSON \(/],
      [['--config', 'nope.json', '--out', 'x.json'], /^studio sweep: --config nope\.json: no such file\.$/],
      [['--config', 'broken.json', '--out', 'x.json', '--plot', 'plot.pdf'], /^studio sweep: --plot plot\.pdf: name a \.svg or \.png file\.$/],
      [['--config', 'broken.json', '--out', 'x.json', '--share-ur'], /^studio sweep: unknown flag --share-ur; did you mean --share-url\?/],
      [['--config', 'broken.json', '--out', 'x.json', '--base-url', 'https://x.example/'], /^studio sweep: --base-url is the address --share-url uses; add --share-url\.$/],
    ];
    for (const [args, message] of cases) {
      const r = await studio('sweep', ...args);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr.trim()).toMatch(message);
      expect(existsSync(join(work, 'x.json'))).toBe(false);
    }
  }, 120_000);
});
