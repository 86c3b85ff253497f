"""The project's exceptions.

Bad input is a :class:`InputError`, a subclass of :class:`ValueError`, whose
message names the argument, the key and what was expected. A failed check is
*not* an exception: it is a :class:`verifier.Report` whose ``status`` is
``"fail"``.
"""

from __future__ import annotations

import sys
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


def where_raised(exc: BaseException) -> str | None:
    """``file:line in function`` of the innermost frame of ``exc`` in the user's own code.

    Frames of the verifier, of installed packages (numpy, autograd, ...) and of Python's
    standard library are passed over; None when nothing else is left.
    """
    package = str(Path(__file__).resolve().parent)
    prefixes = {str(Path(p).resolve()) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        file = str(Path(frame.filename).resolve())
        if file.startswith(package) or "site-packages" in file or frame.filename.startswith("<"):
            continue
        if "/lib/python" in file and any(file.startswith(p) for p in prefixes):
            continue
        return f"{frame.filename}:{frame.lineno} in {frame.name}"
    return None
