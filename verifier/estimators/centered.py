r"""Centered finite differences with a per-element step and a five-point error bound.

Notes
-----
For each element :math:`i` the step is

.. math:: h_i = \epsilon^{1/3} \max(|\theta_i|, s_T),

the step that balances truncation (:math:`\propto h^2`) against round-off
(:math:`\propto \epsilon / h`) for a centred difference in float64
(:math:`\epsilon^{1/3} \approx 6.1 \times 10^{-6}`); :math:`s_T` is the scale of
the element's tensor (its largest magnitude, capped at 1; 1 for an all-zero
tensor). The step scales with the parameter, so an input of size :math:`10^5`
moves by a step it can feel, and parameters of size :math:`10^{-6}` by a step of
their own size. The steps actually taken are the float64 differences
``(theta + k h) - theta``.

The cost is evaluated at :math:`\theta_i + k h_i` for :math:`k = -2, -1, 1, 2`
(plus :math:`J(\theta)`, shared). The value reported is the plain centred
difference :math:`D(h) = (J_{+1} - J_{-1}) / 2h`. Its error bound is

.. math:: e_i = 3 |D(2h) - D(h)| + 1.5 K + 2 \delta / h,

* :math:`|D(2h) - D(h)| = 3 \times` the truncation error of :math:`D(h)` for a
  smooth cost (Richardson), and it also exposes noise;
* :math:`K` is the largest third difference of the four one-sided slopes. For a
  smooth cost :math:`K \approx f''' h^2`, negligible; when a kink (ReLU at 0)
  lies within the stencil :math:`K \ge \Delta / 3`, where :math:`\Delta` is the
  slope change, while :math:`D(h)` is off by at most :math:`\Delta / 2`: so the
  bound covers kinks the two-step difference cannot see (a kink right next to
  :math:`\theta` shifts :math:`D(h)` and :math:`D(2h)` equally);
* :math:`\delta` is the cost's absolute noise: the larger of the level
  measured near :math:`\theta` (:meth:`verifier.objective.Objective.noise`: along two
  coordinates, and against long double where the cost keeps it), the worst any smooth
  element's stencil saw (it raises the level for every method) and, per element, the stencil's
  fourth difference over 8 (pure round-off for a smooth cost, whose
  :math:`f^{(4)} h^4` is about :math:`10^{-21}`).

An element is flagged as a *kink* when :math:`K > 8 |D(2h) - D(h)| + 16 \delta/h`
(a smooth cost gives :math:`K \approx 2 |D(2h) - D(h)|`). The left and right
slopes :math:`(J_0 - J_{-1})/h` and :math:`(J_{+1} - J_0)/h` are kept: at a kink
any value between them is a valid (sub)gradient.
"""

from __future__ import annotations

import pickle
import time
from typing import Any, NamedTuple

import numpy as np

from ..compare import RESOLUTION
from ..errors import InputError
from ..objective import EPS, Objective, step_sizes
from .base import Estimate

#: Stencil offsets in units of the step.
OFFSETS = np.array([-2.0, -1.0, 1.0, 2.0])
#: The same with the base point, as a column: one row per point.
POINTS = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])[:, None]
#: The fourth difference over the five points, over 8.
FOURTH_EIGHTH = np.array([1.0, -4.0, 6.0, -4.0, 1.0]) / 8


#: Elements per task sent to an executor's worker.
CHUNK = 256


def _chunk_costs(cost: Any, layout: Any, theta: np.ndarray, idx: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """A worker's share: the stencil of some elements, with an objective of its own."""
    return Objective(cost, layout, theta, extended=False).stencil(idx, steps)


def _parallel(objective: Objective, idx: np.ndarray, steps: np.ndarray, executor: Any) -> np.ndarray:
    cuts = range(0, idx.size, CHUNK)
    futures = [
        executor.submit(
            _chunk_costs,
            objective.cost,
            objective.layout,
            objective.theta0,
            idx[a : a + CHUNK],
            steps[a : a + CHUNK],
        )
        for a in cuts
    ]
    try:
        values = np.concatenate([f.result() for f in futures]) if futures else np.empty(steps.shape)
    except (pickle.PicklingError, AttributeError, TypeError) as exc:
        if "pickle" not in str(exc).lower():  # the cost's own error, raised on a worker
            raise
        raise InputError(
            "`executor`: its workers could not receive the cost"
            f" ({type(exc).__name__}: {exc}). A process pool pickles the cost: define it with"
            " `def` at a module's top level (not a lambda or a function inside a function), or"
            " use a thread pool, or no executor."
        ) from None
    objective.nfev += values.size
    return values


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
    with np.errstate(invalid="ignore", divide="ignore"):
        slopes = (F[1:] - F[:-1]) / (X[1:] - X[:-1])  # s_-2, s_-1, s_+1, s_+2
        d1, d2 = (F[3:] - F[1::-1]) / (X[3:] - X[1::-1])  # D(h), D(2h)
        bends = slopes[1:] - slopes[:-1]
        thirds = np.abs(bends[1:] - bends[:-1])
        third = np.maximum(thirds[0], thirds[1])
        # round-off of each cost value: the measured level, or eps-scaled by the values seen
        dj = np.maximum(delta, 4 * EPS * np.maximum.reduce(np.abs(F), axis=0))
        step = X[3]
        richardson = np.abs(d2 - d1)
        kink = third > 8 * richardson + 16 * dj / step
        # the fourth difference is pure round-off for a smooth cost (f^(4) h^4 is ~1e-21):
        # a per-element observation of noise the sampled level may have missed
        fourth = np.abs(FOURTH_EIGHTH @ F)
        roundoff = np.where(kink, dj, np.maximum(dj, fourth)) / step
        nominal = 3 * richardson + 2 * roundoff
        bent = np.abs(bends)
        return FivePoint(
            d1,
            nominal + 1.5 * third,
            nominal,
            kink,
            roundoff,
            np.minimum(slopes[1], slopes[2]),
            np.maximum(slopes[1], slopes[2]),
            np.minimum(bent[2], bent[0]),
        )


#: Factors by which the step grows for an element whose bound round-off leaves undecided.
WIDER = (8.0, 64.0)


def _wider_steps(
    b: FivePoint,
    X: np.ndarray,
    theta: np.ndarray,
    idx: np.ndarray,
    delta: float,
    stencil: Any,
    layout: Any,
) -> tuple[FivePoint, np.ndarray]:
    """Where round-off leaves an element undecided, try steps 8 and 64 times wider.

    The step ``eps^(1/3)`` balances truncation against the round-off of a clean float64 cost;
    a noisier cost (float32 inside, a saturated log) wants a wider one: round-off falls as
    1/h, truncation grows as h^2 and the five-point bound measures both. The estimate with
    the smaller bound is kept. Only undecided, smooth, noise-dominated elements pay: four
    evaluations per element and factor.
    """
    floor: np.ndarray | None = None
    for factor in WIDER:
        with np.errstate(invalid="ignore"):
            retry = (
                ~b.kink
                & np.isfinite(b.value)
                & (b.error > RESOLUTION * np.abs(b.value))
                & (4 * b.roundoff > b.error)
            )
            if retry.any():
                # an element zero to within a bound compare accepts by its tensor's scale (a dead
                # unit) needs no retry; a small nonzero slope does: a wrong part can hide there
                if floor is None:
                    values = np.full(layout.size, np.nan)
                    values[idx] = b.value
                    floor = 1e-6 * layout.tensor_max(values)[idx]
                retry &= ~((np.abs(b.value) <= b.error) & (b.error <= floor))
        at = np.flatnonzero(retry)
        if not at.size:
            break
        Xw = (theta[at] + POINTS * (factor * X[3, at])) - theta[at]  # row 3 of X holds the step h
        wide = five_point(stencil(idx[at], Xw), Xw, delta)
        better = np.flatnonzero(wide.error < b.error[at])
        if not better.size:
            continue
        rows = at[better]
        b = FivePoint(*(np.asarray(old).copy() for old in b))
        for field, new in zip(b, wide, strict=True):
            field[rows] = new[better]
        X = X.copy()
        X[:, rows] = Xw[:, better]
    return b, X


#: A three-point difference agreeing with the hand-written value to within this part of its
#: value (beside its round-off) decides the element without the +-2h points: truncation at the
#: step eps^(1/3) |theta| is below it unless the third derivative is ~1,600 times the first.
THREE_POINT = 1e-8


def centered(
    objective: Objective,
    indices: np.ndarray | None = None,
    executor: Any = None,
    target: np.ndarray | None = None,
) -> Estimate:
    """Centred-difference gradient with its own per-element error bound.

    Parameters
    ----------
    objective : Objective
        The cost at its base point.
    indices : ndarray of int, optional
        Flat indices to estimate (default: all). Others are NaN with infinite error.
    executor : concurrent.futures.Executor, optional
        Evaluate chunks of elements on its workers (threads, processes, a dask cluster's
        ``get_executor()``). The cost must then be picklable for process-based executors.
        Results are identical to the serial run: the same arithmetic, elsewhere.
    target : ndarray, shape (P,), optional
        The hand-written gradient, flat. Given, the three-point difference at ``+-h`` comes
        first (two evaluations per element) and decides an element where it agrees with
        the target to within ``4 delta / h +`` :data:`THREE_POINT` relative, a bound the
        comparison can certify; only the other elements get the ``+-2h`` points and the
        five-point bound (and, if round-off leaves them undecided, wider steps). A
        disagreement is never decided on three points.

    Returns
    -------
    Estimate
        ``values``, ``error``, ``kink``, ``lo``/``hi`` (one-sided slopes),
        ``noise_dominated``, ``curvature`` (``|f''|`` from the one-sided slopes);
        ``nfev``: 2 per element decided on three points, 4 for the others (+ retries).
    """
    start = time.perf_counter()
    nfev0 = objective.nfev
    layout = objective.layout
    size = layout.size
    idx = np.arange(size) if indices is None else np.asarray(indices, dtype=np.intp)
    theta = objective.theta0 if indices is None else objective.theta0[idx]
    # the five points as rows, J(theta) in the middle: -2h, -h, 0, h, 2h (row 2 of X is exactly 0);
    # whole rows and few calls: at a few dozen elements the call overhead is the cost
    scale = objective.step_scale if indices is None else objective.step_scale[idx]
    X = (theta + POINTS * step_sizes(theta, scale)) - theta

    def costs(at: np.ndarray, rows: list[int], offsets: np.ndarray) -> np.ndarray:
        """Costs at the given rows of the offsets (of elements ``at``), one row per offset."""
        dx = offsets[rows].T
        f = objective.stencil(at, dx) if executor is None else _parallel(objective, at, dx, executor)
        return f.T

    def stencil(at: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """The five rows of costs at the offsets (rows -2h, -h, 0, h, 2h) of elements ``at``."""
        F = np.empty((5, at.size))
        F[[0, 1, 3, 4]], F[2] = costs(at, [0, 1, 3, 4], offsets), objective.value0
        return F

    F = np.full((5, idx.size), np.nan)
    F[2] = objective.value0
    open_ = np.arange(idx.size)
    decided = np.zeros(idx.size, dtype=bool)
    delta, how = objective.noise()
    if target is not None:
        F[[1, 3]] = costs(idx, [1, 3], X)
        three = _three_point(F, X, delta, target, layout, idx)
        decided = three.decided
        open_ = np.flatnonzero(~decided)
    if open_.size:
        F[:, open_] = stencil(idx[open_], X[:, open_]) if target is None else _outer(F, X, open_, idx, costs)
    b = five_point(F, X, delta)
    # the worst noise a smooth element's stencil saw is the cost's noise in some direction, which a
    # measurement along one line can miss (a line along the level set of the noisy part)
    smooth = ~b.kink & np.isfinite(b.value) & ~decided
    seen = float(np.max((b.roundoff * X[3])[smooth])) if smooth.any() else 0.0
    if seen > 2 * delta:  # the measured level carries a factor NOISE_FACTOR already
        delta, how = seen, "the largest any element's stencil saw"
        objective.raise_noise(delta, how)  # the other methods' bounds use it too
        b = five_point(F, X, delta)
    if target is not None and decided.any():
        b = _with_three_point(b, three, decided)
    if open_.size:
        sub = FivePoint(*(np.asarray(f)[open_] for f in b))
        sub, Xo = _wider_steps(sub, X[:, open_], theta[open_], idx[open_], delta, stencil, layout)
        b = FivePoint(*(np.asarray(f).copy() for f in b))
        for field, new in zip(b, sub, strict=True):
            field[open_] = new
        X = X.copy()
        X[:, open_] = Xo
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(b.value + b.error)
        curvature = np.abs(b.hi - b.lo) / X[3]

    def full(a: np.ndarray, fill: float | bool) -> np.ndarray:
        if indices is None:
            return a
        out = np.full(size, fill, dtype=a.dtype)
        out[idx] = a
        return out

    three_note = (
        f"; {int(decided.sum())} of {idx.size} elements decided on three points" if target is not None else ""
    )
    return Estimate(
        "centered",
        full(np.where(finite, b.value, np.nan), np.nan),
        full(np.where(finite, b.error, np.inf), np.inf),
        nfev=objective.nfev - nfev0,
        seconds=time.perf_counter() - start,
        kink=full(b.kink & finite, False),
        lo=full(b.lo, np.nan),
        hi=full(b.hi, np.nan),
        interval_error=full(b.curvature + 2 * b.roundoff, np.inf),
        nominal_error=full(b.nominal, np.inf),
        sampled=None if indices is None else idx,
        noise_dominated=full((4 * b.roundoff > b.error) & (b.error > 0), False),
        curvature=full(np.where(finite, curvature, np.inf), np.inf),
        reason=f"step eps^(1/3)*max(|theta|, its tensor's scale); cost noise {delta:.2g} ({how}){three_note}",
        extra={"cost_noise": delta, "noise_how": how, "cost": objective.value0},
    )


class ThreePoint(NamedTuple):
    """The centred difference on +-h alone, and which elements it decides."""

    value: np.ndarray
    error: np.ndarray
    roundoff: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    decided: np.ndarray


def _three_point(
    F: np.ndarray, X: np.ndarray, delta: float, target: np.ndarray, layout: Any, idx: np.ndarray
) -> ThreePoint:
    """D(h) from rows -h, 0, +h of ``F``; decided where it agrees with the target tightly."""
    with np.errstate(invalid="ignore", divide="ignore"):
        step = X[3]
        value = (F[3] - F[1]) / (X[3] - X[1])
        left, right = (F[2] - F[1]) / (X[2] - X[1]), (F[3] - F[2]) / (X[3] - X[2])
        dj = np.maximum(delta, 4 * EPS * np.maximum.reduce(np.abs(F[1:4]), axis=0))
        roundoff = dj / step
        t = target[idx]
        magnitude = np.maximum(np.abs(value), np.abs(t))
        error = 4 * roundoff + THREE_POINT * magnitude
        # certifiable by compare's rule: within the resolution of the value, or of its tensor
        values = np.where(np.isfinite(t), np.abs(t), 0.0)
        full = np.zeros(layout.size)
        full[idx] = values
        floor = 1e-6 * layout.tensor_max(full)[idx]
        decided = (
            np.isfinite(value)
            & np.isfinite(t)
            & (np.abs(value - t) <= error)
            & (error <= np.maximum(RESOLUTION * magnitude, floor))
        )
    return ThreePoint(value, error, roundoff, np.minimum(left, right), np.maximum(left, right), decided)


def _outer(F: np.ndarray, X: np.ndarray, open_: np.ndarray, idx: np.ndarray, costs: Any) -> np.ndarray:
    """The five rows of the open elements, adding the +-2h points to the three taken."""
    out = F[:, open_].copy()
    out[[0, 4]] = costs(idx[open_], [0, 4], X[:, open_])
    return out


def _with_three_point(b: FivePoint, three: ThreePoint, decided: np.ndarray) -> FivePoint:
    """The five-point results, with the elements decided on three points put in."""
    b = FivePoint(*(np.asarray(f).copy() for f in b))
    b.value[decided] = three.value[decided]
    b.error[decided] = three.error[decided]
    b.nominal[decided] = three.error[decided]
    b.kink[decided] = False
    b.roundoff[decided] = three.roundoff[decided]
    b.lo[decided] = three.lo[decided]
    b.hi[decided] = three.hi[decided]
    b.curvature[decided] = 0.0
    return b
