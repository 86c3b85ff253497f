"""Rebinding numpy in the user's own modules: which functions, classes and modules reachable from
the cost are the user's, and their numpy swapped for the traced namespace (restored afterwards).
"""

from __future__ import annotations

import builtins
import functools
import sys
import types
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import in_package_networks, is_user_file
from .gaps import (
    TracedNumpy,
    replacement,
    traced_float,
)


@dataclass
class Patches:
    """Module globals and closure cells rebound for a trace, with their old values."""

    globals_: list[tuple[dict[str, Any], str, Any]] = field(default_factory=list)
    added: list[tuple[dict[str, Any], str]] = field(default_factory=list)
    cells: list[tuple[Any, Any]] = field(default_factory=list)
    modules: list[str] = field(default_factory=list)

    def restore(self) -> None:
        for cell, old in reversed(self.cells):
            cell.cell_contents = old
        for namespace, name, old in reversed(self.globals_):
            namespace[name] = old
        for namespace, name in reversed(self.added):
            namespace.pop(name, None)


def _resolvable(filename: str) -> bool:
    """Whether numpy may be resolved in the module of ``filename``: the user's own code (this
    package's seeds, written as users write it, counts; its networks trace as they are)."""
    return is_user_file(filename) and not in_package_networks(filename)


class _Resolvable(dict[str, bool]):
    """:func:`_resolvable` per file, each path tested once in a resolution (a walk meets the
    same few files hundreds of times)."""

    def __missing__(self, filename: str) -> bool:
        self[filename] = _resolvable(filename)
        return self[filename]


def _user_functions(
    root: Any, resolvable: _Resolvable
) -> tuple[list[types.FunctionType], list[dict[str, Any]]]:
    """The functions (any file) and the namespaces of user modules reachable from ``root``."""
    functions: list[types.FunctionType] = []
    modules: list[types.ModuleType] = []
    namespaces_seen: list[dict[str, Any]] = []
    seen: set[int] = set()
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, functools.partial):
            stack += [obj.func, *obj.args, *obj.keywords.values()]
        elif isinstance(obj, types.MethodType):
            stack += [obj.__func__, obj.__self__]
        elif isinstance(obj, types.FunctionType):
            functions.append(obj)
            for cell in obj.__closure__ or ():
                try:
                    stack.append(cell.cell_contents)
                except ValueError:  # an empty cell
                    continue
            stack += list(obj.__defaults__ or ())
            if resolvable[obj.__code__.co_filename]:
                module = sys.modules.get(obj.__module__)
                if module is not None and vars(module) is obj.__globals__:
                    stack.append(module)
                else:  # a function from exec'd source: its globals are its module
                    stack += [v for v in obj.__globals__.values() if _worth_visiting(v)]
        elif isinstance(obj, types.ModuleType):
            if _user_module(obj, resolvable):
                modules.append(obj)
                stack += [v for v in vars(obj).values() if _worth_visiting(v)]
        elif isinstance(obj, type):
            if _user_class(obj):
                stack += [v for k, v in vars(obj).items() if not k.startswith("__") or k == "__call__"]
                stack += [v for v in vars(obj).values() if isinstance(v, (staticmethod, classmethod))]
        elif isinstance(obj, (staticmethod, classmethod)):
            stack.append(obj.__func__)
        elif isinstance(obj, property):
            stack += [obj.fget, obj.fset]
        elif isinstance(obj, dict) and "__name__" in obj and "__builtins__" in obj:  # a module's namespace
            file = obj.get("__file__") or ""
            if obj["__name__"] == "__main__" or (file and resolvable[file]):
                namespaces_seen.append(obj)
                stack += [v for v in obj.values() if _worth_visiting(v)]
        elif isinstance(obj, (list, tuple)) and len(obj) < 64:
            stack += [v for v in obj if _worth_visiting(v)]
        elif isinstance(obj, dict) and len(obj) < 64:
            stack += [v for v in obj.values() if _worth_visiting(v)]
        elif not isinstance(obj, (np.ufunc, types.BuiltinFunctionType)):
            # an instance of a user class (a layer object, a model): its class's methods, and what
            # it holds (the objects it calls: an activation, a loss)
            cls = type(obj)
            if _user_class(cls):
                held = vars(obj).values() if hasattr(obj, "__dict__") else ()
                stack += [cls, *[v for v in held if _worth_visiting(v)]]
    return functions, [vars(m) for m in modules] + namespaces_seen


_VISITED_TYPES = (
    types.FunctionType,
    types.MethodType,
    functools.partial,
    types.ModuleType,
    type,
    list,
    tuple,
    dict,
)


def _worth_visiting(value: Any) -> bool:
    return isinstance(value, _VISITED_TYPES) or (
        not isinstance(value, (np.ndarray, np.generic, str, bytes, int, float, complex))
        and _user_class(type(value))
    )


def _class_file(cls: type) -> str:
    module = sys.modules.get(getattr(cls, "__module__", ""), None)
    return getattr(module, "__file__", None) or ""


def _user_class(cls: type) -> bool:
    """Whether ``cls`` is the user's: where its methods were compiled is the user's code (a file,
    a notebook cell, source exec'd into a module without a file; see :func:`is_user_file`), or,
    for a class without methods, its module's file is."""
    if cls.__module__ in sys.builtin_module_names or cls.__module__ == "builtins":
        return False
    for value in vars(cls).values():  # where its methods were compiled: a notebook cell, exec'd code
        fn = getattr(value, "__func__", value)
        if isinstance(fn, types.FunctionType):
            return is_user_file(fn.__code__.co_filename)
    return is_user_file(_class_file(cls))


def _user_module(module: types.ModuleType, resolvable: _Resolvable) -> bool:
    """Whether numpy may be resolved in ``module``: ``__main__``, a user file's module, or a
    module without a file whose functions were compiled from the user's code (source exec'd
    into ``types.ModuleType``, as autograders and loaders do)."""
    if module.__name__ == "__main__":
        return True
    file = getattr(module, "__file__", None) or ""
    if file:
        return resolvable[file]
    spec = getattr(module, "__spec__", None)
    if module.__name__ in sys.builtin_module_names or getattr(spec, "origin", None) in ("built-in", "frozen"):
        return False
    for value in vars(module).values():
        if isinstance(value, types.FunctionType) and value.__module__ == module.__name__:
            return resolvable[value.__code__.co_filename]
    return False


def resolve_numpy(root: Any, traced: TracedNumpy) -> Patches:
    """Rebind, for a trace, the globals and closure cells of the user's functions reachable from
    ``root``: numpy to ``traced``, data arrays to :class:`DataArray`, ``float`` to
    :class:`traced_float` (see :func:`replacement`); the patches say how to undo it."""
    patches = Patches()
    resolvable = _Resolvable()
    functions, found = _user_functions(root, resolvable)
    namespaces: dict[int, dict[str, Any]] = {id(n): n for n in found}
    for fn in functions:
        if resolvable[fn.__code__.co_filename]:
            namespaces.setdefault(id(fn.__globals__), fn.__globals__)
            for cell in fn.__closure__ or ():
                try:
                    value = cell.cell_contents
                except ValueError:
                    continue
                new = replacement(value, traced)
                if new is not None:
                    patches.cells.append((cell, value))
                    cell.cell_contents = new
    for namespace in namespaces.values():
        for name, value in list(namespace.items()):
            new = None if name.startswith("__") else replacement(value, traced)
            if new is not None:
                patches.globals_.append((namespace, name, value))
                namespace[name] = new
        if "float" in namespace:
            if namespace["float"] is builtins.float:
                patches.globals_.append((namespace, "float", builtins.float))
                namespace["float"] = traced_float
        else:
            patches.added.append((namespace, "float"))
            namespace["float"] = traced_float
        patches.modules.append(str(namespace.get("__name__", "?")))
    return patches
