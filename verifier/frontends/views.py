"""The front-ends' own renderings: the suite's lines and summary, a sweep's table and plot, bench's
rows and plot.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..report import STATUSES
from ..report.html import GREEN, RED, render_html


def render_case_line(result: Any) -> str:
    """One line per suite case: outcome, expectation, size, time, and the headline finding."""
    mark = "ok  " if result.as_expected else "FAIL"
    expect = "must pass" if result.expect == "pass" else f"must fail at {', '.join(result.expected_wrong)}"
    cost = f"{result.params} params, {result.seconds * 1e3:.0f} ms"
    line = f"{mark} {result.name}: {result.status} ({expect}; {cost})"
    if result.expect == "fail" or not result.as_expected:
        line += "".join(f"\n       {message}" for message in result.headlines)
    if not result.as_expected:
        line += "\n" + "\n".join("       " + s for s in str(result.report).splitlines())
    return line


def render_reproductions(repros: list[Any]) -> str:
    """The seed figures, recomputed, beside what the documents printed."""
    lines = ["Seed reproductions (recomputed with the documents' own procedures):"]
    lines += [f"  {r.what}: {r.value!r}  (printed: {r.printed})" for r in repros]
    return "\n".join(lines)


def render_suite_summary(results: list[Any]) -> str:
    """The summary table of a suite run."""
    groups: dict[str, list[Any]] = {}
    for r in results:
        groups.setdefault("must pass" if r.expect == "pass" else "must fail", []).append(r)
    rows = [["cases", "n", "as expected", "pass", "fail", "inconclusive", "seconds"]]
    for name, rs in groups.items():
        rows.append(
            [
                name,
                str(len(rs)),
                str(sum(r.as_expected for r in rs)),
                *(str(sum(r.status == s for r in rs)) for s in STATUSES),
                f"{sum(r.seconds for r in rs):.2f}",
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    body = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    bad = [r for r in results if not r.as_expected]
    verdict = "all cases as expected" if not bad else f"{len(bad)} case(s) NOT as expected"
    return "\n".join(["", "Summary:", *body, "", verdict])


def render_sweep(result: Any) -> str:
    """The step-size study as a text table with the fitted orders and the chosen step."""
    from .sweep import THEORY

    lines = [
        f"Step-size study: {result.label}",
        "relative error ||D - autograd|| / (||D|| + ||autograd||), step h * max(1, |theta_i|)",
        "",
        f"{'h':>9}  {'one-sided':>10}  {'centered':>10}",
    ]
    for h, a, b in zip(result.steps, result.one_sided, result.centered, strict=True):
        mark = []
        if h == result.best["one_sided"]:
            mark.append("one-sided best")
        if h == result.best["centered"]:
            mark.append("centered best")
        lines.append(f"{h:9.1e}  {a:10.2e}  {b:10.2e}  {', '.join(mark)}".rstrip())
    o1, o2 = result.orders["one_sided"], result.orders["centered"]
    lines += [
        "",
        f"fitted order on the truncation side: one-sided {o1:.2f} (O(h)), centered {o2:.2f} (O(h^2));"
        " the blog has them swapped",
        f"best step: one-sided {result.best['one_sided']:.1e} (theory sqrt(eps) ="
        f" {THEORY['one_sided']:.1e}), centered {result.best['centered']:.1e} (theory eps^(1/3) ="
        f" {THEORY['centered']:.1e})",
        f"the centered method's step: eps^(1/3) * max(1, |theta_i|) = {result.chosen:.2e} for |theta_i| <= 1",
    ]
    return "\n".join(lines)


def plot_sweep(result: Any, path: str) -> None:
    """Save the step-size study as a log-log PNG (needs matplotlib: the ``plot`` extra)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("the PNG needs matplotlib: pip install 'backprop-verifier[plot]'") from exc
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.loglog(
        result.steps, result.one_sided, "o-", label=f"one-sided (order {result.orders['one_sided']:.2f})"
    )
    ax.loglog(result.steps, result.centered, "s-", label=f"centered (order {result.orders['centered']:.2f})")
    ax.axvline(result.chosen, color="grey", ls="--", label=f"centered method's step {result.chosen:.1e}")
    ax.set_xlabel("step h")
    ax.set_ylabel("relative error against autograd")
    ax.set_title(result.label)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


BENCH_HEADER = f"{'method':<15} {'params':>8} {'samples':>7} {'seconds':>11} {'x forward':>11}"


def render_bench_row(r: Any) -> str:
    """One benchmark row, as it is measured."""
    note = f"  skipped: {r.skipped}" if r.skipped else (f"  {r.note}" if r.note else "")
    seconds = "-" if r.skipped else f"{r.seconds:.4g}"
    multiple = "-" if r.skipped else f"{r.forward_multiple:.4g}"
    return f"{r.method:<15} {r.params:>8} {r.samples:>7} {seconds:>11} {multiple:>11}{note}"


def render_bench_summary(
    exponents: dict[str, float], ratios: list[tuple[int, str, float, float | None]]
) -> str:
    """After the rows: each method's growth exponent, and the side-by-side ratios
    (:func:`verifier.frontends.bench.summarize` computes them; this only renders)."""
    lines = ["", "growth exponent (seconds ~ params^k):"]
    for method, k in exponents.items():
        lines.append(f"  {method:<15} k = {k:.2f}" if np.isfinite(k) else f"  {method:<15} k = -")
    if ratios:
        lines += ["", "side by side:"]
        for size, method, loop, scipy in ratios:
            versus = f", {scipy:.3g}x scipy's check_grad" if scipy is not None else ""
            lines.append(f"  {size:>8} params: {method:<13} {loop:.3g}x the notebook's loop's speed{versus}")
    return "\n".join(lines)


def plot_bench(rows: list[Any], path: str) -> None:
    """Save the benchmark as a log-log PNG (needs matplotlib: the ``plot`` extra)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("the PNG needs matplotlib: pip install 'backprop-verifier[plot]'") from exc
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for method in dict.fromkeys(r.method for r in rows):
        mine = [r for r in rows if r.method == method and not r.skipped]
        if mine:
            ax.loglog([r.params for r in mine], [r.seconds for r in mine], "o-", label=method)
    ax.set_xlabel("parameters")
    ax.set_ylabel("seconds (median)")
    ax.set_title("cost of a gradient check, DeepReLU")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def render_suite_html(repros: list[Any], results: list[Any]) -> str:
    """``verifier run`` as an HTML page: the reproductions, one line per case (with its report
    where it did not come out as expected, or where it must fail), and the summary."""
    from html import escape

    items = []
    for r in results:
        tint = GREEN if r.as_expected else RED
        line = escape(render_case_line(r).split("\n")[0])
        detail = (
            render_html(r.report)
            if (r.expect == "fail" or not r.as_expected) and r.report is not None
            else ""
        )
        items.append(f'<li><span style="color:{tint}">{line}</span>{detail}</li>')
    summary = escape(render_suite_summary(results)).strip()
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>verifier run</title>'
        "</head><body><h1>verifier run</h1>"
        f"<pre>{escape(render_reproductions(repros))}</pre><ul>{''.join(items)}</ul>"
        f"<pre>{summary}</pre></body></html>\n"
    )
