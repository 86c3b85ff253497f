"""Loading a user's module for ``verifier check`` (its data: :func:`~.store.load_reference`)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from ..errors import InputError


def split_target(target: str, counts: tuple[int, ...], argument: str, expected: str) -> tuple[str, list[str]]:
    """``path.py:NAME[,NAME]`` -> the path and the names, or an error naming ``argument`` and the
    ``expected`` form (``counts``: how many names the command takes)."""
    path, sep, names = str(target).rpartition(":")
    functions = [f.strip() for f in names.split(",")]
    if not sep or not path or len(functions) not in counts or not all(f.isidentifier() for f in functions):
        raise InputError(f"`{argument}`: expected {expected}, got {target!r}.")
    return path, functions


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
    except SyntaxError as exc:
        raise InputError(f"{exc.filename}:{exc.lineno}: {path!r} has a syntax error: {exc.msg}.") from None
    finally:
        sys.path.pop(0)
    return module


def function_of(module: ModuleType, path: str | Path, name: str, argument: str) -> Callable[..., Any]:
    """The function ``name`` of the module loaded from ``path``, or an error naming ``argument``
    and the functions the file has."""
    value = getattr(module, name, None)
    if not callable(value):
        found = sorted(k for k, v in vars(module).items() if callable(v) and not k.startswith("_"))
        raise InputError(f"`{argument}`: {path} has no function {name!r}; it has {found}.")
    return value
