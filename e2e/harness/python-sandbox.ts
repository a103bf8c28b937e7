// Harness: the engine's Python executor in the page (a Web Worker with Pyodide from the npm
// package). A click counter and a requestAnimationFrame counter show whether the page's
// main thread stays responsive while a program runs.
import { createPythonExecutor, type PythonExecutor, type PythonRunResult } from '../../src/engine/eval/python/index.ts';

let executor: PythonExecutor | null = null;
let clicks = 0;
let frames = 0;
document.getElementById('poke')!.addEventListener('click', () => {
  clicks++;
  document.getElementById('clicks')!.textContent = String(clicks);
});
const tick = () => {
  frames++;
  document.getElementById('frames')!.textContent = String(frames);
  requestAnimationFrame(tick);
};
requestAnimationFrame(tick);

const inFlight = new Map<number, Promise<PythonRunResult>>();
let nextRun = 0;

Object.assign(window, {
  pySandbox: {
    async start(timeoutMs: number) {
      executor = await createPythonExecutor({ timeoutMs });
      return { startupMs: executor.startupMs };
    },
    /** Starts a program and returns at once, so the test can poke the page while it runs. */
    begin(program: string) {
      const id = ++nextRun;
      inFlight.set(id, executor!.run(program));
      return id;
    },
    finish: (id: number) => inFlight.get(id)!,
    counters: () => ({ clicks, frames }),
    restarts: () => executor!.restarts,
  },
});
document.getElementById('status')!.textContent = 'ready';
