import type { RunProgram } from '../engine/eval/index.ts';
import type { CliIO } from './command.ts';

/**
 * HumanEval's programs run in the Pyodide sandbox (src/engine/eval/python/), loaded only when a
 * command needs it; its start-up time goes to stderr. Shared by `score` and `eval`.
 */
export async function openPythonSandbox(io?: CliIO): Promise<{ runProgram: RunProgram; dispose(): void }> {
  const { createPythonExecutor, HUMANEVAL_TIMEOUT_MS } = await import('../engine/eval/python/create-python-executor.ts');
  const executor = await createPythonExecutor({ timeoutMs: HUMANEVAL_TIMEOUT_MS });
  io?.stderr(`humaneval: Python sandbox (Pyodide) ready in ${Math.round(executor.startupMs)} ms`);
  return {
    async runProgram(program, timeoutMs) {
      // The sandbox's limit is set when it is created; both sides say 3 s (code_eval's default).
      if (timeoutMs !== HUMANEVAL_TIMEOUT_MS) throw new Error(`sandbox limit ${HUMANEVAL_TIMEOUT_MS} ms, task asks ${timeoutMs} ms`);
      const r = await executor.run(program);
      return { passed: r.passed, reason: r.reason };
    },
    dispose: () => executor.dispose(),
  };
}
