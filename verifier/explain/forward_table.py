"""The forward's own values and their gradients, read from the cost's autograd trace: the table the
first-wrong-line walk compares the backward's arrays with.
"""

from __future__ import annotations

import contextlib
import types
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import autograd.numpy as anp
import numpy as np
from autograd.core import VJPNode
from autograd.numpy.numpy_boxes import ArrayBox
from autograd.tracer import trace

from ..core.params import Layout
from ..trace.recording import backpropagate, frames_making_boxes, traced_arrays
from ..trace.tracing import autograd_session

#: Relative distance (of norms) under which a backward array equals a traced value.
MATCH = 1e-6
#: The primitives whose gradient autograd splits between two equal arguments.
_TIED = (anp.maximum, anp.minimum, anp.fmax, anp.fmin)


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
    #: whether the forward takes a maximum or minimum of two equal values (ReLU exactly at 0 on
    #: integer data): autograd splits the gradient there (1/2 each side), where a backward's
    #: mask takes one side, a valid subgradient that matches none of the gradients above
    ties: bool = False

    def is_parameter_gradient(self, a: np.ndarray) -> bool:
        stack = self.parameters.get(a.shape)
        return stack is not None and bool(np.any(a)) and bool(np.any(rows_close(stack, a)))

    def term_scales(self, a: np.ndarray, scales: list[float]) -> set[float]:
        """The conventions ``c`` under which ``a / c`` is one term of a forward value's gradient."""
        stack = self.terms.get(a.shape)
        if stack is None or not np.any(a):
            return set()
        return {c for c in scales if np.any(rows_close(stack, a / c))}

    def matches_value(self, a: np.ndarray) -> bool:
        stack = self.values.get(a.shape)
        return stack is not None and bool(np.any(rows_close(stack, a)))

    def gradient_scales(self, a: np.ndarray, scales: list[float]) -> set[float]:
        """The conventions ``c`` under which ``a / c`` is the gradient of a forward value."""
        stack = self.gradients.get(a.shape)
        if stack is None or not np.any(a):
            return set()
        return {c for c in scales if np.any(rows_close(stack, a / c))}


def rows_close(stack: np.ndarray, a: np.ndarray) -> np.ndarray:
    flat = stack.reshape(len(stack), -1)
    b = a.reshape(-1)
    distance = np.linalg.norm(flat - b, axis=1)
    size = np.linalg.norm(flat, axis=1) + np.linalg.norm(b)
    return (size > 0) & (distance <= MATCH * size)


@contextlib.contextmanager
def _ties_seen(ties: list[bool]) -> Iterator[None]:
    """While the context lasts, append to ``ties`` when a traced maximum or minimum is taken of
    two equal values (autograd's nodes are made with the function and its arguments)."""
    init = VJPNode.__init__

    def made(node: Any, value: Any, fun: Any, args: Any, kwargs: Any, argnums: Any, parents: Any) -> None:
        init(node, value, fun, args, kwargs, argnums, parents)
        if not ties and fun in _TIED and len(args) >= 2:
            with contextlib.suppress(Exception):
                if np.any(np.asarray(args[0]) == np.asarray(args[1])):
                    ties.append(True)

    VJPNode.__init__ = made
    try:
        yield
    finally:
        VJPNode.__init__ = init


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
    ties: list[bool] = []

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
                with (
                    autograd_session(cost, resolve=resolve) as session,
                    frames_making_boxes(frames),
                    _ties_seen(ties),
                ):
                    value, end = trace(
                        start, lambda boxed: cost(layout.pack(session.start(boxed))), list(parts)
                    )
                # a name the forward's frames give one value only: the backward's dNAME is its gradient
                by_name: dict[str, list[Any]] = {}
                for f in frames.values():
                    for name, box in traced_arrays(f).items():
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
            for node, g, passed in backpropagate(end, value):
                if node in values:
                    grads[node] = np.array(np.broadcast_to(g, values[node].shape), dtype=np.float64)
                for parent, ingrad in passed:
                    if parent in values and len(parent_uses.setdefault(parent, [])) < 64:
                        with contextlib.suppress(Exception):
                            term = np.asarray(ingrad, dtype=np.float64)
                            if term.shape == values[parent].shape:
                                parent_uses[parent].append(term)
    except Exception:
        return None
    table = Table(ties=bool(ties))
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
