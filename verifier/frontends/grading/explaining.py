"""The first wrong line of a failing submission, worked out in its own process: feedback only.

The grader's check decides the verdicts in the grader's process, where the student's backward
is a proxy: the lines it runs are in the worker. So once the verdicts of a case are decided and
some tensors are wrong, the grader sends the worker the parameters of the point that failed,
each wrong tensor's wrong elements and the factor every wrong tensor shares (plain data), and
the worker runs :func:`verifier.explain.lines.explain` itself: the student's backward recorded under
observation, the cost built from the instructor's forward with the adapter the grader uses
(trusted code, loaded by path), autograd's reference taken as the check takes it. It answers
the findings as plain strings; the grader validates them, names each script line in the
submitted file (``alice.py:15``, ``nina.ipynb cell 2:14``) and puts them in the feedback in
place of what its own check could say of the proxy.

The answer is feedback, never a verdict: a submission that patches this package in its own
process can change only the text of its own feedback. A worker that fails while explaining
(raises, times out, exits, answers what is not findings) leaves the grade as it stands; the
feedback just lacks the line.
"""

from __future__ import annotations

import contextlib
import io
import re
import warnings
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from ...explain.findings import Finding
from ...judge.compare import WRONG

if TYPE_CHECKING:
    from ...report import Report

#: Findings the worker may answer, and the characters of each string kept.
MAX_FINDINGS = 64
MAX_TEXT = 2000
#: The kinds of finding the worker answers: the line explanation's own (``where``: a wrong
#: tensor's own line, appended to its finding, when autograd cannot give a reference).
PATTERNS = ("line", "region", "shared", "where")


# ---------------------------------------------------------------------------------------------
# the worker's side


def run_explain(namespace: dict[str, Any], header: dict[str, Any], value: Any) -> list[list[str]]:
    """The ``explain`` request, in the worker: the line findings of the submission's backward.

    ``header``: ``reference`` (the instructor's file), ``forward`` (its forward's name),
    ``backward`` (the submission's), ``own_forward`` (the submission's forward feeding its
    backward, or None), ``style``. ``value``: ``[X, Y, params, wrong, factor]`` with ``wrong``
    each wrong tensor's name and its wrong elements (bool, in its shape) and ``factor`` the one
    every wrong tensor is off by (or None).
    """
    from ... import validate
    from ...core.objective import Objective
    from ...core.params import layout_of
    from ...estimators.autograd_ref import autograd_ref
    from ...explain.lines import Shared, explain, intermediate_keys
    from ...explain.shapes import ShapeSlip, repaired
    from ..adapters import STYLES
    from ..loading import load_module
    from .grader import _completed

    X, Y, params, wrong, factor = value
    module = load_module(header["reference"])
    backward = namespace[header["backward"]]
    cost, grad = STYLES[header["style"]](getattr(module, header["forward"]), backward, X, Y)
    own = header.get("own_forward")
    if own:
        forward = namespace[own]
        Xv, Yv = validate.data(X, "X"), validate.data(Y, "Y")

        def grad(p: Any) -> Any:
            return backward(Xv, Yv, forward(Xv, Yv, p)[1])

    grad = _completed(grad, params, {})
    known = getattr(cost, "context", None)
    context = dict(known) if isinstance(known, dict) else {}
    layout, theta = layout_of(params)
    if isinstance(context.get("name"), str):
        layout = layout.named(context["name"])
    masks = {
        name: np.asarray(wrong[name], dtype=bool).reshape(layout.shapes[t])
        for t, name in enumerate(layout.names)
        if name in wrong
    }
    # the submission's prints were shown once, from the graded run: not again
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = grad(layout.unflatten(theta.copy()))
        read: list[tuple[int, tuple[int, ...], str]] = []
        g, _ = layout.flatten_like(raw, argument="grad", slips=read)
        raw = repaired(raw, layout, g, [ShapeSlip(*s) for s in read])
        objective = Objective(cost, layout, theta, np.random.default_rng(0), copy=False)
        reference = autograd_ref(objective, [k[1:] for k in intermediate_keys(raw, layout)])
        shared = None
        if factor is not None and reference.available:
            # as the check says it: the right tensors are those whose reference is not all zero
            largest = layout.tensor_maxima(np.nan_to_num(reference.values))
            top = float(largest.max(initial=0.0))
            right = [
                n
                for n, peak in zip(layout.names, largest, strict=True)
                if n not in masks and peak > 1e-9 * top
            ]
            shared = Shared(float(factor), list(masks), right)
        explained = explain(grad, cost, layout, theta, raw, masks, shared, context, reference)
    out = [
        [f.kind, f.tensor, f.message, f.pattern]
        for f in explained.findings
        if f.kind == "bug" and f.pattern in PATTERNS
    ]
    out += [["bug", name, text, "where"] for name, text in explained.where.items()]
    return out


# ---------------------------------------------------------------------------------------------
# the grader's side


def request(
    worker: Any,
    plan: Any,
    case: Any,
    report: Any,
    calls: list[tuple[np.ndarray, Any]],
    script_name: str,
    where: Callable[[int | None], str],
) -> tuple[Any, list[Finding]] | None:
    """Ask the worker for the line findings of a failing case (see the module notes).

    Returns the report of the point explained (the case's own, or the first other point that
    failed) and the findings, each script line named in the submitted file; None when nothing
    is wrong or the worker could not say (the grade stands either way).

    ``calls``: each parameter set (flat) the check called the backward with, and what it
    returned: a failing point's parameters are those of the call whose gradient it checked.
    """
    from ...core.params import layout_of
    from .runner import SubmissionRaised, WorkerFailed

    layout, theta = layout_of(case.params)
    point = _failing_point(report, layout, theta, calls)
    if point is None:
        return None
    failing, at = point
    masks = failing.layout.split(failing.elements["verdict_code"] == WRONG)
    wrong = {name: mask for name, mask in masks.items() if mask.any()}
    if not wrong:
        return None
    factor = next(
        (
            f.factor
            for f in failing.findings
            if f.kind == "bug" and not f.tensor and f.pattern in ("scale", "sign") and f.factor is not None
        ),
        None,
    )
    header = {
        "op": "explain",
        "reference": str(plan.source),
        "forward": plan.names[0],
        "backward": plan.names[1],
        "own_forward": plan.names[0] if "forward" in plan.student else None,
        "style": plan.style,
    }
    worker.left = plan.timeout  # a budget of its own: the grade's time is spent and counted
    try:
        answer = worker.request(header, [case.X, case.Y, layout.unflatten(at), wrong, factor])
    except (SubmissionRaised, WorkerFailed):
        return None
    findings = _validated(answer, set(wrong), script_name, where)
    return None if findings is None else (failing, findings)


def without(report: Report, patterns: tuple[str, ...]) -> Report:
    """``report`` with the findings of ``patterns`` left out of it and of its points' reports
    (a new report: the one built is not edited)."""

    def kept(r: Report) -> Report:
        return replace(r, findings=[f for f in r.findings if f.pattern not in patterns])

    return replace(kept(report), points=[replace(p, report=kept(p.report)) for p in report.points])


def merge(report: Report, failing: Report, findings: list[Finding]) -> Report:
    """``report`` with the worker's line findings in the report of the point explained
    (``failing``: ``report`` itself or one of its points' reports) in place of the ones the check
    could make of the proxy, as the check itself merges its own
    (:func:`verifier.explain.line_findings.explain_lines`); a new report, the one built is not edited."""
    from ...explain.line_findings import insert_bug

    # the lines say more than the layer picture inferred from parameters alone
    lines = any(f.pattern == "line" for f in findings)
    # where the shared factor enters: said once, from the point explained
    shared = any(not f.tensor and f.pattern in ("line", "shared") for f in findings)

    def edited(r: Report) -> Report:
        own = [f for f in r.findings if not (shared and f.pattern == "shared")]
        if r is not failing:
            return replace(r, findings=own)
        if lines:
            own = [f for f in own if f.pattern != "layer"]
        for f in findings:
            if f.pattern == "where":
                for i, mine in enumerate(own):
                    if (
                        mine.kind == "bug"
                        and mine.tensor == f.tensor
                        and mine.pattern not in ("line", "layer")
                    ):
                        own[i] = replace(mine, message=f"{mine.message}; {f.message}")
                        break
            else:
                insert_bug(own, f)
        return replace(r, findings=own)

    return replace(edited(report), points=[replace(p, report=edited(p.report)) for p in report.points])


def _failing_point(
    report: Any, layout: Any, theta: np.ndarray, calls: list[tuple[np.ndarray, Any]]
) -> tuple[Any, np.ndarray] | None:
    """The first point of ``report`` that failed, and its parameters (flat)."""
    if report.point_status == "fail":
        return report, theta
    for point in report.points:
        if point.report.point_status != "fail":
            continue
        checked = point.report.elements.get("backprop")
        for at, raw in calls:
            try:
                g, _ = layout.flatten_like(raw, argument="grad", slips=[])
            except Exception:  # a gradient of a shape the check read another way
                continue
            same = checked is not None and g.shape == checked.shape
            if same and np.array_equal(g, checked, equal_nan=True):
                return point.report, at
        return None
    return None


def _validated(
    answer: Any, wrong: set[str], script_name: str, where: Callable[[int | None], str]
) -> list[Finding] | None:
    """The worker's answer as findings, or None if it is not a list of findings of the kinds
    explained (four strings each, bounded in count and length, each of a tensor found wrong or
    of none)."""
    if not isinstance(answer, list) or len(answer) > MAX_FINDINGS:
        return None
    place = re.compile(r"(?<![\w.\-])" + re.escape(script_name) + r":(\d+)")
    out = []
    for item in answer:
        strings = isinstance(item, list) and all(type(s) is str and len(s) <= MAX_TEXT for s in item)
        if not (strings and len(item) == 4):
            return None
        kind, tensor, message, pattern = item
        if kind != "bug" or pattern not in PATTERNS or (tensor and tensor not in wrong):
            return None
        message = place.sub(lambda m: where(int(m.group(1))), message)
        out.append(Finding("bug", tensor, message, pattern))
    return out
