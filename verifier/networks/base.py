"""The interface every network offers, and the validation helpers they share."""

from __future__ import annotations

from types import ModuleType
from typing import Any, Protocol, runtime_checkable

import autograd.numpy as anp
import numpy as np

from ..errors import InputError


@runtime_checkable
class Network(Protocol):
    """What :func:`verifier.check_network` and the suite rely on.

    ``cost`` is written with ``autograd.numpy`` (so finite differences and
    autograd differentiate the same code); ``backward`` is written by hand in
    plain numpy and returns gradients in the same container as ``params``.
    """

    loss: str

    def init_params(self, rng: np.random.Generator) -> Any: ...

    def cost(self, params: Any, X: Any, Y: Any) -> float: ...

    def backward(self, params: Any, X: Any, Y: Any) -> Any: ...

    def example_data(self, rng: np.random.Generator) -> tuple[Any, Any]: ...


def array_module(*values: Any) -> ModuleType:
    """``numpy`` when every value is a plain number or ndarray, else ``autograd.numpy``.

    A cost written once serves both: autograd traces it through ``autograd.numpy``, and the
    many untraced evaluations of a check skip autograd's wrappers, which on small arrays
    cost as much as the arithmetic.
    """
    for v in values:
        if not isinstance(v, (np.ndarray, float, int, np.generic)):
            return anp
    return np


def layer_sizes(sizes: Any, argument: str) -> tuple[int, ...]:
    """Validate a list of layer sizes: at least two positive integers."""
    try:
        items = list(sizes)
    except TypeError:
        raise InputError(f"`{argument}`: expected a list of layer sizes, got {sizes!r}.") from None
    if len(items) < 2:
        raise InputError(f"`{argument}`: expected at least two layer sizes (input and output), got {items}.")
    out = []
    for i, n in enumerate(items):
        if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)):
            raise InputError(f"`{argument}[{i}]`: expected a positive integer, got {n!r}.")
        if n < 1:
            raise InputError(f"`{argument}[{i}]`: expected a positive integer, got {n}.")
        out.append(int(n))
    return tuple(out)


def data_array(value: Any, argument: str, shape: tuple[int | None, ...], meaning: str) -> np.ndarray:
    """Validate a data array's shape (``None`` matches any size); return it as an array."""
    arr = value if hasattr(value, "shape") and hasattr(value, "dtype") else np.asarray(value)
    got = arr.shape
    ok = len(got) == len(shape)
    for s, d in zip(shape, got, strict=False):  # not all(genexpr): this runs at every evaluation
        ok = ok and (s is None or s == d)
    if not ok:
        want = "(" + ", ".join("m" if s is None else str(s) for s in shape) + ")"
        raise InputError(f"`{argument}`: expected shape {want} ({meaning}), got {tuple(arr.shape)}.")
    if arr.dtype.kind not in "fiub" and not hasattr(arr, "_value"):
        raise InputError(f"`{argument}`: expected numbers, got dtype {arr.dtype}.")
    return arr


def param_shapes(params: Any, expected: dict[Any, tuple[int, ...]], argument: str = "params") -> None:
    """Check that ``params[k].shape == expected[k]`` for every key, naming the first mismatch."""
    for key, shape in expected.items():
        try:
            value = params[key]
        except (KeyError, IndexError, TypeError):
            raise InputError(f"`{argument}`: missing {key!r}; expected keys {list(expected)}.") from None
        got = value.shape if isinstance(value, np.ndarray) else tuple(np.shape(value))
        if got != shape:
            raise InputError(f"`{argument}[{key!r}]`: expected shape {shape}, got {got}.")
