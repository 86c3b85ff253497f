"""A gradient whose shape is not its parameter's: a finding of the check, not bad input.

The most common slip in hand-written backprop is a shape: a bias gradient summed over the wrong
axis, a weight gradient transposed, ``keepdims`` lost. :meth:`verifier.core.params.Layout.flatten_like`
collects them (reading the values where a reshape or a transpose can, see
:func:`verifier.core.params.read_as`); this module words them, and gives the lines' module a gradient
of the right shapes to work on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.params import Layout
from .findings import Finding


@dataclass
class ShapeSlip:
    """One gradient of the wrong shape.

    Attributes
    ----------
    tensor : int
        The parameter's index in the layout.
    got : tuple of int
        The shape the gradient came in.
    reading : str
        How its values were read as the parameter's shape: ``"reshaped"``, ``"transposed"``,
        or ``""`` (they could not be).
    """

    tensor: int
    got: tuple[int, ...]
    reading: str


def suggestion(expected: tuple[int, ...], got: tuple[int, ...], reading: str, m: int | None) -> str:
    """What a gradient of shape ``got`` for a parameter of shape ``expected`` suggests."""
    if reading == "transposed":
        return (
            "it is transposed (e.g. np.dot(A_prev, dZ.T) where np.dot(dZ, A_prev.T) keeps the"
            " parameter's shape)"
        )
    if reading == "reshaped" and len(got) < len(expected):
        try:
            spread = f" into a {np.broadcast_shapes(expected, got)} array"
        except ValueError:
            spread = ""
        return (
            "keepdims lost: the sum dropped an axis of length 1, and an update `p -= lr * dp` with"
            f" it broadcasts the {expected} parameter{spread}; np.sum(..., axis=1, keepdims=True)"
            " keeps the axis"
        )
    if reading == "reshaped":
        return "it has an extra axis of length 1"
    n_rows = expected[0] if len(expected) == 2 and expected[1] == 1 else None
    if n_rows is not None:  # a bias-like column
        across = got[-1] if len(got) in (1, 2) and (len(got) == 1 or got[0] == 1) else None
        if across is not None:
            per = f"one value per example (m = {m})" if m == across else "one value per column of dZ"
            return (
                f"summed over the wrong axis: np.sum(dZ, axis=0) adds up each example's units, {per};"
                " the bias gradient sums over the examples, np.sum(dZ, axis=1, keepdims=True)"
            )
        if len(got) == 2 and got[0] == n_rows:
            return "not summed over the examples: np.sum(dZ, axis=1, keepdims=True)"
    return "its values cannot be read as the parameter's"


def slip_findings(
    slips: list[ShapeSlip], layout: Layout, agree: list[bool | None], m: int | None
) -> list[Finding]:
    """One bug finding per slip, naming the tensor, both shapes and what the mismatch suggests.

    ``agree``: per slip, whether its values, read as the parameter's shape, agree with the
    references everywhere (True), are wrong somewhere (False), or were not decided (None).
    """
    out = []
    for slip, agrees in zip(slips, agree, strict=True):
        name, expected = layout.names[slip.tensor], tuple(layout.shapes[slip.tensor])
        message = (
            f"{name}: the gradient has shape {slip.got}, the parameter {expected};"
            f" {suggestion(expected, slip.got, slip.reading, m)}"
        )
        if slip.reading and agrees is True:
            message += f"; {slip.reading} to {expected} its values are right: only the shape is wrong"
        elif slip.reading and agrees is False:
            message += f"; {slip.reading} to {expected} its values are wrong as well"
        out.append(Finding("bug", name, message, "shape"))
    return out


def repaired(raw: Any, layout: Layout, g: np.ndarray, slips: list[ShapeSlip]) -> Any:
    """``raw`` (what ``grad`` returned) with each slipped gradient replaced by its reading in the
    parameter's shape, its other entries (the backward's ``dZ1``...) kept."""
    if not slips:
        return raw
    fixed = {s.tensor: g[layout.slice(s.tensor)].reshape(layout.shapes[s.tensor]) for s in slips}
    if layout.kind == "array":
        return fixed[0]
    if layout.kind == "dict" and isinstance(raw, dict):
        out = dict(raw)
        for t, value in fixed.items():
            key = layout.keys[t]
            out[key if key in raw else f"d{key}"] = value
        return out
    items = list(raw)
    for t, value in fixed.items():
        items[t] = value
    return tuple(items) if isinstance(raw, tuple) else items
