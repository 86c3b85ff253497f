"""Validation at the door: every public argument that is not a parameter structure.

Each function takes the value and the argument's name, and returns the value in the form
the library works with, or raises :class:`~verifier.errors.InputError` whose message names
the argument, what was expected and what came. Parameter structures are validated in
:mod:`verifier.core.params`, which owns them.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from .errors import InputError

#: Every method a check can use; the first three run by default, the complex step
#: when asked for, and on its own on elements no other method could decide.
METHODS = ("centered", "scipy", "autograd", "complex")
DEFAULT_METHODS = ("centered", "scipy", "autograd")
MODES = ("full", "fast")
#: What ``context`` may say about the network, for the diagnosis.
CONTEXT_KEYS = ("m", "loss", "notes", "name")
LOSSES = ("mse", "cross-entropy")


def shown(value: Any) -> str:
    """A short description of a value for an error message: its repr, cut, and its type."""
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def is_int(value: Any) -> bool:
    """A Python or numpy integer, not a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def integer(value: Any, argument: str, *, minimum: int = 0) -> int:
    """An integer ``>= minimum`` (``bool`` is not an integer here)."""
    if not is_int(value) or value < minimum:
        what = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise InputError(f"`{argument}`: expected {what}, got {shown(value)}.")
    return int(value)


def seed(value: Any, argument: str = "seed") -> int:
    """A seed for ``numpy.random.default_rng``: a non-negative integer."""
    return integer(value, argument, minimum=0)


def real(value: Any, argument: str) -> float:
    """A finite real number, of any sign."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    if not ok or not math.isfinite(float(value)):
        raise InputError(f"`{argument}`: expected a finite real number, got {shown(value)}.")
    return float(value)


def number(value: Any, argument: str) -> float:
    """A finite real number ``> 0``."""
    try:
        x = real(value, argument)
    except InputError:
        x = math.nan
    if not x > 0:
        raise InputError(f"`{argument}`: expected a positive finite number, got {shown(value)}.") from None
    return x


def tolerance(value: Any, argument: str) -> float:
    """A finite real number ``>= 0`` (an accepted ``rtol`` or ``atol``)."""
    try:
        x = real(value, argument)
    except InputError:
        x = math.nan
    if not x >= 0:
        raise InputError(f"`{argument}`: expected a finite number >= 0, got {shown(value)}.") from None
    return x


def flag(value: Any, argument: str, *, allow_none: bool = False) -> bool | None:
    """True or False (or None, where that means "decide for me")."""
    if value is None and allow_none:
        return None
    if not isinstance(value, (bool, np.bool_)):
        what = "True, False or None" if allow_none else "True or False"
        raise InputError(f"`{argument}`: expected {what}, got {shown(value)}.")
    return bool(value)


def choice(value: Any, argument: str, options: Sequence[str]) -> str:
    """One of ``options``."""
    if not isinstance(value, str) or value not in options:
        raise InputError(f"`{argument}`: expected one of {list(options)}, got {shown(value)}.")
    return value


def methods(value: Any, argument: str = "methods") -> tuple[str, ...]:
    """A non-empty subset of :data:`METHODS`, as a tuple (a single name is accepted)."""
    if isinstance(value, str):
        value = (value,)
    if not isinstance(value, (list, tuple, set, frozenset)):
        raise InputError(
            f"`{argument}`: expected a list of method names among {list(METHODS)}, got {shown(value)}."
        )
    chosen = tuple(value)
    unknown = [m for m in chosen if m not in METHODS]
    if unknown or not chosen:
        raise InputError(f"`{argument}`: expected a non-empty subset of {list(METHODS)}, got {list(chosen)}.")
    return chosen


def callable_(value: Any, argument: str, signature: str = "") -> Any:
    """A callable; ``signature`` says how it is called, for the message."""
    if not callable(value):
        how = f" {signature}" if signature else ""
        raise InputError(f"`{argument}` must be callable{how}, got {shown(value)}.")
    return value


def executor(value: Any, argument: str = "executor") -> Any:
    """None, or a ``concurrent.futures.Executor``-like object (a callable ``submit``)."""
    if value is not None and not callable(getattr(value, "submit", None)):
        raise InputError(
            f"`{argument}`: expected a concurrent.futures.Executor (a process pool, or a dask"
            f" client's get_executor()) with a `submit` method, got {shown(value)}."
        )
    return value


def context(value: Any, argument: str = "context") -> dict[str, Any]:
    """What the caller knows about the network: ``m``, ``loss``, ``notes`` (see :func:`verifier.check`)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InputError(
            f"`{argument}`: expected a dict with keys among {list(CONTEXT_KEYS)}, got {shown(value)}."
        )
    unknown = [k for k in value if k not in CONTEXT_KEYS]
    if unknown:
        raise InputError(f"`{argument}`: unknown keys {unknown}; expected keys among {list(CONTEXT_KEYS)}.")
    out = dict(value)
    if out.get("m") is not None:
        out["m"] = integer(out["m"], f"{argument}['m']", minimum=1)
    if out.get("loss") is not None:
        out["loss"] = choice(out["loss"], f"{argument}['loss']", LOSSES)
    if out.get("name") is not None and not (isinstance(out["name"], str) and out["name"].isidentifier()):
        raise InputError(
            f"`{argument}['name']`: expected a Python name such as 'THETA', got {shown(out['name'])}."
        )
    notes = out.get("notes")
    if notes is not None:
        if not isinstance(notes, (list, tuple)) or not all(isinstance(n, str) for n in notes):
            raise InputError(f"`{argument}['notes']`: expected a list of str, got {shown(notes)}.")
        out["notes"] = list(notes)
    return out


def generator(value: Any, argument: str = "rng") -> np.random.Generator:
    """A ``numpy.random.Generator``."""
    if not isinstance(value, np.random.Generator):
        raise InputError(
            f"`{argument}`: expected a numpy.random.Generator (np.random.default_rng(seed)),"
            f" got {shown(value)}."
        )
    return value


def data(value: Any, argument: str) -> Any:
    """A private copy of a data array (``X``, ``Y``): numbers, finite, not empty.

    The copy keeps the caller's data safe from a cost that changes its input in place.
    Non-array data (None, an object the caller's own code understands) pass unchanged.
    """
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        try:
            value = np.asarray(value)
        except ValueError:
            raise InputError(f"`{argument}`: a ragged nested list (rows of different lengths).") from None
    if not isinstance(value, np.ndarray):
        return value
    if value.dtype.kind not in "fiubc":
        raise InputError(f"`{argument}`: expected an array of numbers, got dtype {value.dtype}.")
    if value.size == 0:
        raise InputError(f"`{argument}`: the array is empty (shape {value.shape}).")
    if value.dtype.kind in "fc" and not np.isfinite(value).all():
        bad = np.argwhere(~np.isfinite(value))[0]
        where = f"[{', '.join(map(str, bad))}]"
        raise InputError(f"`{argument}`: contains NaN or infinite values (first at {argument}{where}).")
    return value.copy()


def output_path(value: Any, argument: str) -> str:
    """A path a file can be written to: its folder exists, and it is not a folder itself."""
    if not isinstance(value, (str, os.PathLike)) or not str(value):
        raise InputError(f"`{argument}`: expected a file path, got {shown(value)}.")
    path = os.fspath(value)
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        raise InputError(f"`{argument}`: cannot write {path!r}: the folder {folder!r} does not exist.")
    if os.path.isdir(path):
        raise InputError(f"`{argument}`: {path!r} is a folder; expected a file path.")
    return str(path)
