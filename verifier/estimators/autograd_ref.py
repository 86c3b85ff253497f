r"""Reference gradients from autograd, with a round-off bound.

Notes
-----
``autograd.grad`` differentiates the cost exactly as written, so its only error
is floating-point round-off, usually a few ulps. It can be much more where the
cost loses precision: with ``A`` a sigmoid output near 1, ``log(1 - A)`` has
its argument known only to ``eps / (1 - A)`` relative, and so has its
derivative. To measure this, the gradient is computed a second time in
extended precision (``np.longdouble``) where the platform and the cost allow
it; the bound per element is

.. math:: e_i = |g^{64}_i - g^{ext}_i| / 8 + 10^{-9} |g_i| + 10^{-11} \max_{T} |g|,

and the value reported is :math:`g^{ext}` rounded to float64: the long-double
unit round-off is 2048 times smaller, so :math:`|g^{64} - g^{ext}|/8` bounds
its error with a wide margin (the last two terms are floors, the last over
the element's tensor :math:`T`, for sums that cancel). Without extended
precision the value is :math:`g^{64}` and the first term is :math:`10^{-7} |g_i|`.

A cost autograd cannot trace (written with plain ``numpy``, or converting to
``float``) does not yield silent zeros: the method is reported unavailable with
the reason, and the other methods still run.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from autograd import grad as autograd_grad
from autograd.numpy.numpy_boxes import ArrayBox

from ..errors import ReferenceUnavailable, where_raised
from ..objective import Objective
from ..params import Layout
from .base import Estimate

_ADVICE = (
    "write the cost with autograd's numpy (`import autograd.numpy as np`) and return"
    " the result without converting it to float"
)


def gradient_function(cost: Callable[[Any], Any], layout: Layout) -> Callable[[Any], Any]:
    """``autograd.grad(cost)`` for parameters in any container the layout knows.

    autograd differentiates with respect to its own containers (dict, list, tuple) only, not
    a namedtuple or a dict subclass: the cost is differentiated with respect to the list of
    the arrays, and sees them packed in the caller's own container. The returned function
    takes and returns the caller's container.
    """
    by_parts = autograd_grad(lambda parts: cost(layout.pack(list(parts))))

    def gradient(structure: Any) -> Any:
        parts, _ = layout.collect(structure, argument="params")
        with _numpy_refuses_traced_values():
            return layout.pack(list(by_parts(list(parts))))

    return gradient


class PlainNumpyError(TypeError):
    """Plain numpy was handed a value autograd is tracing."""


@contextmanager
def _numpy_refuses_traced_values() -> Iterator[None]:
    """While autograd traces, plain numpy refuses a traced value instead of wrapping it.

    Left alone, ``np.dot(X, w)`` with a traced ``w`` builds an object array holding one
    traced number per entry: at 5,000 parameters, 30 seconds and 600 MB before autograd
    gives up. Refusing the conversion (``ArrayBox.__array__``) makes such a trace fail at
    once, at the user's line. autograd's own functions never convert a traced value.
    """
    ArrayBox.__array__ = _refuse
    try:
        yield
    finally:
        del ArrayBox.__array__


def _refuse(self: Any, *args: Any, **kwargs: Any) -> Any:
    raise PlainNumpyError(
        "plain numpy was given a value autograd is tracing (np.dot, np.asarray, an in-place"
        " write or similar on the parameters)"
    )


def traced_gradient(cost: Callable[[Any], Any], structure: Any, layout: Layout) -> np.ndarray:
    """autograd's gradient of ``cost`` at ``structure``, flattened with ``layout``.

    Raises
    ------
    ReferenceUnavailable
        If autograd cannot trace the cost, or its output does not depend on the parameters.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with np.errstate(all="ignore"):
                result = gradient_function(cost, layout)(structure)
        except Exception as exc:
            where = where_raised(exc)
            at = f" at {where}" if where else ""
            raise ReferenceUnavailable(
                f"autograd could not trace the cost{at} ({type(exc).__name__}: {exc}); {_ADVICE}."
            ) from exc
    for w in caught:
        if "independent of input" in str(w.message):
            raise ReferenceUnavailable(
                "autograd saw no dependence of the cost on the parameters (its gradient would"
                f" be silently zero): the cost was not traced; {_ADVICE}."
            )
    flat, _ = layout.flatten_like(result, argument="autograd gradient")
    if not np.all(np.isfinite(flat)):
        raise ReferenceUnavailable("autograd's gradient is not finite at these parameters.")
    return flat


def autograd_ref(objective: Objective) -> Estimate:
    """autograd's gradient of the objective's cost, with its round-off bound.

    Returns
    -------
    Estimate
        Unavailable (with the reason) when autograd cannot trace the cost.
    """
    start = time.perf_counter()
    layout = objective.layout
    try:
        values = traced_gradient(objective.cost, objective.structure(), layout)
    except ReferenceUnavailable as exc:
        return Estimate.unavailable("autograd", layout.size, str(exc), seconds=time.perf_counter() - start)
    ext = objective.extended_gradient(gradient_function(objective.cost, layout))
    if ext is None:
        spread = 1e-7 * np.abs(values)
        how = "no extended precision: bound 1e-7 relative"
    else:
        # the long-double gradient is the better value: its unit round-off is 2048x smaller, so
        # |g64 - g_ext| / 8 bounds its error with a 256x margin (and stays honest where the
        # cost loses precision in float64, such as log(1 - A) with A near 1)
        spread = np.abs(values - ext).astype(np.float64) / 8
        values = ext.astype(np.float64)
        how = "computed in extended precision, bound from its distance to float64"
    floor = 1e-9 * np.abs(values) + 1e-11 * layout.tensor_max(values)
    return Estimate(
        "autograd",
        values,
        spread + floor,
        nfev=1 if ext is None else 2,
        seconds=time.perf_counter() - start,
        reason=how,
        extra={"extended": ext is not None},
    )


def reference_gradients(cost: Callable[[Any], Any], params: Any) -> Any:
    """autograd's gradient of ``cost`` at ``params``, in the same container.

    Parameters
    ----------
    cost : callable
        ``cost(params) -> float``, written with ``autograd.numpy``.
    params : dict, list, tuple of float arrays, or a float array
        Where to differentiate. Not modified.

    Returns
    -------
    Same container as ``params``, float64 arrays of the same shapes.

    Raises
    ------
    verifier.errors.ReferenceUnavailable
        If autograd cannot trace ``cost`` (the message says what to change).
    verifier.errors.InputError
        If ``params`` is not a valid parameter structure.

    Examples
    --------
    >>> import autograd.numpy as anp, numpy as np
    >>> from verifier import reference_gradients
    >>> reference_gradients(lambda p: anp.sum(p["w"] ** 2), {"w": np.array([1.0, -2.0])})
    {'w': array([ 2., -4.])}
    """
    from ..params import layout_of

    layout, flat = layout_of(params)
    objective = Objective(cost, layout, flat)
    return layout.unflatten(traced_gradient(cost, objective.structure(), layout))
