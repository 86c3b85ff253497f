"""A submission's own process: ``python -m verifier.frontends.grading.worker MEMORY_BYTES``.

It caps its address space first (before numpy loads), keeps its stdin and stdout for the
grader's messages (:mod:`verifier.frontends.grading.protocol`) and sends whatever the submission
prints to stderr, which the grader reads and caps. Then it answers requests:

* ``load``: run the submission's script (a ``.py``, or a notebook's code cells) as a module;
  answer the names of the functions it defines;
* ``call``: call one of them with the arguments sent, answer what it returns;
* ``chain``: ``backward(X, Y, forward(X, Y, params)[1])``, the submission's own forward
  feeding its own cache to its own backward; answer ``[cost, gradients]``;
* ``explain``: the first wrong line of the backward, for the feedback
  (:mod:`verifier.frontends.grading.explaining`); answer the findings as strings.

An exception, ``sys.exit`` included, is answered with its type, message and the line of
the submission it came from. Nothing here decides a grade: the grader does, in its own
process, from the plain data it receives. Whatever the submission patches here (numpy,
this package) changes only what this process answers.
"""

from __future__ import annotations

import os
import resource
import sys
import traceback
import types
from typing import Any


def main(argv: list[str]) -> int:
    """Cap the memory, take over the pipes, serve requests until the grader closes stdin."""
    memory = int(argv[0]) if argv else 0
    if memory > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a crash leaves no core file behind
    requests, answers = os.dup(0), os.dup(1)
    quiet = os.open(os.devnull, os.O_RDONLY)
    os.dup2(quiet, 0)
    os.dup2(2, 1)  # the submission's prints go to stderr: the grader's capped capture
    from . import protocol

    source = os.environ.pop("VERIFIER_GRADING_SOURCE", None)
    if source:
        # the source folder was on the path to import this package (imported now: its modules are
        # found through it): not the submission's to import from, and a project's metadata there
        # (*.egg-info) would make the instructor's files in the project count as installed, not
        # as user code whose numpy autograd resolves (the line explanation)
        sys.path[:] = [p for p in sys.path if os.path.realpath(p or os.curdir) != os.path.realpath(source)]
    namespace: dict[str, Any] = {}
    script = "submission"
    while True:
        try:
            header, value = protocol.read(requests)
        except EOFError:
            return 0
        op = header.get("op")
        try:
            if op == "load":
                script = header["script"]
                namespace = _load(script, header["module"])
                result: Any = sorted(
                    k for k, v in namespace.items() if callable(v) and not k.startswith("__")
                )
            elif op == "call":
                result = namespace[header["name"]](*value)
            elif op == "chain":
                X, Y, params = value
                out = namespace[header["forward"]](X, Y, params)
                if not (isinstance(out, tuple) and len(out) == 2):
                    raise TypeError(
                        f"{header['forward']} must return (cost, cache); got {type(out).__name__}"
                    )
                result = [out[0], namespace[header["backward"]](X, Y, out[1])]
            elif op == "explain":
                from .explaining import run_explain

                result = run_explain(namespace, header, value)
            else:
                raise ValueError(f"unknown request {op!r}")
            answer = protocol.message({"ok": True}, result)
        except protocol.ProtocolError as exc:
            answer = protocol.message(
                {"ok": False, "error": f"returned what cannot be graded: {exc}", "line": None}
            )
        except BaseException as exc:  # the submission's exceptions, sys.exit included, are answers
            answer = protocol.message({"ok": False, **_described(exc, script)})
        protocol.write(answers, answer)


def _load(script: str, name: str) -> dict[str, Any]:
    """Run the script as module ``name``, under its own file name in the working directory
    (tracebacks, warnings and the line explanation read its lines from that file; the grader
    names them in the submitted file)."""
    with open(script, encoding="utf-8") as f:
        source = f.read()
    module = types.ModuleType(name)
    module.__file__ = os.path.abspath(script)
    module.__dict__["display"] = print  # notebooks call IPython's display(): shown as a print
    sys.modules[name] = module
    sys.path.insert(0, os.getcwd())  # the submission's own helper files, copied beside it
    exec(compile(source, script, "exec"), module.__dict__)
    return module.__dict__


def _described(exc: BaseException, script: str) -> dict[str, Any]:
    """What to say of an exception: its type, message, and the submission's innermost line."""
    line = None
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename == script:
            line = frame.lineno
            break
    if isinstance(exc, SystemExit):
        text = f"called sys.exit({exc.code!r})"
    else:
        try:
            text = f"raised {type(exc).__name__}: {exc}"
        except Exception:  # an exception whose str() raises
            text = f"raised {type(exc).__name__}"
    return {"error": text[:2000], "line": line}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
