"""The hand-written gradient's own round-off: the backward re-run in long double, and a narrow
backward's noise measured.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..core.objective import Objective, element_scales

#: Units of round-off a backward that ran narrower than float64 is allowed, relative to each
#: element plus its tensor's largest (as autograd's bound for a cost that casts to float32).
NARROW_ULPS = 4


#: Standard deviations of a narrow backward's measured round-off that bound each element.
NARROW_SIGMAS = 4


def backprop_roundoff(
    grad: Callable[[Any], Any], objective: Objective, g: np.ndarray, raw: Any = None
) -> np.ndarray:
    """Round-off bound of the hand-written gradient: 8 |g64 - g_ext| with ``g_ext`` in long double.

    Backprop has round-off of its own: with a saturated sigmoid, ``A - Y``
    keeps few digits of a gradient near 1e-15. Running the same backward on
    ``np.longdouble`` parameters measures it. Zero where that is unavailable
    (no long double, or the backward does not keep it).
    """
    objective.extended_eps = None
    ext = objective.extended_gradient(grad)
    error = np.zeros_like(g) if ext is None else 8 * np.abs(g - ext).astype(np.float64)
    # a backward that ran (somewhere) narrower than float64, a float32 np.dot or a global patch
    # like nnfs.init(): its own round-off at that precision, which no long-double re-run sees
    kinds = [np.asarray(p).dtype for p in objective.layout.collect(raw, argument="grad")[0]]
    eps = max(
        [float(np.finfo(k).eps) for k in kinds if k.kind in "fc"] + [objective.extended_eps or 0.0],
        default=0.0,
    )
    if eps > np.finfo(np.float64).eps:
        magnitude = np.abs(g) + objective.layout.tensor_max(g)
        error = np.maximum(error, NARROW_ULPS * eps * magnitude)
        error = np.maximum(error, _narrow_noise(grad, objective, g, eps))
    return error


def _narrow_noise(grad: Callable[[Any], Any], objective: Objective, g: np.ndarray, eps: float) -> np.ndarray:
    """The round-off of a backward that runs at unit round-off ``eps``, measured: the backward at
    four more points along a seeded direction, ``16 eps`` of each parameter's scale apart (far
    enough for its roundings to differ, too close for its value to change beyond a cubic);
    the fourth difference of the five values is the noise alone (its spread is sqrt(70) times
    the values'); :data:`NARROW_SIGMAS` times its root mean square over each tensor bounds
    each element. A kink within
    the steps makes it large: the elements are then left undecided, never convicted."""
    layout, theta = objective.layout, objective.theta0
    rng = np.random.default_rng(20)  # a fixed direction: the report does not depend on the run
    step = 16 * eps * element_scales(theta, objective.step_scale) * rng.choice([-1.0, 1.0], theta.size)
    values = []
    try:
        for t in (-2, -1, 1, 2):
            with np.errstate(all="ignore"):
                moved = layout.unflatten(theta + t * step)
            values.append(layout.flatten_like(grad(moved), argument="grad")[0])
    except Exception:  # the backward cannot run there: the floor alone
        return np.zeros_like(g)
    fourth = values[0] - 4 * values[1] + 6 * g - 4 * values[2] + values[3]
    if not np.all(np.isfinite(fourth)):
        return np.full_like(g, np.inf)
    # per tensor, the root mean square of the elements' noise samples
    sizes = np.diff(layout.offsets)
    rms = np.sqrt(np.add.reduceat(fourth**2 / 70.0, layout.offsets[:-1]) / np.maximum(sizes, 1))
    return NARROW_SIGMAS * np.repeat(rms, sizes)
