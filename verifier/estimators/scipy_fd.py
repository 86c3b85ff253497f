r"""SciPy's gradient check: ``scipy.optimize.check_grad`` and ``approx_fprime``.

Notes
-----
``check_grad`` returns one number, :math:`\| g - F(h) \|_2`, where
:math:`F(h)` is ``approx_fprime``'s forward difference with the absolute step
:math:`h = \sqrt{\epsilon} \approx 1.49 \times 10^{-8}` for every element. It is
reported as SciPy's headline, with no threshold (SciPy gives none).

Per element, the forward difference :math:`F(h)` is judged by its own,
larger bound

.. math:: e_i = 2 |F(2h) - F(h)| + 4 \delta / h,

where :math:`F(2h) - F(h) = f'' h / 2` is the truncation error of :math:`F(h)`
for a smooth cost. Where the centred stencil has measured :math:`|f''|` at the element
(from its one-sided slopes), :math:`2 |F(2h) - F(h)|` is replaced by :math:`2 h |f''|`,
twice the same quantity, and ``approx_fprime`` runs once: one evaluation per element.
``check_grad`` reuses those evaluations (it calls ``approx_fprime`` with the same step
at the same points), so its norm costs one evaluation more. :math:`\delta` is the cost's round-off
(:meth:`verifier.objective.Objective.noise`), measured only where some element does not agree
within the bound its floor :math:`4 \epsilon |J|` gives (a tighter bound: agreement within it
stands whatever the cost's noise): with :math:`h \approx 1.5 \times
10^{-8}` round-off alone is about :math:`10^{-8} |J|`, a thousand times the
centred method's. A forward difference cannot see a kink just to the right of
:math:`\theta` (every forward step lands on the same side of it), so at kinks it
reports a one-sided derivative; the harness explains such elements from the
centred method's kink flags.
"""

from __future__ import annotations

import time

import numpy as np

from ..compare import agreement
from ..objective import Objective
from .base import Estimate

#: SciPy's default step for ``approx_fprime`` and ``check_grad``.
SCIPY_STEP = float(np.sqrt(np.finfo(np.float64).eps))


def scipy_fd(
    objective: Objective,
    grad_flat: np.ndarray,
    indices: np.ndarray | None = None,
    curvature: np.ndarray | None = None,
) -> Estimate:
    """SciPy's forward-difference gradient, its own bound, and ``check_grad``'s norm.

    Parameters
    ----------
    objective : Objective
        The cost at its base point.
    grad_flat : ndarray, shape (P,)
        The hand-written gradient, flat (for ``check_grad``'s headline).
    indices : ndarray of int, optional
        Check only these elements (SciPy then differentiates the cost as a function of
        them alone); others are NaN with infinite error. Default: all.
    curvature : ndarray, shape (P,), optional
        ``|f''|`` per element, from the centred method (infinite where unknown): the
        truncation bound without a second ``approx_fprime`` at ``2h``.

    Returns
    -------
    Estimate
        ``extra["check_grad"]``: the 2-norm ``check_grad`` returned (over ``indices``).
    """
    from scipy.optimize import approx_fprime, check_grad  # 0.7 s of import: paid only when used

    start = time.perf_counter()
    nfev0 = objective.nfev
    size = objective.layout.size
    idx = np.arange(size) if indices is None else np.asarray(indices, dtype=np.intp)
    x0 = objective.theta0[idx].copy()

    seen: dict[tuple[int, float], float] = {}
    whole = indices is None

    def cost_of(x: np.ndarray) -> float:
        # approx_fprime moves one element at a time: remember each value by (element, value),
        # so that check_grad, which calls it again with the same step, evaluates nothing new;
        # the base point's value is the objective's own (the harness made sure it repeats)
        moved = np.flatnonzero(x != x0)
        if not moved.size:
            return objective.value0
        key = (int(moved[0]), float(x[moved[0]])) if moved.size == 1 else None
        if key is not None and key in seen:
            return seen[key]
        if whole:
            value = objective(x)
        else:
            full = objective.theta0.copy()
            full[idx] = x
            value = objective(full)
        if key is not None:
            seen[key] = value
        return value

    with np.errstate(all="ignore"):
        f1 = approx_fprime(x0, cost_of, SCIPY_STEP)
        norm = check_grad(cost_of, lambda _x: grad_flat[idx], x0, epsilon=SCIPY_STEP)
        known = np.zeros(idx.size, dtype=bool) if curvature is None else np.isfinite(curvature[idx])
        truncation = np.full(idx.size, np.inf)
        truncation[known] = 2 * SCIPY_STEP * curvature[idx][known] if curvature is not None else 0.0
        if not known.all():  # the second difference, where the centred stencil did not measure it
            rest = np.flatnonzero(~known)
            sub = x0[rest]

            def on_rest(x: np.ndarray) -> float:
                moved = x0.copy()
                moved[rest] = x
                return cost_of(moved)

            f2 = approx_fprime(sub, on_rest, 2 * SCIPY_STEP)
            truncation[rest] = 2 * np.abs(f2 - f1[rest])

    # round-off at the floor first: where every element agrees within that tighter bound the
    # verdicts stand whatever the cost's noise, and the evaluations that measure it are saved
    def bound_at(noise: float) -> np.ndarray:
        return truncation + 4 * max(noise, abs(objective.value0) * 4e-16) / SCIPY_STEP

    delta, _ = objective.noise(measure=False)
    bound = bound_at(delta)
    if not np.all(agreement(grad_flat[idx], f1, bound)):
        delta, _ = objective.noise()
        bound = bound_at(delta)
    finite = np.isfinite(f1) & np.isfinite(bound)
    values, error = np.full(size, np.nan), np.full(size, np.inf)
    values[idx[finite]] = f1[finite]
    error[idx[finite]] = bound[finite]
    return Estimate(
        "scipy",
        values,
        error,
        nfev=objective.nfev - nfev0,
        seconds=time.perf_counter() - start,
        noise_dominated=(4 * delta / SCIPY_STEP) > 0.5 * error,
        sampled=None if indices is None else idx,
        reason=f"forward difference, absolute step {SCIPY_STEP:.3g}",
        extra={"check_grad": float(norm), "step": SCIPY_STEP, "cost_noise": delta, "cost": objective.value0},
    )
