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


def centered(objective: Objective, indices: np.ndarray | None = None, executor: Any = None) -> Estimate:
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

    Returns
    -------
    Estimate
        ``values``, ``error``, ``kink``, ``lo``/``hi`` (one-sided slopes),
        ``noise_dominated``; ``nfev = 4 * len(indices)`` (+ the shared base value).
    """
    start = time.perf_counter()
    nfev0 = objective.nfev
    size = objective.layout.size
    idx = np.arange(size) if indices is None else np.asarray(indices, dtype=np.intp)
    theta = objective.theta0 if indices is None else objective.theta0[idx]
    # the five points as rows, J(theta) in the middle: -2h, -h, 0, h, 2h (row 2 of X is exactly 0);
    # whole rows and few calls: at a few dozen elements the call overhead is the cost
    scale = objective.step_scale if indices is None else objective.step_scale[idx]
    X = (theta + POINTS * step_sizes(theta, scale)) - theta

    def stencil(at: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """The five rows of costs at the offsets (rows -2h, -h, 0, h, 2h) of elements ``at``."""
        dx = np.concatenate((offsets[:2], offsets[3:])).T
        f = objective.stencil(at, dx) if executor is None else _parallel(objective, at, dx, executor)
        F = np.empty((5, at.size))
        F[:2], F[2], F[3:] = f[:, :2].T, objective.value0, f[:, 2:].T
        return F

    F = stencil(idx, X)
    f0 = objective.value0
    delta, how = objective.noise()
    b = five_point(F, X, delta)
    # the worst noise a smooth element's stencil saw is the cost's noise in some direction, which a
    # measurement along one line can miss (a line along the level set of the noisy part)
    smooth = ~b.kink & np.isfinite(b.value)
    seen = float(np.max((b.roundoff * X[3])[smooth])) if smooth.any() else 0.0
    if seen > 2 * delta:  # the measured level carries a factor NOISE_FACTOR already
        delta, how = seen, "the largest any element's stencil saw"
        objective.raise_noise(delta, how)  # the other methods' bounds use it too
        b = five_point(F, X, delta)
    b, X = _wider_steps(b, X, theta, idx, delta, stencil, objective.layout)
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(b.value + b.error)

    def full(a: np.ndarray, fill: float | bool) -> np.ndarray:
        if indices is None:
            return a
        out = np.full(size, fill, dtype=a.dtype)
        out[idx] = a
        return out

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
        reason=f"step eps^(1/3)*max(|theta|, its tensor's scale); cost noise {delta:.2g} ({how})",
        extra={"cost_noise": delta, "noise_how": how, "cost": f0},
    )
