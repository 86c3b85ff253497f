"""The check, as a recipe: flatten, hand-written gradient, each reference, compare, diagnose, report."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .compare import AGREE, KINK, UNDECIDED, WRONG, compare, relative_error
from .diagnose import Finding, diagnose
from .errors import InputError, NonDeterministicCostWarning
from .estimators.autograd_ref import autograd_ref
from .estimators.base import Estimate
from .estimators.centered import centered
from .estimators.scipy_fd import scipy_fd
from .objective import EPS, Objective
from .params import layout_of
from .report import MethodResult, Report, TensorResult

METHODS = ("centered", "scipy", "autograd")


def validate_methods(methods: Sequence[str]) -> tuple[str, ...]:
    """The methods as a tuple, or :class:`InputError` naming the unknown ones."""
    if isinstance(methods, str):
        methods = (methods,)
    chosen = tuple(methods)
    unknown = [m for m in chosen if m not in METHODS]
    if unknown or not chosen:
        raise InputError(f"`methods`: expected a non-empty subset of {list(METHODS)}, got {list(chosen)}.")
    return chosen


def check(
    cost: Callable[[Any], Any],
    grad: Callable[[Any], Any],
    params: Any,
    *,
    methods: Sequence[str] = METHODS,
    seed: int = 0,
    context: dict[str, Any] | None = None,
) -> Report:
    """Check a hand-written gradient three ways and say which method disagrees where.

    Parameters
    ----------
    cost : callable
        ``cost(params) -> float``. Written with ``autograd.numpy`` it also gets an
        autograd reference; with plain numpy that method is reported unavailable.
    grad : callable
        ``grad(params) ->`` the hand-written gradient, in the same container as
        ``params``. For dict parameters a key ``"dW1"`` is accepted for ``"W1"``
        (the notebook's convention), and extra keys (``"dZ1"``, ``"dA1"``) are
        ignored and listed in the report.
    params : dict, list or tuple of float arrays, or a float array
        Where to check. Never modified: the cost and gradient see copies.
        float32 input is upcast to float64 with a warning.
    methods : sequence of str, optional
        Any of ``"centered"``, ``"scipy"``, ``"autograd"`` (default: all three).
    seed : int, optional
        Seeds the ``numpy.random.Generator`` behind every random choice (the
        points at which the cost's round-off is sampled), so a report is reproducible.
    context : dict, optional
        What is known about the network, for the diagnosis: ``m`` (how many terms the
        cost averages: examples, times outputs for MSE), ``loss`` (``"mse"``
        or ``"cross-entropy"``), ``notes`` (list of str).

    Returns
    -------
    Report
        ``report.status`` is ``"pass"``, ``"fail"`` or ``"inconclusive"``;
        ``report.ok`` is True exactly on a pass. ``str(report)`` is the table.

    Warns
    -----
    verifier.errors.NonDeterministicCostWarning
        The cost gave two values at the same parameters (e.g. a dropout mask redrawn per
        call); the report is then inconclusive and says how to fix it.

    Raises
    ------
    verifier.errors.InputError
        Bad ``params``, ``methods``, or a gradient with a missing key or a
        wrong shape (the message names the key and both shapes).
    verifier.errors.CostError
        ``cost`` returned an array, a non-number, or a non-finite value at ``params``.

    Notes
    -----
    The comparison rule is in :mod:`verifier.compare`; each method's error
    bound in its estimator module.

    Examples
    --------
    >>> import autograd.numpy as anp, numpy as np
    >>> import verifier
    >>> cost = lambda p: anp.sum(anp.tanh(p["w"]) ** 2)
    >>> grad = lambda p: {"w": 2 * np.tanh(p["w"]) * (1 - np.tanh(p["w"]) ** 2)}
    >>> verifier.check(cost, grad, {"w": np.array([0.3, -1.2])}).ok
    True
    """
    chosen = validate_methods(methods)
    if not callable(grad):
        raise InputError(f"`grad` must be callable, got {type(grad).__name__}.")
    layout, theta = layout_of(params)
    objective = Objective(cost, layout, theta, np.random.default_rng(seed))
    g, ignored = layout.flatten_like(grad(objective.structure()), argument="grad")
    g_error = _backprop_roundoff(grad, objective, g)
    drift = objective.repeat_differs()

    estimates: dict[str, Estimate] = {}
    for method in chosen:
        if drift and method != "autograd":
            estimates[method] = Estimate.unavailable(method, layout.size, _random_reason(drift))
        elif method == "centered":
            estimates[method] = centered(objective)
        elif method == "scipy":
            estimates[method] = scipy_fd(objective, g)
        else:
            estimates[method] = autograd_ref(objective)

    verdicts = compare(g, estimates, layout, g_error)
    findings = diagnose(g, estimates, verdicts, layout, context)
    if drift:
        findings.insert(0, Finding("undecided", "", _random_reason(drift), "random"))
        warnings.warn(_random_reason(drift), NonDeterministicCostWarning, stacklevel=2)
    status = "fail" if np.any(verdicts.verdict == WRONG) else "pass"
    if drift or np.any(verdicts.verdict == UNDECIDED):
        status = "inconclusive" if status == "pass" or drift else status

    tensors = []
    avail = {m: e for m, e in estimates.items() if e.available}
    for t, name in enumerate(layout.names):
        sl = layout.slice(t)
        v = verdicts.verdict[sl]
        counts = {k: int(np.sum(v == k)) for k in (AGREE, KINK, WRONG, UNDECIDED)}
        rel = {m: relative_error(g[sl], e.values[sl]) for m, e in avail.items()}
        names = list(avail)
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                rel[f"{a}~{b}"] = relative_error(avail[a].values[sl], avail[b].values[sl])
        tensors.append(TensorResult(name, layout.shapes[t], counts, rel))

    elements: dict[str, np.ndarray] = {
        "label": np.array([layout.label(i) for i in range(layout.size)], dtype=object),
        "backprop": g,
        "verdict": verdicts.verdict,
        "odd": np.array(
            [",".join(s for s, mask in verdicts.odd.items() if mask[i]) for i in range(layout.size)],
            dtype=object,
        ),
    }
    for m, e in estimates.items():
        elements[m] = e.values
        elements[f"{m}_error"] = e.error
    method_results = {
        m: MethodResult(m, e.available, e.reason, e.nfev, e.seconds, dict(e.extra))
        for m, e in estimates.items()
    }
    return Report(status, tensors, method_results, findings, elements, ignored)


def _backprop_roundoff(grad: Callable[[Any], Any], objective: Objective, g: np.ndarray) -> np.ndarray:
    """Round-off bound of the hand-written gradient: 8 |g64 - g_ext| with ``g_ext`` in long double.

    Backprop has round-off of its own: with a saturated sigmoid, ``A - Y``
    keeps few digits of a gradient near 1e-15. Running the same backward on
    ``np.longdouble`` parameters measures it. Zero where that is unavailable
    (no long double, or the backward does not keep it).
    """
    zero = np.zeros_like(g)
    if np.finfo(np.longdouble).eps >= EPS:
        return zero
    layout = objective.layout
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with np.errstate(all="ignore"):
                result = grad(layout.unflatten(objective.theta0.astype(np.longdouble)))
            arrays, _ = layout.collect(result)
        if any(np.asarray(a).dtype != np.longdouble for a in arrays):
            return zero
        ext = np.concatenate([np.asarray(a).ravel() for a in arrays])
    except Exception:
        return zero
    if ext.shape != g.shape or not np.all(np.isfinite(ext)):
        return zero
    return 8 * np.abs(g - ext).astype(np.float64)


def _random_reason(drift: float) -> str:
    return (
        f"the cost is not deterministic: two evaluations at the same parameters differ by"
        f" {drift:.3g} (randomness such as a dropout mask redrawn on every call), so finite"
        " differences compare costs of different networks. Fix the random state for every"
        " evaluation (draw the mask once, or reseed a Generator inside the cost) and check again"
    )


def check_network(
    net: Any,
    params: Any,
    X: Any,
    Y: Any,
    *,
    backward: Callable[[Any, Any, Any], Any] | None = None,
    **options: Any,
) -> Report:
    """Check a network object's hand-written ``backward`` against its ``cost``.

    Parameters
    ----------
    net : object
        Anything with ``cost(params, X, Y) -> float`` and
        ``backward(params, X, Y) -> gradients``: the built-in
        :mod:`verifier.networks` or a user's own class.
    params, X, Y
        As the network expects them.
    backward : callable, optional
        ``backward(params, X, Y)`` to check instead of ``net.backward`` (e.g. your
        own backprop for one of the built-in networks).
    **options
        Passed to :func:`check` (``methods``).

    Returns
    -------
    Report
    """
    for attr in ("cost",) if backward is not None else ("cost", "backward"):
        if not callable(getattr(net, attr, None)):
            raise InputError(
                f"`net` must have a callable `{attr}(params, X, Y)`; {type(net).__name__} has none."
            )
    context = dict(options.pop("context", {}) or {})
    describe = getattr(net, "describe", None)
    if callable(describe):
        context = {**describe(params, X, Y), **context}
    return check(
        lambda p: net.cost(p, X, Y),
        lambda p: (backward or net.backward)(p, X, Y),
        params,
        context=context,
        **options,
    )
