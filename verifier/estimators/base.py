"""What every gradient source returns: values with its own error bound."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Estimate:
    """A reference gradient from one method, flat, with its own error bound.

    Attributes
    ----------
    method : str
        ``"centered"``, ``"scipy"`` or ``"autograd"``.
    values : ndarray, shape (P,)
        The estimated gradient (NaN where the method could not produce a value).
    error : ndarray, shape (P,)
        An upper bound on ``|values - true gradient|`` per element, from the
        method's own error analysis (inf where unknown). Two values agree when
        they differ by no more than the sum of their bounds.
    nfev : int
        Cost evaluations (or gradient passes, for autograd) this method used.
    seconds : float
        Wall time spent.
    available : bool
        False when the method could not run; ``reason`` says why.
    reason : str
        Why the method is unavailable, or a note on how its bound was formed.
    kink : ndarray of bool, shape (P,), optional
        Elements where the stencil saw a change of slope (a kink such as ReLU at 0)
        within the step.
    lo, hi : ndarray, shape (P,), optional
        One-sided slopes at each element (left and right derivative, sorted):
        at a kink any value between them is a valid subgradient.
    interval_error : ndarray, shape (P,), optional
        Error bound on ``lo`` and ``hi``.
    nominal_error : ndarray, shape (P,), optional
        The bound without its allowance for kinks: a value beyond it (but within
        ``error``) is reported as the method disagreeing, explained by the kink.
    noise_dominated : ndarray of bool, shape (P,), optional
        Elements whose bound is dominated by the cost's round-off.
    sampled : ndarray of int, optional
        When the method checked only some elements one by one: which.
    curvature : ndarray, shape (P,), optional
        ``|f''|`` per element from the centred stencil's one-sided slopes (infinite where
        unknown): the truncation of another method's difference, without more evaluations.
    intermediates : dict of str to ndarray, optional
        autograd only: the gradient of the cost with respect to values the forward assigns
        (``Z2``, ``A1``: the ones asked for, and every ``Z<k>``), from the same trace.
    forward_values : dict of str to ndarray, optional
        autograd only: the forward's own ``Z<k>`` and ``A<k>`` values (dead units).
    extra : dict
        Method-specific headline numbers (e.g. scipy's ``check_grad`` norm).
    """

    method: str
    values: np.ndarray
    error: np.ndarray
    nfev: int = 0
    seconds: float = 0.0
    available: bool = True
    reason: str = ""
    kink: np.ndarray | None = None
    lo: np.ndarray | None = None
    hi: np.ndarray | None = None
    interval_error: np.ndarray | None = None
    nominal_error: np.ndarray | None = None
    sampled: np.ndarray | None = None
    noise_dominated: np.ndarray | None = None
    curvature: np.ndarray | None = None
    intermediates: dict[str, np.ndarray] | None = None
    forward_values: dict[str, np.ndarray] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def unavailable(cls, method: str, size: int, reason: str, **kw: Any) -> Estimate:
        """An estimate that carries no values, only the reason."""
        nan = np.full(size, np.nan)
        return cls(method, nan, np.full(size, np.inf), available=False, reason=reason, **kw)
