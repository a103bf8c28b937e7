/**
 * Test helper: the benchmark samples in ../shared/benchmarks (which must never be copied into this
 * repo) written as parquet into dataset repo folders laid out like the real Hub repos, for the mock
 * Hub to serve. Layouts (checked against the Hub, 2026):
 *
 *   openai/gsm8k             main: README.md whose `configs` map main/test → `main/test-*`,
 *                            main/test-00000-of-00001.parquet (question, answer)
 *   allenai/sciq             main: README.md (default/test → `data/test-*`), data/test-00000-of-00001.parquet
 *                            (question, distractor3, distractor1, distractor2, correct_answer, support)
 *   openai/openai_humaneval  main: README.md (openai_humaneval/test → `openai_humaneval/test-*`),
 *                            openai_humaneval/test-00000-of-00001.parquet
 *                            (task_id, prompt, canonical_solution, test, entry_point)
 *   lukaemon/bbh             main: README.md (no YAML) + bbh.py, a loading script and no data files;
 *                            refs/convert/parquet: <subtask>/test/0000.parquet (input, target), written
 *                            by the Hub's parquet converter — one config per subtask.
 *
 * The samples are cut (gsm8k and sciq: first 200 test items, bbh: first 50 per subtask; humaneval is
 * whole), so row counts are those of the samples, not of the real splits.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { stringify as yamlStringify } from 'yaml';
import type { MockRepoRefs } from './mock-hub/server.ts';

export type BenchmarkRow = Record<string, string>;

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * `$STUDIO_BENCHMARKS_DIR`, else ../shared/benchmarks beside the repo root, else the team's
 * shared folder (/work/shared/benchmarks: a clone made elsewhere, e.g. `git clone . /tmp/fresh`,
 * still finds the samples there). Tests read the samples in place; they are never copied here.
 */
export function benchmarksDir(): string {
  if (process.env.STUDIO_BENCHMARKS_DIR) return resolve(process.env.STUDIO_BENCHMARKS_DIR);
  const beside = join(REPO_ROOT, '..', 'shared', 'benchmarks');
  if (existsSync(beside) || !existsSync(TEAM_BENCHMARKS)) return resolve(beside);
  return TEAM_BENCHMARKS;
}
const TEAM_BENCHMARKS = '/work/shared/benchmarks';

export interface BenchmarkDataset {
  /** The Hub dataset repo this sample stands for. */
  repo: string;
  config: string;
  split: string;
  /** Column order of the real repo's parquet. */
  columns: readonly string[];
  /** The sample's rows in file order, read from ../shared/benchmarks. */
  rows: BenchmarkRow[];
}

const GSM8K_COLUMNS = ['question', 'answer'] as const;
const SCIQ_COLUMNS = ['question', 'distractor3', 'distractor1', 'distractor2', 'correct_answer', 'support'] as const;
const HUMANEVAL_COLUMNS = ['task_id', 'prompt', 'canonical_solution', 'test', 'entry_point'] as const;
const BBH_COLUMNS = ['input', 'target'] as const;

function jsonlRows(file: string): BenchmarkRow[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as BenchmarkRow);
}

/** BBH subtasks present in the sample (`bbh/<subtask>.json`). */
export function bbhSubtasks(dir = benchmarksDir()): string[] {
  return readdirSync(join(dir, 'bbh'))
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -'.json'.length))
    .sort();
}

/** Every benchmark sample as the Hub dataset (repo, config, split) it stands for. */
export function benchmarkDatasets(dir = benchmarksDir()): BenchmarkDataset[] {
  const out: BenchmarkDataset[] = [
    { repo: 'openai/gsm8k', config: 'main', split: 'test', columns: GSM8K_COLUMNS, rows: jsonlRows(join(dir, 'gsm8k', 'test_first200.jsonl')) },
    { repo: 'allenai/sciq', config: 'default', split: 'test', columns: SCIQ_COLUMNS, rows: jsonlRows(join(dir, 'sciq', 'test_first200.jsonl')) },
    {
      repo: 'openai/openai_humaneval',
      config: 'openai_humaneval',
      split: 'test',
      columns: HUMANEVAL_COLUMNS,
      rows: jsonlRows(join(dir, 'humaneval', 'HumanEval.jsonl')),
    },
  ];
  for (const subtask of bbhSubtasks(dir)) {
    const { examples } = JSON.parse(readFileSync(join(dir, 'bbh', `${subtask}.json`), 'utf8')) as { examples: BenchmarkRow[] };
    out.push({ repo: 'lukaemon/bbh', config: subtask, split: 'test', columns: BBH_COLUMNS, rows: examples });
  }
  for (const d of out) {
    d.rows.forEach((row, i) => {
      for (const c of d.columns) {
        if (typeof row[c] !== 'string') throw new Error(`${d.repo} ${d.config}: sample row ${i} has no string field "${c}"`);
      }
    });
  }
  return out;
}

/** Rows → a parquet file of string columns (snappy, as the Hub's own files are). */
export function parquetBytes(columns: readonly string[], rows: ReadonlyArray<Record<string, string | null>>): Uint8Array {
  const buffer = parquetWriteBuffer({
    columnData: columns.map((name) => ({ name, data: rows.map((r) => r[name] ?? null), type: 'STRING' as const })),
  });
  return new Uint8Array(buffer);
}

function writeFile(path: string, data: string | Uint8Array) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, data);
}

/** A README.md whose YAML front matter carries `configs` (→ cardData) and `dataset_info`, as `push_to_hub` writes it. */
function readme(title: string, configs: Array<{ name: string; columns: readonly string[]; splits: Record<string, { path: string; rows: number }> }>) {
  const front = {
    configs: configs.map((c) => ({
      config_name: c.name,
      data_files: Object.entries(c.splits).map(([split, s]) => ({ split, path: s.path })),
    })),
    dataset_info: configs.map((c) => ({
      config_name: c.name,
      features: c.columns.map((name) => ({ name, dtype: 'string' })),
      splits: Object.entries(c.splits).map(([name, s]) => ({ name, num_examples: s.rows })),
    })),
  };
  return `---\n${yamlStringify(front)}---\n\n# ${title}\n\nA development sample served by the studio's mock Hub.\n`;
}

/**
 * Writes the dataset repos under `outDir` and returns what `startMockHub({ datasets })` takes.
 * Nothing is written (and {} returned) when `dir` does not exist.
 */
export function writeBenchmarkDatasets(outDir: string, dir = benchmarksDir()): Record<string, MockRepoRefs> {
  if (!existsSync(dir)) return {};
  const datasets = benchmarkDatasets(dir);
  const repos: Record<string, MockRepoRefs> = {};
  const folder = (repo: string, ref: string) => join(outDir, repo.replace('/', '--'), ref.replaceAll('/', '--'));

  for (const d of datasets.filter((x) => x.repo !== 'lukaemon/bbh')) {
    const main = folder(d.repo, 'main');
    const dataDir = d.config === 'default' ? 'data' : d.config;
    writeFile(join(main, dataDir, `${d.split}-00000-of-00001.parquet`), parquetBytes(d.columns, d.rows));
    writeFile(
      join(main, 'README.md'),
      readme(d.repo, [{ name: d.config, columns: d.columns, splits: { [d.split]: { path: `${dataDir}/${d.split}-*`, rows: d.rows.length } } }]),
    );
    repos[d.repo] = { main };
  }

  const bbh = datasets.filter((x) => x.repo === 'lukaemon/bbh');
  if (bbh.length > 0) {
    const main = folder('lukaemon/bbh', 'main');
    const converted = folder('lukaemon/bbh', 'refs/convert/parquet');
    writeFile(join(main, 'README.md'), 'BBH dataset\n');
    // Stands for the repo's loading script: its data exist as parquet only on refs/convert/parquet.
    writeFile(join(main, 'bbh.py'), '# A `datasets` loading script; the mock Hub serves its parquet conversion only.\n');
    for (const d of bbh) writeFile(join(converted, d.config, d.split, '0000.parquet'), parquetBytes(d.columns, d.rows));
    repos['lukaemon/bbh'] = { main, refs: { 'refs/convert/parquet': converted } };
  }
  return repos;
}
