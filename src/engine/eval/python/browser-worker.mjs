// The page side of the Python sandbox: a dedicated module Web Worker per interpreter.
// Pyodide's files come from the npm package through Vite (`?url`: served from node_modules
// in dev, emitted as hashed assets in a build) — never from a CDN. While Pyodide loads, this
// worker's fetch answers only those three files; afterwards fetch is gone altogether.
import { loadPyodide } from 'pyodide';
import createPyodideModule from 'pyodide/pyodide.asm.mjs';
import lockUrl from 'pyodide/pyodide-lock.json?url';
import wasmUrl from 'pyodide/pyodide.asm.wasm?url';
import stdLibUrl from 'pyodide/python_stdlib.zip?url';
import { serveSandbox } from './pyodide-sandbox.mjs';

const abs = (u) => new URL(u, self.location.href).href;
const wasmHref = abs(wasmUrl);
// Pyodide fetches `${indexURL}pyodide.asm.wasm` by that exact name; a build hashes the
// asset's name, so the request is mapped to wherever Vite put it.
const indexURL = new URL('./', wasmHref).href;
const served = new Map([
  [`${indexURL}pyodide.asm.wasm`, wasmHref],
  [wasmHref, wasmHref],
  [abs(stdLibUrl), abs(stdLibUrl)],
  [abs(lockUrl), abs(lockUrl)],
]);
const realFetch = globalThis.fetch.bind(globalThis);
globalThis.fetch = (input, init) => {
  const url = abs(typeof input === 'string' || input instanceof URL ? input : input.url);
  const to = served.get(url);
  return to ? realFetch(to, init) : Promise.reject(new TypeError(`the Python sandbox does not fetch ${url}`));
};

const post = self.postMessage.bind(self);
serveSandbox({
  loadPyodide,
  options: { indexURL, stdLibURL: abs(stdLibUrl), lockFileURL: abs(lockUrl), createPyodideModule },
  post,
  listen: (h) => self.addEventListener('message', (e) => h(e.data)),
  severGlobals: ['postMessage'],
});
