"""The Python half of the HumanEval sandbox, run once in each fresh Pyodide worker.

It mirrors what lm-eval's `code_eval` metric (HF evaluate, metrics/code_eval/execute.py,
itself human-eval's `check_correctness`) does around `exec(check_program, {})`: a fresh,
empty globals dict; stdout/stderr swallowed and stdin unreadable (`swallow_io`); a fresh
temporary working directory (`create_tempdir`); any exception, SystemExit included, is a
failure. The time limit is not enforced here: the host terminates the whole worker.

What it blocks, and why (the JS side seals the worker as well, see pyodide-sandbox.mjs):
  * imports of `js`, `pyodide_js`, `pyodide.*` (pyodide.http, pyodide.ffi, pyodide.code),
    `_pyodide*`, `micropip`, `ctypes`/`_ctypes`: these are Pyodide's bridges to JavaScript
    (network, DOM, eval) and to raw wasm calls. They are hidden from sys.modules while a
    program runs and a meta-path finder refuses them.
  * os.system / os.popen / posix.system raise PermissionError: under Node, Emscripten's
    system() would spawn a real shell on the host.
A program that deliberately tears down CPython's import machinery is out of scope here;
the JS-side seal (no eval, no Function constructor, no fetch, no sockets) is the backstop.

State between programs: each runs in `{}`; stdio, recursion limit, cwd, sys.path and
sys.meta_path are restored afterwards; modules the program imported for the first time are
dropped from sys.modules (the next program imports them afresh); every module that existed
before is compared with a shallow copy of its namespace taken before the run (identity of
each attribute: a monkeypatched `math.sqrt` or `builtins.len` shows). A changed module, an
interpreter exit or a crash asks the host to replace this worker before the next program;
ordinary exceptions and SystemExit leave nothing behind that the restore does not undo, so
the interpreter is reused — restarting costs seconds of Pyodide start-up each time.
Not covered: in-place mutation of a stdlib object (`math.__dict__` stays, but e.g. a list
held by a module is appended to) — no HumanEval program has a reason to, and a deep
comparison would cost more than the programs themselves.
"""

import io
import json
import os
import posix
import shutil
import sys
import tempfile
import traceback
from importlib.abc import MetaPathFinder

_HIDDEN = ("js", "pyodide_js", "pyodide", "_pyodide", "_pyodide_core", "micropip", "ctypes", "_ctypes", "pyodide_http")
_DETAIL_CHARS = 2000


def _is_hidden(name):
    return any(name == p or name.startswith(p + ".") for p in _HIDDEN)


class _RefuseBridges(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if _is_hidden(name):
            raise ModuleNotFoundError(f"No module named {name!r} (the HumanEval sandbox refuses JavaScript and FFI bridges)", name=name)
        return None


class _Swallow(io.TextIOBase):
    """Write-only sink: output is discarded (not buffered, so a print loop cannot fill memory); reads fail as in code_eval."""

    def writable(self):
        return True

    def readable(self):
        return False

    def write(self, s):
        return len(s)

    def read(self, *args):
        raise OSError("stdin is not readable in the sandbox")

    readline = read


def _refused(name):
    def refuse(*args, **kwargs):
        raise PermissionError(f"{name} is refused in the HumanEval sandbox")

    return refuse


for _name in ("system", "popen"):
    if hasattr(os, _name):
        setattr(os, _name, _refused(f"os.{_name}"))
posix.system = _refused("os.system")

# The JavaScript API object (pyodide_js) stays in sys.modules after unregisterJsModule; hiding
# it per run would keep it reachable through the hidden-modules dict, so it goes for good.
for _name in ("js", "pyodide_js", "pyodide_js._api"):
    sys.modules.pop(_name, None)

_REFUSER = _RefuseBridges()
_SINK = _Swallow()


def _describe(exc):
    """The exception's last line plus the line of the program it came from (a bare assert has no message)."""
    text = "".join(traceback.format_exception_only(exc)).strip()
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == "<program>"]
    if frames:
        text += f" (program line {frames[-1].lineno}, in {frames[-1].name})"
    return text[-_DETAIL_CHARS:]


# Modules HumanEval prompts and tests import (typing, math, random, copy, string, collections,
# re, hashlib), loaded once so they are part of the checked snapshot rather than dropped and
# re-imported after every program.
import collections, copy, hashlib, heapq, itertools, functools, math, random, re, string, typing  # noqa: E401,F401

def _snapshot():
    return {name: (m, m.__dict__.copy()) for name, m in list(sys.modules.items()) if isinstance(getattr(m, "__dict__", None), dict)}


def _changed_modules(snapshot):
    changed = []
    for name, (m, before) in snapshot.items():
        try:
            same = sys.modules.get(name) is m and m.__dict__ == before
        except Exception:  # an attribute whose __eq__ raises: treat as changed
            same = False
        if not same:
            changed.append(name)
    return changed


def _drop_module(name):
    """Forgets a module imported during the run, including the attribute a submodule import
    sets on its (older) parent package — otherwise `import importlib.util` would read as a
    changed `importlib`."""
    module = sys.modules.pop(name)
    parent, _, child = name.rpartition(".")
    if parent and getattr(sys.modules.get(parent), child, None) is module:
        delattr(sys.modules[parent], child)


def run_program(program):
    workdir = tempfile.mkdtemp()  # before the snapshot: tempfile sets module globals lazily
    hidden = {k: sys.modules.pop(k) for k in list(sys.modules) if _is_hidden(k)}
    snapshot = _snapshot()
    saved_stdio = (sys.stdin, sys.stdout, sys.stderr)
    saved_limit = sys.getrecursionlimit()
    saved_path = list(sys.path)
    saved_meta = list(sys.meta_path)
    saved_cwd = os.getcwd()
    reason, detail = "passed", None
    try:
        sys.meta_path.insert(0, _REFUSER)
        os.chdir(workdir)
        sys.stdin = sys.stdout = sys.stderr = _SINK
        exec(compile(program, "<program>", "exec"), {})
    except SystemExit as exc:
        reason, detail = "exit", f"SystemExit({exc.code!r}) before check returned"
    except BaseException as exc:  # noqa: BLE001 — code_eval counts every exception as a failure
        reason, detail = "failed", _describe(exc)
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved_stdio
        sys.setrecursionlimit(saved_limit)
        sys.path[:] = saved_path
        sys.meta_path[:] = saved_meta
        os.chdir(saved_cwd)
        shutil.rmtree(workdir, ignore_errors=True)
        for name in [k for k in sys.modules if k not in snapshot]:
            _drop_module(name)
        changed = _changed_modules(snapshot)
        sys.modules.update(hidden)
    return json.dumps({"reason": reason, "detail": detail, "changedModules": changed})
