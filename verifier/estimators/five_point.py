"""The five-point stencil: the one pass that reduces its costs to what a bound needs
(:class:`Stats`), and the value, error bound, kink test and one-sided slopes read from it
(:class:`FivePoint`).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ..core.objective import EPS

#: Stencil offsets in units of the step.
OFFSETS = np.array([-2.0, -1.0, 1.0, 2.0])


#: The same with the base point, as a column: one row per point.
POINTS = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])[:, None]


#: The fourth difference over the five points, over 8.
FOURTH_EIGHTH = np.array([1.0, -4.0, 6.0, -4.0, 1.0]) / 8


class FivePoint(NamedTuple):
    """The centred difference at each column of a five-point stencil, with its bound."""

    value: np.ndarray  #: D(h)
    error: np.ndarray  #: the bound (see the module notes)
    nominal: np.ndarray  #: the bound without the kink allowance 1.5 K
    kink: np.ndarray  #: bool: a change of slope inside the stencil
    roundoff: np.ndarray  #: the round-off part, over the step
    lo: np.ndarray  #: the smaller one-sided slope next to theta
    hi: np.ndarray  #: the larger one
    curvature: np.ndarray  #: the smaller change of slope on either side: the error of lo and hi


class Stats(NamedTuple):
    """What a five-point stencil says of each element whatever the noise level: its bound at
    any ``delta`` follows (:func:`bounds`), so the costs themselves need not be kept."""

    value: np.ndarray  #: D(h)
    richardson: np.ndarray  #: |D(2h) - D(h)|
    third: np.ndarray  #: K, the largest third difference of the one-sided slopes
    fourth: np.ndarray  #: the fourth difference of the costs, over 8
    fmax: np.ndarray  #: the largest |cost| of the stencil
    step: np.ndarray  #: h
    lo: np.ndarray
    hi: np.ndarray
    bent: np.ndarray  #: the smaller change of slope on either side

    @classmethod
    def empty(cls, n: int) -> Stats:
        return cls(*(np.full(n, np.nan) for _ in cls._fields))

    def take(self, at: Any) -> Stats:
        return Stats(*(f[at] for f in self))

    def put(self, at: Any, other: Stats) -> None:
        for mine, theirs in zip(self, other, strict=True):
            mine[at] = theirs


def stats(F: np.ndarray, X: np.ndarray) -> Stats:
    """The :class:`Stats` of five-point stencils: ``F``, ``X`` of shape (5, n), rows ``-2h ... 2h``."""
    with np.errstate(invalid="ignore", divide="ignore"):
        slopes = (F[1:] - F[:-1]) / (X[1:] - X[:-1])  # s_-2, s_-1, s_+1, s_+2
        d1, d2 = (F[3:] - F[1::-1]) / (X[3:] - X[1::-1])  # D(h), D(2h)
        bends = slopes[1:] - slopes[:-1]
        thirds = np.abs(bends[1:] - bends[:-1])
        bent = np.abs(bends)
        return Stats(
            d1,
            np.abs(d2 - d1),
            np.maximum(thirds[0], thirds[1]),
            # pure round-off for a smooth cost (f^(4) h^4 is ~1e-21): a per-element observation
            # of noise the sampled level may have missed
            np.abs(FOURTH_EIGHTH @ F),
            np.maximum.reduce(np.abs(F), axis=0),
            X[3],
            np.minimum(slopes[1], slopes[2]),
            np.maximum(slopes[1], slopes[2]),
            np.minimum(bent[2], bent[0]),
        )


def bounds(st: Stats, delta: float) -> FivePoint:
    """The one error rule of a five-point stencil, at the noise level ``delta``."""
    with np.errstate(invalid="ignore", divide="ignore"):
        # round-off of each cost value: the measured level, or eps-scaled by the values seen
        dj = np.maximum(delta, 4 * EPS * st.fmax)
        kink = st.third > 8 * st.richardson + 16 * dj / st.step
        roundoff = np.where(kink, dj, np.maximum(dj, st.fourth)) / st.step
        nominal = 3 * st.richardson + 2 * roundoff
        return FivePoint(st.value, nominal + 1.5 * st.third, nominal, kink, roundoff, st.lo, st.hi, st.bent)


def five_point(F: np.ndarray, X: np.ndarray, delta: float) -> FivePoint:
    """The one error rule of a five-point stencil: per-element checks and directions alike.

    Parameters
    ----------
    F, X : ndarray, shape (5, n)
        Costs and the offsets they were taken at, rows ``-2h, -h, 0, h, 2h`` (row 2 of ``X``
        is zero, of ``F`` the cost at the point).
    delta : float
        The cost's absolute round-off level.
    """
    return bounds(stats(F, X), delta)
