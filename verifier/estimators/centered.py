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
  measured near :math:`\theta` (:meth:`verifier.core.objective.Objective.noise`: along two
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

import time
from typing import Any

import numpy as np

from ..core.objective import EPS, Objective, step_sizes
from ..core.params import chunks
from ..core.tolerance import TENSOR_FLOOR, decides
from .base import Estimate
from .crossing import kink_crossed
from .five_point import POINTS, FivePoint, Stats, bounds, five_point, stats

#: Factors by which the step grows for an element whose bound round-off leaves undecided.
WIDER = (8.0, 64.0)


def _wider_steps(
    b: FivePoint,
    X: np.ndarray,
    theta: np.ndarray,
    idx: np.ndarray,
    delta: float,
    stencil: Any,
    floor: np.ndarray,
) -> tuple[FivePoint, np.ndarray]:
    """Where round-off leaves an element undecided, try steps 8 and 64 times wider.

    The step ``eps^(1/3)`` balances truncation against the round-off of a clean float64 cost;
    a noisier cost (float32 inside, a saturated log) wants a wider one: round-off falls as
    1/h, truncation grows as h^2 and the five-point bound measures both. The estimate with
    the smaller bound is kept. Only undecided, smooth, noise-dominated elements pay: four
    evaluations per element and factor. ``floor``: per element, 1e-6 of its tensor's largest
    centred value, below which an element zero to within its bound needs no retry.
    """
    for factor in WIDER:
        with np.errstate(invalid="ignore"):
            retry = (
                ~b.kink
                & np.isfinite(b.value)
                & ~decides(b.error, np.abs(b.value), 0.0)
                & (4 * b.roundoff > b.error)
            )
            # an element zero to within a bound compare accepts by its tensor's scale (a dead
            # unit) needs no retry; a small nonzero slope does: a wrong part can hide there
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
    target: np.ndarray | None = None,
    confirm: bool = True,
) -> Estimate:
    """Centred-difference gradient with its own per-element error bound.

    Parameters
    ----------
    objective : Objective
        The cost at its base point.
    indices : ndarray of int, optional
        Flat indices to estimate (default: all). Others are NaN with infinite error.
    target : ndarray, shape (P,), optional
        The hand-written gradient, flat. Given, the three-point difference at ``+-h`` comes
        first (two evaluations per element) and decides an element where it agrees with
        the target to within ``4 delta / h +`` :data:`THREE_POINT` relative, a bound the
        comparison can certify; only the other elements get the ``+-2h`` points and the
        five-point bound (and, if round-off leaves them undecided, wider steps). A
        disagreement is never decided on three points.
    confirm : bool, optional
        With a target, take the slopes that disagree with it again at a step 64 times wider
        and raise the noise level where they differ (:func:`_confirm_disagreements`; default
        True). Off near a kink (the nearby point of ``judge.kinks.settle_kinks``, which inherits
        the noise level measured here), where a wider step crosses the kink.

    Returns
    -------
    Estimate
        ``values``, ``error``, ``kink``, ``lo``/``hi`` (one-sided slopes),
        ``noise_dominated``, ``curvature`` (``|f''|`` from the one-sided slopes);
        ``nfev``: 2 per element decided on three points, 4 for the others (+ retries).

    Notes
    -----
    Elements are evaluated and reduced :data:`~verifier.core.params.CHUNK_ELEMENTS` at a time, each
    stencil reduced at once to what its bound needs at any noise level (:class:`Stats`): the working memory
    is bounded by the chunk, and the estimate itself is a dozen arrays of P numbers.
    """
    start = time.perf_counter()
    nfev0 = objective.nfev
    layout = objective.layout
    size = layout.size
    idx = np.arange(size) if indices is None else np.asarray(indices, dtype=np.intp)
    theta = objective.theta0 if indices is None else objective.theta0[idx]
    scale = objective.step_scale if indices is None else objective.step_scale[idx]
    n = idx.size
    points = _Points(objective, idx, theta, scale)
    # with a target, the three-point decisions take the floor 4 eps |J| (a stricter test than the
    # measured level); the noise is measured only if some element needs the five-point bound
    delta, how = objective.noise(measure=target is None)
    used = delta
    wanted = None if target is None else _tensor_floor(target[idx], layout, idx)
    st, decided = _three_then_five(points, target, wanted, delta)
    if not decided.all():
        delta, how = objective.noise()
    # the worst noise a smooth element's stencil saw is the cost's noise in some direction, which a
    # measurement along one line can miss (a line along the level set of the noisy part)
    seen = _largest_seen(st, decided, delta)
    if seen > 2 * delta:  # the measured level carries a factor NOISE_FACTOR already
        delta, how = seen, "the largest any element's stencil saw"
        objective.raise_noise(delta, how)  # the other methods' bounds use it too
    if target is not None and confirm:
        delta, how = _confirm_disagreements(
            objective, st, decided, (delta, how), target[idx], theta, idx, points.stencil
        )
    if target is not None and wanted is not None and delta > used:
        # a three-point decision must hold at the level finally known
        again = np.flatnonzero(decided)
        fail = again[~_decides(st.take(again), delta, target[idx[again]], wanted[again])]
        for part in (fail[sl] for sl in chunks(fail.size)):
            st.put(part, points.five(part, _offsets_at(theta, scale, part), None))
            decided[part] = False
    floor = _tensor_floor(st.value, layout, idx)
    values, error, nominal, kink, noisy, lo, hi, interval, curvature = _reduce(
        points, st, decided, delta, target, floor
    )

    def full(a: np.ndarray, fill: float | bool) -> np.ndarray:
        if indices is None:
            return a
        out = np.full(size, fill, dtype=a.dtype)
        out[idx] = a
        return out

    three_note = (
        f"; {int(decided.sum())} of {n} elements decided on three points" if target is not None else ""
    )
    return Estimate(
        "centered",
        full(values, np.nan),
        full(error, np.inf),
        nfev=objective.nfev - nfev0,
        seconds=time.perf_counter() - start,
        kink=full(kink, False),
        lo=full(lo, np.nan),
        hi=full(hi, np.nan),
        interval_error=full(interval, np.inf),
        nominal_error=full(nominal, np.inf),
        sampled=None if indices is None else idx,
        noise_dominated=full(noisy, False),
        curvature=full(curvature, np.inf),
        reason=f"step eps^(1/3)*max(|theta|, its tensor's scale); cost noise {delta:.2g} ({how}){three_note}",
        extra={"cost_noise": delta, "noise_how": how, "cost": objective.value0},
    )


class _Points:
    """The elements under estimation (``idx``, at ``theta`` with step scales ``scale``) and the
    cost at their offsets: rows -2h, -h, 0, h, 2h."""

    def __init__(self, objective: Objective, idx: np.ndarray, theta: np.ndarray, scale: Any) -> None:
        self.objective, self.idx, self.theta, self.scale = objective, idx, theta, scale

    def costs(self, at: np.ndarray, rows: list[int], X: np.ndarray) -> np.ndarray:
        """Costs at the given rows of the offsets ``X`` (of elements ``at``), one row per offset."""
        return self.objective.stencil(at, X[rows].T).T

    def stencil(self, at: np.ndarray, X: np.ndarray) -> np.ndarray:
        """The five rows of costs at the offsets (rows -2h, -h, 0, h, 2h) of elements ``at``."""
        F = np.empty((5, at.size))
        F[[0, 1, 3, 4]], F[2] = self.costs(at, [0, 1, 3, 4], X), self.objective.value0
        return F

    def five(self, at: np.ndarray, X: np.ndarray, F3: np.ndarray | None) -> Stats:
        """Five-point stats of elements ``at`` (positions in ``idx``), adding +-2h to ``F3``'s three."""
        if F3 is None:
            return stats(self.stencil(self.idx[at], X), X)
        F = F3.copy()
        F[[0, 4]] = self.costs(self.idx[at], [0, 4], X)
        return stats(F, X)


def _three_then_five(
    points: _Points, target: np.ndarray | None, wanted: np.ndarray | None, delta: float
) -> tuple[Stats, np.ndarray]:
    """Every element's stencil, chunk by chunk: with a target the three points first, deciding
    where they agree with it; the five points for the others. Returns the stats and which
    elements the three points decided."""
    idx = points.idx
    n = idx.size
    st = Stats.empty(n)
    decided = np.zeros(n, dtype=bool)
    for sl in chunks(n):
        at = np.arange(sl.start, sl.stop)
        X = _offsets_at(points.theta, points.scale, at)
        F3 = None
        if target is not None and wanted is not None:
            F3 = np.full((5, at.size), np.nan)
            F3[2] = points.objective.value0
            F3[[1, 3]] = points.costs(idx[at], [1, 3], X)
            three = stats(F3, X)  # value, lo and hi from the three points; the rest NaN
            three.fmax[:] = np.max(np.abs(F3[1:4]), axis=0)
            ok = _decides(three, delta, target[idx[at]], wanted[at])
            decided[at[ok]] = True
            st.put(at[ok], three.take(ok))
            at, X, F3 = at[~ok], X[:, ~ok], F3[:, ~ok]
        if at.size:
            st.put(at, points.five(at, X, F3))
    return st, decided


def _largest_seen(st: Stats, decided: np.ndarray, delta: float) -> float:
    """The largest round-off any smooth element's five-point stencil saw (cost units)."""
    seen = 0.0
    for sl in chunks(decided.size):
        b = bounds(st.take(sl), delta)
        smooth = ~b.kink & np.isfinite(b.value) & ~decided[sl]
        if smooth.any():
            seen = max(seen, float(np.max((b.roundoff * st.step[sl])[smooth])))
    return seen


def _reduce(
    points: _Points,
    st: Stats,
    decided: np.ndarray,
    delta: float,
    target: np.ndarray | None,
    floor: np.ndarray,
) -> tuple[np.ndarray, ...]:
    """The estimate's arrays from the stats, at the noise level ``delta``: the three-point bound
    where it decided, else the five-point one (wider steps where round-off leaves it undecided).
    Returns values, error, nominal error, kink, noise-dominated, lo, hi, interval error, curvature."""
    idx, theta, scale = points.idx, points.theta, points.scale
    n = idx.size
    values, error, nominal = np.full(n, np.nan), np.full(n, np.inf), np.full(n, np.inf)
    kink, noisy = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    lo, hi, interval, curvature = (np.full(n, np.nan) for _ in range(4))
    for sl in chunks(n):
        b = bounds(st.take(sl), delta)
        d = decided[sl]
        if d.any():  # the three-point bound where it decided
            mag = np.maximum(np.abs(st.value[sl]), np.abs(target[idx[sl]])) if target is not None else 0.0
            three_error = 4 * np.maximum(delta, 4 * EPS * st.fmax[sl]) / st.step[sl] + THREE_POINT * mag
            b = FivePoint(
                b.value,
                np.where(d, three_error, b.error),
                np.where(d, three_error, b.nominal),
                b.kink & ~d,
                np.where(d, np.maximum(delta, 4 * EPS * st.fmax[sl]) / st.step[sl], b.roundoff),
                b.lo,
                b.hi,
                np.where(d, 0.0, b.curvature),
            )
        open_ = np.flatnonzero(~d)
        step = st.step[sl].copy()
        if open_.size:
            at = np.arange(sl.start, sl.stop)[open_]
            sub = FivePoint(*(np.asarray(f)[open_] for f in b))
            X = _offsets_at(theta, scale, at)
            sub, X = _wider_steps(sub, X, theta[at], idx[at], delta, points.stencil, floor[at])
            b = FivePoint(*(np.asarray(f).copy() for f in b))
            for field, new in zip(b, sub, strict=True):
                field[open_] = new
            step[open_] = X[3]
        with np.errstate(invalid="ignore", divide="ignore"):
            finite = np.isfinite(b.value + b.error)
            values[sl] = np.where(finite, b.value, np.nan)
            error[sl] = np.where(finite, b.error, np.inf)
            nominal[sl] = b.nominal
            kink[sl] = b.kink & finite
            noisy[sl] = (4 * b.roundoff > b.error) & (b.error > 0)
            lo[sl], hi[sl] = b.lo, b.hi
            interval[sl] = b.curvature + 2 * b.roundoff
            curvature[sl] = np.where(finite, np.abs(b.hi - b.lo) / step, np.inf)
    return values, error, nominal, kink, noisy, lo, hi, interval, curvature


#: Disagreeing elements whose slope is taken again with a wider step before any of them convicts.
CONFIRM = 8
#: How much wider that step is.
CONFIRM_FACTOR = 64.0


def _confirm_disagreements(
    objective: Objective,
    st: Stats,
    decided: np.ndarray,
    level: tuple[float, str],
    target: np.ndarray,
    theta: np.ndarray,
    idx: np.ndarray,
    stencil: Any,
) -> tuple[float, str]:
    """The noise level, raised where a slope that disagrees with the target is not the cost's.

    A cost that loses precision where it is computed (``log(1 - A)`` with a saturated sigmoid,
    a cancellation, a value returned through ``float()``) can be *flat* over a step: ``A``
    does not move by one ulp of 1, so the stencil sees a smooth, consistent, wrong slope, and
    no measurement of the noise at the step's scale sees anything. A wrong gradient disagrees
    with the slope at any step alike; a missed round-off makes a step :data:`CONFIRM_FACTOR`
    times wider give another slope. So the :data:`CONFIRM` disagreeing elements furthest from
    the target (relative to their value) are taken again at the wider step; where the two
    slopes differ beyond both bounds, the noise must be at least ``gap * h`` for the narrow
    bound to have covered it, and that level is raised for every method
    (:meth:`Objective.raise_noise`): no verdict from a method that cannot resolve the
    difference it claims. Four evaluations per confirmed element, only on a disagreement.
    Returns the level and how it was found.
    """
    delta = level[0]
    candidates: list[np.ndarray] = []
    gaps: list[np.ndarray] = []
    for sl in chunks(st.value.size):
        b = bounds(st.take(sl), delta)
        t = target[sl]
        with np.errstate(invalid="ignore"):
            gap = np.abs(b.value - t)
            rel = gap / np.maximum(np.maximum(np.abs(b.value), np.abs(t)), 1e-300)
            open_ = ~decided[sl] & ~b.kink & np.isfinite(b.value) & np.isfinite(t) & (gap > b.error)
        at = np.flatnonzero(open_)
        candidates.append(at + sl.start)
        gaps.append(rel[at])
    at = np.concatenate(candidates) if candidates else np.array([], dtype=np.intp)
    if not at.size:
        return level
    at = at[np.argsort(-np.concatenate(gaps), kind="stable")[:CONFIRM]]
    narrow = bounds(st.take(at), delta)
    Xw = (theta[at] + POINTS * (CONFIRM_FACTOR * st.step[at])) - theta[at]
    Fw = stencil(idx[at], Xw)
    wst = stats(Fw, Xw)
    wide = bounds(wst, delta)
    with np.errstate(invalid="ignore"):
        smooth = ~wide.kink & np.isfinite(wide.value)
        gap = np.abs(wide.value - narrow.value)
        missed = smooth & (gap > wide.error + narrow.error)
        # truncation grows as h^2: a two-step difference far beyond 64^2 times the narrow one's
        # is no truncation but a staircase's steps, round-off of the size of it times the step
        # (the narrow difference plus what round-off may hide of it: a lucky cancellation of
        # its truncation is no evidence of smoothness)
        predicted = CONFIRM_FACTOR**2 * (st.richardson[at] + 2 * narrow.roundoff)
        level_seen = 2 * np.maximum(delta, 4 * EPS * wst.fmax) / Xw[3]
        # (a kink inside the wider stencil also breaks the h^2 scaling: no evidence of noise)
        stairs = smooth & (wst.richardson > 4 * predicted + level_seen)
    suspect = np.flatnonzero(missed | stairs)
    if suspect.size:
        # a kink crossed by the wider step (ReLU's input a few steps from 0) breaks the h^2
        # scaling too, and changes the slope once: no evidence of round-off
        crossed = kink_crossed(stencil, idx[at[suspect]], Xw[:, suspect], Fw[:, suspect])
        missed[suspect[crossed]] = False
        stairs[suspect[crossed]] = False
    with np.errstate(invalid="ignore"):
        levels = np.concatenate([(gap * st.step[at])[missed], (wst.richardson * Xw[3])[stairs]])
    seen = float(np.max(levels)) if levels.size else 0.0
    if seen > delta:
        how = "a step 64 times wider showed round-off the sampled level missed"
        objective.raise_noise(seen, how)
        return seen, how
    return level


def _offsets_at(theta: np.ndarray, scale: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The five offsets of elements ``at`` (positions in the estimated elements), as rows: -2h,
    -h, 0, h, 2h (row 2 exactly 0), the steps actually taken in float64."""
    return (theta[at] + POINTS * step_sizes(theta[at], scale[at])) - theta[at]


def _tensor_floor(values: np.ndarray, layout: Any, idx: np.ndarray) -> np.ndarray:
    """:data:`~verifier.core.tolerance.TENSOR_FLOOR` of the largest finite ``|values|`` among the
    estimated elements of each one's tensor (``values`` given at ``idx``): no array of P numbers
    when ``idx`` is a sample."""
    return TENSOR_FLOOR * layout.tensor_maxima(values, at=idx)[layout.tensor_of(idx)]


def _decides(three: Stats, delta: float, target: np.ndarray, floor: np.ndarray) -> np.ndarray:
    """Where a three-point difference agrees with the target within a bound compare can certify."""
    with np.errstate(invalid="ignore", divide="ignore"):
        dj = np.maximum(delta, 4 * EPS * three.fmax)
        magnitude = np.maximum(np.abs(three.value), np.abs(target))
        error = 4 * dj / three.step + THREE_POINT * magnitude
        return (
            np.isfinite(three.value)
            & np.isfinite(target)
            & (np.abs(three.value - target) <= error)
            & decides(error, magnitude, floor)
        )
