"""The full mode's references: the hand-written gradient read, every method run on every element or
on a sample plus random directions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.objective import Objective, step_sizes
from ..core.plan import Options, plan_methods, planned_evaluations
from ..core.progress import Progress
from ..core.sampling import per_tensor_within, sample_indices
from ..explain.shapes import ShapeSlip
from .autograd_ref import autograd_ref
from .base import Estimate
from .centered import centered
from .complex_step import complex_step
from .directional import DirectionalResult, run_directions
from .scipy_fd import scipy_fd


@dataclass
class Hand:
    """The hand-written gradient as read: as returned, flat, the keys that match no parameter,
    and the tensors returned in the wrong shape (findings, not errors)."""

    raw: Any
    g: np.ndarray
    ignored: list[str]
    slips: list[ShapeSlip]


@dataclass
class Evidence:
    """What a mode gathered: the references, the random directions, the cost's drift between two
    evaluations at the same point, and the hand-written gradient's round-off bound."""

    estimates: dict[str, Estimate]
    directions: DirectionalResult | None
    drift: float
    g_error: np.ndarray | None


def hand_gradient(grad: Callable[[Any], Any], objective: Objective) -> Any:
    """The hand-written gradient at ``theta0``: on read-only views (no copy of P numbers), or,
    for a gradient function that writes into its parameters, on a copy of its own."""
    try:
        return grad(objective.readonly())
    except ValueError as exc:
        if "read-only" not in str(exc):
            raise
        return grad(objective.structure())


def full_references(
    objective: Objective,
    g: np.ndarray,
    g_error: np.ndarray,
    options: Options,
    rng: np.random.Generator,
    watch: list[str],
) -> tuple[dict[str, Estimate], DirectionalResult | None]:
    """The full mode's references: every method on every element, or on a sample plus directions.

    ``watch``: the forward's values whose gradients autograd's trace also gives (the
    backward's intermediates, for the first wrong line)."""
    layout = objective.layout
    plan = plan_methods(objective, options)
    planned = planned_evaluations(objective, options, plan)
    # the one use of a measured time: whether the progress is worth showing, never a verdict
    per = 0.0 if options.stencil is not None else objective.seconds_per_eval
    wanted = options.progress is True or (options.progress is None and planned * per > 1)
    show = Progress(
        planned, enabled=None if options.progress is None and wanted else wanted, unit="evaluation"
    )
    objective.tick = show.advance if show.enabled else None
    estimates: dict[str, Estimate] = {}
    if "autograd" in plan:
        show("autograd reference", 0)
        estimates["autograd"] = autograd_ref(objective, watch, target=g, target_error=g_error)
        _noise_from_lost_digits(objective, estimates["autograd"])
    reference = estimates["autograd"].values if "autograd" in estimates else None
    sample = None
    if not all(plan.values()):  # a sample as large as the budget pays for, up to PER_TENSOR each
        k = per_tensor_within(layout, options.budget)
        sample = sample_indices(layout, g, reference, rng, per_tensor=k) if k else None
    # the complex step last: it is confirmed against the centred differences
    for method in sorted((m for m in options.methods if m != "autograd"), key=lambda m: m == "complex"):
        if not plan[method] and sample is None:
            reason = (
                f"budget {options.budget}: not one element per tensor fits it; the random-direction"
                " check of every tensor stands in"
            )
            estimates[method] = Estimate.unavailable(method, layout.size, reason)
            continue
        show(f"{method}: {'every element' if plan[method] else 'a sample'} of {layout.size}", 0)
        part = None if plan[method] else sample
        estimates[method] = _estimate(method, objective, g, part, options, estimates.get("centered"))
    directions = None
    if not all(plan.values()):
        show("random directions", 0)
        directions = run_directions(objective, g, g_error, rng)
    show.close()
    objective.tick = None
    return estimates, directions


def _noise_from_lost_digits(objective: Objective, estimate: Estimate) -> None:
    """Raise the cost's noise level to what autograd's long-double re-run shows the computation
    losing: round-off measured where it happens.

    The difference of two costs a step apart is the integral of the gradient over the step; where
    the float64 gradient of the same computation is off by ``e_i`` (a saturated ``log(1 - A)``:
    ``1 - A`` keeps few digits), the float64 costs' difference over the step ``h_i`` is
    uncertain by at least ``e_i h_i``, a level the measurement along two coordinates can miss
    (the cost is flat over a step where ``A`` does not move by one ulp of 1). With it every
    finite-difference bound is at least ``2 e_i``: no method convicts a difference the
    computation cannot resolve.
    """
    lost = estimate.extra.get("lost")
    if lost is None or not np.any(lost > 0):
        return
    steps = step_sizes(objective.theta0, objective.step_scale)
    level = float(np.max(np.where(np.isfinite(lost), lost * steps, 0.0)))
    if level > objective.noise(measure=False)[0]:
        objective.raise_noise(level, "autograd's float64 gradient loses digits here (against long double)")


def _estimate(
    method: str,
    objective: Objective,
    g: np.ndarray,
    sample: np.ndarray | None,
    options: Options,
    centered_estimate: Estimate | None = None,
) -> Estimate:
    if method == "centered":
        return centered(objective, sample, target=g)
    if method == "scipy":
        curvature = centered_estimate.curvature if centered_estimate is not None else None
        return scipy_fd(objective, g, sample, curvature)
    if method == "complex":
        return complex_step(objective, sample, centered_estimate)
    if method == "autograd":
        return autograd_ref(objective)
    raise ValueError(f"no estimator named {method!r}")  # validate.methods admits none other: a bug of ours


def read_gradient(grad: Callable[[Any], Any], objective: Objective) -> Hand:
    """The hand-written gradient at the point, flattened; a tensor of the wrong shape is a finding."""
    raw = hand_gradient(grad, objective)
    read: list[tuple[int, tuple[int, ...], str]] = []  # gradients of the wrong shape: findings
    g, ignored = objective.layout.flatten_like(raw, argument="grad", slips=read)
    return Hand(raw, g, ignored, [ShapeSlip(*s) for s in read])
