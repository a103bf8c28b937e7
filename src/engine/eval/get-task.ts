import { UnknownTaskError } from './eval-errors.ts';
import { BBH_TASKS } from './tasks/bbh-cot-fewshot.ts';
import { demoArith } from './tasks/demo-arith.ts';
import { gsm8kCot } from './tasks/gsm8k-cot.ts';
import { gsm8kCotZeroshot } from './tasks/gsm8k-cot-zeroshot.ts';
import { humaneval } from './tasks/humaneval.ts';
import { sciq } from './tasks/sciq.ts';
import type { AnyTask } from './task-types.ts';

/** Every task by lm-eval's name (plus the studio's own demo_arith). Dispatch is a plain table. */
const TASKS: ReadonlyMap<string, AnyTask> = new Map<string, AnyTask>(
  [gsm8kCot, gsm8kCotZeroshot, ...BBH_TASKS, sciq, humaneval, demoArith].map((t) => [t.name, t]),
);

export const TASK_NAMES: readonly string[] = [...TASKS.keys()];

/**
 * The tasks in words, read off the table: what the unknown-task error and the CLI's `--task` help
 * both list, so a task the commands run is never missing from the help (demo_arith was).
 */
export const TASK_CHOICES: string = (() => {
  const bbh = new Set(BBH_TASKS.map((t) => t.name));
  const names = [...new Set(TASK_NAMES.map((n) => (bbh.has(n) ? 'bbh_cot_fewshot_<subtask>' : n)))].filter((n) => n !== demoArith.name);
  return `${names.join(', ')}, and the studio's ${demoArith.name}`;
})();

/** The task called `name`, or an UnknownTaskError naming the nearest known name. */
export function getTask(name: string): AnyTask {
  const task = TASKS.get(name);
  if (task) return task;
  throw new UnknownTaskError(name, nearestName(name, [...TASK_NAMES, 'bbh_cot_fewshot']), TASK_CHOICES);
}

/** The closest name by edit distance, if it is close enough to be a plausible typo. */
export function nearestName(name: string, names: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const n of names) {
    const d = editDistance(name.toLowerCase(), n);
    if (d < bestD) [best, bestD] = [n, d];
  }
  return best !== undefined && bestD <= Math.max(3, Math.floor(name.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}
