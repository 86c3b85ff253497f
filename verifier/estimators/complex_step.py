r"""The complex step: derivatives free of subtractive cancellation, where the cost allows it.

Notes
-----
For a cost that is real-analytic and evaluates on complex input,

.. math:: J'(\theta_i) \approx \operatorname{Im} J(\theta + i h e_i) / h, \quad h = 10^{-20},

with truncation error :math:`O(h^2)` (nil here) and no difference of nearly equal
numbers, so the step can be tiny. It cannot help where the cost itself loses
precision (``log(1 - A)`` with ``A`` near 1 loses it in the complex arithmetic too),
so, as for autograd, it is evaluated a second time in extended precision
(``np.clongdouble``) where available: the value reported is the extended one and
its bound is

.. math:: e_i = |D^{64}_i - D^{ext}_i| / 8 + 10^{-12} |D_i| + 10^{-14} \max_T |D|.

Without extended precision the first term is :math:`10^{-8} |D_i|`.

The method is unavailable, with the reason, when the cost raises on complex input or
returns a real number for it (``abs``, ``np.real``, a ``float()`` conversion drop the
imaginary part). ReLU written as ``where(Z > 0, Z, 0)`` works (numpy orders complex
numbers by their real part first). The ``stable`` DeepReLU cost takes ``|Z|`` (not
complex-analytic) and says so by raising on complex input, so it reports the method
unavailable.
"""

from __future__ import annotations

import time

import numpy as np

from ..errors import CostError
from ..objective import Objective
from .base import Estimate

STEP = 1e-20


def complex_step(objective: Objective, indices: np.ndarray | None = None) -> Estimate:
    """Complex-step gradient with its own bound, or unavailable with the reason.

    Parameters
    ----------
    objective : Objective
    indices : ndarray of int, optional
        Flat indices to estimate (default: all); others are NaN with infinite error.
    """
    start = time.perf_counter()
    nfev0 = objective.nfev
    layout = objective.layout
    idx = np.arange(layout.size) if indices is None else np.asarray(indices, dtype=np.intp)
    steps = np.full((idx.size, 1), STEP * 1j)
    try:
        with np.errstate(all="ignore"):
            probe = objective.stencil(idx[:1], steps[:1])
            if probe.dtype.kind != "c" or not np.iscomplexobj(probe):
                raise CostError("real result")
            d64 = objective.stencil(idx, steps)[:, 0].imag / STEP
    except Exception as exc:  # the cost's own error on complex input is the reason
        reason = (
            "the cost does not evaluate on complex input"
            f" ({type(exc).__name__}: {exc}); it needs analytic operations (no abs, np.real,"
            " float(), or np.logaddexp)"
        )
        return Estimate.unavailable("complex", layout.size, reason, seconds=time.perf_counter() - start)
    ext = None
    if np.finfo(np.longdouble).eps < np.finfo(np.float64).eps:
        try:
            with np.errstate(all="ignore"):
                raw = objective.stencil(idx, steps.astype(np.clongdouble))[:, 0]
            if raw.dtype == np.clongdouble:
                ext = (raw.imag / np.longdouble(STEP)).astype(np.float64)
        except Exception:
            ext = None
    values = np.full(layout.size, np.nan)
    error = np.full(layout.size, np.inf)
    if ext is None:
        values[idx] = d64
        spread = 1e-8 * np.abs(d64)
        how = "no extended precision: bound 1e-8 relative"
    else:
        values[idx] = ext
        spread = np.abs(d64 - ext) / 8
        how = "computed in extended precision, bound from its distance to float64"
    floor = 1e-12 * np.abs(np.nan_to_num(values)) + 1e-14 * layout.tensor_max(values)
    error[idx] = spread + floor[idx]
    bad = ~np.isfinite(values) | ~np.isfinite(error)
    values[bad], error[bad] = np.nan, np.inf
    return Estimate(
        "complex",
        values,
        error,
        nfev=objective.nfev - nfev0,
        seconds=time.perf_counter() - start,
        reason=f"step 1e-20i; {how}",
        extra={"extended": ext is not None, "elements": int(idx.size)},
    )
