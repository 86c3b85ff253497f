"""The gaps autograd leaves in real numpy code, filled: in-place writes, ndarray methods, float(),
functions that take lists, allocators; the session's state and the traced numpy namespace the
user's modules see.
"""

from __future__ import annotations

import builtins
import functools
import linecache
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import autograd.numpy as anp
import numpy as np
from autograd.core import VJPNode
from autograd.extend import defvjp, primitive
from autograd.tracer import isbox, new_box, trace_stack

from ..errors import is_user_file


class PlainNumpyError(TypeError):
    """Plain numpy was handed a value autograd is tracing."""


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


#: The methods a traced array gets during a session (plain numpy given one refuses it).
ARRAY_METHODS: dict[str, Any] = {
    "__array__": _refuse,
    "__setitem__": None,  # per session (it counts the session's writes)
    "dot": lambda self, other: anp.dot(self, other),
    "reshape": _method_reshape,
    "transpose": _method_transpose,
    "copy": lambda self, order="C": _copy(self),
    "item": _method_item,
}


class _FloatType(type):
    """The metaclass of :class:`traced_float`: ``isinstance(x, float)`` still means a Python float."""

    def __instancecheck__(cls, value: Any) -> bool:
        return isinstance(value, builtins.float)

    def __subclasscheck__(cls, other: type) -> bool:
        return issubclass(other, builtins.float)


class traced_float(builtins.float, metaclass=_FloatType):  # noqa: N801 (it stands for `float`)
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


class DataArray(np.ndarray):
    """A plain data array of the user's (``X``, a global or a closure's) during a trace: its
    ``.dot`` takes a traced argument (``X.dot(W1)``, which plain numpy cannot trace)."""

    def dot(self, other: Any, *args: Any, **kwargs: Any) -> Any:
        if _contains_box(other):
            return anp.dot(np.asarray(self), other)
        return np.asarray(self).dot(other, *args, **kwargs)


def replacement(value: Any, traced: TracedNumpy) -> Any:
    """What the user's code gets instead of a numpy object during a trace (None: keep it)."""
    if type(value) is np.ndarray and value.dtype.kind in "fiu" and value.ndim >= 1:
        return value.view(DataArray)
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
