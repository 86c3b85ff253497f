"""The plan, from counts only: per method, every element or a sample, within the budget of cost
evaluations (never from measured time).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .objective import Objective
from .sampling import PER_ELEMENT, per_tensor_within

#: Cost evaluations a finite-difference method may spend checking every element one by one
#: before it checks a sample instead: a count, so that a report never depends on the machine.
FULL_BUDGET = 10_000


@dataclass
class Options:
    """How a check runs (see :func:`check`)."""

    methods: tuple[str, ...]
    mode: str = "full"
    budget: int = FULL_BUDGET
    stencil: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
    executor: Any = None
    progress: bool | None = None
    accepted: tuple[float, float] = (0.0, 0.0)  #: (rtol, atol) the user accepts


def plan_methods(objective: Objective, options: Options) -> dict[str, bool]:
    """Per method, whether to check every element one by one (True) or a sample (False).

    From counts only, never from measured time, so the same seed gives the same report on any
    machine: a method checks every element when that takes at most ``options.budget`` cost
    evaluations (centred 2 per element where its three-point difference decides, which is
    every element of a smooth cost, counted as 2.2; SciPy 1 per element and 2 more when the
    centred method's curvature at every element gives its bound, else 2 per element and 3
    more; the complex step 2; a batch stencil evaluates the finite differences'
    perturbations in a few batched passes, so both always check every element).
    """
    size = objective.layout.size
    centred_full = "centered" in options.methods and (
        options.stencil is not None or PER_ELEMENT * size <= options.budget
    )
    evaluations = _evaluations(size, options, centred_full)
    return {m: evaluations[m] <= options.budget for m in options.methods}


def _evaluations(size: int, options: Options, centred_full: bool) -> dict[str, int]:
    """Cost evaluations each method takes on ``size`` elements one by one (see :func:`plan_methods`)."""
    return {
        "centered": 0 if options.stencil is not None else int(PER_ELEMENT * size),
        # with the centred curvature at every element SciPy's bound needs no second pass
        "scipy": 0 if options.stencil is not None else size + 2 if centred_full else 2 * size + 3,
        "complex": 2 * size,
        "autograd": 0,
    }


#: Cost evaluations planned for each tensor's random direction when a method samples.
DIRECTION_EVALUATIONS = 4


def planned_evaluations(objective: Objective, options: Options, plan: dict[str, bool]) -> int:
    """The cost evaluations the plan will make, every element or a sample: a count, to show the
    progress against (and, times one evaluation's time, to decide whether to show it)."""
    layout = objective.layout
    sizes = np.diff(np.asarray(layout.offsets))
    k = per_tensor_within(layout, options.budget)
    sampled = int(np.minimum(sizes, k).sum())
    # SciPy's bound takes the centred curvature on the elements both check, every one or a sample
    full = _evaluations(layout.size, options, plan.get("centered", False))
    part = _evaluations(sampled, options, "centered" in plan)
    total = sum(full[m] if every else part[m] for m, every in plan.items())
    if not all(plan.values()):
        total += DIRECTION_EVALUATIONS * len(layout.names)
    return total
