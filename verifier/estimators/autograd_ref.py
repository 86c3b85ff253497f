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

The re-run is paid only where a verdict needs it. Given the hand-written gradient, if
every element of it agrees with :math:`g^{64}` under the comparison rule
(:func:`verifier.core.tolerance.agreement`) with the floors alone as the bound, which is the
tightest bound autograd ever has, no element's verdict can depend on autograd's
round-off, and :math:`g^{64}` is reported with the floors as its bound.

A cost autograd cannot trace (written with plain ``numpy``, or converting to
``float``) does not yield silent zeros: the method is reported unavailable with
the reason, and the other methods still run.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from autograd import grad as autograd_grad

from ..core.objective import Objective
from ..core.params import Layout
from ..core.tolerance import agreement, autograd_floor
from ..errors import ReferenceUnavailable
from ..trace.recording import LAYER_VALUE, backward, loss_beside_gradients, traced_locals
from ..trace.refusal import refusal
from ..trace.statements import cite
from ..trace.tracing import autograd_session
from .base import Estimate

#: The relative bound of a gradient whose cost casts traced values to float32: 32 of its ulps.
LOW_PRECISION = 32 * float(np.finfo(np.float32).eps)


def gradient_function(
    cost: Callable[[Any], Any], layout: Layout, *, resolve: bool = False
) -> Callable[[Any], Any]:
    """``autograd.grad(cost)`` for parameters in any container the layout knows.

    autograd differentiates with respect to its own containers (dict, list, tuple) only, not
    a namedtuple or a dict subclass: the cost is differentiated with respect to the list of
    the arrays, and sees them packed in the caller's own container. The returned function
    takes and returns the caller's container. Every call traces inside
    :func:`~verifier.trace.tracing.autograd_session`; ``resolve=True`` resolves numpy to
    ``autograd.numpy`` in the user's modules for it.
    """

    def gradient(structure: Any) -> Any:
        parts, _ = layout.collect(structure, argument="params")
        with autograd_session(cost, resolve=resolve, tolerant=loss_beside_gradients(cost)) as session:

            def traced(boxed: Any) -> Any:
                loss = cost(layout.pack(session.start(boxed)))
                session.check_loss_first(loss)
                return loss

            by_parts = autograd_grad(traced)
            result = layout.pack(list(by_parts(list(parts))))
        return result

    return gradient


@dataclass(frozen=True)
class Traced:
    """autograd's gradient, flat, and how the cost was traced."""

    values: np.ndarray
    resolved: list[str]  # the user modules whose numpy was resolved to autograd.numpy (or none)
    low_precision: bool = False  # the cost casts traced values to float32 (or narrower)
    intermediates: dict[str, np.ndarray] | None = None  # d cost / d the forward's named values
    forward_values: dict[str, np.ndarray] | None = None  # the forward's Z<k>, A<k>
    retried: str = ""  # the user's own exception on a first attempt that a second did not raise
    held: list[str] = field(default_factory=list)  # the names the forward's frame holds its values by

    @property
    def how(self) -> str:
        if not self.resolved:
            return ""
        return f"traced from your numpy code, numpy resolved to autograd.numpy in {', '.join(self.resolved)}"


def traced_gradient(
    cost: Callable[[Any], Any], structure: Any, layout: Layout, watch: Sequence[str] = ()
) -> Traced:
    """autograd's gradient of ``cost`` at ``structure``, flattened with ``layout``.

    The cost is traced as it is; if that fails, again with numpy resolved to
    ``autograd.numpy`` in the user's own modules (:mod:`verifier.trace.tracing`). The same trace
    records the values the forward's frames hold by name, and the one backward pass gives
    the gradient with respect to each name in ``watch`` and to every ``Z<k>`` as well.

    Raises
    ------
    ReferenceUnavailable
        If autograd cannot trace the cost (the message names the user's file, line and
        operation), or its output does not depend on the parameters.
    """
    failure: BaseException | None = None
    parts, _ = layout.collect(structure, argument="params")
    for resolve in (False, True):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                with np.errstate(all="ignore"):
                    forward = traced_locals(cost, list(parts), layout.pack, resolve=resolve)
                    held = forward.held(list(watch))
                    missing = [n for n in watch if n not in held]
                    layered = forward.by_layer(list(layout.names)) if missing else {}
                    if any(n in layered for n in missing):  # values the helpers hold by layer
                        held = {**layered, **held}
                        forward.frames.append((forward.frames[0][0], held))
                    names = list(
                        dict.fromkeys(
                            [*watch, *(n for n in held if n.startswith("Z") and LAYER_VALUE.match(n))]
                        )
                    )
                    params, intermediates = backward(forward, names)
            except Exception as exc:
                failure = exc
                continue
        if forward.end_node is None or any("independent of input" in str(w.message) for w in caught):
            failure = None
            continue
        flat, _ = layout.flatten_like(layout.pack(list(params)), argument="autograd gradient")
        if not np.all(np.isfinite(flat)):
            raise ReferenceUnavailable("autograd's gradient is not finite at these parameters.")
        values = {n: np.array(v._value, dtype=np.float64) for n, v in held.items() if LAYER_VALUE.match(n)}
        # the first attempt's exception holds its traceback, and so this frame: a cycle that would
        # keep the trace (parameter-sized arrays) alive until the garbage collector runs
        retried = _user_exception(failure) if failure is not None else ""
        failure = None
        return Traced(
            flat, forward.modules, forward.low_precision, intermediates, values, retried, sorted(held)
        )
    if failure is None:
        raise ReferenceUnavailable(
            "autograd saw no dependence of the cost on the parameters (its gradient would be"
            " silently zero), even with numpy resolved to autograd.numpy in your modules: the"
            " cost converts its values outside numpy (e.g. with math.exp or a Python loop over"
            " floats); the finite differences ran without the autograd reference."
        )
    raise ReferenceUnavailable(f"autograd could not trace the cost: {refusal(failure)}.") from failure


#: What a numpy call raises when handed a value autograd is tracing: the expected failure of a
#: first trace of plain numpy, which the retry with numpy resolved to autograd.numpy is for.
TRACE_FAILURES = (TypeError, ValueError, AttributeError, NotImplementedError)


def _user_exception(exc: BaseException) -> str:
    """A first trace attempt's exception that is the user's own (not a numpy call refusing a
    traced value), as a sentence naming their file and line; "" for the expected failures."""
    if isinstance(exc, TRACE_FAILURES):
        return ""
    at = refusal(exc)
    where = f" at {cite(at.where, at.source)}" if at.where else ""
    return (
        f"your cost raised {type(exc).__name__}: {exc}{where} on autograd's first attempt to"
        " trace it, and not when it was traced again: a cost that raises on some calls and not"
        " others (state kept between calls, a lazy initialisation) may also have computed"
        " other values differently; the check went on with the second trace"
    )


def autograd_ref(
    objective: Objective,
    watch: Sequence[str] = (),
    target: np.ndarray | None = None,
    target_error: np.ndarray | None = None,
) -> Estimate:
    """autograd's gradient of the objective's cost, with its round-off bound.

    ``watch``: names of the forward's values whose gradients the same trace also gives
    (the backward's ``dZ2``, ``dA1`` without their ``d``), in ``intermediates``.

    ``target``: the hand-written gradient, flat, with ``target_error`` its own round-off
    bound. Where every element of it agrees with autograd's float64 gradient under the
    comparison rule with the floor bound alone (the tightest bound autograd ever has),
    the verdict needs no measure of autograd's round-off, and the long-double re-run that
    gives one is skipped: a trace saved on every passing check. Otherwise (and without a
    target) the re-run is made and bounds every element.

    Returns
    -------
    Estimate
        Unavailable (with the reason) when autograd cannot trace the cost.
    """
    start = time.perf_counter()
    layout = objective.layout
    try:
        traced = traced_gradient(objective.cost, objective.structure(), layout, list(watch))
    except ReferenceUnavailable as exc:
        return Estimate.unavailable("autograd", layout.size, str(exc), seconds=time.perf_counter() - start)
    values = traced.values
    resolve = bool(traced.resolved)
    floor = _floor(values, layout, traced.low_precision)
    agreed = target is not None and bool(
        np.all(np.isfinite(target))
        and np.all(agreement(target, values, floor, 0.0 if target_error is None else target_error))
    )
    ext = (
        None
        if agreed
        else objective.extended_gradient(gradient_function(objective.cost, layout, resolve=resolve))
    )
    spread: np.ndarray | float
    lost = None  # |g64 - g_ext|: the digits the float64 computation loses, per element
    if agreed:
        spread = 0.0
        how = (
            "float64; every element agrees with the hand-written gradient within the floor"
            " bound, so the long-double re-run that bounds its round-off was not needed"
        )
    elif ext is None:
        spread = 1e-7 * np.abs(values)
        how = "no extended precision: bound 1e-7 relative"
    else:
        # the long-double gradient is the better value: its unit round-off is 2048x smaller, so
        # |g64 - g_ext| / 8 bounds its error with a 256x margin (and stays honest where the
        # cost loses precision in float64, such as log(1 - A) with A near 1)
        lost = np.abs(values - ext).astype(np.float64)
        spread = lost / 8
        values = ext.astype(np.float64)
        floor = _floor(values, layout, traced.low_precision)
        how = "computed in extended precision, bound from its distance to float64"
    if traced.how:
        how = f"{traced.how}; {how}"
    if traced.low_precision:
        how += "; the cost casts to float32, bound widened to its round-off"
    if traced.retried:
        how += "; traced on a second attempt (see the findings)"
    return Estimate(
        "autograd",
        values,
        spread + floor,
        nfev=1 if ext is None else 2,
        seconds=time.perf_counter() - start,
        reason=how,
        intermediates=traced.intermediates,
        forward_values=traced.forward_values,
        extra={
            "extended": ext is not None,
            "resolved": traced.resolved,
            "retried": traced.retried,
            "lost": lost,
            "held": traced.held,
        },
    )


def _floor(values: np.ndarray, layout: Layout, low_precision: bool) -> np.ndarray:
    """autograd's least bound: ``1e-9 |g| + 1e-11 max_T |g|`` (sums that cancel), and for a cost
    that rounds traced values to float32 its round-off, which a long-double re-run (rounded
    the same way) cannot see."""
    floor = autograd_floor(values, layout)
    if low_precision:
        floor = np.maximum(floor, LOW_PRECISION * (np.abs(values) + layout.tensor_max(values)))
    return floor


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
    from ..core.params import layout_of

    layout, flat = layout_of(params)
    objective = Objective(cost, layout, flat)
    return layout.unflatten(traced_gradient(cost, objective.structure(), layout).values)
