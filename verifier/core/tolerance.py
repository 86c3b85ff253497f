r"""What a pass certifies: the resolution, the floors, the one rule that says whether a
bound can decide, and the agreement test.

Notes
-----
**Resolution.** A reference decides an element only when its bound is within
:data:`RESOLUTION` of the value (:math:`10^{-5}`: a pass certifies every element to that
relative accuracy, so a gradient off by :math:`10^{-4}` cannot pass), or within an absolute
floor where the value is near zero (:func:`decides`).

**The computation's scale** (:func:`scale_floors`). A gradient that is exactly zero (a bias
before a batch normalisation: every downstream value is shift-invariant) is computed as a sum
of terms that cancel, and the hand-written sum keeps their round-off: about
:math:`m \epsilon T` for :math:`m` terms of size :math:`T`. Its own tensor's largest gradient
is then zero too, and says nothing of :math:`T`. The terms' size comes from the computation
instead: every term of :math:`\partial J / \partial \theta_i` is a contribution to the cost's
first-order change, so :math:`|\theta_i| \, T` is at most of the order of the cost's scale

.. math:: S_J = |J| + \sum_U \sum_{i \in U} |\theta_i g_i|,

(the cost itself, and the sizes of the parameters' first-order contributions to it, each
tensor's :math:`\|\theta_U \odot g_U\|_1`). In gradient units for tensor :math:`T` this is
:math:`S_J / \theta_T`, with :math:`\theta_T` the tensor's largest magnitude (1 for an
all-zero tensor, as the steps take it), and the floor is

.. math:: f_T = c \, \epsilon \, S_J / \theta_T, \qquad c = 64,

a sum of 64 such terms' worth of round-off: far below any slip (a slip of that size moves the
cost by :math:`64 \epsilon` of its scale, less than its own round-off), and above what
backprop's sums leave of a zero. Where the hand-written gradient can be re-run in long
double its round-off is measured instead (``estimators.roundoff.backprop_roundoff``); the floor covers
code that drops to float64 (a buffer from ``np.zeros``, a ``float()``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .params import Layout, chunks

EPS = float(np.finfo(np.float64).eps)
#: The relative accuracy a pass certifies: a reference whose bound is wider than this part of
#: the value cannot decide (agreeing within a wide bound, a wrong gradient would agree too).
RESOLUTION = 1e-5
#: Relative differences below this are agreement whatever the bounds: the accuracy of the cost
#: itself (an ODE solver's, a series'), float32 inside a backward, never a backprop slip.
MATERIAL = 1e-7
#: The absolute floor near zero, as parts of the largest gradient: of the element's own tensor,
#: and of all parameters (a tensor whose gradient is zero everywhere).
TENSOR_FLOOR = 1e-6
GLOBAL_FLOOR = 1e-9
#: autograd's least bound, as parts of each value and of its tensor's largest (sums that cancel).
AUTOGRAD_RELATIVE = 1e-9
AUTOGRAD_TENSOR = 1e-11
#: Terms' worth of round-off in the scale floor (see the module notes).
ROUNDOFF_TERMS = 64


def scale_floors(layout: Layout, theta: np.ndarray, g: np.ndarray, cost: float) -> np.ndarray:
    """Per tensor, the round-off floor of a gradient from the computation's scale (module notes).

    Parameters
    ----------
    layout : Layout
    theta, g : ndarray, shape (P,)
        The parameters and the hand-written gradient, flat (non-finite entries ignored).
    cost : float
        The cost at ``theta``.

    Returns
    -------
    ndarray, shape (n_tensors,)
    """
    contribution = abs(cost) if np.isfinite(cost) else 0.0
    for sl in chunks(layout.size):
        with np.errstate(invalid="ignore", over="ignore"):
            part = np.abs(theta[sl] * g[sl])
        contribution += float(np.sum(part[np.isfinite(part)]))
    largest = layout.tensor_maxima(theta)
    scale = np.where(largest > 0, largest, 1.0)
    return ROUNDOFF_TERMS * EPS * contribution / scale


def autograd_floor(values: np.ndarray, layout: Layout) -> np.ndarray:
    """autograd's least bound on each element: :data:`AUTOGRAD_RELATIVE` of its value plus
    :data:`AUTOGRAD_TENSOR` of its tensor's largest."""
    return AUTOGRAD_RELATIVE * np.abs(values) + AUTOGRAD_TENSOR * layout.tensor_max(values)


def decides(bound: Any, magnitude: Any, floor: Any) -> Any:
    """The one rule: a bound decides where it is within :data:`RESOLUTION` of the magnitude it
    bounds, or within the absolute ``floor`` (for values near zero). Elementwise on arrays
    (a bool array), or on floats (a numpy bool)."""
    return bound <= np.maximum(RESOLUTION * magnitude, floor)


def agreement(
    g: np.ndarray,
    values: np.ndarray,
    error: np.ndarray,
    g_error: np.ndarray | float = 0.0,
    accepted: tuple[float, float] = (0.0, 0.0),
) -> np.ndarray:
    """The rule's agreement test, per element: ``|g - r| <= e + b + m max(|g|, |r|)``, plus the
    user's accepted tolerance ``atol + rtol |r|`` (``accepted = (rtol, atol)``, as numpy's
    ``isclose`` with the reference as ``b``).

    True where the reference has no finite value or bound (it says nothing there).
    """
    rtol, atol = accepted
    with np.errstate(invalid="ignore"):
        have = np.isfinite(values) & np.isfinite(error)
        d = np.abs(g - values)
        # (where the value is not finite the test is True whatever this is)
        material = MATERIAL * np.maximum(np.abs(g), np.where(have, np.abs(values), 0.0))
        if rtol or atol:
            material = material + atol + rtol * np.where(have, np.abs(values), 0.0)
        return ~have | (d <= error + g_error + material)
