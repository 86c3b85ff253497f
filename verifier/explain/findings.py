"""A finding (a bug, an artefact, a note, an undecided element) and the small wordings every stage
shares.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from ..core.params import Layout

METHOD_TITLE = {
    "centered": "centered differences",
    "scipy": "scipy's forward differences",
    "autograd": "autograd",
    "complex": "the complex step",
    "directions": "random directions",
}


@dataclass
class Finding:
    """One statement for the report.

    Attributes
    ----------
    kind : str
        ``"bug"`` (the hand-written gradient is wrong), ``"artefact"`` (a reference
        is off, not a bug), ``"note"`` (context), or ``"undecided"``.
    tensor : str
        The tensor it is about ("" for the whole check).
    message : str
        The sentence shown to the user.
    pattern : str
        Machine-readable pattern: ``"scale"``, ``"sign"``, ``"transpose"``,
        ``"zeros"``, ``"elements"``, ``"kink"``, ``"noise"``, ``"nonfinite"``,
        ``"bound"``, ``"trace"``, ``"unavailable"``, ``"keys"``, ...
    factor : float or None
        The scale factor, for ``pattern == "scale"``.
    """

    kind: str
    tensor: str
    message: str
    pattern: str = ""
    factor: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {k: v for k, v in self.__dict__.items() if v is not None and v != ""}


def element_labels(layout: Layout, flat: np.ndarray, limit: int = 3) -> str:
    """``"W1[0, 1], W1[2, 0] and 5 more"``: the first ``limit`` labels of flat indices."""
    shown = ", ".join(layout.label(int(i)) for i in flat[:limit])
    return shown + (f" and {len(flat) - limit} more" if len(flat) > limit else "")


def nice_factor(c: float) -> str:
    """``2.0`` -> ``"2.0"``, ``0.25`` -> ``"0.25 (1/4)"``, other values to 6 digits."""
    frac = Fraction(c).limit_denominator(64)
    if abs(float(frac) - c) > 1e-9 * abs(c):
        return f"{c:.6g}"
    if frac.denominator == 1:
        return f"{frac.numerator:.1f}"
    return f"{c:.6g} ({frac.numerator}/{frac.denominator})"
