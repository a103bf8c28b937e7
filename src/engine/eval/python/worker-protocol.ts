/**
 * Messages between the executor (host) and a sandbox worker. The worker side is plain
 * JavaScript (pyodide-sandbox.mjs) because a Node worker thread cannot load TypeScript.
 */

/** Why a program passed or failed. `exit`: sys.exit/exit()/quit() raised SystemExit, or os._exit ended the interpreter. `crashed`: the interpreter or worker died (fatal Pyodide error, stack or memory exhausted). */
export type PythonRunReason = 'passed' | 'failed' | 'timeout' | 'exit' | 'crashed';

export type HostMessage = { type: 'init'; harness: string } | { type: 'run'; id: number; program: string };

export type WorkerMessage =
  | { type: 'ready'; startupMs: number }
  | { type: 'startup-error'; message: string }
  | { type: 'result'; id: number; reason: Exclude<PythonRunReason, 'timeout'>; detail?: string; restart: boolean };

/** One sandbox worker as the executor sees it, whichever kind of Worker is behind it. */
export interface SandboxWorker {
  post(message: HostMessage): void;
  onMessage(handler: (message: WorkerMessage) => void): void;
  /** The worker stopped on its own (uncaught error, exit) — not called after terminate(). */
  onExit(handler: (why: string) => void): void;
  terminate(): void;
}
