"""Recording the user's forward: the values it assigns (its locals, or a dict it keeps), and
autograd's gradient with respect to the parameters and to each of them, from one trace.
"""

from __future__ import annotations

import re
import sys
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from autograd.core import VJPNode, add_outgrads
from autograd.numpy.numpy_boxes import ArrayBox
from autograd.tracer import toposort, trace

from ..errors import is_user_file
from .tracing import autograd_session

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
def frames_making_boxes(seen: dict[int, types.FrameType]) -> Iterator[None]:
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
            frames_making_boxes(seen),
        ):
            inputs: list[Any] = []

            def traced(boxed: Any) -> Any:
                inputs.extend(session.start(boxed))
                loss = cost(pack(inputs))
                session.check_loss_first(loss)
                return loss

            value, end_node = trace(start, traced, list(parts))
        # (no frame in a local of this function: through f_back it would reach this frame)
        frames = [(f.f_code, held) for f in seen.values() if (held := traced_arrays(f))]
    finally:
        seen.clear()
    return ForwardTrace(value, end_node, frames, start, list(session.modules), session.low_precision, inputs)


def traced_arrays(frame: types.FrameType) -> dict[str, Any]:
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
    for node, grad, _ in backpropagate(forward.end_node, forward.value):
        if node is forward.start:
            params = grad
        for name in watch.get(node, ()):
            out[name] = np.array(np.broadcast_to(grad, np.shape(held[name]._value)), dtype=np.float64)
    for name in names:
        if name in held and name not in out:
            out[name] = np.zeros(np.shape(held[name]._value))
    return params, out


def backpropagate(end_node: Any, value: Any) -> Iterator[tuple[Any, Any, list[tuple[Any, Any]]]]:
    """Autograd's backward pass over the traced graph that ends at ``end_node`` (the cost,
    ``value``): each node in turn, the cost's gradient with respect to it, and the term of that
    gradient it passes each of its parents, as ``(parent, term)`` pairs."""
    outgrads: dict[Any, tuple[Any, bool]] = {end_node: (np.ones_like(value), False)}
    for node in toposort(end_node):
        grad = outgrads.pop(node)[0]
        # strict=False: a traced constant's node hangs from the parameters and returns no gradient
        passed = list(zip(node.parents, node.vjp(grad), strict=False))
        yield node, grad, passed
        for parent, ingrad in passed:
            outgrads[parent] = add_outgrads(outgrads.get(parent), ingrad)
