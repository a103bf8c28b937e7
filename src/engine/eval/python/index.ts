export { createPythonExecutor, HUMANEVAL_TIMEOUT_MS, STARTUP_TIMEOUT_MS } from './create-python-executor.ts';
export type { PythonExecutor, PythonExecutorOptions, PythonRunResult } from './create-python-executor.ts';
export { PythonSandboxError } from './python-sandbox-error.ts';
export type { PythonRunReason } from './worker-protocol.ts';
