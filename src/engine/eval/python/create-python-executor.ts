import { PythonSandboxError } from './python-sandbox-error.ts';
import harness from './sandbox-harness.py?raw';
import type { PythonRunReason, SandboxWorker, WorkerMessage } from './worker-protocol.ts';

/**
 * lm-eval's humaneval task scores with HF evaluate's `code_eval` metric
 * (lm_eval/tasks/humaneval/utils.py calls `compute_.compute(references, predictions, k)`
 * without a timeout), so the limit is code_eval's default: `_compute(..., timeout=3.0)` in
 * evaluate/metrics/code_eval/code_eval.py — the same 3.0 s human-eval's evaluation.py uses.
 */
export const HUMANEVAL_TIMEOUT_MS = 3000;

/**
 * How long one worker may take to load Pyodide (wasm compile + stdlib unpack) before the
 * executor gives up. Measured at ~5 s on a 2-core VM shared with other jobs; 120 s leaves
 * room for a much slower machine while still failing a broken install in bounded time.
 */
export const STARTUP_TIMEOUT_MS = 120_000;

export interface PythonRunResult {
  passed: boolean;
  reason: PythonRunReason;
  /** What went wrong: the exception and program line, the exit status, the limit passed. */
  detail?: string;
  /** Host wall time from handing the program to a ready worker until its verdict. */
  ms: number;
}

export interface PythonExecutorOptions {
  /** Per-program time limit; default HUMANEVAL_TIMEOUT_MS. */
  timeoutMs?: number;
  startupTimeoutMs?: number;
}

export interface PythonExecutor {
  /** Runs one program in a fresh globals dict; programs run one at a time, in call order. */
  run(program: string): Promise<PythonRunResult>;
  /** Wall time the first worker took from spawn to ready (Pyodide loaded, sandbox sealed). */
  readonly startupMs: number;
  /** How many times a worker was replaced (after a timeout, exit, crash or failure). */
  readonly restarts: number;
  dispose(): void;
}

interface Sandbox {
  worker: SandboxWorker;
  startupMs: number;
  /** The run waiting for this worker's answer, if any. */
  pending: ((m: WorkerMessage | { type: 'exit'; why: string }) => void) | null;
}

const DISPOSED = 'The Python executor was disposed';

const isNode = typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === 'string';

async function spawnWorker(): Promise<SandboxWorker> {
  // Dynamic imports so the page bundle never evaluates node:worker_threads, and Node never needs `Worker`.
  if (isNode) return (await import('./spawn-node-worker.ts')).spawnNodeWorker();
  return (await import('./spawn-browser-worker.ts')).spawnBrowserWorker();
}

/**
 * Starts a sandbox worker (a worker_threads Worker in Node, a Web Worker in the page) with
 * Pyodide loaded and resolves once it is ready, so `startupMs` is known.
 *
 * Isolation: each program runs in its own `{}` globals and the harness restores what a
 * program may change in place (stdio, cwd, sys.path, recursion limit, first-time imports).
 * The worker — and its interpreter — is replaced after a timeout, an exit of the interpreter
 * (os._exit), a crash, or any program that changed an existing module (a monkeypatched
 * `math.sqrt`, `builtins.len`), passing or not; sandbox-harness.py says what is checked.
 * Ordinary exceptions and SystemExit reuse the interpreter: a restart costs seconds.
 * A timeout terminates the worker from outside — a Python busy loop never returns control to
 * JavaScript — and a fresh one starts at once, loading while the caller prepares the next program.
 */
export async function createPythonExecutor(options: PythonExecutorOptions = {}): Promise<PythonExecutor> {
  const timeoutMs = options.timeoutMs ?? HUMANEVAL_TIMEOUT_MS;
  const startupTimeoutMs = options.startupTimeoutMs ?? STARTUP_TIMEOUT_MS;
  /** Every sandbox not yet terminated, starting ones included, so dispose() reaches them all. */
  const live = new Set<Sandbox>();
  let current: Promise<Sandbox> | null = null;
  let disposed = false;
  let restarts = 0;
  let nextId = 0;
  let queue: Promise<unknown> = Promise.resolve();

  function terminate(sandbox: Sandbox) {
    sandbox.worker.terminate();
    live.delete(sandbox);
  }

  async function start(): Promise<Sandbox> {
    const t0 = performance.now();
    const worker = await spawnWorker();
    const sandbox: Sandbox = { worker, startupMs: 0, pending: null };
    live.add(sandbox);
    worker.onMessage((m) => sandbox.pending?.(m));
    worker.onExit((why) => sandbox.pending?.({ type: 'exit', why }));
    const ready = await new Promise<WorkerMessage | { type: 'exit'; why: string } | { type: 'timeout' }>((resolve) => {
      // Held (not unref'd) on purpose: while Pyodide loads this timer is what keeps a CLI alive.
      const timer = setTimeout(() => resolve({ type: 'timeout' }), startupTimeoutMs);
      sandbox.pending = (m) => {
        clearTimeout(timer);
        resolve(m);
      };
      if (disposed) sandbox.pending({ type: 'exit', why: DISPOSED });
      else worker.post({ type: 'init', harness });
    });
    sandbox.pending = null;
    if (ready.type !== 'ready') {
      terminate(sandbox);
      if (ready.type === 'exit' && ready.why === DISPOSED) throw new Error(DISPOSED);
      const why =
        ready.type === 'startup-error' ? `Pyodide failed to load (${ready.message})`
        : ready.type === 'timeout' ? `Pyodide did not load within ${startupTimeoutMs / 1000} s`
        : ready.type === 'exit' ? ready.why
        : `unexpected ${ready.type} message during start-up`;
      throw new PythonSandboxError(why);
    }
    sandbox.startupMs = performance.now() - t0;
    return sandbox;
  }

  function replace(old: Sandbox) {
    terminate(old);
    restarts++;
    current = start();
    current.catch(() => {}); // a failed start surfaces at the next run
  }

  async function runNow(program: string): Promise<PythonRunResult> {
    if (disposed) throw new Error(DISPOSED);
    const sandbox = await (current ??= start());
    const id = ++nextId;
    const t0 = performance.now();
    const outcome = await new Promise<{ reason: PythonRunReason; detail?: string; restart: boolean } | null>((resolve) => {
      const timer = setTimeout(
        () => resolve({ reason: 'timeout', detail: `ran past the ${timeoutMs} ms limit; the worker was terminated`, restart: true }),
        timeoutMs,
      );
      sandbox.pending = (m) => {
        if (m.type === 'result' && m.id === id) resolve({ reason: m.reason, detail: m.detail, restart: m.restart });
        else if (m.type === 'exit') resolve(m.why === DISPOSED ? null : { reason: 'crashed', detail: m.why, restart: true });
        else return;
        clearTimeout(timer);
      };
      sandbox.worker.post({ type: 'run', id, program });
    });
    const ms = performance.now() - t0;
    sandbox.pending = null;
    if (outcome === null || disposed) throw new Error(DISPOSED);
    if (outcome.restart) replace(sandbox);
    const result: PythonRunResult = { passed: outcome.reason === 'passed', reason: outcome.reason, ms };
    if (outcome.detail) result.detail = outcome.detail;
    return result;
  }

  const first = await (current = start());
  return {
    run(program) {
      const result = queue.then(() => runNow(program));
      queue = result.catch(() => {});
      return result;
    },
    startupMs: first.startupMs,
    get restarts() {
      return restarts;
    },
    dispose() {
      disposed = true;
      for (const sandbox of [...live]) {
        sandbox.pending?.({ type: 'exit', why: DISPOSED }); // ends a run or start-up in flight, and its timer
        terminate(sandbox);
      }
    },
  };
}
