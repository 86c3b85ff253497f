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
import warnings

import numpy as np
from numpy.exceptions import ComplexWarning

from ..core.objective import Objective
from ..core.tolerance import decides
from .base import Estimate

STEP = 1e-20


def complex_step(
    objective: Objective, indices: np.ndarray | None = None, centered: Estimate | None = None
) -> Estimate:
    """Complex-step gradient with its own bound, or unavailable with the reason.

    Parameters
    ----------
    objective : Objective
    indices : ndarray of int, optional
        Flat indices to estimate (default: all); others are NaN with infinite error.
    centered : Estimate, optional
        The centred differences at this point. The complex step is trusted only once it has
        proved itself here: the cost's own value is complex, no ``ComplexWarning`` (a
        write into a float array drops the imaginary part), and it agrees with the centred
        stencil on up to :data:`CONFIRM` elements where that is accurate (a cost that is
        not complex-analytic, such as ``f(z) * exp(-|Re z|)``, keeps an imaginary part but
        gives a wrong derivative). Otherwise it is unavailable, with the reason.
    """
    start = time.perf_counter()
    nfev0 = objective.nfev
    layout = objective.layout
    idx = np.arange(layout.size) if indices is None else np.asarray(indices, dtype=np.intp)
    confirm = _confirming(centered, idx)
    run = np.union1d(idx, confirm) if confirm.size else idx
    steps = np.full((run.size, 1), STEP * 1j)

    def unavailable(reason: str) -> Estimate:
        return Estimate.unavailable("complex", layout.size, reason, seconds=time.perf_counter() - start)

    try:
        d64 = _imaginary(objective, run, steps)
    except Exception as exc:  # the cost's own error on complex input is the reason
        return unavailable(
            "the cost does not evaluate on complex input"
            f" ({type(exc).__name__}: {exc}); it needs analytic operations (no abs, np.real,"
            " float(), np.logaddexp, or writes into float arrays)"
        )
    ext = None
    if np.finfo(np.longdouble).eps < np.finfo(np.float64).eps:
        try:
            raw = _imaginary(objective, run, steps.astype(np.clongdouble), extended=True)
            ext = raw.astype(np.float64)
        except Exception:
            ext = None
    values = np.full(layout.size, np.nan)
    error = np.full(layout.size, np.inf)
    if ext is None:
        values[run] = d64
        spread = 1e-8 * np.abs(d64)
        how = "no extended precision: bound 1e-8 relative"
    else:
        values[run] = ext
        spread = np.abs(d64 - ext) / 8
        how = "computed in extended precision, bound from its distance to float64"
    floor = 1e-12 * np.abs(np.nan_to_num(values)) + 1e-14 * layout.tensor_max(values)
    error[run] = spread + floor[run]
    bad = ~np.isfinite(values) | ~np.isfinite(error)
    values[bad], error[bad] = np.nan, np.inf
    if confirm.size and centered is not None:
        c_val, c_err = centered.values[confirm], centered.error[confirm]
        off = np.abs(values[confirm] - c_val) > error[confirm] + c_err
        if np.any(off):
            where = layout.label(int(confirm[np.argmax(off)]))
            return unavailable(
                f"the complex step disagrees with accurate centred differences at {where}"
                f" ({values[confirm][off][0]:.6g} against {c_val[off][0]:.6g}): the cost is not"
                " complex-analytic (abs, np.real, max or comparisons on complex values)"
            )
        how += f"; confirmed against centred differences at {confirm.size} elements"
    elif centered is not None:
        how += "; not confirmed: no element where centred differences are accurate enough"
    if indices is not None:  # report only the elements asked for
        keep = np.zeros(layout.size, dtype=bool)
        keep[idx] = True
        values[~keep], error[~keep] = np.nan, np.inf
    return Estimate(
        "complex",
        values,
        error,
        nfev=objective.nfev - nfev0,
        seconds=time.perf_counter() - start,
        reason=f"step 1e-20i; {how}",
        sampled=None if indices is None else idx,
        extra={"extended": ext is not None, "elements": int(idx.size)},
    )


#: Elements on which the complex step is confirmed against accurate centred differences.
CONFIRM = 8


def _confirming(centered: Estimate | None, idx: np.ndarray) -> np.ndarray:
    """Up to :data:`CONFIRM` elements where the centred difference is accurate to
    :data:`~verifier.core.tolerance.RESOLUTION`, its largest values first."""
    if centered is None or not centered.available:
        return np.array([], dtype=np.intp)
    with np.errstate(invalid="ignore"):
        accurate = np.isfinite(centered.values) & decides(centered.error, np.abs(centered.values), 0.0)
    candidates = np.flatnonzero(accurate)
    order = np.argsort(-np.abs(centered.values[candidates]), kind="stable")
    return np.sort(candidates[order[:CONFIRM]])


def _imaginary(
    objective: Objective, idx: np.ndarray, steps: np.ndarray, *, extended: bool = False
) -> np.ndarray:
    """``Im J(theta + i h e_k) / h`` at each element; raises where the cost drops the imaginary part."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", ComplexWarning)  # an imaginary part dropped on the way
        with np.errstate(all="ignore"):
            raw = objective.stencil(idx, steps)[:, 0]
    if extended:
        if raw.dtype != np.clongdouble:
            raise TypeError("the cost does not keep long double")
        return raw.imag / np.longdouble(STEP)
    return raw.imag / STEP
