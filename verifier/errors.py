"""The project's exceptions.

Bad input is a :class:`InputError`, a subclass of :class:`ValueError`, whose
message names the argument, the key and what was expected. A failed check is
*not* an exception: it is a :class:`verifier.Report` whose ``status`` is
``"fail"``.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import site
import sys
import sysconfig
import traceback
from pathlib import Path


class InputError(ValueError):
    """An argument was not what the verifier can work with."""


class CostError(InputError):
    """The cost function returned something other than one finite real number."""


class ReferenceUnavailable(RuntimeError):
    """autograd could not produce a trustworthy reference gradient for this cost."""


class NonDeterministicCostWarning(UserWarning):
    """The same parameters gave two different costs: finite differences are meaningless."""


class PrecisionWarning(UserWarning):
    """Parameters arrived in a precision too low for finite differences (e.g. float32)."""


#: This package's module written as users write code (the published examples), besides the networks.
USER_MODULE = "frontends/published.py"

#: This package's own directory, as imported and with its links resolved.
_PACKAGE = frozenset({os.path.dirname(os.path.abspath(__file__)), str(Path(__file__).resolve().parent)})


def is_user_file(filename: str) -> bool:
    """Whether ``filename`` holds the user's own code, decided by where its module comes from.

    Not the user's: this package's machinery (its seeds and built-in networks, written as users
    write code, count as the user's, installed or not), the standard library, and every file
    of a distribution installed into one of the interpreter's site directories (numpy, scipy,
    autograd, ...; see :data:`_SITE_DIRS`), found through :mod:`importlib.metadata`.
    Everything else is the user's: a script or project anywhere (under a ``site-packages``
    folder too, when no distribution owns it; a project holding its own ``*.egg-info`` from
    ``pip install -e .`` too, since that metadata does not live in a site directory), a
    notebook cell (``<ipython-input-...>``), source exec'd under any pseudo-file name
    (``<string>``, ``<student>``, ...) except the interpreter's and libraries' own
    (:data:`_LIBRARY_PSEUDO_FILES`).

    It runs for every frame and function a trace sees, so each answer is kept per file name,
    per ``sys.path`` and per set of site directories (the distributions' files are listed once
    per ``sys.path``).
    """
    return _is_user_file(filename, tuple(sys.path), _SITE_DIRS)


def in_package_networks(filename: str) -> bool:
    """Whether ``filename`` is one of this package's built-in networks (:mod:`verifier.networks`)."""
    part = _package_part(filename)
    return part is not None and part.startswith("networks/")


#: Pseudo-file names of code that is not the user's: the interpreter's frozen modules, numpy's
#: ``__array_function__`` dispatchers (numpy < 1.25) and the wrappers the ``decorator`` package
#: generates (IPython's magics). Any other ``<...>`` name is source the user had exec'd.
_LIBRARY_PSEUDO_FILES = ("<frozen ", "<__array_function__ internals>", "<decorator-gen-")


def _site_dirs() -> frozenset[str]:
    """The real paths of the interpreter's site directories: where installers put distributions
    (``sysconfig``'s purelib and platlib, :func:`site.getsitepackages`, the user site)."""
    paths = sysconfig.get_paths()
    found = [paths["purelib"], paths["platlib"], *site.getsitepackages(), site.getusersitepackages()]
    return frozenset(os.path.realpath(p) for p in found if p)


#: The interpreter's site directories (see :func:`_site_dirs`): only distributions whose metadata
#: lives in one own library files, not a project's ``*.egg-info`` that ``sys.path`` reaches.
_SITE_DIRS = _site_dirs()


@functools.lru_cache(maxsize=4096)
def _is_user_file(filename: str, path: tuple[str, ...], sites: frozenset[str]) -> bool:
    if not filename:
        return False
    if filename.startswith("<"):
        return not filename.startswith(_LIBRARY_PSEUDO_FILES)
    part = _package_part(filename)
    if part is not None:
        return part == USER_MODULE or part.startswith("networks/")
    full = os.path.realpath(filename)
    roots = _distribution_roots(_site_entries(path, sites))
    ancestor = full
    while True:
        if ancestor in roots:
            return False
        parent = os.path.dirname(ancestor)
        if parent == ancestor:
            break
        ancestor = parent
    return not _in_stdlib(full)


@functools.lru_cache(maxsize=4096)
def _package_part(filename: str) -> str | None:
    """The path of ``filename`` inside this package, with ``/`` between its parts
    (``"networks/xor.py"``, ``"api.py"``), or None outside it."""
    if not filename or filename.startswith("<"):
        return None
    for form in {os.path.abspath(filename), os.path.realpath(filename)}:
        for root in _PACKAGE:
            if form.startswith(root + os.sep):
                return form[len(root) + 1 :].replace(os.sep, "/")
    return None


@functools.lru_cache(maxsize=8)
def _site_entries(path: tuple[str, ...], sites: frozenset[str]) -> tuple[str, ...]:
    """The entries of ``path`` that are site directories (of ``sites``, compared as real paths)."""
    return tuple(entry for entry in path if os.path.realpath(entry or os.curdir) in sites)


@functools.lru_cache(maxsize=8)
def _distribution_roots(path: tuple[str, ...]) -> frozenset[str]:
    """The real paths of the top-level packages and modules the distributions installed in the
    directories ``path`` own (from each one's list of files, else its ``top_level.txt``)."""
    roots: set[str] = set()
    for dist in importlib.metadata.distributions(path=list(path)):
        try:
            files = dist.files or []
            listed = {f.parts[0] for f in files if f.parts}
            names = listed or set((dist.read_text("top_level.txt") or "").split())
        except (OSError, ValueError):  # a broken install: its files are not known
            continue
        for name in names:
            if name in ("..", "__pycache__") or name.endswith((".dist-info", ".egg-info", ".pth")):
                continue
            for located in (name,) if listed else (name, name + ".py"):
                roots.add(os.path.realpath(str(dist.locate_file(located))))
    return frozenset(roots)


#: The standard library's directories (a virtual environment's own holds only its site-packages).
_STDLIB_DIRS = frozenset(os.path.realpath(sysconfig.get_paths()[key]) for key in ("stdlib", "platstdlib"))


def _in_stdlib(full: str) -> bool:
    """Whether the real path ``full`` is a standard-library module's file: inside the standard
    library's directory, under a name of :data:`sys.stdlib_module_names` (or its extension
    modules' folder), so that a ``site-packages`` within it is not the standard library."""
    for root in _STDLIB_DIRS:
        if full.startswith(root + os.sep):
            top = full[len(root) + 1 :].split(os.sep, 1)[0]
            name = top.split(".", 1)[0]
            return top == "lib-dynload" or name in sys.stdlib_module_names
    return False


def user_frame(exc: BaseException) -> traceback.FrameSummary | None:
    """The innermost frame of ``exc``'s traceback in the user's own code (see :func:`is_user_file`)."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if is_user_file(frame.filename):
            return frame
    return None


def where_raised(exc: BaseException) -> str | None:
    """``file:line in function`` of the innermost frame of ``exc`` in the user's own code, or None."""
    frame = user_frame(exc)
    return None if frame is None else f"{frame.filename}:{frame.lineno} in {frame.name}"
