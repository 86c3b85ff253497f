"""Loading a user's module and data for ``verifier check``."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from .errors import InputError


def load_module(path: str) -> ModuleType:
    """Import a Python file by path (its folder goes on ``sys.path`` so its own imports work)."""
    file = Path(path)
    if not file.is_file():
        raise InputError(f"no Python file {path!r}.")
    spec = importlib.util.spec_from_file_location(file.stem, file)
    if spec is None or spec.loader is None:
        raise InputError(f"{path!r} cannot be imported as a Python module.")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(file.parent.resolve()))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.pop(0)
    return module


def load_data(path: str) -> dict[str, Any]:
    """``X``, ``Y`` and the parameters from an ``.npz``: a dict, or a list for ``THETA0, THETA1, ...``."""
    with np.load(path) as data:
        arrays = {k: np.asarray(data[k]) for k in data.files}
    for key in ("X", "Y"):
        if key not in arrays:
            raise InputError(f"`--data` {path!r} has no array {key!r}; it has {sorted(arrays)}.")
    X, Y = arrays.pop("X"), arrays.pop("Y")
    if not arrays:
        raise InputError(f"`--data` {path!r} has no parameter arrays besides X and Y.")
    numbered = {int(m.group(1)): v for k, v in arrays.items() if (m := re.fullmatch(r"(?i)theta_?(\d+)", k))}
    if len(numbered) == len(arrays):
        return {"X": X, "Y": Y, "params": [numbered[i] for i in sorted(numbered)]}
    return {"X": X, "Y": Y, "params": arrays}
