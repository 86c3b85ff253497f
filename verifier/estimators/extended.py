"""Centred differences in long double: what float64 cannot resolve, the cost run on long double
arrays may.
"""

from __future__ import annotations

import numpy as np

from ..core.objective import EPS, Objective, element_scales
from .base import Estimate
from .centered import WIDER
from .five_point import POINTS, FivePoint, five_point

#: Unit round-off of the platform's long double (equal to float64's where it has none).
LD_EPS = float(np.finfo(np.longdouble).eps)


def extended_centered(
    objective: Objective, indices: np.ndarray, estimate: Estimate, target: np.ndarray
) -> int:
    """Re-estimate ``indices`` with the cost run in long double; returns how many improved.

    Where the float64 cost cannot resolve a difference (a saturated ``log(1 - A)`` keeps a few
    digits), the user's own code run on ``np.longdouble`` arrays keeps 2048 times more (x86's
    80-bit format): the same five-point stencil and bound, at the step
    ``eps_ld^(1/3) max(|theta|, s_T)``, with the noise level the float64 one scaled by
    ``eps_ld / eps`` (the same computation, the same condition number, a smaller unit
    round-off) and never below ``4 eps_ld |J|``. An element's value, bound and kink flag are
    replaced where the long-double bound is the smaller and the value agrees with ``target``
    (the hand-written gradient, flat) within it: it can settle an element, never convict
    one (a cost that drops to float64 inside and returns long double would carry float64's
    noise; the stencil's own fourth difference sees most of it, and a disagreement stays
    undecided whatever). Nothing is done where the platform
    has no long double or the cost drops to float64 (``float()``, a float64 buffer): the
    cost's value at ``theta0`` must come back as a long double. Four evaluations an element and
    step (the steps 1, 8 and 64 times that one, as :data:`WIDER` in float64).
    """
    idx = np.asarray(indices, dtype=np.intp)
    if not idx.size or LD_EPS >= EPS or objective.extended_value() is None:
        return 0
    layout = objective.layout
    base = objective.theta0.astype(np.longdouble)
    j0 = objective.extended_value()
    assert j0 is not None
    delta64, _ = objective.noise()
    delta = max(delta64 * LD_EPS / EPS, 4 * LD_EPS * abs(float(j0)))
    unit = (LD_EPS ** (1 / 3)) * element_scales(objective.theta0[idx], objective.step_scale[idx])
    x = base.copy()

    def five(steps: np.ndarray) -> FivePoint:
        F, X = np.zeros((5, idx.size)), np.zeros((5, idx.size))
        for n, i in enumerate(idx):
            for row, k in enumerate(POINTS[:, 0]):
                if k == 0:
                    continue
                x[i] = base[i] + np.longdouble(k) * np.longdouble(steps[n])
                X[row, n] = float(x[i] - base[i])
                try:
                    with np.errstate(all="ignore"):
                        value = np.asarray(objective.cost(layout.unflatten(x)))
                except Exception:
                    value = np.asarray(np.nan)
                finally:
                    x[i] = base[i]
                objective.nfev += 1
                ok = value.ndim == 0 and value.dtype == np.longdouble and np.isfinite(value)
                # differences from J(theta0) in long double: they are what the stencil needs
                F[row, n] = float(value - j0) if ok else np.nan
        return five_point(F, X, delta)

    # the step that balances a clean long-double cost, and wider ones for a noisier cost (as
    # _wider_steps in float64): per element the smallest bound is kept
    b = five(unit)
    for factor in WIDER:
        wide = five(factor * unit)
        with np.errstate(invalid="ignore"):
            take = np.isfinite(wide.error) & ~(wide.error >= b.error)
        b = FivePoint(*(np.where(take, new, old) for old, new in zip(b, wide, strict=True)))
    with np.errstate(invalid="ignore"):
        better = np.isfinite(b.value) & np.isfinite(b.error) & (b.error < estimate.error[idx])
        better &= ~b.kink & (np.abs(b.value - target[idx]) <= b.error)
    at = idx[better]
    estimate.values[at] = b.value[better]
    estimate.error[at] = b.error[better]
    if estimate.nominal_error is not None:
        estimate.nominal_error[at] = b.nominal[better]
    if estimate.kink is not None:
        estimate.kink[at] = b.kink[better]
    if estimate.lo is not None and estimate.hi is not None:
        estimate.lo[at], estimate.hi[at] = b.lo[better], b.hi[better]
    if estimate.interval_error is not None:
        estimate.interval_error[at] = (b.curvature + 2 * b.roundoff)[better]
    if estimate.noise_dominated is not None:
        estimate.noise_dominated[at] = ((4 * b.roundoff > b.error) & (b.error > 0))[better]
    estimate.nfev += 4 * (1 + len(WIDER)) * idx.size
    if at.size:
        estimate.reason += (
            f"; {at.size} of the {idx.size} elements float64 could not resolve re-estimated with the"
            " cost in long double"
        )
    return int(at.size)
