"""The interface every network offers, and the validation helpers they share."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
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

    The optional hooks below have defaults here: the built-in networks inherit them, and a
    network that does not subclass this one gets them through :func:`hooks`.
    """

    loss: str

    def init_params(self, rng: np.random.Generator) -> Any: ...

    def cost(self, params: Any, X: Any, Y: Any) -> float: ...

    def backward(self, params: Any, X: Any, Y: Any) -> Any: ...

    # the optional hooks, with their defaults

    #: Whether each evaluation of the cost replays the same randomness (a dropout network's masks).
    replay: bool = True

    def example_data(self, rng: np.random.Generator, m: Any = None) -> tuple[Any, Any] | None:
        """Fresh data of ``m`` examples for another check point; None when the network has none."""
        return None

    def describe(self, params: Any, X: Any, Y: Any) -> dict[str, Any]:
        """Notes on the point (saturated units, dead ReLUs, ...) for the report's context."""
        return {}

    def batch_stencil(self, params: Any, X: Any, Y: Any, layout: Any, theta: np.ndarray) -> Any:
        """Perturbed costs many at a time (what the centred estimator takes as ``stencil``), or None."""
        return None


@dataclass(frozen=True)
class Hooks:
    """A network's optional hooks: its own where it has them, else :class:`Network`'s defaults."""

    example_data: Callable[..., tuple[Any, Any] | None]
    describe: Callable[[Any, Any, Any], dict[str, Any]]
    batch_stencil: Callable[..., Any]


def hooks(net: Any) -> Hooks:
    """The optional hooks of ``net``, which need not subclass :class:`Network` (a user's network)."""

    def own(name: str) -> Callable[..., Any]:
        found = getattr(net, name, None)
        return found if callable(found) else functools.partial(getattr(Network, name), net)

    return Hooks(own("example_data"), own("describe"), own("batch_stencil"))


def loss_from_logits(Z: Any, Y: Any, form: str) -> Any:
    """Per-entry cross-entropy from the logits, in either cost form (numpy or autograd arrays).

    The one definition of the loss: the cost traces it, the batch stencil evaluates it.
    """
    xp = array_module(Z, Y)
    if form == "stable":
        # Y log(1 + e^-Z) + (1 - Y) log(1 + e^Z) = t + (max(Z, 0) - Y Z), t = log(1 + e^-|Z|):
        # accurate for any Z, the small t added on its own (logaddexp(0, Z) - Y Z would
        # lose it when Y = 1 and Z is large), one transcendental
        if Z.dtype.kind == "c":  # |Z| and max(Z, 0) would silently drop the imaginary part
            raise TypeError("the stable cross-entropy is not complex-analytic (it takes |Z| and max(Z, 0))")
        return xp.log1p(xp.exp(-xp.abs(Z))) + (xp.maximum(Z, 0.0) - Y * Z)
    # overflow here means a sigmoid output of exactly 0 or 1: the cost is infinite, and the
    # checker says so (CostError) more usefully than a RuntimeWarning would
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        A = 1.0 / (1.0 + xp.exp(-Z))
        return -xp.log(A) * Y - xp.log(1.0 - A) * (1.0 - Y)


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
