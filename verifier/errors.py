"""The project's exceptions.

Bad input is a :class:`InputError`, a subclass of :class:`ValueError`, whose
message names the argument, the key and what was expected. A failed check is
*not* an exception: it is a :class:`verifier.Report` whose ``status`` is
``"fail"``.
"""

from __future__ import annotations


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
