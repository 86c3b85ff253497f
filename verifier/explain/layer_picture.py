"""The layer picture: which layers' gradients are wrong, and what the wrong ones share (a bias
summed on the wrong axis, a unit's row).
"""

from __future__ import annotations

import re

import numpy as np

from ..core.params import Layout
from .findings import Finding


def layer_number(name: str) -> int | None:
    """``"W2"`` -> 2, ``"db1"`` -> 1, ``"[0]"`` -> 1 (a THETA list), else None."""
    match = re.fullmatch(r"\w*\[(\d+)\]", name)
    if match:
        return int(match.group(1)) + 1
    match = re.fullmatch(r"d?[A-Za-z]+?(\d+)", name)
    return int(match.group(1)) if match else None


def layer_picture(
    findings: list[Finding],
    layout: Layout,
    *,
    reference: np.ndarray | None = None,
) -> list[Finding]:
    """Where, in backprop order (last layer first), the gradient first goes wrong.

    Two tensors of one layer (``W2``, ``b2``) share that layer's ``dZ``: if one is right
    and the other wrong, the bug is in the wrong one's own line, not upstream. Claimed only
    where the structure supports it: a list's entries are layers only when each is a 2-D
    weight with its bias folded in (the blog's THETA; ``[b1, b2, W1, W2]`` is not six layers),
    and a tensor whose reference gradient is zero everywhere (a bias before batchnorm) says
    nothing about its layer's ``dZ``, so its being right proves nothing.
    """
    if layout.kind in ("list", "tuple") and any(len(s) != 2 for s in layout.shapes):
        return []
    wrong = {f.tensor for f in findings if f.kind == "bug" and f.tensor}
    if not wrong:
        return []
    layers: dict[int, list[str]] = {}
    for name in layout.names:
        number = layer_number(name)
        if number is not None:
            layers.setdefault(number, []).append(name)
    if len(layers) < 2 or not all(layer_number(n) is not None for n in wrong):
        return []
    silent: set[str] = set()
    if reference is not None:
        largest = layout.tensor_maxima(reference)
        overall = float(largest.max(initial=0.0))
        silent = {
            n for n, top in zip(layout.names, largest, strict=True) if overall > 0 and top <= 1e-9 * overall
        }
    out = []
    for number in sorted(layers, reverse=True):
        names = layers[number]
        bad = [n for n in names if n in wrong]
        good = [n for n in names if n not in wrong and n not in silent]
        if bad and good:
            out.append(
                Finding(
                    "bug",
                    bad[0],
                    f"{', '.join(bad)} {'is' if len(bad) == 1 else 'are'} wrong but {', '.join(good)}"
                    f" {'is' if len(good) == 1 else 'are'} right: they share layer {number}'s dZ, so the"
                    f" bug is in the line that computes d{bad[0]} itself",
                    "layer",
                )
            )
    order = [number for number in sorted(layers, reverse=True) if any(n in wrong for n in layers[number])]
    top = order[0]
    below = [n for number in order[1:] for n in layers[number] if n in wrong]
    shared_dz = [number for number in order if all(n in wrong for n in layers[number])]
    if below and top in shared_dz:
        out.append(
            Finding(
                "bug",
                layers[top][0],
                f"in backprop order the gradient first goes wrong at layer {top}"
                f" ({', '.join(n for n in layers[top] if n in wrong)}); {', '.join(below)} below it"
                " may only inherit its error",
                "layer",
            )
        )
    return out


def bias_axis(name: str, g_b: np.ndarray, dz_reference: np.ndarray) -> Finding | None:
    """A bias gradient summed over examples' units instead of over examples, if that is what it is.

    ``dz_reference`` is dJ/dZ of the bias's layer, shape ``(n, m)``; the right gradient sums
    it over axis 1. Only a square ``dZ`` (n = m) lets the wrong sum keep the shape.
    """
    wrong_sum = np.sum(dz_reference, axis=0)
    if wrong_sum.size != g_b.size:
        return None
    flat = np.ravel(g_b)
    if np.linalg.norm(flat - wrong_sum) <= 1e-6 * max(float(np.linalg.norm(flat)), 1e-300):
        return Finding(
            "bug",
            name,
            f"{name} is dZ summed over the wrong axis (over units instead of examples):"
            " np.sum(dZ, axis=1, keepdims=True) sums over the examples",
            "axis",
        )
    return None


def weight_like(name: str) -> bool:
    return bool(re.fullmatch(r"(?i)(w|weights?|theta)\w*|\w*\[\d+\]", name))


def _bias_of(layout: Layout, t: int) -> int | None:
    """The bias tensor of weight ``t``'s layer (``b2`` for ``W2``, ``b`` for ``w`` or ``Wx``), if any."""
    name, number = layout.names[t], layer_number(layout.names[t])
    for u, other in enumerate(layout.names):
        if u == t or not other.lower().startswith("b"):
            continue
        if number is not None and layer_number(other) == number:
            return u
        if number is None and layer_number(other) is None and weight_like(name):
            return u
    return None


def unit_axis(layout: Layout, t: int) -> int | None:
    """The axis of a 2-D weight that indexes its layer's output units: 0 for ``W @ x``, 1 for ``x @ W``.

    Read from the layer's bias (shape ``(n, 1)``: ``W @ X`` with examples in columns; ``(n,)``
    or ``(1, n)``: ``x @ W``) or from the next or previous layer's weight (which dimension
    they share). None when the shapes leave both readings open (square weights, no bias).
    """
    shape = layout.shapes[t]
    if len(shape) != 2 or not weight_like(layout.names[t]):
        return None
    a, b = shape
    bias = _bias_of(layout, t)
    if bias is not None:
        bs = tuple(layout.shapes[bias])
        size = int(np.prod(bs))
        if a != b:
            return 0 if size == a else 1 if size == b else None
        return 0 if bs == (a, 1) else 1 if bs in ((b,), (1, b)) else None
    number = layer_number(layout.names[t])
    votes = set()
    for u, other in enumerate(layout.names):
        n2, s2 = layer_number(other), layout.shapes[u]
        if u == t or number is None or n2 is None or len(s2) != 2 or not weight_like(other):
            continue
        if n2 == number + 1:  # the next layer reads this one's outputs
            votes |= {0} if s2[1] == a and s2[0] != b else {1} if s2[0] == b and s2[1] != a else set()
        if n2 == number - 1:
            votes |= {0} if s2[0] == b and s2[1] != a else {1} if s2[1] == a and s2[0] != b else set()
    return votes.pop() if len(votes) == 1 else None
