import type { SandboxWorker, WorkerMessage } from './worker-protocol.ts';

/** A dedicated module Web Worker running browser-worker.mjs (Vite bundles it with Pyodide's files). */
export function spawnBrowserWorker(): SandboxWorker {
  const worker = new Worker(new URL('./browser-worker.mjs', import.meta.url), { type: 'module', name: 'python-sandbox' });
  let terminated = false;
  let exitHandler: (why: string) => void = () => {};
  worker.addEventListener('error', (e) => {
    e.preventDefault();
    if (!terminated) exitHandler(`the worker failed: ${e.message || 'script error'}`);
  });
  worker.addEventListener('messageerror', () => !terminated && exitHandler('the worker sent a message that could not be read'));
  return {
    post: (m) => worker.postMessage(m),
    onMessage: (h) => worker.addEventListener('message', (e: MessageEvent<WorkerMessage>) => h(e.data)),
    onExit: (h) => (exitHandler = h),
    terminate: () => {
      terminated = true;
      worker.terminate();
    },
  };
}
