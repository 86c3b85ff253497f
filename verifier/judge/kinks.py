"""Kinks settled at a nearby point where the cost is smooth: wrong there is wrong here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..core.objective import NOT_MEASURED, Objective, element_scales
from ..estimators.base import Estimate
from ..estimators.centered import centered
from ..estimators.run import hand_gradient
from ..explain.diagnose import (
    diagnose,
)
from ..report import Report
from .compare import (
    AGREE,
    KINK,
    UNDECIDED,
    WRONG,
    Verdicts,
    compare,
)
from .verdict import verdict_report


def stencil_at(
    stencil: Callable[[np.ndarray, np.ndarray], np.ndarray] | None, theta: np.ndarray
) -> Callable[[np.ndarray, np.ndarray], np.ndarray] | None:
    """A batch stencil's counterpart at other parameters (its ``at(theta)``: the built-in
    networks' and ``vectorized``'s), or None for one bound to its point alone."""
    at = getattr(stencil, "at", None)
    return at(theta) if callable(at) else None


#: Evaluations the fast mode may spend checking whole small tensors with a kink at the nearby
#: point (a slip on the largest entry sits on a kink here and on another element there).
FAST_NEARBY = 400


#: Relative sizes of the seeded moves to a nearby point where a kink is cleared.
NEARBY = (1e-3, 1e-2)


def settle_kinks(
    cost: Callable[[Any], Any],
    grad: Callable[[Any], Any],
    objective: Objective,
    verdicts: Verdicts,
    centered_estimate: Estimate | None,
    rng: np.random.Generator,
    budget: int = 0,
    accepted: tuple[float, float] = (0.0, 0.0),
    g: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, Report | None] | None:
    """Decide the elements at a kink again at a nearby point where the cost is smooth.

    At a kink (ReLU exactly at 0, a tied max) finite differences cannot convict, and with
    several examples at the kink backprop's convention (ReLU'(0) = 0) need not even lie
    between the cost's one-sided slopes; nor can they clear a wrong value that happens to
    lie between them. So the parameters are moved by a small seeded step (1e-3 of each
    tensor's scale, then 1e-2), which moves the kink away by far more than a difference's
    step, the user's backprop is run again there, and those elements are checked by
    centred differences: wrong there is wrong here; agreeing there leaves the kink a
    valid subgradient here; anything else leaves them undecided.

    A slip can sit on an element that is at a kink here and hide there (its value lies between
    the one-sided slopes), and move elsewhere with the point (a bug tied to the largest entry,
    to a tie's winner): so, where it takes at most ``budget`` evaluations, the first nearby
    point checks every element of the tensors that have a kink, and a wrong one there fails
    the check (it is the same backward, at a point a step away).

    Only a value between the one-sided slopes here (within their error) is a subgradient of a
    single kink, and agreeing a step away, where nothing is tied, says nothing of the tie (a tie
    handled wrongly, ``dx[x == 0] = 2 * dout``, agrees there). Yet with several examples tied
    at once (``relu(z) + relu(-z)`` through data holding x and -x) a correct backward's
    convention (ReLU'(0) = 0 in each) can lie outside them too, and the cost alone cannot tell
    the two apart. So where ``g`` (the hand-written gradient here) lies outside them, it goes on
    to the nearby point only when backprop's own value at one of :data:`SIDES` seeded nearby
    points matches it (a convention is the gradient of a region next to the tie) or those
    values show several ties; otherwise it is left undecided, never cleared
    (:func:`_unwitnessed`).

    Returns the elements agreeing at a nearby point, those left undecided, and the nearby
    point's own report when it found wrong elements there (None when no element was at a
    kink); :func:`~verifier.explain.artefacts.nearby_findings` words them.
    """
    kink = verdicts.verdict == KINK
    if centered_estimate is not None and centered_estimate.kink is not None:
        kink |= (verdicts.verdict == UNDECIDED) & centered_estimate.kink
    if verdicts.contested is not None:
        kink |= verdicts.contested
    open_ = np.flatnonzero(kink)
    if not open_.size:
        return None
    outside = _outside_slopes(g, centered_estimate, open_)
    if outside.size:
        assert centered_estimate is not None
        assert g is not None
        outside = outside[_unwitnessed(grad, objective, outside, g, centered_estimate, rng)]
        verdicts.verdict[outside] = UNDECIDED
        open_ = np.setdiff1d(open_, outside)
        if not open_.size:
            return np.array([], dtype=np.intp), open_, None
    layout, theta = objective.layout, objective.theta0
    agreed: list[np.ndarray] = []
    elsewhere: Report | None = None
    tensors = np.unique(layout.tensor_of(open_))
    around = np.concatenate([np.arange(layout.offsets[t], layout.offsets[t + 1]) for t in tensors])
    scale = element_scales(theta, objective.step_scale)
    level, how = objective.noise(measure=False)
    for size in NEARBY:
        moved = theta + size * scale * rng.standard_normal(theta.size)
        try:
            near = Objective(
                cost,
                layout,
                moved,
                rng,
                batch=stencil_at(objective.batch, moved),
                executor=objective.executor,
            )
            g_near, _ = layout.flatten_like(hand_gradient(grad, near), argument="grad", slips=[])
        except Exception:  # the cost or backprop cannot run there: leave the elements as they are
            break
        if how != NOT_MEASURED:  # a step away the cost loses precision as it does here
            near.raise_noise(level, how, measure=False)
        wide = size == NEARBY[0] and 4 * around.size <= budget
        checked = around if wide else open_
        # the noise level found here carries over; a wider step there would cross the kink
        est = centered(near, checked, target=g_near, confirm=False)
        compared = compare(g_near, {"centered": est}, layout, accepted=accepted)
        verdict_there = compared.verdict
        if wide and np.setdiff1d(around[verdict_there[around] == WRONG], open_).size:
            findings = diagnose(g_near, {"centered": est}, compared, layout)
            elsewhere = verdict_report(g_near, {"centered": est}, compared, layout, findings)
        there = verdict_there[open_]
        wrong, agree = open_[there == WRONG], open_[there == AGREE]
        verdicts.verdict[wrong] = WRONG
        verdicts.odd["backprop"][wrong] = True
        verdicts.verdict[agree] = KINK
        agreed.append(agree)
        open_ = open_[(there != WRONG) & (there != AGREE)]
        if not open_.size:
            break
    verdicts.verdict[open_] = UNDECIDED
    settled = np.concatenate(agreed) if agreed else np.array([], dtype=np.intp)
    return settled, open_, elsewhere


#: Seeded nearby points at which backprop's own values are taken for a tie outside the slopes
#: (backward calls only, no cost evaluations: cheap next to the check).
SIDES = 16

#: How far a smooth gradient's element may move, relative to its scale, between here and a point
#: moved by ``NEARBY[0]`` of each parameter's scale: that move times a curvature factor of 16.
DRIFT = 16 * NEARBY[0]


def _outside_slopes(g: np.ndarray | None, estimate: Estimate | None, elements: np.ndarray) -> np.ndarray:
    """Those of ``elements`` where the centred stencil saw a kink, measured its two slopes apart,
    and ``g`` lies outside them beyond their error (the complement of compare's ``between``)."""
    if g is None or estimate is None or estimate.kink is None:
        return np.array([], dtype=np.intp)
    lo, hi, err = estimate.lo, estimate.hi, estimate.interval_error
    if lo is None or hi is None or err is None:
        return np.array([], dtype=np.intp)
    at = elements[estimate.kink[elements]]
    with np.errstate(invalid="ignore"):
        # NaN slopes or an infinite error say nothing: never outside
        apart = hi[at] - lo[at] > 4 * err[at]
        outside = (g[at] < lo[at] - err[at]) | (g[at] > hi[at] + err[at])
    return at[apart & outside]


def _unwitnessed(
    grad: Callable[[Any], Any],
    objective: Objective,
    elements: np.ndarray,
    g: np.ndarray,
    estimate: Estimate,
    rng: np.random.Generator,
) -> np.ndarray:
    """Per element, whether nothing a step away vouches for ``g`` here (outside the slopes).

    A valid subgradient at a tie is a limit of true gradients from a smooth region next to it,
    and a convention (ReLU'(0) = 0, argmax's first) gives the backward's own value in one such
    region. So backprop is run at :data:`SIDES` seeded nearby points (moves of ``NEARBY[0]`` of
    each parameter's scale): ``g`` matching its value at one of them, within the slopes' error,
    a twentieth of the jump and the drift of a smooth gradient over the move (:data:`DRIFT` of
    the element's scale), is vouched for. So is any element whose nearby values are not each
    the left or the right slope here (several ties, other sums of their terms, where the
    nearby centred check decides). What is left (``dx[x == 0] = 2 * dout``, where the values
    a step away are 0 or dout) is unwitnessed: left undecided, never cleared, never convicted.
    """
    assert estimate.lo is not None and estimate.hi is not None and estimate.interval_error is not None
    lo, hi, here = estimate.lo[elements], estimate.hi[elements], g[elements]
    scale = np.maximum(np.maximum(np.abs(lo), np.abs(hi)), np.abs(here))
    tol = estimate.interval_error[elements] + 0.05 * (hi - lo) + DRIFT * scale
    layout, theta = objective.layout, objective.theta0
    step = element_scales(theta, objective.step_scale)
    matched = np.zeros(elements.size, dtype=bool)
    single = np.ones(elements.size, dtype=bool)
    for _ in range(SIDES):
        moved = theta + NEARBY[0] * step * rng.standard_normal(theta.size)
        try:
            values = layout.flatten_like(grad(layout.unflatten(moved)), argument="grad")[0][elements]
        except Exception:  # the backward cannot run there: nothing is vouched for
            return ~matched
        with np.errstate(invalid="ignore"):  # NaN values vouch for nothing
            matched |= np.abs(values - here) <= tol
            single &= (np.abs(values - lo) <= tol) | (np.abs(values - hi) <= tol)
    return ~matched & single
