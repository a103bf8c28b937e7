// The worker half of the Python sandbox, shared by the Node worker thread (node-worker.mjs)
// and the page's Web Worker (browser-worker.mjs). Plain JavaScript on purpose: a Node worker
// thread starts without the tsx loader the CLI uses, so it cannot import TypeScript.
//
// Protocol (the TypeScript side is worker-protocol.ts):
//   host → worker  {type:'init', harness}            once; the worker loads Pyodide and replies
//   worker → host  {type:'ready', startupMs} | {type:'startup-error', message}
//   host → worker  {type:'run', id, program}
//   worker → host  {type:'result', id, reason, detail, restart}
// The time limit lives in the host, which terminates this worker: a `while True: pass`
// never yields, so nothing in here could stop it.

/** Property names removed from the worker's global scope (and its prototype chain) once Pyodide is up. */
const NETWORK_GLOBALS = [
  'fetch', 'XMLHttpRequest', 'WebSocket', 'WebSocketStream', 'EventSource', 'WebTransport', 'importScripts',
  'Worker', 'SharedWorker', 'BroadcastChannel', 'indexedDB', 'caches',
];

const refuse = (what) =>
  function refused() {
    throw new Error(`${what} is refused in the Python sandbox`);
  };

/** Deletes (or, if not configurable, overwrites) a property on globalThis and every object on its prototype chain. */
function sever(name) {
  for (let o = globalThis; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    const d = Object.getOwnPropertyDescriptor(o, name);
    if (!d) continue;
    if (d.configurable) delete o[name];
    else if (d.writable) o[name] = undefined;
  }
}

/**
 * After Pyodide is loaded nothing in this worker needs the network, eval or new Function:
 * taking them away means Python code that finds some way back into JavaScript still cannot
 * reach the network, the page (postMessage is captured by the caller first) or the host.
 */
function sealJavaScript(pyodide, moreGlobals) {
  for (const name of [...NETWORK_GLOBALS, ...moreGlobals]) sever(name);
  globalThis.eval = refuse('eval');
  // Every function's `.constructor` is a Function constructor that compiles source text;
  // Python holding any JS function proxy could reach it without the global `Function`.
  const ctors = [function () {}, async function () {}, function* () {}, async function* () {}];
  for (const f of ctors) Object.defineProperty(Object.getPrototypeOf(f), 'constructor', { value: refuse('the Function constructor'), writable: false, configurable: false });
  // A string handed to setTimeout/setInterval is compiled like eval (in browsers).
  for (const name of ['setTimeout', 'setInterval']) {
    const timer = globalThis[name];
    if (typeof timer !== 'function') continue;
    globalThis[name] = function (handler, ...rest) {
      if (typeof handler !== 'function') throw new TypeError(`${name} with a code string is refused in the Python sandbox`);
      return timer.call(this, handler, ...rest);
    };
  }
  // Emscripten's socket layer would tunnel Python's socket.connect through a WebSocket
  // (in Node, through the `ws` package to any host:port): refuse socket creation itself.
  const { SOCKFS, FS } = pyodide._module;
  SOCKFS.createSocket = () => {
    throw new FS.ErrnoError(63); // EPERM: Python sees PermissionError
  };
}

/**
 * Loads Pyodide with nothing from the page or host exposed to Python, installs the
 * harness and answers run requests.
 * @param {{
 *   loadPyodide: (options: object) => Promise<any>,
 *   options: object,            // environment-specific loadPyodide options (indexURL, …)
 *   post: (message: object) => void,
 *   listen: (handler: (message: any) => void) => void,
 *   beforeSeal?: () => void,    // environment-specific sealing (Node: child_process)
 *   severGlobals?: string[],    // more globals to remove (the page: postMessage, once `post` holds it)
 * }} env
 */
export function serveSandbox(env) {
  let runProgram = null;
  let pyodide = null;
  env.listen(async (msg) => {
    if (msg.type === 'init') {
      const t0 = performance.now();
      try {
        pyodide = await env.loadPyodide({
          ...env.options,
          // `import js` would otherwise be globalThis: an empty, prototype-less object instead.
          jsglobals: Object.create(null),
          stdout: () => {},
          stderr: () => {},
          stdin: () => null,
          env: { HOME: '/home/pyodide' },
        });
        pyodide.unregisterJsModule?.('pyodide_js');
        pyodide.unregisterJsModule?.('js');
        const ns = pyodide.globals.get('dict')();
        pyodide.runPython(msg.harness, { globals: ns });
        runProgram = ns.get('run_program');
        env.beforeSeal?.();
        sealJavaScript(pyodide, env.severGlobals ?? []);
        env.post({ type: 'ready', startupMs: performance.now() - t0 });
      } catch (e) {
        env.post({ type: 'startup-error', message: String(e?.message ?? e) });
      }
      return;
    }
    if (msg.type === 'run') {
      try {
        const out = JSON.parse(runProgram(msg.program));
        // A program that changed a module (monkeypatched builtins, math, …) gets its verdict,
        // but the next program gets a fresh interpreter.
        const changed = out.changedModules;
        env.post({
          type: 'result',
          id: msg.id,
          reason: out.reason,
          detail: out.detail ?? (changed.length ? `the program changed module state (${changed.join(', ')}); the interpreter was replaced` : undefined),
          restart: changed.length > 0,
        });
      } catch (e) {
        // Only the interpreter itself failing gets here: os._exit() ends the Emscripten
        // runtime (an `Exit` error with a status), anything else is a fatal Pyodide error
        // (stack exhausted in wasm, out of memory, a refused host call). Either way this
        // interpreter is unusable and the host replaces the worker.
        const exited = e && typeof e.status === 'number' && /exit\(/.test(String(e.message));
        env.post({
          type: 'result',
          id: msg.id,
          reason: exited ? 'exit' : 'crashed',
          detail: exited ? `the interpreter exited with status ${e.status} (os._exit) before check returned` : String(e?.message ?? e).slice(0, 2000),
          restart: true,
        });
      }
    }
  });
}
