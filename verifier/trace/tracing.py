r"""autograd on the user's own numpy code: the switch, the gaps, the failure, the intermediates.

The users' code is plain numpy: ``np.dot``, helpers in a module beside the notebook,
``float(cost)``, ``W.dot(X)``, ``x.reshape(N, -1)``, ``A[Z < 0] = 0``. autograd traces only
``autograd.numpy``. This module lets it trace such code as written:

* :func:`autograd_session` is the one context every trace runs in. While it lasts,

  - plain numpy refuses a traced value (``ArrayBox.__array__`` raises
    :class:`PlainNumpyError`) instead of building an object array of traced numbers, so
    a trace that cannot succeed fails at once, at the user's line;
  - traced arrays get the ndarray methods real code calls (``.dot``, ``.transpose(*axes)``,
    ``.reshape(*shape)``, ``.copy()``, ``.item()``) and item assignment (``A[Z < 0] = 0``,
    ``A[i] += v``): the box takes the traced value of the updated copy, which is what
    numpy's in-place write means for everything computed afterwards;
  - with ``resolve=True``, every module of the user's own code reachable from the cost
    (through helpers, closures, classes, methods, imported modules) sees ``numpy`` as a
    namespace of ``autograd.numpy`` (also ``from numpy import dot`` and ``float()``),
    never inside numpy, scipy, autograd or this library; all is restored afterwards,
    also when the trace raises.

* :func:`refusal` words why a trace failed: the file, the line, the operation and the fix.

* :func:`traced_locals` traces the cost once, recording the values the user's forward
  assigns (its locals, or the entries of a dict it keeps: the frames on the stack whenever a
  traced array is made, read when the trace is over), and :func:`backward` gives, in one
  pass, autograd's gradient with respect to the parameters and to each of those values: the
  reference for the parameters and for a backward's ``dZ2``, ``dA1``, from the same trace.

While a session is open the process's numpy is rebound in those modules: do not run
the user's code from another thread meanwhile.
"""

from __future__ import annotations

import ast
import builtins
import functools
import linecache
import re
import sys
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import autograd.numpy as anp
import numpy as np
from autograd.core import VJPNode, add_outgrads
from autograd.extend import VSpace, defvjp, primitive
from autograd.numpy.numpy_boxes import ArrayBox
from autograd.tracer import Box, isbox, new_box, toposort, trace, trace_stack

from ..errors import in_package_networks, is_user_file, user_frame


class PlainNumpyError(TypeError):
    """Plain numpy was handed a value autograd is tracing."""


# ---------------------------------------------------------------------------------------------
# the gaps: primitives and methods real code needs on traced values


@primitive
def _copy(x: Any) -> Any:
    return np.array(x, copy=True)


defvjp(_copy, lambda ans, x: lambda g: g)


@primitive
def _assign(a: Any, index: Any, value: Any) -> Any:
    out = np.array(a, copy=True, dtype=np.result_type(a, value))
    out[index] = value
    return out


def _unbroadcast_to(g: Any, like: Any) -> Any:
    shape = np.shape(like)
    while np.ndim(g) > len(shape):
        g = anp.sum(g, axis=0)
    for axis, n in enumerate(shape):
        if n == 1 and np.shape(g)[axis] != 1:
            g = anp.sum(g, axis=axis, keepdims=True)
    return g


def _assign_vjp_a(ans: Any, a: Any, index: Any, value: Any) -> Callable[[Any], Any]:
    def vjp(g: Any) -> Any:
        out = np.array(g, copy=True)
        out[index] = 0.0
        return out

    return vjp


def _assign_vjp_value(ans: Any, a: Any, index: Any, value: Any) -> Callable[[Any], Any]:
    shape, like = np.shape(ans[index]), np.empty(np.shape(value), dtype=np.int8)  # not ans itself
    return lambda g: _unbroadcast_to(np.broadcast_to(g[index], shape), like)


defvjp(_assign, _assign_vjp_a, None, _assign_vjp_value)


@primitive
def _add_at(a: Any, index: Any, value: Any) -> Any:
    out = np.array(a, copy=True, dtype=np.result_type(a, value))
    np.add.at(out, index, value)
    return out


defvjp(
    _add_at,
    lambda ans, a, index, value: lambda g: g,
    None,
    lambda ans, a, index, value: lambda g: _unbroadcast_to(g[index], value),
)

#: Numbers copied by in-place writes on traced arrays in one trace before it is refused: each
#: write makes an updated copy, so filling an array of S numbers element by element moves S^2
#: of them (a count, so that the refusal does not depend on the machine's speed).
WRITE_BUDGET = 100_000_000


@dataclass
class Session:
    """One :func:`autograd_session`: what it resolved, the traces it runs, the writes it counts.

    Attributes
    ----------
    modules : list of str
        The user modules whose numpy was resolved to ``autograd.numpy``.
    copied : int
        Numbers copied by in-place writes on traced arrays so far.
    low_precision : bool
        A traced value was cast to a float narrower than float64 (``.astype(np.float32)``):
        the gradient then carries that precision's round-off.
    """

    modules: list[str] = field(default_factory=list)
    copied: int = 0
    roots: dict[int, Any] = field(default_factory=dict)
    low_precision: bool = False
    #: The cost returns its loss beside its hand-written gradients: plain numpy may take traced
    #: values' values (the gradient half, which is discarded); see :meth:`check_loss_first`.
    tolerant: bool = False
    made: int = 0  #: traced arrays made so far (counted in a tolerant session)
    order: dict[int, int] = field(default_factory=dict)  #: id(node) -> when its array was made
    detached: list[tuple[int, str, str]] = field(default_factory=list)  #: (when, where, source)

    def detach(self, box: Any) -> Any:
        """Plain numpy took a traced array in a tolerant session: its value, the moment noted."""
        if not self.tolerant:
            _refuse(box)
        if not self.detached:
            frame = _innermost_user_frame(sys._getframe(1))
            where = f"{frame.f_code.co_filename}:{frame.f_lineno}" if frame else ""
            line = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip() if frame else ""
            self.detached.append((self.made, where, line))
        return np.asarray(box._value)

    def check_loss_first(self, loss: Any) -> None:
        """Raise :class:`DetachedError` if the loss was made after plain numpy took a traced value
        (it may then miss a dependence); a loss made before cannot depend on what came after."""
        if not self.detached:
            return
        when, where, line = self.detached[0]
        if not isbox(loss) or self.order.get(id(loss._node), self.made) > when:
            raise DetachedError(where, line)

    def start(self, boxed: Any) -> list[Any]:
        """Mark the traced parameters of a trace (call it first thing inside the traced function);
        returns them as a list. Buffers the user's code allocates in that trace hang from them."""
        self.roots[boxed._trace] = boxed._node
        return list(boxed)

    def constant(self, value: np.ndarray) -> Any:
        """``value`` as a traced constant of the innermost trace (None outside our traces).

        Its node hangs from the trace's parameters with no gradient flowing back, so the
        parameters stay the graph's only source (autograd returns the last node's gradient).
        """
        root = self.roots.get(trace_stack.top)
        if root is None:
            return None
        node = VJPNode.__new__(VJPNode)
        node.parents, node.vjp = [root], lambda g: ()
        return new_box(value, trace_stack.top, node)

    def setitem(self, box: Any, index: Any, value: Any) -> None:
        """``A[index] = value`` on a traced array: the box takes the traced updated copy."""
        self.copied += int(np.size(box._value))
        if self.copied > WRITE_BUDGET:
            raise PlainNumpyError(
                f"element-by-element writes into a traced array of {np.size(box._value)} numbers:"
                f" each write copies it, {self.copied:,} numbers so far, past the trace's budget"
                f" of {WRITE_BUDGET:,}"
            )
        _rebind(box, _assign(box, index, value))


class DetachedError(PlainNumpyError):
    """Plain numpy took a traced value before the loss of a loss-and-gradients cost was made."""

    def __init__(self, where: str, source: str) -> None:
        super().__init__(f"plain numpy took a traced value at {where} before the loss was computed")
        self.where, self.source = where, source


def _innermost_user_frame(frame: types.FrameType | None) -> types.FrameType | None:
    while frame is not None and not is_user_file(frame.f_code.co_filename):
        frame = frame.f_back
    return frame


def _rebind(box: Any, new: Any) -> None:
    if not isbox(new) or new._trace != box._trace:
        raise PlainNumpyError("an in-place write mixed values of two different traces")
    box._value, box._node = new._value, new._node


def _method_reshape(self: Any, *shape: Any, order: str = "C") -> Any:
    target = shape[0] if len(shape) == 1 else shape
    return anp.reshape(self, target, order=order)


def _method_transpose(self: Any, *axes: Any) -> Any:
    order: Any = axes
    if len(axes) == 1 and (axes[0] is None or isinstance(axes[0], (tuple, list))):
        order = axes[0]
    return anp.transpose(self, order or None)


def _method_item(self: Any, *index: Any) -> Any:
    if index:
        return self[index if len(index) > 1 else index[0]]
    if self.size != 1:
        raise ValueError("can only convert an array of size 1 to a Python scalar")
    return anp.reshape(self, ())


def _refuse(self: Any, *args: Any, **kwargs: Any) -> Any:
    raise PlainNumpyError(
        "plain numpy was given a value autograd is tracing (np.dot, np.asarray, an in-place"
        " write into a preallocated array or similar on the parameters)"
    )


_METHODS: dict[str, Any] = {
    "__array__": _refuse,
    "__setitem__": None,  # per session (it counts the session's writes)
    "dot": lambda self, other: anp.dot(self, other),
    "reshape": _method_reshape,
    "transpose": _method_transpose,
    "copy": lambda self, order="C": _copy(self),
    "item": _method_item,
}


class _FloatType(type):
    """The metaclass of :class:`_traced_float`: ``isinstance(x, float)`` still means a Python float."""

    def __instancecheck__(cls, value: Any) -> bool:
        return isinstance(value, builtins.float)

    def __subclasscheck__(cls, other: type) -> bool:
        return issubclass(other, builtins.float)


class _traced_float(builtins.float, metaclass=_FloatType):  # noqa: N801 (it stands for `float`)
    """``float`` as the user's code sees it during a trace: ``float(traced)`` stays traced, and
    ``float`` still works as numpy's dtype argument (``np.zeros(n, dtype=float)``,
    ``np.finfo(float)``, ``x.astype(float)``: numpy reads the class's ``dtype``)."""

    dtype = np.dtype(np.float64)

    def __new__(cls, value: Any = 0.0) -> Any:
        if isbox(value):
            if np.size(value._value) != 1:
                raise TypeError("only arrays of size 1 can be converted to float")
            return anp.reshape(value, ())
        return builtins.float(value)


def _plain(value: Any) -> Any:
    """``value`` with every traced array in it (in lists, tuples, dicts) replaced by its value."""
    if isbox(value):
        return _plain(value._value)
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


#: numpy functions whose results are integers or booleans (indices, counts, masks): no gradient
#: flows through them, so on traced values they are applied to the values (autograd lacks a
#: derivative for some, ``nanargmax``, ``unique``, and refuses the whole trace at them).
_ON_VALUES = frozenset(
    {
        "argmax",
        "argmin",
        "nanargmax",
        "nanargmin",
        "argsort",
        "argpartition",
        "argwhere",
        "nonzero",
        "flatnonzero",
        "unique",
        "searchsorted",
        "digitize",
        "count_nonzero",
        "lexsort",
        "isnan",
        "isinf",
        "isfinite",
        "isclose",
        "allclose",
        "array_equal",
        "greater",
        "greater_equal",
        "less",
        "less_equal",
        "equal",
        "not_equal",
        "logical_and",
        "logical_or",
        "logical_not",
        "logical_xor",
        "unravel_index",
        "ravel_multi_index",
        "shape",
        "ndim",
        "size",
    }
)


def _unique(ar: Any, return_index: bool = False, *args: Any, **kwargs: Any) -> Any:
    """``np.unique`` on a traced array: the indices, inverse and counts from its values, the
    unique values themselves traced (taken from the array at their first occurrences)."""
    unique: Callable[..., Any] = np.unique
    if not isbox(ar) or kwargs.get("axis") is not None:
        return unique(_plain(ar), return_index, *_plain(args), **_plain(kwargs))
    result = unique(ar._value, True, *args, **kwargs)
    parts = list(result) if isinstance(result, tuple) else [result]
    values = anp.ravel(ar)[parts[1]]
    out = [values, *(parts[1:] if return_index else parts[2:])]
    return out[0] if len(out) == 1 else tuple(out)


def _on_values(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` applied to the values of its traced arguments (its result carries no gradient)."""

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        return fn(*_plain(args), **_plain(kwargs))

    return call


# ---------------------------------------------------------------------------------------------
# numpy as autograd.numpy, in the user's modules

#: numpy functions taking whole sequences of arrays, which autograd.numpy handles itself.
_SEQUENCE_FUNCTIONS = frozenset(
    {
        "concatenate",
        "stack",
        "hstack",
        "vstack",
        "dstack",
        "column_stack",
        "row_stack",
        "block",
        "array",
        "asarray",
        "einsum",
        "broadcast_arrays",
        "meshgrid",
        "where",
        "select",
        "choose",
    }
)


def _contains_box(value: Any) -> bool:
    if isbox(value):
        return True
    if isinstance(value, (list, tuple)):
        return any(_contains_box(v) for v in value)
    return False


def _lists_to_arrays(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` with list arguments holding traced values stacked first (``np.mean([a, b])``)."""

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        args = tuple(anp.array(a) if isinstance(a, (list, tuple)) and _contains_box(a) else a for a in args)
        return fn(*args, **kwargs)

    return call


class _AddUfunc:
    """``np.add`` with ``np.add.at`` on traced values (a traced target takes the updated copy)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return anp.add(*args, **kwargs)

    def at(self, a: Any, index: Any, value: Any) -> None:
        if isbox(a):
            _rebind(a, _add_at(a, index, value))
        elif _contains_box(value):
            raise PlainNumpyError(
                "np.add.at writes a traced value into a plain preallocated array, which autograd cannot trace"
            )
        else:
            np.add.at(a, index, value)

    def __getattr__(self, name: str) -> Any:
        return getattr(np.add, name)


#: numpy functions that allocate a buffer the user's code may fill in place.
_ALLOCATORS = frozenset(
    {"zeros", "empty", "ones", "full", "zeros_like", "empty_like", "ones_like", "full_like"}
)


def _allocating(fn: Callable[..., Any], session: Session) -> Callable[..., Any]:
    """``fn`` whose float buffers, allocated while autograd traces, are traced constants: the
    user's loop can then fill them with traced values (``out[n, f] = ...``)."""

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        plain = [a._value if isbox(a) else a for a in args]
        result = fn(*plain, **kwargs)
        if not isinstance(result, np.ndarray) or result.dtype.kind != "f":
            return result
        constant = session.constant(result)
        return result if constant is None else constant

    return call


def _detaching(fn: Callable[..., Any], session: Session) -> Callable[..., Any]:
    """``np.asarray(traced)`` in a loss-and-gradients cost: the value, the moment noted (see
    :meth:`Session.detach`)."""

    @functools.wraps(fn)
    def call(a: Any, *args: Any, **kwargs: Any) -> Any:
        if isbox(a):
            return np.asarray(session.detach(a), *args, **kwargs)
        return fn(a, *args, **kwargs)

    return call


class TracedNumpy(types.ModuleType):
    """``numpy`` as the user's code sees it while autograd traces: ``autograd.numpy`` first,
    then numpy's own names (dtypes, constants, ``np.random``), with the gaps filled."""

    def __init__(self, session: Session) -> None:
        super().__init__("numpy", "numpy resolved to autograd.numpy for a trace")
        self._session = session
        self.add = _AddUfunc()
        self.copy = lambda a, *args, **kwargs: _copy(a) if isbox(a) else np.copy(a, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        value = getattr(anp, name, None)
        if value is None:
            value = getattr(np, name)
        if name in _ALLOCATORS:
            value = _allocating(getattr(np, name), self._session)
        elif name == "unique":
            value = _unique
        elif name in _ON_VALUES:
            value = _on_values(getattr(np, name))
        elif name in ("asarray", "ascontiguousarray") and self._session.tolerant:
            value = _detaching(value, self._session)
        elif callable(value) and not isinstance(value, type) and name not in _SEQUENCE_FUNCTIONS:
            value = _lists_to_arrays(value)
        setattr(self, name, value)  # memoised on this instance (one per session)
        return value


class _DataArray(np.ndarray):
    """A plain data array of the user's (``X``, a global or a closure's) during a trace: its
    ``.dot`` takes a traced argument (``X.dot(W1)``, which plain numpy cannot trace)."""

    def dot(self, other: Any, *args: Any, **kwargs: Any) -> Any:
        if _contains_box(other):
            return anp.dot(np.asarray(self), other)
        return np.asarray(self).dot(other, *args, **kwargs)


# autograd looks its boxes and vector spaces up by exact type: a data array is an ndarray to it
Box.type_mappings[_DataArray] = ArrayBox
VSpace.mappings[_DataArray] = VSpace.mappings[np.ndarray]


def _replacement(value: Any, traced: TracedNumpy) -> Any:
    """What the user's code gets instead of a numpy object during a trace (None: keep it)."""
    if type(value) is np.ndarray and value.dtype.kind in "fiu" and value.ndim >= 1:
        return value.view(_DataArray)
    if value is np:
        return traced
    if value is np.linalg:
        return anp.linalg
    if value is np.fft:
        return anp.fft
    if value is np.add:
        return traced.add
    if value is np.copy:
        return traced.copy
    name = getattr(value, "__name__", None)
    if (
        isinstance(name, str)
        and callable(value)
        and not isinstance(value, type)
        and getattr(np, name, None) is value
        and hasattr(anp, name)
    ):
        return getattr(traced, name)
    return None


@dataclass
class _Patches:
    """Module globals and closure cells rebound for a trace, with their old values."""

    globals_: list[tuple[dict[str, Any], str, Any]] = field(default_factory=list)
    added: list[tuple[dict[str, Any], str]] = field(default_factory=list)
    cells: list[tuple[Any, Any]] = field(default_factory=list)
    modules: list[str] = field(default_factory=list)

    def restore(self) -> None:
        for cell, old in reversed(self.cells):
            cell.cell_contents = old
        for namespace, name, old in reversed(self.globals_):
            namespace[name] = old
        for namespace, name in reversed(self.added):
            namespace.pop(name, None)


def _resolvable(filename: str) -> bool:
    """Whether numpy may be resolved in the module of ``filename``: the user's own code (this
    package's seeds, written as users write it, counts; its networks trace as they are)."""
    return is_user_file(filename) and not in_package_networks(filename)


class _Resolvable(dict[str, bool]):
    """:func:`_resolvable` per file, each path tested once in a resolution (a walk meets the
    same few files hundreds of times)."""

    def __missing__(self, filename: str) -> bool:
        self[filename] = _resolvable(filename)
        return self[filename]


def _user_functions(
    root: Any, resolvable: _Resolvable
) -> tuple[list[types.FunctionType], list[dict[str, Any]]]:
    """The functions (any file) and the namespaces of user modules reachable from ``root``."""
    functions: list[types.FunctionType] = []
    modules: list[types.ModuleType] = []
    namespaces_seen: list[dict[str, Any]] = []
    seen: set[int] = set()
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, functools.partial):
            stack += [obj.func, *obj.args, *obj.keywords.values()]
        elif isinstance(obj, types.MethodType):
            stack += [obj.__func__, obj.__self__]
        elif isinstance(obj, types.FunctionType):
            functions.append(obj)
            for cell in obj.__closure__ or ():
                try:
                    stack.append(cell.cell_contents)
                except ValueError:  # an empty cell
                    continue
            stack += list(obj.__defaults__ or ())
            if resolvable[obj.__code__.co_filename]:
                module = sys.modules.get(obj.__module__)
                if module is not None and vars(module) is obj.__globals__:
                    stack.append(module)
                else:  # a function from exec'd source: its globals are its module
                    stack += [v for v in obj.__globals__.values() if _worth_visiting(v)]
        elif isinstance(obj, types.ModuleType):
            if _user_module(obj, resolvable):
                modules.append(obj)
                stack += [v for v in vars(obj).values() if _worth_visiting(v)]
        elif isinstance(obj, type):
            if _user_class(obj):
                stack += [v for k, v in vars(obj).items() if not k.startswith("__") or k == "__call__"]
                stack += [v for v in vars(obj).values() if isinstance(v, (staticmethod, classmethod))]
        elif isinstance(obj, (staticmethod, classmethod)):
            stack.append(obj.__func__)
        elif isinstance(obj, property):
            stack += [obj.fget, obj.fset]
        elif isinstance(obj, dict) and "__name__" in obj and "__builtins__" in obj:  # a module's namespace
            file = obj.get("__file__") or ""
            if obj["__name__"] == "__main__" or (file and resolvable[file]):
                namespaces_seen.append(obj)
                stack += [v for v in obj.values() if _worth_visiting(v)]
        elif isinstance(obj, (list, tuple)) and len(obj) < 64:
            stack += [v for v in obj if _worth_visiting(v)]
        elif isinstance(obj, dict) and len(obj) < 64:
            stack += [v for v in obj.values() if _worth_visiting(v)]
        elif not isinstance(obj, (np.ufunc, types.BuiltinFunctionType)):
            # an instance of a user class (a layer object, a model): its class's methods, and what
            # it holds (the objects it calls: an activation, a loss)
            cls = type(obj)
            if _user_class(cls):
                held = vars(obj).values() if hasattr(obj, "__dict__") else ()
                stack += [cls, *[v for v in held if _worth_visiting(v)]]
    return functions, [vars(m) for m in modules] + namespaces_seen


_VISITED_TYPES = (
    types.FunctionType,
    types.MethodType,
    functools.partial,
    types.ModuleType,
    type,
    list,
    tuple,
    dict,
)


def _worth_visiting(value: Any) -> bool:
    return isinstance(value, _VISITED_TYPES) or (
        not isinstance(value, (np.ndarray, np.generic, str, bytes, int, float, complex))
        and _user_class(type(value))
    )


def _class_file(cls: type) -> str:
    module = sys.modules.get(getattr(cls, "__module__", ""), None)
    return getattr(module, "__file__", None) or ""


def _user_class(cls: type) -> bool:
    """Whether ``cls`` is the user's: where its methods were compiled is the user's code (a file,
    a notebook cell, source exec'd into a module without a file; see :func:`is_user_file`), or,
    for a class without methods, its module's file is."""
    if cls.__module__ in sys.builtin_module_names or cls.__module__ == "builtins":
        return False
    for value in vars(cls).values():  # where its methods were compiled: a notebook cell, exec'd code
        fn = getattr(value, "__func__", value)
        if isinstance(fn, types.FunctionType):
            return is_user_file(fn.__code__.co_filename)
    return is_user_file(_class_file(cls))


def _user_module(module: types.ModuleType, resolvable: _Resolvable) -> bool:
    """Whether numpy may be resolved in ``module``: ``__main__``, a user file's module, or a
    module without a file whose functions were compiled from the user's code (source exec'd
    into ``types.ModuleType``, as autograders and loaders do)."""
    if module.__name__ == "__main__":
        return True
    file = getattr(module, "__file__", None) or ""
    if file:
        return resolvable[file]
    spec = getattr(module, "__spec__", None)
    if module.__name__ in sys.builtin_module_names or getattr(spec, "origin", None) in ("built-in", "frozen"):
        return False
    for value in vars(module).values():
        if isinstance(value, types.FunctionType) and value.__module__ == module.__name__:
            return resolvable[value.__code__.co_filename]
    return False


def _resolve_numpy(root: Any, traced: TracedNumpy) -> _Patches:
    patches = _Patches()
    resolvable = _Resolvable()
    functions, found = _user_functions(root, resolvable)
    namespaces: dict[int, dict[str, Any]] = {id(n): n for n in found}
    for fn in functions:
        if resolvable[fn.__code__.co_filename]:
            namespaces.setdefault(id(fn.__globals__), fn.__globals__)
            for cell in fn.__closure__ or ():
                try:
                    value = cell.cell_contents
                except ValueError:
                    continue
                new = _replacement(value, traced)
                if new is not None:
                    patches.cells.append((cell, value))
                    cell.cell_contents = new
    for namespace in namespaces.values():
        for name, value in list(namespace.items()):
            new = None if name.startswith("__") else _replacement(value, traced)
            if new is not None:
                patches.globals_.append((namespace, name, value))
                namespace[name] = new
        if "float" in namespace:
            if namespace["float"] is builtins.float:
                patches.globals_.append((namespace, "float", builtins.float))
                namespace["float"] = _traced_float
        else:
            patches.added.append((namespace, "float"))
            namespace["float"] = _traced_float
        patches.modules.append(str(namespace.get("__name__", "?")))
    return patches


@contextmanager
def autograd_session(root: Any = None, *, resolve: bool = False, tolerant: bool = False) -> Iterator[Session]:
    """The context every autograd trace of user code runs in (see the module's notes).

    Parameters
    ----------
    root : callable, optional
        The cost; with ``resolve=True``, the user modules reachable from it see numpy as
        ``autograd.numpy`` while the context lasts.
    resolve : bool
    tolerant : bool
        The cost returns its hand-written gradients beside its loss: plain numpy may take the
        values of traced arrays (in the gradient half, whose trace is discarded), and
        :meth:`Session.check_loss_first` says whether the loss was made before it did.

    Yields
    ------
    Session
        Its ``modules`` are those whose numpy was resolved (none without ``resolve``);
        the traced function calls its :meth:`Session.start` on its argument.
    """
    saved = {name: ArrayBox.__dict__.get(name) for name in _METHODS}
    session = Session(tolerant=tolerant)

    def setitem(box: Any, index: Any, value: Any) -> None:  # a function: a slot binds no method
        session.setitem(box, index, value)

    def array(box: Any, *args: Any, **kwargs: Any) -> Any:
        return session.detach(box)

    init = ArrayBox.__init__

    def counted(box: Any, value: Any, trace_id: Any, node: Any) -> None:
        init(box, value, trace_id, node)
        session.made += 1
        session.order[id(node)] = session.made

    astype = ArrayBox.astype

    def narrowing(box: Any, dtype: Any, *args: Any, **kwargs: Any) -> Any:
        kind = np.dtype(dtype)
        if kind.kind in "fc" and kind.itemsize < (8 if kind.kind == "f" else 16):
            session.low_precision = True
        return astype(box, dtype, *args, **kwargs)

    saved["astype"] = ArrayBox.__dict__.get("astype")
    replaced = {**_METHODS, "__setitem__": setitem, "astype": narrowing}
    if tolerant:
        saved["__init__"] = ArrayBox.__dict__.get("__init__")
        replaced.update({"__array__": array, "__init__": counted})
    for name, method in replaced.items():
        setattr(ArrayBox, name, method)
    patches = _Patches()
    try:
        if resolve:
            patches = _resolve_numpy(root, TracedNumpy(session))
            session.modules = patches.modules
        yield session
    finally:
        patches.restore()
        for name, old in saved.items():
            if old is None:
                delattr(ArrayBox, name)
            else:
                setattr(ArrayBox, name, old)


# ---------------------------------------------------------------------------------------------
# why a trace failed, in the user's words


@dataclass(frozen=True)
class Refusal:
    """Where and why autograd could not trace the user's code."""

    where: str  # "file.py:42" or ""
    source: str  # the line's text
    operation: str  # what it does that autograd cannot follow
    fix: str

    def __str__(self) -> str:
        at = f"{self.where} `{self.source}`: " if self.where else ""
        return f"{at}{self.operation}; {self.fix}"


def refusal(exc: BaseException) -> Refusal:
    """Why a trace failed: the user's file and line, the operation, and the fix in one sentence."""
    frame = user_frame(exc)
    where = f"{frame.filename}:{frame.lineno}" if frame else ""
    source = (frame.line or "").strip() if frame else ""
    if len(source) > 70:
        source = source[:67] + "..."
    statement = _statement(source)
    text = str(exc)
    if "element-by-element writes" in text:
        return Refusal(
            where,
            source,
            text,
            "fill the array with whole-array operations (one np.stack or a vectorised expression)"
            " to get the autograd reference; the finite differences ran without it",
        )
    targets: list[ast.expr] = []
    if isinstance(statement, ast.Assign):
        targets = statement.targets
    elif isinstance(statement, ast.AugAssign):
        targets = [statement.target]
    if any(isinstance(t, ast.Subscript) for t in targets):
        return Refusal(
            where,
            source,
            "a write of a traced value into a preallocated numpy array, which autograd cannot trace",
            "build the array from whole-array operations (np.stack, np.where, sums over axes) to get"
            " the autograd reference; the finite differences ran without it",
        )
    if "np.add.at" in text:
        return Refusal(where, source, text, "the finite differences ran without the autograd reference")
    if isinstance(exc, DetachedError):
        said = _culprit(_statement(exc.source))
        return Refusal(
            exc.where,
            exc.source,
            f"{said or 'plain numpy took a traced value'}, before your function computed its loss",
            "use numpy functions (np.dot, not X.dot) in the forward half to get the autograd"
            " reference; the finite differences ran without it",
        )
    if isinstance(exc, PlainNumpyError):
        return Refusal(
            where,
            source,
            _culprit(statement)
            or "a numpy operation autograd has no derivative for, or a plain ndarray's method called"
            " with a traced argument (X.dot(W): write np.dot(X, W) or X @ W)",
            "rewrite that line with whole-array numpy functions to get the autograd reference; the"
            " finite differences ran without it",
        )
    if isinstance(exc, NotImplementedError) and "VJP of" in text:
        return Refusal(
            where,
            source,
            f"autograd has no derivative for this operation ({text})",
            "the finite differences ran without the autograd reference",
        )
    return Refusal(
        where,
        source,
        f"{type(exc).__name__}: {text}",
        "the finite differences ran without the autograd reference",
    )


def _culprit(statement: ast.stmt | None) -> str:
    """The operation of a line that handed a traced value to plain numpy, as precisely as its
    calls say (empty when they say nothing): a numpy function autograd lacks, a plain array's
    ``.dot``, or numpy left unresolved in that module."""
    if statement is None:
        return ""
    found: list[tuple[int, str]] = []
    for node in ast.walk(statement):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        name, owner = node.func.attr, node.func.value
        if isinstance(owner, ast.Name) and owner.id in ("np", "numpy"):
            if not hasattr(anp, name):
                found.append((0, f"np.{name}, which autograd.numpy does not have, was given a traced value"))
            else:
                found.append(
                    (
                        2,
                        f"np.{name} here is plain numpy: numpy was not resolved to autograd.numpy in"
                        " this code's module (the check did not reach it from what it was given)",
                    )
                )
        elif name == "dot":
            data = ast.unparse(owner)
            found.append(
                (
                    1,
                    f"`{data}.dot(...)`: a plain data array's .dot was given a traced array"
                    f" (write np.dot({data}, ...) or {data} @ ...)",
                )
            )
    return min(found)[1] if found else ""


def _statement(source: str) -> ast.stmt | None:
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return None
    return body[0] if len(body) == 1 else None


# ---------------------------------------------------------------------------------------------
# the forward's intermediate values, and the cost's gradient with respect to each


#: Names of the forward's layer values: pre-activations and activations.
LAYER_VALUE = re.compile(r"^[ZA]\d+$")


@dataclass
class ForwardTrace:
    """One traced evaluation of the cost: its value, its graph and the user frames' values.

    ``frames`` lists, per call of a user function that made a traced array during the trace
    (itself or through what it called; in the order each first did), its code object and
    the traced arrays it held by name when it returned: its locals, and the entries of a
    dict local keyed by str (a forward's ``cache``).
    """

    value: Any
    end_node: Any
    frames: list[tuple[types.CodeType, dict[str, Any]]]
    start: Any = None  #: the parameters' node: the graph's source
    modules: list[str] = field(default_factory=list)  #: where numpy was resolved
    low_precision: bool = False  #: a traced value was cast to float32 or narrower
    inputs: list[Any] = field(default_factory=list)  #: the parameters' traced arrays, in order

    def by_layer(self, names: list[str]) -> dict[str, Any]:
        """The forward's values by layer, where its helpers hold them under unnumbered names: in
        a frame that holds parameter ``W2`` as its local ``W``, a local ``A_prev`` (or
        ``prev_A``) is ``A1`` and a local ``Z`` is ``Z2`` (the course's
        ``linear_activation_forward(A_prev, W, b, activation)`` called in a loop, whose
        activations live in ``caches``). ``names``: the parameters', in :attr:`inputs`' order.
        A name two frames give different values is left out."""
        params = {id(b): n for b, n in zip(self.inputs, names, strict=False)}
        found: dict[str, Any] = {}
        clash: set[str] = set()
        for _, held in self.frames:
            layer = None
            for local, box in held.items():
                name = params.get(id(box), "")
                if len(name) > len(local) and name.startswith(local) and name[len(local) :].isdigit():
                    layer = int(name[len(local) :])
                    break
            if layer is None:
                continue
            for local, box in held.items():
                if id(box) in params:
                    continue
                base = (
                    local[:-5] if local.endswith("_prev") else local[5:] if local.startswith("prev_") else ""
                )
                if base.isalpha():
                    key = f"{base}{layer - 1}"
                elif local == "Z":
                    key = f"Z{layer}"
                else:
                    continue
                if found.setdefault(key, box) is not box:
                    clash.add(key)
        return {k: v for k, v in found.items() if k not in clash}

    def held(self, names: list[str]) -> dict[str, Any]:
        """The traced arrays of the frame that holds the most of ``names`` (the forward itself),
        and among those the most layer values ``Z<k>``, ``A<k>`` (with no names asked for, the
        forward rather than the first helper that returned, a ``relu(x)``)."""
        if not self.frames:
            return {}

        def score(frame: tuple[types.CodeType, dict[str, Any]]) -> tuple[int, int]:
            return sum(n in frame[1] for n in names), sum(bool(LAYER_VALUE.match(n)) for n in frame[1])

        return max(self.frames, key=score)[1]


@contextmanager
def _frames_making_boxes(seen: dict[int, types.FrameType]) -> Iterator[None]:
    """While the context lasts, put in ``seen`` (by ``id``) every user frame on the stack when a
    traced array is made, up to the frame that opened the context.

    The frames outlive their calls, and then keep their final locals. A frame that holds a
    value the trace computed has made it, or called what did, so none is missed; and unlike
    a ``sys.settrace`` hook on returns, which puts the 3.11 interpreter in its tracing mode
    for every frame (autograd's own included: 40% of a traced forward), this costs a short
    walk up the stack per traced array. The caller clears ``seen`` when done: the frames
    reach its own frame through ``f_back``, a cycle that would keep the trace alive until
    the garbage collector runs.
    """
    user: dict[types.CodeType, bool] = {}  # per code object: one path test each
    stop = sys._getframe(2)  # the frame that entered the context (above __enter__)
    had = "__init__" in ArrayBox.__dict__
    init = ArrayBox.__init__

    def made(box: Any, *args: Any) -> None:
        init(box, *args)
        frame: types.FrameType | None = sys._getframe(1)
        while frame is not None and frame is not stop:
            code = frame.f_code
            mine = user.get(code)
            if mine is None:
                mine = user[code] = is_user_file(code.co_filename)
            if mine:
                seen.setdefault(id(frame), frame)
            frame = frame.f_back

    ArrayBox.__init__ = made
    try:
        yield
    finally:
        if had:
            ArrayBox.__init__ = init
        else:
            del ArrayBox.__init__


def loss_beside_gradients(cost: Callable[[Any], Any]) -> bool:
    """Whether ``cost`` is the loss part of a function returning its gradients too (see
    :func:`autograd_session`'s ``tolerant``)."""
    return bool(getattr(cost, "loss_beside_gradients", False))


def traced_locals(
    cost: Callable[[Any], Any], parts: list[np.ndarray], pack: Callable[[list[Any]], Any], *, resolve: bool
) -> ForwardTrace:
    """Trace ``cost(pack(parts))`` with autograd, recording the traced arrays user frames hold."""
    start = VJPNode.new_root()
    seen: dict[int, types.FrameType] = {}
    tolerant = loss_beside_gradients(cost)
    try:
        with (
            autograd_session(cost, resolve=resolve, tolerant=tolerant) as session,
            _frames_making_boxes(seen),
        ):
            inputs: list[Any] = []

            def traced(boxed: Any) -> Any:
                inputs.extend(session.start(boxed))
                loss = cost(pack(inputs))
                session.check_loss_first(loss)
                return loss

            value, end_node = trace(start, traced, list(parts))
        # (no frame in a local of this function: through f_back it would reach this frame)
        frames = [(f.f_code, held) for f in seen.values() if (held := _traced_arrays(f))]
    finally:
        seen.clear()
    return ForwardTrace(value, end_node, frames, start, list(session.modules), session.low_precision, inputs)


def _traced_arrays(frame: types.FrameType) -> dict[str, Any]:
    """The traced arrays a finished frame held by name: its locals, and the str-keyed entries of
    a dict local (a forward's ``cache``)."""
    held: dict[str, Any] = {}
    for name, item in frame.f_locals.items():
        if isinstance(item, ArrayBox):
            held[name] = item
        elif isinstance(item, dict) and len(item) < 4096:
            for key, entry in item.items():
                if isinstance(key, str) and isinstance(entry, ArrayBox):
                    held.setdefault(key, entry)
    return held


def backward(forward: ForwardTrace, names: list[str]) -> tuple[Any, dict[str, np.ndarray]]:
    """One backward pass: the cost's gradient with respect to the parameters (as the traced
    container, a list of arrays) and to each named intermediate value.

    A name is looked up in the frame that holds the most of ``names`` (the forward itself);
    a value the cost does not depend on gets zeros; names no frame holds are left out.
    """
    if forward.end_node is None:
        return None, {}
    held = forward.held(names)
    watch: dict[Any, list[str]] = {}
    for name in names:
        if name in held:
            watch.setdefault(held[name]._node, []).append(name)
    out: dict[str, np.ndarray] = {}
    params = None
    outgrads: dict[Any, tuple[Any, bool]] = {forward.end_node: (np.ones_like(forward.value), False)}
    for node in toposort(forward.end_node):
        grad = outgrads.pop(node)[0]
        if node is forward.start:
            params = grad
        for name in watch.get(node, ()):
            out[name] = np.array(np.broadcast_to(grad, np.shape(held[name]._value)), dtype=np.float64)
        # strict=False: a traced constant's node hangs from the parameters and returns no gradient
        for parent, ingrad in zip(node.parents, node.vjp(grad), strict=False):
            outgrads[parent] = add_outgrads(outgrads.get(parent), ingrad)
    for name in names:
        if name in held and name not in out:
            out[name] = np.zeros(np.shape(held[name]._value))
    return params, out
