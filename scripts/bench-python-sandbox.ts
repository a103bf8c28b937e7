/**
 * npm run bench:python — the HumanEval sandbox's costs in Node, measured in one run:
 *  - Pyodide start-up in a fresh worker thread (spawn → Pyodide loaded, harness in, sealed);
 *  - the 164 canonical HumanEval programs through one reused interpreter (wall time);
 *  - what a worker replacement costs the next program (after a timeout), against a reused
 *    interpreter — the reason ordinary failures do not restart the worker.
 * Reads ../shared/benchmarks/humaneval/HumanEval.jsonl in place (see test-support/benchmark-datasets.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createPythonExecutor, HUMANEVAL_TIMEOUT_MS } from '../src/engine/eval/python/index.ts';
import { benchmarksDir } from '../test-support/benchmark-datasets.ts';

type Problem = { task_id: string; prompt: string; canonical_solution: string; test: string; entry_point: string };
const problems = readFileSync(join(benchmarksDir(), 'humaneval', 'HumanEval.jsonl'), 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => JSON.parse(l) as Problem);
const program = (p: Problem) => `${p.prompt}${p.canonical_solution}\n${p.test}\ncheck(${p.entry_point})`;

const t0 = performance.now();
const ex = await createPythonExecutor({ timeoutMs: HUMANEVAL_TIMEOUT_MS });
console.log(`Pyodide start-up (fresh worker thread): ${ex.startupMs.toFixed(0)} ms (createPythonExecutor resolved after ${(performance.now() - t0).toFixed(0)} ms)`);

const t1 = performance.now();
let passed = 0;
for (const p of problems) if ((await ex.run(program(p))).passed) passed++;
const wall = performance.now() - t1;
console.log(`${problems.length} canonical programs, one interpreter: ${passed} passed in ${(wall / 1000).toFixed(2)} s wall (${(wall / problems.length).toFixed(1)} ms each)`);

const loop = await ex.run('while True: pass');
const t2 = performance.now();
const next = await ex.run(program(problems[0]));
const afterRestart = performance.now() - t2;
const t3 = performance.now();
await ex.run(program(problems[0]));
const reused = performance.now() - t3;
console.log(`busy loop: ${loop.reason} after ${loop.ms.toFixed(0)} ms (limit ${HUMANEVAL_TIMEOUT_MS} ms)`);
console.log(
  `next program after a worker replacement: ${afterRestart.toFixed(0)} ms (${next.reason}); same program on a reused interpreter: ${reused.toFixed(0)} ms; ratio ${(afterRestart / reused).toFixed(0)}×`,
);
ex.dispose();
