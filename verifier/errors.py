"""The project's exceptions.

Bad input is a :class:`InputError`, a subclass of :class:`ValueError`, whose
message names the argument, the key and what was expected. A failed check is
*not* an exception: it is a :class:`verifier.Report` whose ``status`` is
``"fail"``.
"""

from __future__ import annotations

import os
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


_PACKAGE = str(Path(__file__).resolve().parent)
#: Files of this package that hold code written as users write it (the seeds, the networks).
_USERLIKE = (os.path.join(_PACKAGE, "seeds.py"), os.path.join(_PACKAGE, "networks") + os.sep)
#: Where the standard library lives (its files are never the user's).
_STDLIB = tuple(
    {
        str(Path(p).resolve()) + os.sep + "lib" + os.sep + "python"
        for p in (sys.base_prefix, sys.prefix, sys.exec_prefix)
    }
    | {
        os.path.abspath(p) + os.sep + "lib" + os.sep + "python"
        for p in (sys.base_prefix, sys.prefix, sys.exec_prefix)
    }
)


def is_user_file(filename: str) -> bool:
    """Whether ``filename`` holds the user's own code: not numpy, scipy, autograd, the standard
    library or this package's machinery (its seeds and networks count as user code).

    String tests only (no file-system calls): it runs for every frame and function a trace sees.
    """
    if not filename or filename.startswith("<"):
        return filename.startswith(("<ipython", "<string"))
    path = os.path.abspath(filename)
    if "site-packages" in path or "dist-packages" in path:
        return False
    if path.startswith(_PACKAGE + os.sep):
        return path == _USERLIKE[0] or path.startswith(_USERLIKE[1])
    return not path.startswith(_STDLIB)


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
