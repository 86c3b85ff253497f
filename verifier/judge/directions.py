"""Random directions' verdicts merged with the per-element ones."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..estimators.directional import DirectionalResult
from .compare import (
    AGREE,
    KINK,
    UNCHECKED,
    UNDECIDED,
    WRONG,
    Verdicts,
)


def withdraw_unpinned(directions: DirectionalResult, verdicts: Verdicts) -> None:
    """A disagreeing direction convicts only through an element its bisection pinned (each one
    confirmed by its own stencil, at the step and at a much wider one). A gap no element
    carries, however wide against the direction's bound, is the bound's failure (a cost
    quantised by a saturated log is flat over a step, and its slope there is consistently
    wrong): such a direction is withdrawn to no verdict, marked ``unpinned``."""
    for c in directions.checks:
        pinned = any(c.start <= i < c.stop for i in directions.wrong)
        if c.agrees is False and not pinned and not direction_covered(c, verdicts):
            if c.lenient and not directions.failing_blocks:
                # within MATERIAL of the slope, and no element off: the old agreement stands
                c.agrees = True
            else:
                c.agrees, c.unpinned = None, True


def direction_covered(check: Any, verdicts: Verdicts) -> bool:
    """Whether every element of a direction's support has its own verdict (so the direction adds nothing)."""
    return bool(np.all(verdicts.verdict[check.start : check.stop] != UNCHECKED))


def apply_directions(verdicts: Verdicts, directions: DirectionalResult) -> None:
    """Elements the localisation confirmed, where no per-element reference had decided them."""
    for i in directions.wrong:  # never an element a per-element reference left undecided
        if verdicts.verdict[i] == UNCHECKED:
            verdicts.verdict[i] = WRONG
            verdicts.odd["backprop"][i] = True
    for i in directions.kinks:
        if verdicts.verdict[i] in (UNCHECKED, UNDECIDED):
            verdicts.verdict[i] = KINK
    for i in directions.agreed:
        if verdicts.verdict[i] in (UNCHECKED, UNDECIDED):
            verdicts.verdict[i] = AGREE
