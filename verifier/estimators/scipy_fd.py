r"""SciPy's gradient check: ``scipy.optimize.check_grad`` and ``approx_fprime``.

Notes
-----
``check_grad`` returns one number, :math:`\| g - F(h) \|_2`, where
:math:`F(h)` is ``approx_fprime``'s forward difference with the absolute step
:math:`h = \sqrt{\epsilon} \approx 1.49 \times 10^{-8}` for every element. It is
reported as SciPy's headline, with no threshold (SciPy gives none).

The column is computed as ``approx_fprime`` computes it (SciPy 1.10 to 1.17,
``approx_derivative`` with ``method="2-point"`` and ``abs_step``): at each element the
point :math:`x_i + h` and the difference :math:`(J(x + dx_i e_i) - J(x)) / dx_i` with
:math:`dx_i = (x_i + h) - x_i` in float64 (where that is 0, a huge :math:`x_i`, SciPy's
fallback :math:`\sqrt{\epsilon}\, \mathrm{sign}(x_i) \max(1, |x_i|)`), :math:`J(x)` the
cost at the point. Only the evaluations differ: they go through the one perturbation loop
(:meth:`verifier.core.objective.Objective.stencil`), so a network's batch stencil evaluates the
whole column in a few batched passes and an executor's workers share it. Without either,
every value is the one ``approx_fprime`` gets, bit for bit. ``check_grad``'s norm is its
own formula, ``sqrt(sum(abs(g - F(h))**2))``, on that column: the number ``check_grad``
returns, without a second pass over the elements.

Per element, the forward difference :math:`F(h)` is judged by its own,
larger bound

.. math:: e_i = 2 |F(2h) - F(h)| + 4 \delta / h,

where :math:`F(2h) - F(h) = f'' h / 2` is the truncation error of :math:`F(h)`
for a smooth cost. Where the centred stencil has measured :math:`|f''|` at the element
(from its one-sided slopes), :math:`2 |F(2h) - F(h)|` is replaced by :math:`2 h |f''|`,
twice the same quantity: one evaluation per element. :math:`\delta` is the cost's round-off
(:meth:`verifier.core.objective.Objective.noise`), measured only where some element does not agree
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

from ..core.objective import Objective
from ..core.tolerance import agreement
from .base import Estimate

#: SciPy's default step for ``approx_fprime`` and ``check_grad``.
SCIPY_STEP = float(np.sqrt(np.finfo(np.float64).eps))


def scipy_steps(x0: np.ndarray, h: float = SCIPY_STEP) -> np.ndarray:
    """The steps ``approx_fprime(x0, f, h)`` takes: ``(x0 + h) - x0`` in float64, and where that
    is 0 (``|x0|`` beyond ``h / eps``) SciPy's fallback ``sqrt(eps) sign(x0) max(1, |x0|)``."""
    sign = (x0 >= 0).astype(np.float64) * 2 - 1
    with np.errstate(over="ignore", invalid="ignore"):
        h_arr = np.where((x0 + h) - x0 == 0, SCIPY_STEP * sign * np.maximum(1.0, np.abs(x0)), h)
        return (x0 + h_arr) - x0


def forward_differences(objective: Objective, idx: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """``(J(theta0 + steps_k e_idx_k) - J(theta0)) / steps_k`` per element (NaN where the cost is
    not finite), in one call of :meth:`Objective.stencil` (a batch stencil bounds its own
    working memory; the column is one number per element)."""
    f = objective.stencil(idx, steps[:, None])[:, 0]
    with np.errstate(invalid="ignore", over="ignore"):
        return (f - objective.value0) / steps


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
        ``extra["check_grad"]``: the 2-norm ``check_grad`` returns (over ``indices``), by
        its own formula on the same column.
    """
    start = time.perf_counter()
    nfev0 = objective.nfev
    size = objective.layout.size
    idx = np.arange(size) if indices is None else np.asarray(indices, dtype=np.intp)
    x0 = objective.theta0[idx]
    f1 = forward_differences(objective, idx, scipy_steps(x0))
    with np.errstate(all="ignore"):
        # check_grad's own formula (direction="all"), on the same column
        norm = np.sqrt(np.sum(np.abs((grad_flat[idx] - f1) ** 2)))
        known = np.zeros(idx.size, dtype=bool) if curvature is None else np.isfinite(curvature[idx])
        truncation = np.full(idx.size, np.inf)
        truncation[known] = 2 * SCIPY_STEP * curvature[idx][known] if curvature is not None else 0.0
        if not known.all():  # the second difference, where the centred stencil did not measure it
            rest = np.flatnonzero(~known)
            f2 = forward_differences(objective, idx[rest], scipy_steps(x0[rest], 2 * SCIPY_STEP))
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
