"""Where each gradient array of the user's backward was made, and the first line whose value is wrong.

Names are not enough: a gradient is computed in a helper called once per layer (``dW`` in
``linear_backward``), in a method (``self.dweights = …``), in a loop that fills a buffer
region by region (``dx[:, :, t] = …``) or accumulates into it (``dWaa += …``). So the
backward is run once more under observation (:func:`record`): a ``sys.settrace`` tracer that
follows the user's own frames only (a frame outside the user's code gets no further event)
notes, after each statement, the arrays it made (a name, an attribute, a dict entry or a
returned value bound to an array not seen before), the arrays it wrote into and where (the
region of a subscript, a whole array for ``+=``, ``np.add.at``), and the arrays it read
(its names, attribute chains and subscripts, resolved before it runs), with the iteration
it ran in (its loops' variables, and its callers' lines and loop variables up to the
backward). Every array is held until the recording is dropped, so an ``id`` names one array.

The first wrong line (:func:`first_wrong`) walks back from each wrong parameter gradient
through the statements that made or wrote it, into those of its inputs that are neither
right nor the forward's own values. Which those are is read from the cost's own autograd
trace (:func:`forward_table`): every value the traced forward computed, and the cost's
gradient with respect to each; a backward array equal to one of those gradients (times
the backward's convention, 1 or m, one for the whole backward, read from the arrays behind
the right tensors) is right, one equal to a term of one (a time step's share of a weight's
gradient, the part of dJ/dc carried back one step) is a term, one equal to a forward value
is a forward value; a ``dNAME`` equal to the gradient of another value than the forward's
``NAME`` is misnamed. The walk stops at the statements whose inputs are all right, terms or
forward values and whose output is wrong: the first wrong lines. Three patterns are named
as such: an output that keeps only the last of the values one statement computes in turn
(``=`` for ``+=``), a buffer's elements no statement wrote, and which regions of a buffer
filled region by region are right (:func:`regions`).
"""

from __future__ import annotations

import ast
import contextlib
import inspect
import linecache
import sys
import textwrap
import types
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from autograd.core import VJPNode, add_outgrads
from autograd.numpy.numpy_boxes import ArrayBox
from autograd.tracer import toposort, trace

from ..core.params import Layout
from ..errors import is_user_file
from .tracing import _frames_making_boxes, _traced_arrays, autograd_session

#: Code objects whose frames are not statements of their own (their values reach the
#: enclosing statement).
_INLINE = frozenset({"<listcomp>", "<dictcomp>", "<setcomp>"})
#: Generators run piecemeal, as their consumer asks: they are not followed.
_SKIPPED = frozenset({"<genexpr>"})
#: Builtins a read may call and still be evaluated to find the array it reads.
_PURE_CALLS = frozenset({"str", "int", "len", "slice", "range", "abs", "min", "max", "tuple"})
#: Containers larger than this are not searched for the arrays they hold.
_CONTAINER_LIMIT = 64
#: Statements that made or wrote an array, past which a recording stops (a loop over every
#: element of a large array): a count, so that whether lines are named never depends on time.
EVENT_BUDGET = 200_000
#: Relative distance (of norms) under which a backward array equals a traced value.
MATCH = 1e-6


# ---------------------------------------------------------------------------------------------
# the statements of a function, read once per code object


@dataclass(frozen=True)
class Read:
    """An expression a statement reads: a name, an attribute chain or a subscript."""

    text: str
    code: Any  # compiled expression, or None when evaluating it could have effects
    root: str  # its first name


@dataclass(frozen=True)
class Statement:
    """One statement of the user's code, as the recorder needs it."""

    file: str
    line: int
    text: str
    kind: str  # "assign", "aug", "return", "call", "other"
    targets: tuple[ast.expr, ...] = ()
    reads: tuple[Read, ...] = ()
    loops: tuple[tuple[str, ...], ...] = ()  # the names bound by each enclosing ``for``, outermost first
    add_at: tuple[ast.expr, ast.expr] | None = None  # ``np.add.at(buffer, index, …)``
    scanned: ast.expr | None = None  # ``grads.update(…)``, ``cache.append(…)``: the container


def _safe(node: ast.AST) -> bool:
    """Whether evaluating ``node`` only looks things up (names, attributes, subscripts, arithmetic)."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            if not (isinstance(sub.func, ast.Name) and sub.func.id in _PURE_CALLS) or sub.keywords:
                return False
        elif isinstance(sub, ast.Attribute):
            if sub.attr.startswith("_"):
                return False
        elif not isinstance(
            sub,
            (
                ast.Name,
                ast.Subscript,
                ast.Constant,
                ast.Slice,
                ast.Tuple,
                ast.BinOp,
                ast.UnaryOp,
                ast.Compare,
                ast.expr_context,
                ast.operator,
                ast.unaryop,
                ast.cmpop,
            ),
        ):
            return False
    return True


def _compile(node: ast.expr) -> Any:
    if not _safe(node):
        return None
    try:  # from its text: a target's nodes are in Store context
        return compile(ast.unparse(node), "<provenance>", "eval")
    except (SyntaxError, ValueError, TypeError):
        return None


def _root(node: ast.expr) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _reads(nodes: list[ast.expr]) -> tuple[Read, ...]:
    """The maximal name/attribute/subscript chains read by ``nodes`` (not the functions called)."""
    out: list[Read] = []
    seen: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, (ast.Name, ast.Attribute, ast.Subscript)):
            # an attribute that makes a fresh view (``.T``) is read through its array
            base: ast.expr = node
            while isinstance(base, ast.Attribute) and base.attr in ("T", "real", "imag", "flat"):
                base = base.value
            root = _root(base)
            text = ast.unparse(base)
            if root is not None and text not in seen:
                seen.add(text)
                out.append(Read(text, _compile(base), root))
            inner: ast.expr = node
            while isinstance(inner, (ast.Attribute, ast.Subscript)):
                if isinstance(inner, ast.Subscript):  # ``da[:, :, t]`` reads t as well
                    visit(inner.slice)
                inner = inner.value
            return
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute):  # ``x.dot(y)``, ``np.dot``: the object may be read
                visit(func.value)
            for arg in [*node.args, *(k.value for k in node.keywords)]:
                visit(arg)
            return
        if isinstance(node, (ast.Lambda, ast.FunctionDef)):
            return
        for child in ast.iter_child_nodes(node):
            visit(child)

    for n in nodes:
        visit(n)
    return tuple(
        r for r in out if r.root not in ("np", "numpy", "math", "self") or "." in r.text or "[" in r.text
    )


def _functions(file: str) -> dict[int, ast.AST]:
    """The functions of a source file by their code's first line (a decorator's, if decorated)."""
    try:
        tree = ast.parse("".join(linecache.getlines(file)))
    except (SyntaxError, ValueError):
        return {}
    out: dict[int, ast.AST] = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out[min([node.lineno, *(d.lineno for d in node.decorator_list)])] = node
    return out


def _statements(code: types.CodeType, function: ast.AST | None) -> dict[int, Statement]:
    """Each line of a function's source, mapped to the innermost statement that holds it."""
    if function is None:
        try:  # source without a file of its own (a notebook cell): read it through inspect
            lines, start = inspect.getsourcelines(code)
            tree = ast.parse(textwrap.dedent("".join(lines)))
        except (OSError, TypeError, SyntaxError, IndentationError):
            return {}
        offset = start - 1
    else:
        tree = ast.Module(body=[function], type_ignores=[])  # type: ignore[list-item]
        offset = 0
    file = code.co_filename
    out: dict[int, Statement] = {}

    def text_of(node: ast.stmt) -> str:
        number = node.lineno + offset
        text = linecache.getline(file, number).strip()
        if node.end_lineno and node.end_lineno > node.lineno:
            whole = " ".join(
                linecache.getline(file, n + offset).strip() for n in range(node.lineno, node.end_lineno + 1)
            )
            text = whole if len(whole) <= 120 else text
        return text or ast.unparse(node)

    def visit(body: list[ast.stmt], loops: tuple[tuple[str, ...], ...]) -> None:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                if node is not tree.body[0]:
                    continue
            nested = [
                getattr(node, name)
                for name in ("body", "orelse", "finalbody")
                if isinstance(getattr(node, name, None), list)
            ] + [h.body for h in getattr(node, "handlers", [])]
            if nested and not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                header = node.lineno + offset
                last = min((b[0].lineno for b in nested if b), default=node.lineno) + offset
                for n in range(header, max(header + 1, last)):
                    out[n] = Statement(file, header, text_of(node), "other", loops=loops)
                inner = loops
                if isinstance(node, (ast.For, ast.AsyncFor)):
                    names = tuple(n.id for n in ast.walk(node.target) if isinstance(n, ast.Name))
                    inner = (*loops, names)
                for b in nested:
                    visit(b, inner)
                continue
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                visit(node.body, loops)
                continue
            statement = _statement(node, file, offset, text_of(node), loops)
            for n in range(node.lineno, (node.end_lineno or node.lineno) + 1):
                out[n + offset] = statement

    visit(tree.body, ())
    return out


def _statement(
    node: ast.stmt, file: str, offset: int, text: str, loops: tuple[tuple[str, ...], ...]
) -> Statement:
    line = node.lineno + offset
    if isinstance(node, ast.Assign):
        return Statement(file, line, text, "assign", tuple(node.targets), _reads([node.value]), loops)
    if isinstance(node, ast.AnnAssign) and node.value is not None:
        return Statement(file, line, text, "assign", (node.target,), _reads([node.value]), loops)
    if isinstance(node, ast.AugAssign):
        return Statement(file, line, text, "aug", (node.target,), _reads([node.value, node.target]), loops)
    if isinstance(node, ast.Return):
        return Statement(file, line, text, "return", (), _reads([node.value] if node.value else []), loops)
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        call = node.value
        func = call.func
        add_at = None
        scanned = None
        if isinstance(func, ast.Attribute) and func.attr == "at" and len(call.args) >= 2:
            add_at = (call.args[0], call.args[1])
        elif isinstance(func, ast.Attribute):
            scanned = func.value
        return Statement(file, line, text, "call", (), _reads([call]), loops, add_at, scanned)
    return Statement(file, line, text, "other", (), (), loops)


# ---------------------------------------------------------------------------------------------
# the recording


@dataclass(frozen=True)
class Call:
    """A caller of the frame an event ran in: the function called, the call's line and its loops."""

    function: str
    file: str
    line: int
    loops: tuple[tuple[str, str], ...]


@dataclass
class Event:
    """One execution of a statement that made an array, wrote into one, or bound one to a name."""

    seq: int
    statement: Statement
    function: str
    kind: str  # "made", "write", "bind"
    target: str  # the target's text (``dW2``, ``self.dweights``, ``dx[:, :, t]``)
    inputs: dict[int, str]  # ids of the arrays read (before it ran) -> the text that read them
    loops: tuple[tuple[str, str], ...] = ()  # its own loops' variables (name, value)
    calls: tuple[Call, ...] = ()  # its callers, innermost first, up to the backward
    region: Any = None  # for a write: the index (None: the whole array)
    key: int = 0  # the id of the array it made, bound or wrote

    @property
    def site(self) -> tuple[str, int]:
        return (self.statement.file, self.statement.line)

    def where(self, first: bool = False) -> str:
        """``file.py:12 `text``` with the iteration it ran in (``first``: the first of several
        on the wrong path)."""
        return (
            f"{Path(self.statement.file).name}:{self.statement.line} `{self.statement.text}`"
            + self.context(first)
        )

    def context(self, first: bool = False) -> str:
        parts = []
        if self.loops:
            at = "first reached at " if first else "at "
            parts.append(at + ", ".join(f"{n} = {v}" for n, v in self.loops))
        for n, call in enumerate(self.calls):
            if n and not call.loops:
                continue  # an outer caller is named for its iteration only
            at = " at " + ", ".join(f"{n} = {v}" for n, v in call.loops) if call.loops else ""
            parts.append(f"in {call.function}, called from {Path(call.file).name}:{call.line}{at}")
        return f" ({'; '.join(parts)})" if parts else ""


@dataclass
class Record:
    """One array the recording has seen: where it was made (None: it existed before, or came
    from outside the user's code), what wrote into it, and where it was bound."""

    array: np.ndarray
    origin: Event | None = None
    writes: list[Event] = field(default_factory=list)
    binds: list[Event] = field(default_factory=list)


@dataclass
class Recording:
    """What :func:`record` saw: the arrays and the value the backward returned."""

    arrays: dict[int, Record] = field(default_factory=dict)
    value: Any = None
    site_binds: dict[tuple[str, int, str], list[tuple[int, int]]] = field(default_factory=dict)
    events: int = 0  # past EVENT_BUDGET the recording stopped: it is incomplete
    sites: dict[tuple[str, int], int] = field(default_factory=dict)  # events per statement


@dataclass
class _FrameState:
    statements: dict[int, Statement]
    function: str
    statement: Statement | None = None
    inputs: dict[int, str] = field(default_factory=dict)
    before: dict[str, int] = field(default_factory=dict)
    returned: dict[int, str] = field(default_factory=dict)  # arrays user calls returned meanwhile


class _Recorder:
    def __init__(self) -> None:
        self.out = Recording()
        self.states: dict[int, _FrameState] = {}
        self.codes: dict[types.CodeType, dict[int, Statement] | None] = {}  # None: not followed
        self.files: dict[str, dict[int, ast.AST]] = {}  # per source file: its functions
        self.compiled: dict[int, Any] = {}  # per expression node of the statements: its code
        self.seq = 0

    # -- the tracer -------------------------------------------------------------------------

    def global_trace(self, frame: types.FrameType, event: str, arg: Any) -> Any:
        if self.out.events > EVENT_BUDGET:
            return None
        code = frame.f_code
        statements: dict[int, Statement] | None
        if code in self.codes:
            statements = self.codes[code]
        else:
            file = code.co_filename
            # expressions given as text (``--grad "…"``) run from pseudo-files such as ``<grad>``
            pseudo = file.startswith("<") and not file.startswith("<frozen")
            user = (pseudo or is_user_file(file)) and code.co_name not in _SKIPPED
            inline = code.co_name in _INLINE
            if not user or inline or code.co_name == "<lambda>":
                statements = self.codes[code] = {} if user else None
            else:
                if file not in self.files:
                    self.files[file] = _functions(file)
                function = self.files[file].get(code.co_firstlineno)
                statements = self.codes[code] = _statements(code, function)
        if statements is None:
            return None
        if event == "call":
            state = _FrameState(statements, code.co_name)
            self.states[id(frame)] = state
            self._arguments(frame)
        return self.local_trace

    def local_trace(self, frame: types.FrameType, event: str, arg: Any) -> Any:
        state = self.states.get(id(frame))
        if state is None or self.out.events > EVENT_BUDGET:
            return None
        try:
            if frame.f_code.co_name in _INLINE:
                self._comprehension(frame, state, event, arg)
                return self.local_trace
            if event == "line":
                statement = state.statements.get(frame.f_lineno)
                if statement is not state.statement:
                    self._finish(frame, state)
                    self._start(frame, state, statement)
            elif event == "return":
                self._finish(frame, state, arg, returning=True)
                del self.states[id(frame)]
                caller = self.states.get(id(frame.f_back)) if frame.f_back is not None else None
                if caller is not None:
                    for a in _arrays_in(arg, 2):
                        caller.returned[id(a)] = f"{frame.f_code.co_name}(…)"
        except Exception:  # the recording never breaks the user's code
            pass
        return self.local_trace

    def _comprehension(self, frame: types.FrameType, state: _FrameState, event: str, arg: Any) -> None:
        """A comprehension's arrays are made by the statement it is part of, from what it iterates over."""
        if event == "line":
            for name, value in frame.f_locals.items():
                for a in _arrays_in(value, 1):
                    state.inputs.setdefault(self._known(a), name)
            return
        if event != "return":
            return
        del self.states[id(frame)]
        outer = frame.f_back
        caller = self.states.get(id(outer)) if outer is not None else None
        if caller is not None and caller.statement is not None and outer is not None:
            for key, text in state.inputs.items():
                caller.inputs.setdefault(key, text)
            targets = caller.statement.targets
            target = ast.unparse(targets[0]) if targets else "the value returned"
            for a in _arrays_in(arg, 1):
                if id(a) not in self.out.arrays:
                    self._made(a, outer, caller, caller.statement, target)
            return
        line = frame.f_code.co_firstlineno
        text = linecache.getline(frame.f_code.co_filename, line).strip() or frame.f_code.co_name
        here = Statement(frame.f_code.co_filename, line, text, "return")
        for a in _arrays_in(arg, 1):
            if id(a) not in self.out.arrays:
                self._made(a, frame, state, here, "comprehension")

    # -- statements ---------------------------------------------------------------------------

    def _start(self, frame: types.FrameType, state: _FrameState, statement: Statement | None) -> None:
        state.statement = statement
        state.inputs = {}
        state.returned = {}
        state.before = {}
        if statement is None or statement.kind == "other":
            return
        local = frame.f_locals
        for read in statement.reads:
            value = self._evaluate(read.code, read.root, frame, local)
            for a in _arrays_in(value, 2):
                key = self._known(a)
                state.inputs.setdefault(key, read.text)
        if statement.kind == "aug":
            for t in statement.targets:
                if isinstance(t, ast.Name) and isinstance(local.get(t.id), np.ndarray):
                    state.before[t.id] = id(local[t.id])

    def _finish(
        self, frame: types.FrameType, state: _FrameState, value: Any = None, *, returning: bool = False
    ) -> None:
        statement = state.statement
        if statement is None:
            if returning:  # a lambda, an expression given as text (its comprehensions inlined on 3.12)
                line = frame.f_lineno
                text = linecache.getline(frame.f_code.co_filename, line).strip()
                lam = Statement(frame.f_code.co_filename, line, text, "return")
                for a in _arrays_in(value, 2):
                    if id(a) not in self.out.arrays:
                        self._made(a, frame, state, lam, "return value")
            return
        local = frame.f_locals
        state.inputs.update({k: v for k, v in state.returned.items() if k not in state.inputs})
        for target in statement.targets:
            self._target(target, frame, state, statement, local)
        if statement.add_at is not None:
            buffer = self._evaluate(self._code(statement.add_at[0]), _root(statement.add_at[0]), frame, local)
            index = self._evaluate(self._code(statement.add_at[1]), None, frame, local)
            if isinstance(buffer, np.ndarray):
                self._write(
                    buffer, frame, state, statement, ast.unparse(statement.add_at[0]), _index_copy(index)
                )
        if statement.scanned is not None:
            container = self._evaluate(self._code(statement.scanned), _root(statement.scanned), frame, local)
            if not isinstance(container, np.ndarray):
                for a in _arrays_in(container, 2):
                    if id(a) not in self.out.arrays:
                        self._made(a, frame, state, statement, ast.unparse(statement.scanned))
        if returning:
            for a in _arrays_in(value, 2):
                if id(a) not in self.out.arrays:
                    self._made(a, frame, state, statement, "return value")
        state.statement = None

    def _target(
        self, target: ast.expr, frame: types.FrameType, state: _FrameState, statement: Statement, local: Any
    ) -> None:
        if isinstance(target, (ast.Tuple, ast.List)):
            for t in target.elts:
                self._target(t, frame, state, statement, local)
            return
        if isinstance(target, ast.Starred):
            self._target(target.value, frame, state, statement, local)
            return
        text = ast.unparse(target)
        if isinstance(target, ast.Subscript):
            base = self._evaluate(self._code(target.value), _root(target.value), frame, local)
            if isinstance(base, np.ndarray):
                index = self._index(target, frame, local)
                self._write(base, frame, state, statement, text, _index_copy(index))
                return
        if isinstance(target, ast.Name):
            value = local.get(target.id, None)
        else:
            value = self._evaluate(self._code(target), _root(target), frame, local)
        if isinstance(value, np.ndarray):
            if id(value) not in self.out.arrays:
                self._made(value, frame, state, statement, text)
            elif statement.kind == "aug" and (
                not isinstance(target, ast.Name) or state.before.get(target.id) == id(value)
            ):
                self._write(value, frame, state, statement, text, None)
            else:
                self._bind(value, frame, state, statement, text)
        else:
            for a in _arrays_in(value, 2):
                if id(a) not in self.out.arrays:
                    self._made(a, frame, state, statement, text)

    def _index(self, target: ast.Subscript, frame: types.FrameType, local: Any) -> Any:
        """The index of a subscript target (``dx[:, :, t]``: ``(slice(None), slice(None), 3)``)."""
        if id(target.slice) not in self.compiled:
            grab = ast.Subscript(value=ast.Name("_index_", ast.Load()), slice=target.slice, ctx=ast.Load())
            self.compiled[id(target.slice)] = _compile(grab)
        code = self.compiled[id(target.slice)]
        if code is None:
            return None
        return self._evaluate(code, None, frame, {**local, "_index_": _Grab()})

    def _code(self, node: ast.expr) -> Any:
        """:func:`_compile`, once per expression of the user's code (the statements live as long)."""
        if id(node) not in self.compiled:
            self.compiled[id(node)] = _compile(node)
        return self.compiled[id(node)]

    def _evaluate(self, code: Any, root: str | None, frame: types.FrameType, local: Any) -> Any:
        if code is not None:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    return eval(code, frame.f_globals, local)
            except Exception:
                pass
        if root is None:
            return None
        if root in local:
            return local[root]
        return frame.f_globals.get(root)

    # -- events -------------------------------------------------------------------------------

    def _known(self, a: np.ndarray) -> int:
        """The id the recording knows ``a`` by: the array itself, or the array it is a view of;
        an array never seen is one that existed before (an input)."""
        if id(a) in self.out.arrays:
            return id(a)
        base = a.base
        for _ in range(4):
            if not isinstance(base, np.ndarray):
                break
            if id(base) in self.out.arrays:
                return id(base)
            base = base.base
        self.out.arrays[id(a)] = Record(a)
        return id(a)

    def _event(
        self,
        frame: types.FrameType,
        state: _FrameState,
        statement: Statement,
        kind: str,
        target: str,
        region: Any,
    ) -> Event:
        self.seq += 1
        self.out.events += 1
        site = (statement.file, statement.line)
        self.out.sites[site] = self.out.sites.get(site, 0) + 1
        return Event(
            self.seq,
            statement,
            state.function,
            kind,
            target,
            dict(state.inputs),
            _loop_values(statement, frame.f_locals),
            self._callers(frame),
            region,
        )

    def _made(
        self, a: np.ndarray, frame: types.FrameType, state: _FrameState, statement: Statement, target: str
    ) -> None:
        event = self._event(frame, state, statement, "made", target, None)
        event.key = id(a)
        base = a.base
        if isinstance(base, np.ndarray) and id(base) in self.out.arrays:
            event.inputs.setdefault(id(base), target)
        self.out.arrays[id(a)] = Record(a, event)
        self.out.site_binds.setdefault((*event.site, target), []).append((event.seq, id(a)))

    def _bind(
        self, a: np.ndarray, frame: types.FrameType, state: _FrameState, statement: Statement, target: str
    ) -> None:
        event = self._event(frame, state, statement, "bind", target, None)
        event.key = id(a)
        self.out.arrays[id(a)].binds.append(event)
        self.out.site_binds.setdefault((*event.site, target), []).append((event.seq, id(a)))

    def _write(
        self,
        a: np.ndarray,
        frame: types.FrameType,
        state: _FrameState,
        statement: Statement,
        target: str,
        region: Any,
    ) -> None:
        key = self._known(a)
        if key != id(a):
            region = None  # a write through a view: its region in the base is not worked out
        event = self._event(frame, state, statement, "write", target, region)
        event.key = key
        self.out.arrays[key].writes.append(event)

    def _arguments(self, frame: types.FrameType) -> None:
        """Arrays a call is given that the recording has not seen: made by the caller's statement
        under way (``f(np.dot(a, b))``), or, for the first call, inputs."""
        caller = self.states.get(id(frame.f_back)) if frame.f_back is not None else None
        for name, value in frame.f_locals.items():
            for a in _arrays_in(value, 2):
                if id(a) in self.out.arrays:
                    continue
                if caller is not None and caller.statement is not None and frame.f_back is not None:
                    target = f"{name} (the argument of {frame.f_code.co_name})"
                    self._made(a, frame.f_back, caller, caller.statement, target)
                else:
                    self._known(a)

    def _callers(self, frame: types.FrameType) -> tuple[Call, ...]:
        out = []
        inner = frame
        outer = frame.f_back
        while outer is not None and id(outer) in self.states:
            if outer.f_code.co_filename.startswith("<") and not outer.f_code.co_filename.startswith(
                "<ipython"
            ):
                break  # the expression that called the backward: no line of the user's to show
            state = self.states[id(outer)]
            statement = state.statement
            loops = _loop_values(statement, outer.f_locals) if statement is not None else ()
            out.append(Call(inner.f_code.co_name, outer.f_code.co_filename, outer.f_lineno, loops))
            inner, outer = outer, outer.f_back
        return tuple(out[:3])


class _Grab:
    """``_Grab()[i]`` is ``i``: how a subscript's index is read."""

    def __getitem__(self, index: Any) -> Any:
        return index


def _index_copy(index: Any) -> Any:
    if isinstance(index, np.ndarray):
        return index.copy()
    if isinstance(index, tuple):
        return tuple(i.copy() if isinstance(i, np.ndarray) else i for i in index)
    return index


def _loop_values(statement: Statement | None, local: Any) -> tuple[tuple[str, str], ...]:
    if statement is None:
        return ()
    out = []
    for names in statement.loops:
        for name in names:
            value = local.get(name)
            if isinstance(value, (int, np.integer, str)) and not isinstance(value, bool):
                out.append((name, str(value) if not isinstance(value, str) else repr(value)))
    return tuple(out)


def _arrays_in(value: Any, depth: int) -> Iterator[np.ndarray]:
    """The arrays ``value`` is or holds (in dicts, lists, tuples, to ``depth`` levels)."""
    if isinstance(value, np.ndarray):
        if value.dtype != object:
            yield value
        return
    if depth <= 0:
        return
    items: Any = ()
    if isinstance(value, dict):
        items = value.values()
    elif isinstance(value, (list, tuple)):
        items = value
    if len(items) > _CONTAINER_LIMIT:
        return
    for item in items:
        yield from _arrays_in(item, depth - 1)


def record(grad: Callable[[Any], Any], structure: Any) -> Recording | None:
    """Run ``grad(structure)`` once under observation (see the module notes).

    Parameters
    ----------
    grad : callable
        The user's gradient function, as given to :func:`verifier.check`.
    structure : object
        Parameters in the user's container (the call's own copy: the backward may write into it).

    Returns
    -------
    Recording or None
        Where each array the user's frames handled was made, written and bound, and what
        ``grad`` returned; None if ``grad`` raised.
    """
    recorder = _Recorder()
    old = sys.gettrace()
    sys.settrace(recorder.global_trace)
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = grad(structure)
    except Exception:
        return None
    finally:
        sys.settrace(old)
    recorder.out.value = value
    return recorder.out


# ---------------------------------------------------------------------------------------------
# the forward's values and the cost's gradient with respect to each


@dataclass
class Table:
    """Every array the traced forward computed, by shape: its value and dJ/d(it)."""

    values: dict[tuple[int, ...], np.ndarray] = field(default_factory=dict)
    gradients: dict[tuple[int, ...], np.ndarray] = field(default_factory=dict)
    #: the terms dJ/d(it) is the sum of, one per use of the value (``dWf`` of one time step)
    terms: dict[tuple[int, ...], np.ndarray] = field(default_factory=dict)
    #: dJ/d(NAME) for the names the forward's frames give one value only (``Z1``)
    named: dict[str, np.ndarray] = field(default_factory=dict)
    #: the parameters' own gradients (which the backward returns at scale 1, whatever its convention)
    parameters: dict[tuple[int, ...], np.ndarray] = field(default_factory=dict)

    def is_parameter_gradient(self, a: np.ndarray) -> bool:
        stack = self.parameters.get(a.shape)
        return stack is not None and bool(np.any(a)) and bool(np.any(_close(stack, a)))

    def term_scales(self, a: np.ndarray, scales: list[float]) -> set[float]:
        """The conventions ``c`` under which ``a / c`` is one term of a forward value's gradient."""
        stack = self.terms.get(a.shape)
        if stack is None or not np.any(a):
            return set()
        return {c for c in scales if np.any(_close(stack, a / c))}

    def matches_value(self, a: np.ndarray) -> bool:
        stack = self.values.get(a.shape)
        return stack is not None and bool(np.any(_close(stack, a)))

    def gradient_scales(self, a: np.ndarray, scales: list[float]) -> set[float]:
        """The conventions ``c`` under which ``a / c`` is the gradient of a forward value."""
        stack = self.gradients.get(a.shape)
        if stack is None or not np.any(a):
            return set()
        return {c for c in scales if np.any(_close(stack, a / c))}


def _close(stack: np.ndarray, a: np.ndarray) -> np.ndarray:
    flat = stack.reshape(len(stack), -1)
    b = a.reshape(-1)
    distance = np.linalg.norm(flat - b, axis=1)
    size = np.linalg.norm(flat, axis=1) + np.linalg.norm(b)
    return (size > 0) & (distance <= MATCH * size)


def forward_table(
    cost: Callable[[Any], Any], layout: Layout, theta: np.ndarray, shapes: set[tuple[int, ...]], resolve: bool
) -> Table | None:
    """Trace the cost once more, keeping every traced value of one of ``shapes`` and the cost's
    gradient with respect to it, each term of that gradient (one per use of the value), and
    which of them the forward's frames hold under a name of their own.

    Parameters
    ----------
    cost : callable
        The user's cost.
    layout, theta
        The parameters.
    shapes : set of tuple
        The shapes worth keeping (those of the backward's arrays).
    resolve : bool
        Resolve numpy to ``autograd.numpy`` in the user's modules (as the reference did).

    Returns
    -------
    Table or None
        None if the cost cannot be traced.
    """
    values: dict[Any, np.ndarray] = {}
    init = ArrayBox.__init__
    had = "__init__" in ArrayBox.__dict__

    def made(box: Any, value: Any, trace_id: Any, node: Any) -> None:
        init(box, value, trace_id, node)
        if np.shape(value) in shapes:
            values[node] = np.array(value, dtype=np.float64)

    parts, _ = layout.collect(layout.unflatten(theta.copy()), argument="params")
    start = VJPNode.new_root()
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ArrayBox.__init__ = made
            try:
                frames: dict[int, types.FrameType] = {}
                with autograd_session(cost, resolve=resolve) as session, _frames_making_boxes(frames):
                    value, end = trace(
                        start, lambda boxed: cost(layout.pack(session.start(boxed))), list(parts)
                    )
                # a name the forward's frames give one value only: the backward's dNAME is its gradient
                by_name: dict[str, list[Any]] = {}
                for f in frames.values():
                    for name, box in _traced_arrays(f).items():
                        by_name.setdefault(name, []).append(box._node)
                named = {n: nodes[0] for n, nodes in by_name.items() if len(set(nodes)) == 1}
            finally:
                frames.clear()
                if had:
                    ArrayBox.__init__ = init
                else:
                    del ArrayBox.__init__
            if end is None:
                return None
            grads: dict[Any, np.ndarray] = {}
            parent_uses: dict[Any, list[np.ndarray]] = {}
            outgrads: dict[Any, tuple[Any, bool]] = {end: (np.ones_like(value), False)}
            for node in toposort(end):
                g = outgrads.pop(node)[0]
                if node in values:
                    grads[node] = np.array(np.broadcast_to(g, values[node].shape), dtype=np.float64)
                for parent, ingrad in zip(node.parents, node.vjp(g), strict=False):
                    if parent in values and len(parent_uses.setdefault(parent, [])) < 64:
                        with contextlib.suppress(Exception):
                            term = np.asarray(ingrad, dtype=np.float64)
                            if term.shape == values[parent].shape:
                                parent_uses[parent].append(term)
                    outgrads[parent] = add_outgrads(outgrads.get(parent), ingrad)
    except Exception:
        return None
    table = Table()
    terms: dict[tuple[int, ...], list[np.ndarray]] = {}
    for parent, uses in parent_uses.items():
        if len(uses) > 1:  # a value used once has one term: its gradient
            terms.setdefault(values[parent].shape, []).extend(uses)
    table.terms = {shape: np.stack(stack) for shape, stack in terms.items()}
    table.named = {n: grads[node] for n, node in named.items() if node in grads}
    roots: dict[tuple[int, ...], list[np.ndarray]] = {}
    for node in grads:
        if any(parent is start for parent in node.parents):
            roots.setdefault(values[node].shape, []).append(grads[node])
    table.parameters = {shape: np.stack(stack) for shape, stack in roots.items()}
    by_shape: dict[tuple[int, ...], list[Any]] = {}
    for node in grads:  # the values the cost depends on (a cost may compute more: its own backward)
        by_shape.setdefault(values[node].shape, []).append(node)
    for shape, nodes in by_shape.items():
        table.values[shape] = np.stack([values[n] for n in nodes])
        table.gradients[shape] = np.stack([grads[n] for n in nodes])
    return table


# ---------------------------------------------------------------------------------------------
# the first wrong line


@dataclass
class Culprit:
    """A statement found at fault for one or more wrong tensors."""

    event: Event
    tensors: list[str]
    right: list[str]  # the gradients it reads that are right
    #: "line" (inputs right, output wrong), "dropped" (only the last value kept), "unwritten", "made"
    kind: str
    detail: str = ""
    repeated: bool = False  # its statement ran more than once: the event is the first on the wrong path
    also: list[Event] = field(default_factory=list)  # other statements on the same array, as likely
    terms: list[str] = field(default_factory=list)  # inputs that hold one term of a sum, and where made


class _Walk:
    def __init__(self, rec: Recording, table: Table | None, scales: list[float]) -> None:
        self.rec = rec
        self.table = table
        self.scales = scales
        self.scale: float | None = None
        self.cache: dict[int, tuple[set[float], bool]] = {}
        self.outputs: set[int] = set()
        self.natures: dict[int, str] = {}
        self.terms: dict[int, bool] = {}
        self.misnamed: dict[int, str] = {}  # event seq -> the dNAME it gave a gradient of another value

    def match(self, key: int) -> tuple[set[float], bool]:
        if key not in self.cache:
            a = self.rec.arrays[key].array
            if self.table is None or a.dtype.kind != "f" or a.size == 0:
                self.cache[key] = (set(), False)
            else:
                self.cache[key] = (self.table.gradient_scales(a, self.scales), self.table.matches_value(a))
        return self.cache[key]

    def parameter(self, key: int) -> bool:
        """Whether the array is a parameter's gradient (returned at scale 1 under any convention)."""
        a = self.rec.arrays[key].array
        return self.table is not None and a.dtype.kind == "f" and self.table.is_parameter_gradient(a)

    def term(self, key: int) -> bool:
        """Whether the array is one term of a forward value's gradient (a step's share)."""
        if key not in self.terms:
            a = self.rec.arrays[key].array
            ok = self.table is not None and a.dtype.kind == "f" and a.size > 0
            scales = self.table.term_scales(a, self.scales) if ok and self.table is not None else set()
            self.terms[key] = (self.scale in scales) if self.scale is not None else bool(scales)
        return self.terms[key]

    def status(self, key: int) -> str:
        """``"input"`` (it existed before, or holds no floats), ``"right"``, ``"forward"``, ``"zeros"``
        (an allocation nothing wrote into) or ``"suspect"``."""
        r = self.rec.arrays.get(key)
        if r is None or r.origin is None or r.array.dtype.kind not in "fc":
            return "input"
        scales, value = self.match(key)
        if self.scale is not None and self.scale in scales:
            return "right"
        if self.scale is not None and 1.0 in scales and self.parameter(key):
            return "right"
        if self.scale is None and scales:
            return "right"
        if value:
            return "forward"
        if not r.writes and not r.origin.inputs and not np.any(r.array):
            return "zeros"
        if self.term(key):
            return "term"
        return "suspect"

    def read_as(self, key: int, text: str) -> str:
        """:meth:`status`, for the array as read under the name ``text``: a ``dNAME`` that is the
        gradient of some forward value, but not of the forward's ``NAME``, is ``"misnamed"``."""
        status = self.status(key)
        ref = self.table.named.get(text[1:]) if self.table is not None and text.startswith("d") else None
        a = self.rec.arrays[key].array if key in self.rec.arrays else None
        if ref is None or a is None or a.shape != ref.shape or status not in ("right", "term"):
            return status
        scales = [self.scale] if self.scale is not None else list(self.scales)
        if self.parameter(key):
            scales.append(1.0)  # a parameter's gradient is returned at scale 1 under any convention
        if any(np.any(_close(ref[None], a / c)) for c in scales):
            return "right"
        return "misnamed"

    def named_here(self, key: int, text: str, before: int) -> Event | None:
        """The statement that last gave the array ``key`` the name ``text`` before event ``before``."""
        r = self.rec.arrays[key]
        events = [e for e in (r.origin, *r.binds) if e is not None and e.target == text and e.seq < before]
        return events[-1] if events else None

    def nature(self, key: int) -> str:
        """A suspect array's kind: ``"grad"`` when a gradient enters it (a right one, a term, or a
        suspect gradient), or the data (an input that is no forward value: the labels) together
        with the forward's values (a cost's derivative, ``A3 - Y``); ``"data"`` when it is made
        from the data alone (``np.hstack((ones, X))``); else ``"factor"``, a value computed from
        the forward's values alone (an activation's derivative): nothing to check those against."""
        if key in self.natures:
            return self.natures[key]
        self.natures[key] = "factor"  # a guard against cycles
        r = self.rec.arrays[key]
        gradient = label = forward = False
        for e in [x for x in (r.origin, *r.writes) if x is not None]:
            for i in e.inputs:
                if i == key or i not in self.rec.arrays:
                    continue
                other = self.rec.arrays[i]
                status = self.status(i)
                if status in ("right", "term"):
                    gradient = True
                elif other.origin is None:
                    value = other.array.astype(np.float64) if other.array.dtype.kind in "fciub" else None
                    known = value is not None and self.table is not None and self.table.matches_value(value)
                    forward |= known
                    label |= not known
                elif status == "suspect":
                    inner = self.nature(i)
                    gradient |= inner == "grad"
                    label |= inner == "data"
                    forward |= inner == "factor"
                else:  # a forward value, a mask made from one, an allocation
                    forward = True
        result = "grad" if gradient or (label and forward) else "data" if label else "factor"
        self.natures[key] = result
        return result

    def explore(self, key: int, mask: np.ndarray | None, found: dict[int, Event], seen: set[int]) -> None:
        r = self.rec.arrays[key]
        events: list[Event] = []
        covered = np.zeros(r.array.shape, dtype=bool)
        for w in r.writes:
            region = _region(r.array.shape, w.region)
            covered |= region
            if mask is None or np.any(region & mask):
                events.append(w)
        # an array made and then written into (``dZ = dA.copy(); dZ[Z <= 0] = 0``) got its wrong
        # values from the writes, unless what it was made from is itself wrong
        if r.origin is not None and (not events or self.suspects(r.origin, key)):
            events.append(r.origin)
        for e in events:
            for i, text in e.inputs.items():
                if i != key and i in self.rec.arrays and self.read_as(i, text) == "misnamed":
                    naming = self.named_here(i, text, e.seq)
                    if naming is not None:
                        self.misnamed[naming.seq] = text
                        found.setdefault(naming.seq, naming)
            suspects = self.suspects(e, key)
            if not suspects:
                if not self.adds_right_terms(e, key):
                    found.setdefault(e.seq, e)
                continue
            for s in suspects:
                if s not in seen:
                    seen.add(s)
                    inner = None
                    if (
                        mask is not None
                        and r.array.base is not None
                        and _owner(r.array) is self.rec.arrays[s].array
                    ):
                        inner = _base_mask(r.array, self.rec.arrays[s].array, mask)
                    self.explore(s, inner, found, seen)

    def adds_right_terms(self, event: Event, key: int) -> bool:
        """An accumulating write (``dW += term``) whose terms are all right did its part."""
        if event.kind != "write" or (event.statement.kind != "aug" and event.statement.add_at is None):
            return False
        terms = [i for i in event.inputs if i != key and i in self.rec.arrays]
        return any(self.rec.arrays[i].array.dtype.kind == "f" for i in terms)

    def suspects(self, event: Event, key: int) -> list[int]:
        """The inputs of ``event`` (other than the array ``key`` it makes or writes) that carry a
        gradient and are neither right nor forward values."""
        return [
            i
            for i in event.inputs
            if i != key and i in self.rec.arrays and self.status(i) == "suspect" and self.nature(i) == "grad"
        ]


def _owner(a: np.ndarray) -> Any:
    base = a.base
    while isinstance(base, np.ndarray) and base.base is not None and isinstance(base.base, np.ndarray):
        base = base.base
    return base


def _base_mask(view: np.ndarray, base: np.ndarray, mask: np.ndarray) -> np.ndarray | None:
    """``mask`` over a view, carried to the array it views (None when the layout does not allow it)."""
    if base.itemsize != view.itemsize or not base.flags.c_contiguous:
        return None
    offset = view.__array_interface__["data"][0] - base.__array_interface__["data"][0]
    if offset % base.itemsize:
        return None
    flat = np.arange(base.size, dtype=np.int64)
    try:
        index = np.lib.stride_tricks.as_strided(
            flat[offset // base.itemsize :], shape=view.shape, strides=view.strides, writeable=False
        )
        out = np.zeros(base.size, dtype=bool)
        out[index[mask]] = True
    except (ValueError, IndexError):
        return None
    return out.reshape(base.shape)


def _region(shape: tuple[int, ...], index: Any) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    if index is None:
        mask[...] = True
        return mask
    try:
        mask[index] = True
    except Exception:
        mask[...] = True
    return mask


def _right_inputs(walk: _Walk, event: Event) -> list[str]:
    names = []
    for key, text in event.inputs.items():
        if key in walk.rec.arrays and walk.read_as(key, text) == "right":
            origin = walk.rec.arrays[key].origin
            if text == event.target and origin is not None:
                text = f"{text} as line {origin.statement.line} left it"
            if text not in names:
                names.append(text)
    return names


def _term_inputs(walk: _Walk, event: Event) -> list[str]:
    """The inputs of ``event`` that hold a single term of a sum, with where each was made."""
    latest: tuple[int, str] | None = None  # the one made last: made for this iteration
    for key, text in event.inputs.items():
        origin = walk.rec.arrays[key].origin if key in walk.rec.arrays else None
        if origin is not None and walk.status(key) == "term" and origin.site != event.site:
            if latest is None or origin.seq > latest[0]:
                latest = (origin.seq, f"{text}, one term of a sum, made at {origin.where()}")
    return [latest[1]] if latest else []


def outputs(rec: Recording, layout: Layout) -> list[int | None]:
    """Per tensor, the id of the array the recorded backward returned for it (None if not an array)."""
    try:
        parts, _ = layout.collect(rec.value, argument="grad")
    except Exception:
        return [None] * len(layout.names)
    out: list[int | None] = []
    for p in parts:
        if isinstance(p, np.ndarray) and id(p) in rec.arrays:
            out.append(id(p))
        else:
            out.append(None)
    return out


def first_wrong(
    rec: Recording, layout: Layout, wrong: dict[str, np.ndarray], table: Table | None, m: int | None
) -> list[Culprit]:
    """The statements at fault for the wrong tensors, one culprit per statement and iteration.

    Parameters
    ----------
    rec : Recording
        The backward, recorded at the checked point.
    layout : Layout
    wrong : dict of str to ndarray of bool
        Each wrong tensor's wrong elements, in the tensor's shape.
    table : Table or None
        The forward's values and gradients (None: autograd unavailable; each wrong tensor's
        own statement is named, kind ``"made"``).
    m : int or None
        Examples the cost averages over, if known (a candidate for the backward's convention).

    Returns
    -------
    list of Culprit
        In the order the backward ran them.
    """
    # the backward's convention: 1, or a count (m examples: the notebook's dZ = A - Y)
    dims = sorted({d for r in rec.arrays.values() if r.origin is None for d in r.array.shape if d > 1})
    scales = list(dict.fromkeys([1.0, *([float(m)] if m and m > 1 else []), *map(float, dims[:8])]))
    walk = _Walk(rec, table, scales)
    keys = outputs(rec, layout)
    walk.outputs = {k for k in keys if k is not None}
    culprits: dict[tuple[Any, ...], Culprit] = {}
    used: set[int] = set()  # arrays some statement read, other than the one it made or wrote
    summed: set[int] = set()  # arrays added into another (``+=``, ``np.add.at``)
    for k, r in rec.arrays.items():
        for e in [x for x in (r.origin, *r.writes) if x is not None]:  # a binding computes nothing
            used.update(i for i in e.inputs if i != k)
            if e.kind == "write" and (e.statement.kind == "aug" or e.statement.add_at is not None):
                summed.update(i for i in e.inputs if i != k)
    terms = {
        e.seq: True
        for k in summed
        if k in rec.arrays
        for e in [x for x in (rec.arrays[k].origin, *rec.arrays[k].writes) if x is not None]
    }

    def add(event: Event, tensor: str, kind: str, detail: str = "", also: list[Event] | None = None) -> None:
        ident = (
            event.site,
            event.loops,
            tuple((c.file, c.line, c.loops) for c in event.calls),
            kind,
            event.target,
        )
        if ident in culprits:
            if tensor not in culprits[ident].tensors:
                culprits[ident].tensors.append(tensor)
            return
        repeated = kind == "line" and rec.sites.get(event.site, 0) > 1
        culprits[ident] = Culprit(
            event,
            [tensor],
            _right_inputs(walk, event),
            kind,
            detail,
            repeated,
            also or [],
            _term_inputs(walk, event),
        )

    # the backward's convention (1, or m for the notebook's dZ = A - Y) is read from the arrays
    # the right tensors were computed from: under it, most of them are gradients of forward
    # values (the wrong tensors' own arrays cannot say: a factor they all share looks like one)
    if table is not None:
        right = [k for name, k in zip(layout.names, keys, strict=True) if k is not None and name not in wrong]
        behind = _ancestry(rec, right)
        pool = scales if behind else scales[: 2 if m and m > 1 else 1]
        if not behind:
            found: dict[int, Event] = {}
            seen: set[int] = set()
            for name, key in zip(layout.names, keys, strict=True):
                if key is not None and name in wrong:
                    walk.explore(key, wrong[name], found, seen)
            behind = seen
        votes = {c: sum(c in walk.match(k)[0] for k in behind) for c in pool}
        walk.scale = max(pool, key=lambda c: (votes[c], c == 1.0))
        walk.natures.clear()
        walk.terms.clear()
    for name, key in zip(layout.names, keys, strict=True):
        if key is None or name not in wrong:
            continue
        r = rec.arrays[key]
        mask = wrong[name]
        dropped = _dropped(rec, walk, key, used)
        if dropped is not None:
            add(dropped[0], name, "dropped", dropped[1])
            continue
        if r.origin is not None and r.writes:
            covered = np.zeros(r.array.shape, dtype=bool)
            for w in r.writes:
                covered |= _region(r.array.shape, w.region)
            if (mask & ~covered).any() and not r.origin.inputs:
                add(r.origin, name, "unwritten", _count(mask & ~covered, r.array.size))
        if table is None:
            last = [w for w in r.writes if np.any(_region(r.array.shape, w.region) & mask)]
            add(last[0] if last else r.origin if r.origin is not None else r.writes[0], name, "made")
            continue
        found = {}
        walk.explore(key, mask, found, {key})
        if not found:  # every term it adds is right: a term is missing, or added where it does not belong
            found = {w.seq: w for w in r.writes if np.any(_region(r.array.shape, w.region) & mask)}
        if not found:
            continue

        # a term added into a sum (``dWf += …``, one per time step) has no reference of its own:
        # a statement whose value is right for its term would look wrong, so it comes last
        # a dNAME that holds the gradient of another value than NAME comes first: it is certain
        def order(e: Event) -> tuple[bool, bool, bool]:
            return (e.seq not in walk.misnamed, terms.get(e.seq, False), not _right_inputs(walk, e))

        ranked = sorted(found.values(), key=lambda e: (*order(e), e.seq))
        best = ranked[0]
        rank = order(best)
        # statements on one array that cannot be told apart are all named (``dx -= 1``; ``dx /= N``)
        also = [e for e in ranked[1:] if e.key == best.key and e.site != best.site and order(e) == rank]
        add(best, name, "misnamed" if best.seq in walk.misnamed else "line", also=also)
    return sorted(culprits.values(), key=lambda c: c.event.seq)


def _ancestry(rec: Recording, keys: list[int]) -> set[int]:
    """The float arrays made during the recording that the arrays ``keys`` were computed from."""
    visited = set(keys)
    stack = list(keys)
    while stack:
        r = rec.arrays.get(stack.pop())
        if r is None:
            continue
        for e in [x for x in (r.origin, *r.writes) if x is not None]:
            for i in e.inputs:
                other = rec.arrays.get(i)
                if i not in visited and other is not None and other.origin is not None:
                    visited.add(i)
                    stack.append(i)
    return {i for i in visited - set(keys) if rec.arrays[i].array.dtype.kind == "f"}


def _count(mask: np.ndarray, size: int) -> str:
    return f"{int(mask.sum())} of its {size} elements"


def _dropped(rec: Recording, walk: _Walk, key: int, used: set[int]) -> tuple[Event, str] | None:
    """An output that is only the last of several values one statement bound in turn, the
    earlier ones read by nothing: ``dWaa = …`` where ``dWaa += …`` was meant."""
    r = rec.arrays[key]
    events = [e for e in ([r.origin] if r.origin is not None else []) + r.binds]
    for e in reversed(events):
        history = rec.site_binds.get((*e.site, e.target), [])
        ids = list(dict.fromkeys(i for _, i in history))
        if len(ids) < 2 or ids[-1] != key:
            continue
        if any(i in walk.outputs or i in used for i in ids[:-1]):
            continue  # the earlier values are returned, or read: not dropped
        if r.writes and max(w.seq for w in r.writes) > e.seq:
            continue
        return e, f"{len(ids)}"
    return None


def regions(rec: Recording, key: int, mask: np.ndarray) -> str:
    """Which of a buffer's region writes hold right values and which wrong, by iteration
    (``"right at t = 4; wrong at t = 3, 2, 1, 0"``), when one statement writes it region by region."""
    r = rec.arrays[key]
    writes = [w for w in r.writes if w.region is not None and w.loops]
    if len(writes) < 2 or len({w.site for w in writes}) != 1:
        return ""
    right: list[str] = []
    bad: list[str] = []
    for w in writes:
        region = _region(r.array.shape, w.region)
        if not region.any() or region.all():
            return ""
        label = ", ".join(f"{n} = {v}" for n, v in w.loops)
        (bad if np.any(mask & region) else right).append(label)
    if not right or not bad:
        return ""
    only = "only " if len(right) == 1 else ""
    return (
        f"{only}the region{'s' if len(right) > 1 else ''} written at {'; '.join(right)}"
        f" {'is' if len(right) == 1 else 'are'} right, those written at {'; '.join(bad)} are wrong"
        f" ({writes[0].target} at {Path(writes[0].statement.file).name}:{writes[0].statement.line})"
    )
