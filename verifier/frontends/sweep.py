"""The step-size study: error of one-sided and centred differences against the step h.

For each step multiplier ``h`` on a log grid, every element is perturbed by
``h_i = h * max(1, |theta_i|)`` (the scaling the ``centered`` method uses) through the
objective's one perturbation loop, and the whole-vector relative error
``||D - g|| / (||D|| + ||g||)`` of the one-sided difference ``(J(θ + h) - J(θ)) / h``
and of the centred difference ``(J(θ + h) - J(θ - h)) / 2h`` is measured against
autograd's gradient. The curve is a V: truncation falls with h on the right
(one-sided like h, centred like h²), round-off grows like eps/h on the left. The orders
are fitted on the truncation side, the points at least ten times right of each
minimum. The blog states them the other way round.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.objective import EPS, Objective, step_sizes
from ..core.params import layout_of
from ..estimators.autograd_ref import traced_gradient
from ..judge.compare import relative_error

#: The default grid of step multipliers.
STEPS = np.logspace(-14, 0, 29)


@dataclass
class SweepResult:
    """Errors against the step.

    Attributes
    ----------
    steps : ndarray, shape (k,)
        Step multipliers h (the step of element i is ``h * max(1, |theta_i|)``).
    one_sided, centered : ndarray, shape (k,)
        Relative error of each difference against autograd at each step.
    orders : dict of str to float
        Fitted slope of log(error) against log(h) on the truncation side (NaN if too few points).
    best : dict of str to float
        The step with the smallest error, per difference.
    chosen : float
        The multiplier the ``centered`` method uses, ``eps ** (1/3)``.
    label : str
        What was swept (the network).
    """

    steps: np.ndarray
    one_sided: np.ndarray
    centered: np.ndarray
    orders: dict[str, float]
    best: dict[str, float]
    chosen: float
    label: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "steps": self.steps.tolist(),
            "one_sided": self.one_sided.tolist(),
            "centered": self.centered.tolist(),
            "orders": self.orders,
            "best": self.best,
            "chosen": self.chosen,
        }


def fitted_order(steps: np.ndarray, errors: np.ndarray) -> float:
    """Slope of log(error) on log(h) for the points at least 10x right of the minimum."""
    ok = np.isfinite(errors) & (errors > 0)
    if not ok.any():
        return float("nan")
    best = steps[ok][np.argmin(errors[ok])]
    side = ok & (steps >= 10 * best) & (errors < 0.1)  # before the difference stops resolving anything
    if side.sum() < 3:
        return float("nan")
    return float(np.polyfit(np.log10(steps[side]), np.log10(errors[side]), 1)[0])


def sweep(
    cost: Callable[[Any], Any],
    params: Any,
    *,
    steps: np.ndarray | None = None,
    label: str = "",
) -> SweepResult:
    """Measure one-sided and centred differences against autograd for a grid of steps.

    Parameters
    ----------
    cost : callable
        ``cost(params) -> float``, written with ``autograd.numpy`` (autograd is the reference).
    params : dict, list, tuple of float arrays, or a float array
    steps : ndarray, optional
        Step multipliers (default :data:`STEPS`, 1e-14 to 1).
    label : str
        Name for the report.

    Returns
    -------
    SweepResult
    """
    layout, theta = layout_of(params)
    objective = Objective(cost, layout, theta)
    reference = traced_gradient(cost, objective.structure(), layout).values
    grid = STEPS if steps is None else np.asarray(steps, dtype=np.float64)
    idx = np.arange(layout.size)
    scale = np.maximum(1.0, np.abs(theta))
    one_sided, centred = np.empty(grid.size), np.empty(grid.size)
    for k, h in enumerate(grid):
        points = theta[:, None] + np.array([-1.0, 1.0])[None, :] * (h * scale)[:, None]
        dx = points - theta[:, None]
        f = objective.stencil(idx, dx)
        with np.errstate(divide="ignore", invalid="ignore"):
            one_sided[k] = relative_error((f[:, 1] - objective.value0) / dx[:, 1], reference)
            centred[k] = relative_error((f[:, 1] - f[:, 0]) / (dx[:, 1] - dx[:, 0]), reference)
    return SweepResult(
        grid,
        one_sided,
        centred,
        {"one_sided": fitted_order(grid, one_sided), "centered": fitted_order(grid, centred)},
        {"one_sided": float(grid[np.nanargmin(one_sided)]), "centered": float(grid[np.nanargmin(centred)])},
        float(step_sizes(np.zeros(1))[0]),
        label,
    )


#: Optimal steps in theory, for the report: sqrt(eps) one-sided, eps^(1/3) centred.
THEORY = {"one_sided": float(np.sqrt(EPS)), "centered": float(np.cbrt(EPS))}
