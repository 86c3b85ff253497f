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

The walk back from each wrong gradient to its first wrong line is :mod:`verifier.explain.walk`.
"""

from __future__ import annotations

import ast
import linecache
import sys
import types
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import is_user_file
from .statements import Statement, cite, compile_expression, functions_by_line, root_name, statements_by_line

#: Code objects whose frames are not statements of their own (their values reach the
#: enclosing statement).
_INLINE = frozenset({"<listcomp>", "<dictcomp>", "<setcomp>"})
#: Generators run piecemeal, as their consumer asks: they are not followed.
_SKIPPED = frozenset({"<genexpr>"})
#: Containers larger than this are not searched for the arrays they hold.
_CONTAINER_LIMIT = 64
#: Statements that made or wrote an array, past which a recording stops (a loop over every
#: element of a large array): a count, so that whether lines are named never depends on time.
EVENT_BUDGET = 200_000


# ---------------------------------------------------------------------------------------------
# the statements of a function, read once per code object


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
        return cite(
            f"{Path(self.statement.file).name}:{self.statement.line}", self.statement.text
        ) + self.context(first)

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
            # expressions given as text (``--grad "…"``) run from pseudo-files such as ``<grad>``,
            # which is_user_file counts as the user's
            user = is_user_file(file) and code.co_name not in _SKIPPED
            inline = code.co_name in _INLINE
            if not user or inline or code.co_name == "<lambda>":
                statements = self.codes[code] = {} if user else None
            else:
                if file not in self.files:
                    self.files[file] = functions_by_line(file)
                function = self.files[file].get(code.co_firstlineno)
                statements = self.codes[code] = statements_by_line(code, function)
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
            buffer = self._evaluate(
                self._code(statement.add_at[0]), root_name(statement.add_at[0]), frame, local
            )
            index = self._evaluate(self._code(statement.add_at[1]), None, frame, local)
            if isinstance(buffer, np.ndarray):
                self._write(
                    buffer, frame, state, statement, ast.unparse(statement.add_at[0]), _index_copy(index)
                )
        if statement.scanned is not None:
            container = self._evaluate(
                self._code(statement.scanned), root_name(statement.scanned), frame, local
            )
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
            base = self._evaluate(self._code(target.value), root_name(target.value), frame, local)
            if isinstance(base, np.ndarray):
                index = self._index(target, frame, local)
                self._write(base, frame, state, statement, text, _index_copy(index))
                return
        if isinstance(target, ast.Name):
            value = local.get(target.id, None)
        else:
            value = self._evaluate(self._code(target), root_name(target), frame, local)
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
            self.compiled[id(target.slice)] = compile_expression(grab)
        code = self.compiled[id(target.slice)]
        if code is None:
            return None
        return self._evaluate(code, None, frame, {**local, "_index_": _Grab()})

    def _code(self, node: ast.expr) -> Any:
        """:func:`compile_expression`, once per expression of the user's code (the statements
        live as long)."""
        if id(node) not in self.compiled:
            self.compiled[id(node)] = compile_expression(node)
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


# ---------------------------------------------------------------------------------------------
# the first wrong line
