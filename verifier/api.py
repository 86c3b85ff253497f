"""The check, as a recipe: flatten, hand-written gradient, each reference, compare, diagnose, report."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from . import validate
from .core.objective import Objective, vectorized_stencil
from .core.params import Layout, layout_of
from .core.plan import FULL_BUDGET, Options
from .core.threads import blas_threads_for
from .errors import InputError, NonDeterministicCostWarning
from .estimators.autograd_ref import autograd_ref
from .estimators.base import Estimate
from .estimators.directional import run_directions
from .estimators.roundoff import backprop_roundoff
from .estimators.run import Evidence, Hand, full_references, read_gradient
from .explain.artefacts import direction_findings, nearby_findings
from .explain.diagnose import diagnose
from .explain.findings import Finding
from .explain.line_findings import explain_lines, unchecked_reasons
from .explain.lines import intermediate_keys
from .explain.shapes import repaired, slip_findings
from .frontends.adapters import bind_data, examples_in, loss_and_gradients
from .judge.compare import (
    Verdicts,
)
from .judge.kinks import stencil_at
from .judge.point import judge
from .judge.verdict import verdict_report
from .networks.base import hooks
from .report import PointResult, Report
from .validate import DEFAULT_METHODS, MODES

#: The options :func:`check_network` passes on to :func:`check`.
CHECK_OPTIONS = frozenset(
    {"methods", "mode", "vectorized", "stencil", "budget", "executor", "progress", "context", "rtol", "atol"}
)


def check(
    cost: Callable[[Any], Any],
    grad: Callable[[Any], Any] | None,
    params: Any,
    *,
    methods: Sequence[str] = DEFAULT_METHODS,
    seed: int = 0,
    points: int = 1,
    mode: str = "full",
    vectorized: bool = False,
    stencil: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    budget: int = FULL_BUDGET,
    executor: Any = None,
    progress: bool | None = None,
    context: dict[str, Any] | None = None,
    rtol: float = 0.0,
    atol: float = 0.0,
) -> Report:
    """Check a hand-written gradient three ways and say which method disagrees where.

    Parameters
    ----------
    cost : callable
        ``cost(params) -> float``, in plain numpy or ``autograd.numpy``. Plain numpy gets
        the autograd reference too: the cost is traced with numpy resolved to
        ``autograd.numpy`` in your own modules (the report names them); only code autograd
        cannot follow (``math.exp`` on a parameter, a cast of one to a plain ``float`` array)
        leaves that method unavailable, and the report says which line.
    grad : callable or None
        ``grad(params) ->`` the hand-written gradient, in the same container as
        ``params``. None when ``cost`` returns its gradients beside its loss,
        ``(loss, grads)`` or ``(grads, loss)``: autograd then differentiates the loss part
        only, whatever the gradient half calls. For dict parameters a key ``"dW1"`` is
        accepted for ``"W1"`` (the notebook's convention); an extra key ``"dNAME"``
        (``"dZ1"``, ``"dA1"``) is checked as the gradient of the forward's value ``NAME``, and
        any key that cannot be checked is named in the report as unchecked.
    params : dict, list or tuple of float arrays, or a float array
        Where to check. Never modified: the cost and gradient see copies.
        float32 input is upcast to float64 with a warning.
    methods : sequence of str, optional
        Any of ``"centered"``, ``"scipy"``, ``"autograd"``, ``"complex"`` (default: the
        first three). The complex step also runs by itself on the elements no other
        method could decide, where the cost evaluates on complex input.
    seed : int, optional
        Seeds the ``numpy.random.Generator`` behind every random choice (the points at
        which the cost's round-off is sampled, the extra points), so a report is reproducible.
    points : int, optional
        Check at this many points (default 1): the given parameters, and ``points - 1``
        random perturbations of them drawn from ``seed``. A bug that dead units or
        saturated outputs hide at one point shows at another.
    mode : {"full", "fast"}
        ``"full"`` (default): every method, on every element where that takes at most
        ``budget`` cost evaluations per method; otherwise a seeded sample per tensor (its largest
        gradients and random ones) plus a random-direction check of every tensor, and the
        report says what was sampled. ``"fast"``: random-direction checks only (one over
        all parameters, then per tensor if it does not agree), a few cost evaluations
        whatever the size (a passing verdict: five, plus the backward pass); a failure is
        localised to its elements by bisection. The cost is evaluated twice at the
        parameters, to catch randomness, unless the first direction passes decisively,
        which a random cost cannot.
    vectorized : bool, optional
        The cost accepts a stack of parameter sets: arrays with a leading batch axis,
        shape ``(k, *shape)``, returning ``k`` costs; the finite differences then evaluate
        many perturbations per call, at every point.
    stencil : callable, optional
        ``stencil(indices, steps) -> costs`` of shape ``steps.shape``: the cost at
        ``theta + steps[n, j]`` in element ``indices[n]``, many at once, equal to the cost
        to within round-off (what :func:`check_network` supplies for the built-in
        layered networks, reusing their forward pass).
    budget : int, optional
        Cost evaluations each finite-difference method may spend checking elements one by one
        (default 10,000: every element up to about 4,500 parameters for the centred method,
        9,998 for SciPy); beyond it, a seeded sample of up to 32 elements per tensor, as many
        as the budget pays for (none at ``budget=0``: the random-direction checks alone). A
        count, not seconds, so a report never depends on the machine: multiply by one
        evaluation's time for the time it takes. The noise measurement (about 20
        evaluations), the directions and the kink re-checks add a few evaluations per tensor
        on top.
    executor : concurrent.futures.Executor, optional
        Evaluate the finite differences' elements on its workers, a few elements a task (a
        process pool, or a ``dask.distributed`` client's ``get_executor()``): the centred
        method's stencils, SciPy's column, the complex step, the noise measurement's lines and
        the nearby point's check. Results are identical to the serial run. Pays off when one
        cost evaluation is slow (see ``benchmarks/``); the cost must be picklable for
        processes. A batch stencil (``stencil``, ``vectorized``, the built-in networks) is
        used instead where there is one.
    progress : bool or None, optional
        Show the stage under way, the cost evaluations done and an estimate of the time left
        (on stderr; a widget in Jupyter with the ``progress`` extra, tqdm): True always,
        None (default) in a terminal or a notebook when the planned evaluations, every
        element or a sample, are predicted to take over a second, False never. Only the
        display depends on the clock, never a verdict.
    context : dict, optional
        What is known about the network, for the diagnosis: ``m`` (how many terms the
        cost averages: examples, times outputs for MSE; default: the number of examples a
        cost made by :mod:`verifier.frontends.adapters` holds), ``name`` (the parameters' own name, so
        that a list's tensors read ``THETA[0]``), ``loss`` (``"mse"``
        or ``"cross-entropy"``), ``notes`` (list of str), ``layers`` (tensor name ->
        layer number, for the layer picture).
    rtol, atol : float, optional
        An accepted difference, for gradients approximate by design (an adjoint ODE solve, a
        truncated series): element ``i`` also agrees when ``|g_i - r_i| <= atol + rtol |r_i|``,
        ``r_i`` being the reference (as ``numpy.isclose(g, r, rtol, atol)``; torch's
        ``gradcheck`` has the same pair). Added to each reference's own error bound, never
        replacing it; both 0 by default, so that a pass certifies the reference's accuracy.
        They apply to the element-by-element comparison (the full mode); the fast mode's
        random directions do not take them.

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
        Bad ``params``, ``methods``, ``points``, or a gradient with a missing key. A
        gradient of the wrong shape (a bias summed over the wrong axis, a transposed weight,
        keepdims lost) is not an error but a failed check: a finding names the tensor, both
        shapes, what the mismatch suggests and, where it can be found, its line.
    verifier.errors.CostError
        ``cost`` returned an array, a non-number, or a non-finite value at ``params``.

    Notes
    -----
    The comparison rule is in :mod:`verifier.judge.compare`; each method's error
    bound in its estimator module. Up to 131,072 parameters the check runs BLAS on one
    thread (:mod:`verifier.core.threads`) and restores the caller's threads afterwards.

    Examples
    --------
    >>> import autograd.numpy as anp, numpy as np
    >>> import verifier
    >>> cost = lambda p: anp.sum(anp.tanh(p["w"]) ** 2)
    >>> grad = lambda p: {"w": 2 * np.tanh(p["w"]) * (1 - np.tanh(p["w"]) ** 2)}
    >>> verifier.check(cost, grad, {"w": np.array([0.3, -1.2])}).ok
    True
    """
    options = Options(
        validate.methods(methods),
        validate.choice(mode, "mode", MODES),
        validate.integer(budget, "budget", minimum=0),
        None if stencil is None else validate.callable_(stencil, "stencil", "(indices, steps) -> costs"),
        validate.executor(executor),
        validate.flag(progress, "progress", allow_none=True),
        (validate.tolerance(rtol, "rtol"), validate.tolerance(atol, "atol")),
    )
    if options.mode == "fast" and any(options.accepted):
        raise InputError(
            "`rtol`/`atol` apply to the element-by-element comparison of mode='full'; the fast"
            " mode's random directions do not take them."
        )
    validate.callable_(cost, "cost", "(params) -> float, or (loss, grads) with grad=None")
    if grad is None:
        cost, grad = loss_and_gradients(cost)
    validate.callable_(grad, "grad", "(params) -> gradients like params")
    count = validate.integer(points, "points", minimum=1)
    rng = np.random.default_rng(validate.seed(seed))
    context = validate.context(context)
    known = getattr(cost, "context", None)  # what an adapter's cost knows of its data and names
    if isinstance(known, dict):
        context = {**known, **(context or {})}
    layout, theta = layout_of(params)
    if context and isinstance(context.get("name"), str) and layout.kind in ("list", "tuple"):
        layout = layout.named(context["name"])
    if validate.flag(vectorized, "vectorized") and stencil is None:
        options.stencil = vectorized_stencil(cost, layout, theta)
    with blas_threads_for(layout.size):  # small evaluations: one BLAS thread, the caller's after
        report = check_point(cost, grad, layout, theta, options, rng, context)
        others = []
        for j in range(1, count):
            moved = theta + _perturbation(layout, theta, rng)
            at_moved = replace(options, stencil=stencil_at(options.stencil, moved))
            other = check_point(cost, grad, layout, moved, at_moved, rng, context)
            others.append(PointResult(f"point {j + 1}: parameters perturbed", other))
    # the other points join a new Report: none is edited once built
    return replace(report, points=[*report.points, *others]) if others else report


def _perturbation(layout: Layout, theta: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise at half each tensor's RMS (1 for an all-zero tensor)."""
    out = np.empty_like(theta)
    for t in range(len(layout.names)):
        part = theta[layout.slice(t)]
        rms = float(np.sqrt(np.mean(part**2))) or 1.0
        out[layout.slice(t)] = 0.5 * rms * rng.standard_normal(part.size)
    return out


def check_point(
    cost: Callable[[Any], Any],
    grad: Callable[[Any], Any],
    layout: Layout,
    theta: np.ndarray,
    options: Options,
    rng: np.random.Generator,
    context: dict[str, Any] | None,
) -> Report:
    """One check at one point: the recipe (see :func:`check` for the arguments).

    ``theta`` belongs to the check from here on: it is made read-only, not copied.
    """
    fast = options.mode == "fast"
    # a batch stencil is faster than any pool: the executor gets what no batch evaluates
    executor = options.executor if options.stencil is None else None
    objective = Objective(cost, layout, theta, rng, batch=options.stencil, copy=False, executor=executor)
    hand = read_gradient(grad, objective)
    evidence = _fast(objective, hand, rng) if fast else _full_mode(grad, objective, hand, options, rng)
    verdicts, nearby, agree = judge(cost, grad, objective, hand.g, hand.slips, evidence, options, rng, fast)
    findings, raw = _findings(hand, evidence, verdicts, nearby, agree, layout, options, context, theta)
    intermediates = None
    if not fast and not evidence.drift:
        findings, intermediates = explain_lines(
            findings, cost, grad, objective, raw, evidence.estimates, verdicts, context
        )
    return verdict_report(
        hand.g,
        evidence.estimates,
        verdicts,
        layout,
        findings,
        hand.ignored,
        bool(evidence.drift),
        directions=evidence.directions,
        intermediates=intermediates,
        unchecked=unchecked_reasons(hand.ignored, intermediates),
        nearby=None if nearby is None else nearby[2],
    )


def _fast(objective: Objective, hand: Hand, rng: np.random.Generator) -> Evidence:
    """The fast mode's evidence: random directions only (nothing element by element).

    It makes the repeat evaluation only when its first direction does not pass decisively
    (see run_directions): a forward pass saved on every passing verdict.
    """
    objective.seconds_per_eval = min(objective.seconds_per_eval, objective.last_seconds)
    # a non-finite hand-written value is wrong (compare's rule); the directions check the rest
    g = hand.g
    finite = np.isfinite(g)
    g_dir = g if finite.all() else np.where(finite, g, 0.0)
    directions = run_directions(
        objective, g_dir, None, rng, global_first=True, confirm=objective.repeat_differs
    )
    drift = directions.drift
    # with a drift the directions compared costs of different networks: no verdict from them
    return Evidence({}, None if drift else directions, drift, None)


def _full_mode(
    grad: Callable[[Any], Any], objective: Objective, hand: Hand, options: Options, rng: np.random.Generator
) -> Evidence:
    """The full mode's evidence: every method on every element (or a sample and directions)."""
    layout = objective.layout
    drift = objective.repeat_differs()
    g_error = backprop_roundoff(grad, objective, hand.g, hand.raw)
    for slip in hand.slips:  # its long-double re-run is not read the same way
        g_error[layout.slice(slip.tensor)] = 0.0
    objective.seconds_per_eval = min(objective.seconds_per_eval, objective.last_seconds)
    if drift:  # finite differences would compare different networks; autograd still says something
        estimates: dict[str, Estimate] = {}
        for method in options.methods:
            reason = _random_reason(drift)
            unavailable = Estimate.unavailable(method, layout.size, reason)
            estimates[method] = autograd_ref(objective) if method == "autograd" else unavailable
        return Evidence(estimates, None, drift, g_error)
    watch = [k[1:] for k in intermediate_keys(hand.raw, layout)]  # the backward's dZ2, dA1, without the d
    estimates, directions = full_references(objective, hand.g, g_error, options, rng, watch)
    return Evidence(estimates, directions, drift, g_error)


def _findings(
    hand: Hand,
    evidence: Evidence,
    verdicts: Verdicts,
    nearby: tuple[np.ndarray, np.ndarray, Report | None] | None,
    agree: list[bool | None],
    layout: Layout,
    options: Options,
    context: dict[str, Any] | None,
    theta: np.ndarray,
) -> tuple[list[Finding], Any]:
    """What the verdicts look like, in words; and the gradient as returned, its slips repaired."""
    estimates, directions, drift, slips, raw = (
        evidence.estimates,
        evidence.directions,
        evidence.drift,
        hand.slips,
        hand.raw,
    )
    findings = diagnose(hand.g, estimates, verdicts, layout, context, theta)
    if directions is not None:
        findings = direction_findings(directions, layout) + findings
    if slips:  # the shape says what is wrong with them; the values' patterns would mislead
        slipped = {layout.names[s.tensor] for s in slips}
        findings = slip_findings(slips, layout, agree, (context or {}).get("m")) + [
            f for f in findings if not (f.kind == "bug" and f.tensor in slipped)
        ]
        raw = repaired(raw, layout, hand.g, slips)
    if nearby is not None:
        findings += nearby_findings(layout, *nearby[:2])
    if any(options.accepted):
        rtol, atol = options.accepted
        findings.append(
            Finding(
                "note",
                "",
                f"accepted a difference of atol + rtol·|reference| (rtol={rtol:g}, atol={atol:g}) on top"
                " of each reference's own bound: a pass certifies agreement to that tolerance",
                "accepted",
            )
        )
    retried = estimates["autograd"].extra.get("retried") if "autograd" in estimates else ""
    if retried:  # the user's exception is never swallowed: said in the report and warned
        findings.insert(0, Finding("note", "", retried, "retried"))
        warnings.warn(retried, UserWarning, stacklevel=4)
    if drift:
        findings.insert(0, Finding("undecided", "", _random_reason(drift), "random"))
        warnings.warn(_random_reason(drift), NonDeterministicCostWarning, stacklevel=4)
    return findings, raw


def _random_reason(drift: float) -> str:
    return (
        f"the cost is not deterministic: two evaluations at the same parameters differ by"
        f" {drift:.3g} (randomness such as a dropout mask redrawn on every call, or a cost that"
        " writes into the parameters it is given), so finite"
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
    points: int = 1,
    seed: int = 0,
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
    points : int, optional
        Check at this many points: the given one, and ``points - 1`` with fresh data
        (``net.example_data``, same number of examples) and perturbed parameters,
        drawn from ``seed``. Catches bugs that dead units or saturation hide.
    seed : int, optional
        Seeds every random choice.
    **options
        Passed to :func:`check` (``methods``, ``context``).

    Returns
    -------
    Report
        When the backward returns intermediate gradients under the notebook's names
        (``dZ3``, ``dA2``, ...) and the network can say what they should be (the
        built-in DeepReLU), ``report.intermediates`` holds their own check and the
        findings name the first wrong line of the backward pass.
    """
    for attr in ("cost",) if backward is not None else ("cost", "backward"):
        if not callable(getattr(net, attr, None)):
            raise InputError(
                f"`net` must have a callable `{attr}(params, X, Y)`; {type(net).__name__} has none."
            )
    if backward is not None:
        validate.callable_(backward, "backward", "(params, X, Y) -> gradients")
    back = backward if backward is not None else net.backward
    unknown = sorted(set(options) - CHECK_OPTIONS)
    if unknown:
        raise InputError(f"check_network got unknown options {unknown}; it takes {sorted(CHECK_OPTIONS)}.")
    count = validate.integer(points, "points", minimum=1)
    seed = validate.seed(seed)
    if "context" in options:
        options = {**options, "context": validate.context(options["context"])}
    X, Y = validate.data(X, "X"), validate.data(Y, "Y")  # our copies: the caller's are never touched
    report = _network_point(net, back, params, X, Y, seed, options)
    rng = np.random.default_rng([seed, 1])
    layout, theta = layout_of(params) if count > 1 else (None, None)
    others = []
    for j in range(1, count):
        X_j, Y_j, fresh = X, Y, False
        m = examples_in(X, Y)
        fresh_data = hooks(net).example_data(rng, m=m) if m is not None else None
        if fresh_data is not None:
            X_j, Y_j = fresh_data
            fresh = True
        assert layout is not None and theta is not None
        params_j = layout.unflatten(theta + _perturbation(layout, theta, rng))
        other = _network_point(net, back, params_j, X_j, Y_j, seed + j, options)
        label = f"point {j + 1}: {'fresh data, ' if fresh else ''}parameters perturbed"
        others.append(PointResult(label, other))
    return replace(report, points=[*report.points, *others]) if others else report


def _network_point(
    net: Any, back: Callable[..., Any], params: Any, X: Any, Y: Any, seed: int, options: dict[str, Any]
) -> Report:
    context = dict(options.get("context") or {})
    m = examples_in(X, Y)
    if m is not None:
        context.setdefault("m", m)
    rest = {k: v for k, v in options.items() if k != "context"}
    fast = rest.get("mode") == "fast"
    if not fast:  # the notes on the point cost a forward pass the fast mode saves, as does the batch
        layout, theta = layout_of(params)  # bad parameters get their error before any forward pass
        net_hooks = hooks(net)
        context = {**net_hooks.describe(params, X, Y), **context}
        if "stencil" not in rest and not rest.get("vectorized"):
            stencil = net_hooks.batch_stencil(params, X, Y, layout, theta)
            if stencil is not None:
                rest["stencil"] = stencil
    # X and Y are check_network's own copies already
    cost = bind_data(net.cost, X, Y, data_first=False, copy=False)
    grad = bind_data(back, X, Y, data_first=False, copy=False)
    return check(cost, grad, params, context=context, seed=seed, **rest)
