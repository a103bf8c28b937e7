// Test helper: reads the development samples in ../shared/benchmarks — beside the repository,
// never copied into it — as the datasets' own rows.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { benchmarksDir } from './benchmark-datasets.ts';

export const BENCHMARKS = pathToFileURL(benchmarksDir() + '/');

export function readBenchmarkJsonl(path: string): Record<string, unknown>[] {
  return readFileSync(new URL(path, BENCHMARKS), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

export function readBbhExamples(subtask: string): { input: string; target: string }[] {
  return (JSON.parse(readFileSync(new URL(`bbh/${subtask}.json`, BENCHMARKS), 'utf8')) as { examples: { input: string; target: string }[] })
    .examples;
}

/** The six BBH subtasks the development sample has. */
export const BBH_SAMPLE_SUBTASKS = [
  'boolean_expressions',
  'date_understanding',
  'logical_deduction_three_objects',
  'navigate',
  'sports_understanding',
  'web_of_lies',
] as const;
