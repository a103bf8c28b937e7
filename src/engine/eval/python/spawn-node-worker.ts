import { Worker } from 'node:worker_threads';
import type { SandboxWorker, WorkerMessage } from './worker-protocol.ts';

/** A worker_threads Worker running node-worker.mjs. */
export function spawnNodeWorker(): SandboxWorker {
  const worker = new Worker(new URL('./node-worker.mjs', import.meta.url), { name: 'python-sandbox' });
  // An idle sandbox must not keep the CLI alive; a run in progress is held by its time-limit timer.
  worker.unref();
  let terminated = false;
  let exitHandler: (why: string) => void = () => {};
  worker.on('error', (e) => !terminated && exitHandler(`the worker thread failed: ${e.message}`));
  worker.on('exit', (code) => !terminated && exitHandler(`the worker thread exited with code ${code}`));
  return {
    post: (m) => worker.postMessage(m),
    onMessage: (h) => worker.on('message', (m: WorkerMessage) => h(m)),
    onExit: (h) => (exitHandler = h),
    terminate: () => {
      terminated = true;
      void worker.terminate();
    },
  };
}
