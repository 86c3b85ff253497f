"""A cost's value read as one float64 (or complex) number, with an error that names where it came
from.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import CostError


def cost_value(value: Any, *, where: str) -> float:
    """Convert what a cost returned into a float, or raise :class:`CostError` saying why."""
    if type(value) is float or type(value) is np.float64:  # the usual case, quickly
        return float(value)
    if isinstance(value, (bool, np.bool_)):
        raise CostError(f"`cost` returned a boolean {where}; it must return one real number.")
    if isinstance(value, tuple):
        hint = (
            " It looks like the notebook's forward_propagation_n, which returns (cost, cache):"
            " pass `lambda p: forward(X, Y, p)[0]`, or use verifier.frontends.adapters.from_notebook."
            if len(value) == 2
            else ""
        )
        raise CostError(
            f"`cost` returned a tuple of {len(value)} items {where}; it must return one real number.{hint}"
        )
    try:
        arr = np.asarray(value)
    except ValueError:
        raise CostError(
            f"`cost` returned {type(value).__name__} {where}; expected one real number."
        ) from None
    if arr.ndim != 0:
        raise CostError(
            f"`cost` returned an array of shape {arr.shape} {where}; it must return one real"
            " number (reduce it with np.sum or np.mean)."
        )
    if arr.dtype.kind not in "fiu":
        raise CostError(f"`cost` returned {type(value).__name__} {where}; expected a real number.")
    return float(arr)


def _complex_value(value: Any, *, where: str) -> Any:
    """A complex cost value (the complex step); a real one means the cost dropped the imaginary part."""
    arr = np.asarray(value)
    if arr.ndim != 0 or arr.dtype.kind != "c":
        raise CostError(
            f"`cost` returned {arr.dtype} of shape {arr.shape} {where} on complex input: it drops the"
            " imaginary part (float(), np.real, abs)"
        )
    return arr
