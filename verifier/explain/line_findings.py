"""What the user's own lines say, added to a full check's findings."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from ..core.objective import Objective
from ..core.params import is_intermediate_key
from ..estimators.base import Estimate
from ..judge.compare import (
    WRONG,
    Verdicts,
)
from ..report import Report
from .diagnose import reference_values
from .findings import Finding
from .lines import Shared, explain


def explain_lines(
    findings: list[Finding],
    cost: Callable[[Any], Any],
    grad: Callable[[Any], Any],
    objective: Objective,
    raw: Any,
    estimates: dict[str, Estimate],
    verdicts: Verdicts,
    context: dict[str, Any] | None,
) -> tuple[list[Finding], Report | None]:
    """A full check's findings with what the user's own lines say (:mod:`verifier.explain.lines`)
    added, and the check of the backward's intermediate gradients (None without one)."""
    ref = estimates.get("autograd")
    layout = objective.layout
    bad = verdicts.verdict == WRONG
    wrong = {
        name: bad[layout.slice(t)].reshape(layout.shapes[t])
        for t, name in enumerate(layout.names)
        if bad[layout.slice(t)].any()
    }
    shared = None
    for f in findings:
        if f.kind == "bug" and not f.tensor and f.pattern in ("scale", "sign") and f.factor is not None:
            reference = reference_values({k: e for k, e in estimates.items() if e.available}, verdicts)
            largest = layout.tensor_maxima(np.nan_to_num(reference))
            top = float(largest.max(initial=0.0))
            right = [
                n
                for n, peak in zip(layout.names, largest, strict=True)
                if n not in wrong and peak > 1e-9 * top
            ]
            shared = Shared(f.factor, list(wrong), right)
            break
    explained = explain(grad, cost, layout, objective.theta0, raw, wrong, shared, context or {}, ref)
    if explained.unchecked:
        warnings.warn(
            f"`grad` returned {explained.unchecked}, which are not checked: {explained.unheld} (a"
            " key `dNAME` is read as the gradient of the forward's value NAME; a parameter's is"
            " `dW1` or `W1`).",
            UserWarning,
            stacklevel=4,
        )
    if any(f.pattern == "line" for f in explained.findings):
        # the lines say more than the layer picture inferred from parameters alone
        findings = [f for f in findings if f.pattern != "layer"]
    for finding in explained.findings:
        insert_bug(findings, finding)
    for name, text in explained.where.items():
        for f in findings:
            if f.kind == "bug" and f.tensor == name and f.pattern not in ("line", "layer"):
                f.message += f"; {text}"
                break
    known = {f.message for f in findings}
    findings += [Finding("note", "", n, "context") for n in explained.notes if n not in known]
    return findings, explained.intermediates


def unchecked_reasons(ignored: list[str], inter: Report | None) -> list[str]:
    """The gradient's keys no check covered, each with why (every gradient returned is either
    checked or named here)."""
    checked = {f"d{t.name}" for t in inter.tensors} if inter is not None else set()
    out = []
    for key in ignored:
        if key in checked:
            continue
        if is_intermediate_key(key):
            out.append(
                f"{key} (the gradient of the forward's value {key[1:]}, which autograd's trace did not"
                " follow: data such as X, a value the forward holds under no such name, or no"
                " reference)"
            )
        else:
            out.append(f"{key} (matches no parameter)")
    return out


def insert_bug(findings: list[Finding], finding: Finding) -> None:
    """Add a bug finding after the existing ones."""
    bugs = [i for i, f in enumerate(findings) if f.kind == "bug"]
    findings.insert(bugs[-1] + 1 if bugs else 0, finding)
