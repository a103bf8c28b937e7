// The Node side of the Python sandbox: one worker_threads Worker per interpreter.
// Pyodide is read from the npm package on disk (indexURL = the package folder), so loading
// touches the file system only; `fetch` is refused from the start to prove it.
import childProcess from 'node:child_process';
import fs from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parentPort } from 'node:worker_threads';
import { loadPyodide } from 'pyodide';
import { serveSandbox } from './pyodide-sandbox.mjs';

globalThis.fetch = () => Promise.reject(new Error('network access is refused in the Python sandbox'));

serveSandbox({
  loadPyodide,
  options: { indexURL: `${dirname(fileURLToPath(import.meta.resolve('pyodide')))}/` },
  post: (m) => parentPort.postMessage(m),
  listen: (h) => parentPort.on('message', h),
  beforeSeal() {
    // Emscripten's system() (os.system, also reachable through libc) spawns a real shell
    // under Node via require('node:child_process'). Builtin modules are per worker thread,
    // so refusing them here leaves the host process's own child_process untouched.
    for (const k of ['spawn', 'spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork']) {
      childProcess[k] = () => {
        throw new Error(`child_process.${k} is refused in the Python sandbox`);
      };
    }
    // Pyodide reads its files from disk only while loading. Afterwards Python's file system is
    // Emscripten's in-memory one; refusing node:fs here means the NODEFS backend (which maps a
    // host folder into Python) has nothing to work with even if some code tried to mount it.
    for (const target of [fs, fs.promises]) {
      for (const [k, v] of Object.entries(target)) {
        if (typeof v === 'function' && !/^[A-Z]/.test(k)) {
          target[k] = () => {
            throw new Error(`fs.${k} is refused in the Python sandbox`);
          };
        }
      }
    }
  },
});
