"""The report built from the verdicts: each tensor's and method's summary, and the point's status."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.params import Layout
from ..core.sampling import describe_sample
from ..estimators.base import Estimate
from ..estimators.directional import DirectionalResult
from ..explain.findings import Finding
from ..report import Elements, MethodResult, PointResult, Report, TensorResult
from .compare import NAMES, UNDECIDED, WRONG, Verdicts, relative_errors
from .directions import direction_covered


def verdict_report(
    g: np.ndarray,
    estimates: dict[str, Estimate],
    verdicts: Verdicts,
    layout: Layout,
    findings: list[Finding] | None = None,
    ignored: list[str] | None = None,
    drift: bool = False,
    *,
    directions: DirectionalResult | None = None,
    intermediates: Report | None = None,
    unchecked: list[str] | None = None,
    nearby: Report | None = None,
) -> Report:
    """The report of a comparison: status, per-tensor summary, per-element arrays, findings.

    Everything the check gathered goes in here, once: the random ``directions``, the check of
    the backward's ``intermediates``, the gradients left ``unchecked`` (each with why), and the
    ``nearby`` point's own report when it found wrong elements there.
    """
    status = point_status(verdicts, drift, directions)
    avail = {m: e for m, e in estimates.items() if e.available}
    # per tensor, all pairs in one pass: the hand-written gradient against each method, and
    # each pair of methods
    pairs = {m: (g, e.values) for m, e in avail.items()}
    names = list(avail)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            pairs[f"{a}~{b}"] = (avail[a].values, avail[b].values)
    per_tensor = relative_errors(list(pairs.values()), layout.offsets).T.tolist()
    tensors = []
    for t, name in enumerate(layout.names):
        v = verdicts.verdict[layout.slice(t)]
        # not np.bincount: it would first copy the int8 codes into a fresh int64 array
        counts = {name: int(np.count_nonzero(v == code)) for code, name in enumerate(NAMES)}
        rel = dict(zip(pairs, per_tensor[t], strict=True))
        tensors.append(TensorResult(name, layout.shapes[t], counts, rel))
    elements: dict[str, np.ndarray] = Elements(backprop=g, verdict_code=verdicts.verdict)
    elements.update({f"odd_{source}": mask for source, mask in verdicts.odd.items()})
    for m, e in estimates.items():
        elements[m] = e.values
        elements[f"{m}_error"] = e.error
    method_results = {
        m: MethodResult(m, e.available, e.reason, e.nfev, e.seconds, _headline(e, layout))
        for m, e in estimates.items()
    }
    points = []
    if nearby is not None:
        label = "nearby point: a small seeded move off this point's kinks, whole tensors checked"
        points.append(PointResult(label, nearby))
    if directions is not None:
        method_results["directions"] = MethodResult(
            "directions", True, "random-direction checks, five-point stencil each", directions.nfev, 0.0, {}
        )
    return Report(
        status,
        tensors,
        method_results,
        findings or [],
        elements,
        ignored or [],
        points=points,
        intermediates=intermediates,
        directions=[] if directions is None else directions.checks,
        layout=layout,
        unchecked=unchecked or [],
    )


def point_status(verdicts: Verdicts, drift: bool, directions: DirectionalResult | None = None) -> str:
    """The status at one point, decided here alone: fail where an element or a random direction
    is wrong; inconclusive where one is undecided, or the cost drifts; else pass."""
    status = "fail" if np.any(verdicts.verdict == WRONG) else "pass"
    if status == "pass" and np.any(verdicts.verdict == UNDECIDED) or drift:
        status = "inconclusive"
    if directions is not None:
        open_checks = [c for c in directions.checks if not direction_covered(c, verdicts)]
        if directions.failing_blocks or any(c.agrees is False for c in open_checks):
            status = "fail"
        elif status == "pass" and any(c.agrees is None for c in open_checks):
            status = "inconclusive"
    return status


def _headline(estimate: Estimate, layout: Layout) -> dict[str, Any]:
    """A method's headline numbers, and what it sampled if it did."""
    if estimate.sampled is None:
        return dict(estimate.extra)
    return {**estimate.extra, "sampled": describe_sample(layout, estimate.sampled)}
