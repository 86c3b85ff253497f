"""The report as HTML (a notebook's rich display, or a document of its own)."""

from __future__ import annotations

from html import escape

import numpy as np

from . import Report
from .text import (
    LEGEND,
    _about_lines,
    _artefacts_line,
    _columns,
    _fmt,
    _headline,
    quiet_artefact,
)

GREEN, RED, AMBER = "#1a7f37", "#cf222e", "#9a6700"


_COLOURS = {"pass": GREEN, "ok": GREEN, "fail": RED, "wrong": RED, "inconclusive": AMBER, "undecided": AMBER}


def render_html(report: Report, worst: int = 10, verbose: bool = False) -> str:
    """The report as an HTML fragment, with everything :func:`render_text` says: a coloured
    status, one row per tensor (with its size), the worst elements, the methods, the random
    directions, the intermediate gradients' verdicts, the findings with their legend, the
    other points; short unless ``verbose``, as the text is."""
    colour = _COLOURS.get(report.status, "#57606a")
    methods = _columns(report)
    head = escape(_headline(report))
    cells = "".join(f"<th>vs {escape(m)}</th>" for m in methods)
    rows = []
    for t in report.tensors:
        errs = "".join(f"<td>{_fmt(t.rel_error.get(m, float('nan')))}</td>" for m in methods)
        tint = _COLOURS.get(t.verdict, "#57606a")
        rows.append(
            f"<tr><td><code>{escape(t.name)}</code></td><td>{escape(str(t.shape))}</td>"
            f"<td>{int(np.prod(t.shape))}</td>{errs}"
            f"<td>{t.counts.get('wrong', 0)}</td><td>{t.counts.get('kink', 0)}</td>"
            f'<td style="color:{tint};font-weight:bold">{escape(t.verdict)}</td></tr>'
        )
    code = report.elements["verdict_code"]
    from ..judge.compare import AGREE, UNCHECKED

    flagged = np.flatnonzero((code != AGREE) & (code != UNCHECKED))[:worst].tolist()
    verdict = report.elements["verdict"] if flagged else None
    refs = [m for m in methods if m in report.elements]
    element_rows = "".join(
        f"<tr><td><code>{escape(report.label(i))}</code></td><td>{report.elements['backprop'][i]:.6g}</td>"
        + "".join(f"<td>{report.elements[m][i]:.6g}</td>" for m in refs)
        + f'<td style="color:{_COLOURS.get(str(verdict[i]), "#57606a")}">{escape(str(verdict[i]))}</td>'
        f"<td>{escape(report.odd(i))}</td></tr>"
        for i in flagged
        if verdict is not None
    )
    table_style = 'style="border-collapse:collapse;font-family:monospace"'
    style = (
        "<style>.verifier-report td,.verifier-report th{padding:2px 12px;text-align:left;"
        "border-bottom:1px solid #d0d7de}.verifier-report ul{list-style:none;padding-left:1em}</style>"
    )
    parts = [
        f'<div class="verifier-report">{style}<p style="color:{colour};font-weight:bold">{head}</p>',
        f"<table {table_style}><tr><th>tensor</th><th>shape</th><th>size</th>{cells}<th>wrong</th>"
        f"<th>kink</th><th>verdict</th></tr>{''.join(rows)}</table>",
    ]
    if element_rows:
        ref_cells = "".join(f"<th>{escape(m)}</th>" for m in refs)
        parts.append(
            f"<p>elements not agreeing (first {worst}):</p><table {table_style}><tr><th>element</th>"
            f"<th>backprop</th>{ref_cells}<th>verdict</th><th>odd one out</th></tr>{element_rows}</table>"
        )
    about = _about_lines(report, verbose)
    parts.append(
        "<p>relative error per tensor: ||backprop - method|| / (||backprop|| + ||method||)</p><ul>"
        + "".join(f"<li>{escape(line)}</li>" for line in about)
        + "</ul>"
    )
    if report.findings:
        parts.append(_findings_html(report, verbose))
    if report.points:
        parts.append(_points_html(report))
    parts.append("</div>")
    return "".join(parts)


def _findings_html(report: Report, verbose: bool) -> str:
    """The findings as a list, quiet artefacts folded into one line unless ``verbose``; the legend."""
    marks = {"bug": "&#10007;", "artefact": "~", "note": "&ndash;", "undecided": "?"}
    quiet = [f for f in report.findings if quiet_artefact(f)] if not verbose else []
    items = [
        f'<li style="color:{RED if f.kind == "bug" else "inherit"}">{marks.get(f.kind, "")}'
        f" {escape(f.message)}</li>"
        for f in report.findings
        if f not in quiet
    ]
    if quiet:
        items.append(f"<li>~ {escape(_artefacts_line(quiet))}</li>")
    legend = " &nbsp;&middot;&nbsp; ".join(escape(part) for part in LEGEND.split("   "))
    legend = legend.replace("x a bug", "&#10007; a bug", 1)
    return f"<p>findings:</p><ul>{''.join(items)}</ul><p><small>{legend}</small></p>"


def _points_html(report: Report) -> str:
    """The other points checked, each with its status and its bugs."""
    items = []
    for p in report.points:
        wrong = f"; wrong: {', '.join(p.report.wrong_tensors)}" if p.report.wrong_tensors else ""
        tint = _COLOURS.get(p.report.status, "#57606a")
        sub = "".join(f"<li>&#10007; {escape(f.message)}</li>" for f in p.report.findings if f.kind == "bug")
        items.append(
            f'<li>{escape(p.label)}: <span style="color:{tint}">{escape(p.report.status)}</span>'
            f"{escape(wrong)}{f'<ul>{sub}</ul>' if sub else ''}</li>"
        )
    return f"<p>other points ({len(report.points)}):</p><ul>{''.join(items)}</ul>"
