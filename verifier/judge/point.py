"""The judge step at one point: the per-element verdicts from every reference, what the complex
step and long double settle, the random directions' verdicts, kinks settled nearby, and what is
wrong whatever the references say (a non-finite value, a tensor of the wrong shape)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..core.objective import Objective
from ..core.plan import Options
from ..core.tolerance import scale_floors
from ..estimators.complex_step import complex_step
from ..estimators.extended import extended_centered
from ..estimators.run import Evidence
from ..explain.shapes import ShapeSlip
from ..report import Report
from .compare import AGREE, KINK, UNCHECKED, UNDECIDED, WRONG, Verdicts, compare
from .directions import apply_directions, withdraw_unpinned
from .kinks import FAST_NEARBY, settle_kinks


def judge(
    cost: Callable[[Any], Any],
    grad: Callable[[Any], Any],
    objective: Objective,
    g: np.ndarray,
    slips: list[ShapeSlip],
    evidence: Evidence,
    options: Options,
    rng: np.random.Generator,
    fast: bool,
) -> tuple[Verdicts, tuple[np.ndarray, np.ndarray, Report | None] | None, list[bool | None]]:
    """The verdicts at one point, the kinks settled at a nearby point (None when there was none),
    and, per shape slip, whether its values as read agree (see :func:`_slip_agrees`).

    The complex step (when it can run) and the estimates it adds go into ``evidence.estimates``.
    """
    layout = objective.layout
    estimates, directions, drift = evidence.estimates, evidence.directions, evidence.drift
    verdicts = _compared(objective, g, evidence, options)
    if not drift and not fast:
        verdicts = _settle_undecided(objective, g, evidence, options, verdicts)
    if directions is not None:
        apply_directions(verdicts, directions)
        withdraw_unpinned(directions, verdicts)
    nearby = None
    if not drift:
        budget = options.budget if not fast else min(options.budget, FAST_NEARBY)
        nearby = settle_kinks(
            cost, grad, objective, verdicts, estimates.get("centered"), rng, budget, options.accepted, g
        )
    verdicts.verdict[~np.isfinite(g)] = WRONG  # in every mode, whatever the references say
    agree = [_slip_agrees(verdicts, layout, s.tensor) for s in slips]
    for slip in slips:  # a wrong shape is wrong, whatever its values
        verdicts.verdict[layout.slice(slip.tensor)] = WRONG
        verdicts.odd.setdefault("backprop", np.zeros(layout.size, dtype=bool))[layout.slice(slip.tensor)] = (
            True
        )
    return verdicts, nearby, agree


def _compared(objective: Objective, g: np.ndarray, evidence: Evidence, options: Options) -> Verdicts:
    """The per-element verdicts from the references (every element unchecked when there is none:
    the fast mode)."""
    layout, estimates = objective.layout, evidence.estimates
    if not estimates:
        none = np.zeros(layout.size, dtype=bool)
        nobody = np.full(layout.size, -1, dtype=np.int8)
        return Verdicts(np.full(layout.size, UNCHECKED, dtype=np.int8), {}, {}, {"backprop": none}, nobody)
    # a pass over the parameters: only where something is compared element by element
    floors = scale_floors(layout, objective.theta0, g, objective.value0)
    return compare(g, estimates, layout, evidence.g_error, options.accepted, floors)


def _settle_undecided(
    objective: Objective, g: np.ndarray, evidence: Evidence, options: Options, verdicts: Verdicts
) -> Verdicts:
    """The elements no reference decided, tried again: by the complex step where the cost allows
    it (the report says why where it does not), then by centred differences in long double."""
    layout, estimates = objective.layout, evidence.estimates
    floors = scale_floors(layout, objective.theta0, g, objective.value0) if estimates else None
    undecided = np.flatnonzero(verdicts.verdict == UNDECIDED)
    if undecided.size and "complex" not in options.methods:
        settle = complex_step(objective, undecided, estimates.get("centered"))
        settle.reason += f" (tried on the {undecided.size} elements no other method decided)"
        estimates["complex"] = settle
        if settle.available:
            verdicts = compare(g, estimates, layout, evidence.g_error, options.accepted, floors)
    undecided = np.flatnonzero(verdicts.verdict == UNDECIDED)
    centred = estimates.get("centered")
    if undecided.size and centred is not None and centred.available and 12 * undecided.size <= options.budget:
        # what float64 cannot resolve, the cost run on long double arrays may
        if extended_centered(objective, undecided, centred, g):
            verdicts = compare(g, estimates, layout, evidence.g_error, options.accepted, floors)
    return verdicts


def _slip_agrees(verdicts: Verdicts, layout: Any, t: int) -> bool | None:
    """Whether tensor ``t``'s values, as read, agree everywhere (True), are wrong somewhere (False),
    or were not all decided (None)."""
    v = verdicts.verdict[layout.slice(t)]
    if np.any(v == WRONG):
        return False
    return True if np.all((v == AGREE) | (v == KINK)) else None
