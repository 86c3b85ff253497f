"""The report as text: the table of tensors and methods, the findings, the legend."""

from __future__ import annotations

import numpy as np

from ..explain.findings import METHOD_TITLE, Finding
from . import Report


def _fmt(x: float) -> str:
    return "-" if x is None or not np.isfinite(x) else f"{x:.1e}"


#: The findings' marks in the text report, and what they mean (its legend).
MARKS = {"bug": "x", "artefact": "~", "note": "-", "undecided": "?"}


LEGEND = "x a bug   ~ an artefact of a reference, not a bug   - a note   ? undecided"


def quiet_artefact(finding: Finding) -> bool:
    """An artefact of a reference at elements where backprop agrees with a trusted reference:
    it changed no verdict, so a short report gives it one line for all."""
    return finding.kind == "artefact" and finding.message.endswith("not a bug")


def _artefacts_line(findings: list[Finding]) -> str:
    heads = list(dict.fromkeys(f.message.split(" at ")[0].split(":")[0] for f in findings))
    return f"not a bug, changed no verdict: {'; '.join(heads)} (details: -v, or report.format(verbose=True))"


def _columns(report: Report) -> list[str]:
    """The methods with a per-tensor relative error (the directions have none)."""
    return [m for m in report.methods if report.methods[m].available and m != "directions"]


def _evaluations(n: int) -> str:
    return f"{n} evaluation{'' if n == 1 else 's'}"


def _method_lines(report: Report, verbose: bool) -> list[str]:
    out = []
    for name, m in report.methods.items():
        title = METHOD_TITLE[name]
        if not m.available:
            out.append(f"{title}: unavailable" + (f" ({m.reason})" if verbose else ""))
            continue
        if name == "directions":  # timed within the check, not on their own
            if verbose:
                out.append(f"{title}: {_evaluations(m.nfev)}; {m.reason}")
            continue
        desc = f"{title}: {_evaluations(m.nfev)}, {m.seconds * 1e3:.1f} ms"
        if verbose:
            desc += f"; {m.reason}"
        elif name == "autograd" and m.reason.startswith("traced"):  # where the reference came from
            desc += f"; {m.reason.split(';')[0]}"
        if "check_grad" in m.extra:
            desc += f"; scipy.optimize.check_grad = {m.extra['check_grad']:.3g} (2-norm, no threshold)"
        if "sampled" in m.extra:
            desc += f"; {m.extra['sampled']}"
        out.append(desc)
    return out


def _direction_line(report: Report, verbose: bool) -> str | None:
    if not report.directions:
        return None
    parts, agreeing = [], 0
    for d in report.directions:
        verdict = {True: "agrees", False: "DISAGREES", None: "no verdict"}[d.agrees]
        if d.agrees is True and not verbose:
            agreeing += 1
            continue
        parts.append(f"{d.label} {verdict} ({d.projected:.4g} vs {d.value:.4g} ± {d.error:.1g})")
    if agreeing:
        parts.insert(0, f"{agreeing} of {len(report.directions)} agree" if parts else f"all {agreeing} agree")
    return "random directions (v.g vs the slope along v): " + "; ".join(parts)


def _headline(report: Report) -> str:
    """The report's first line: its status, and the wrong tensors."""
    n_wrong = len(report.wrong_tensors)
    return {
        "pass": "PASS: backprop agrees with the references everywhere"
        + (f" (at {len(report.points) + 1} points)" if report.points else ""),
        "fail": f"FAIL: backprop is wrong in {n_wrong} of {len(report.tensors)} tensors"
        f" ({', '.join(report.wrong_tensors)})",
        "inconclusive": "INCONCLUSIVE: some elements could not be decided",
    }[report.status]


def _about_lines(report: Report, verbose: bool) -> list[str]:
    """What ran: the methods, the random directions, what went unchecked, the intermediates."""
    out = _method_lines(report, verbose)
    directions = _direction_line(report, verbose)
    if directions:
        out.append(directions)
    if report.unchecked_keys:
        out.append(f"ignored gradient keys (not parameters): {', '.join(report.unchecked_keys)}")
    if report.unchecked:
        out.append(f"unchecked gradients: {'; '.join(report.unchecked)}")
    if report.intermediates is not None:
        checked = ", ".join(f"d{t.name}: {t.verdict}" for t in report.intermediates.tensors)
        out.append(f"intermediate gradients checked against autograd: {checked}")
    return out


def render_text(report: Report, verbose: bool = False) -> str:
    """The readable table: a status line, one row per tensor, the methods, the findings.

    Short unless ``verbose``: what changed no verdict (artefacts of the references where
    backprop agrees with a trusted one, each method's how, the agreeing random directions) is
    summed up in a line; the JSON (:meth:`Report.to_dict`) always holds all of it."""
    methods = _columns(report)
    head = _headline(report)
    cols = ["tensor", "shape", "size"] + [f"vs {m}" for m in methods] + ["wrong", "kink", "verdict"]
    rows = [
        [t.name, str(t.shape), str(int(np.prod(t.shape)))]
        + [_fmt(t.rel_error.get(m, float("nan"))) for m in methods]
        + [str(t.counts.get("wrong", 0)), str(t.counts.get("kink", 0)), t.verdict]
        for t in report.tensors
    ]
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(cols)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()  # noqa: E731
    out = [head, "", line(cols)] + [line(r) for r in rows]
    out.append("")
    out.append("relative error per tensor: ||backprop - method|| / (||backprop|| + ||method||)")
    out.extend("  " + line for line in _about_lines(report, verbose))
    mark = MARKS
    if report.findings:
        out.append("")
        out.append("findings:")
        quiet = [f for f in report.findings if quiet_artefact(f)] if not verbose else []
        out.extend(f"  {mark.get(f.kind, '-')} {f.message}" for f in report.findings if f not in quiet)
        if quiet:
            out.append(f"  ~ {_artefacts_line(quiet)}")
        out.append(f"  ({LEGEND})")
    if report.points:
        out.append("")
        out.append(f"other points ({len(report.points)}):")
        for p in report.points:
            wrong = f"; wrong: {', '.join(p.report.wrong_tensors)}" if p.report.wrong_tensors else ""
            out.append(f"  {p.label}: {p.report.status}{wrong}")
            if p.report.point_status == "fail" and report.point_status != "fail":
                out.extend(f"    {mark['bug']} {f.message}" for f in p.report.findings if f.kind == "bug")
    return "\n".join(out)
