"""The result of a check and its renderings. Rendering only: every number is computed elsewhere."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.params import Layout
from ..core.sampling import describe_sample
from ..estimators.base import Estimate
from ..explain.diagnose import METHOD_TITLE, Finding
from ..judge.compare import NAMES, UNDECIDED, WRONG, Verdicts, relative_errors

STATUSES = ("pass", "fail", "inconclusive")
#: Up to this many parameters, ``to_dict`` lists every element; above, only those not agreeing.
JSON_ELEMENTS = 10_000


@dataclass
class TensorResult:
    """Per-tensor outcome.

    Attributes
    ----------
    name : str
    shape : tuple of int
    counts : dict of str to int
        Elements per verdict: ``agree``, ``kink``, ``wrong``, ``undecided``.
    rel_error : dict of str to float
        ``||a - b|| / (||a|| + ||b||)`` of backprop against each method (keyed by
        method) and between methods (keyed ``"centered~autograd"`` etc.).
    """

    name: str
    shape: tuple[int, ...]
    counts: dict[str, int]
    rel_error: dict[str, float]

    @property
    def verdict(self) -> str:
        """``"wrong"``, ``"undecided"`` or ``"ok"``."""
        if self.counts.get("wrong"):
            return "wrong"
        return "undecided" if self.counts.get("undecided") else "ok"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "shape": list(self.shape),
            "verdict": self.verdict,
            "counts": self.counts,
            "rel_error": {k: _num(v) for k, v in self.rel_error.items()},
        }


@dataclass
class MethodResult:
    """How one reference method ran: availability, cost and headline numbers."""

    name: str
    available: bool
    reason: str
    nfev: int
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "available": self.available,
            "reason": self.reason,
            "nfev": self.nfev,
            "seconds": self.seconds,
            **{k: _num(v) if isinstance(v, float) else v for k, v in self.extra.items()},
        }


class Elements(dict):
    """Per-element arrays; ``"verdict"`` (names) is built from ``"verdict_code"`` when first read.

    At 10^6 parameters an array of verdict names costs more than the fast mode's forward
    passes, so it is made only for those who look at it.
    """

    def __missing__(self, key: str) -> np.ndarray:
        if key != "verdict" or "verdict_code" not in self:
            raise KeyError(key)
        from ..judge.compare import NAMES

        names = np.array(NAMES, dtype=object)[self["verdict_code"]]
        self["verdict"] = names
        return names


@dataclass(repr=False)
class Report:
    """The outcome of a gradient check.

    Attributes
    ----------
    status : {"pass", "fail", "inconclusive"}
        ``"pass"``: the hand-written gradient agrees with a trustworthy reference
        everywhere; ``"fail"``: it disagrees somewhere beyond the references' own
        error; ``"inconclusive"``: some element could not be decided. Over every
        point checked (the worst of ``point_status`` and each of ``points``).
    point_status : str
        The status at the given point alone.
    tensors : list of TensorResult
    methods : dict of str to MethodResult
    findings : list of Finding
        Bugs first, then artefacts of the references, then notes.
    elements : dict of str to ndarray
        Per element (flat order): ``backprop``, each method's value and ``<method>_error``
        bound, ``verdict``, and ``odd_<source>`` (is that source the odd one out there).
        :meth:`label` and :meth:`odd` name an element and its odd ones out.
    ignored_keys : list of str
        Keys of the gradient that match no parameter (e.g. ``dZ1``).
    unchecked : list of str
        Gradients the backward returned or set that were not checked, each with why
        (``dense1.dinputs (pairs with no parameter: ...)``); also warned about.
    points : list of PointResult
        The checks at the other points (``points=k``), each a full report.
    intermediates : Report or None
        The check of the backward's intermediate gradients (``dZ3``, ``dA2``, ...),
        where the network could say what they should be.
    directions : list of DirectionCheck
        The random-direction checks (fast mode, or when a method sampled elements).
    """

    point_status: str
    tensors: list[TensorResult]
    methods: dict[str, MethodResult]
    findings: list[Finding]
    elements: dict[str, np.ndarray]
    ignored_keys: list[str] = field(default_factory=list)
    points: list[PointResult] = field(default_factory=list)
    intermediates: Report | None = None
    directions: list[Any] = field(default_factory=list)
    layout: Any = field(default=None, repr=False)
    unchecked: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        """The worst status over every point checked: fail, then inconclusive, then pass."""
        statuses = [self.point_status] + [p.report.status for p in self.points]
        return next(s for s in ("fail", "inconclusive", "pass") if s in statuses)

    @property
    def ok(self) -> bool:
        """True exactly when ``status == "pass"``."""
        return self.status == "pass"

    @property
    def wrong_tensors(self) -> list[str]:
        """Names of the tensors with at least one wrong element, or whose own random-direction
        check disagrees, at any point checked."""
        wrong = {t.name for t in self.tensors if t.verdict == "wrong"}
        wrong |= {d.label.split("[")[0] for d in self.directions if d.agrees is False}
        for p in self.points:
            wrong |= set(p.report.wrong_tensors)
        return [t.name for t in self.tensors if t.name in wrong]

    def label(self, i: int) -> str:
        """``"W1[3, 2]"``: the name of flat element ``i``."""
        return str(self.layout.label(int(i))) if self.layout is not None else str(i)

    def odd(self, i: int) -> str:
        """Comma-separated sources that are the odd one out at flat element ``i`` ("" if none)."""
        return ",".join(k[4:] for k, mask in self.elements.items() if k.startswith("odd_") and mask[i])

    def odd_one_out(self) -> np.ndarray:
        """:meth:`odd` for every element (an object array; built on demand)."""
        out = np.full(self.elements["backprop"].size, "", dtype=object)
        for key, mask in self.elements.items():
            if key.startswith("odd_"):
                name = key[4:]
                out[mask] = np.where(out[mask] == "", name, out[mask] + "," + name)
        return out

    def tensor(self, name: str) -> TensorResult:
        """The result for tensor ``name``."""
        for t in self.tensors:
            if t.name == name:
                return t
        raise KeyError(f"no tensor {name!r}; tensors are {[t.name for t in self.tensors]}")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (NaN and inf become None)."""
        return {
            "status": self.status,
            "ok": self.ok,
            "point_status": self.point_status,
            "points": [p.to_dict() for p in self.points],
            "intermediates": None if self.intermediates is None else self.intermediates.to_dict(),
            "directions": [d.to_dict() for d in self.directions],
            "wrong_tensors": self.wrong_tensors,
            "tensors": [t.to_dict() for t in self.tensors],
            "methods": {k: m.to_dict() for k, m in self.methods.items()},
            "findings": [f.to_dict() for f in self.findings],
            "ignored_keys": list(self.ignored_keys),
            "unchecked": list(self.unchecked),
            "elements": self._elements_dict(),
        }

    def _elements_dict(self) -> dict[str, Any]:
        """The elements that were checked: all of them up to :data:`JSON_ELEMENTS`, else those
        not agreeing. Unchecked elements (fast mode, a sample) carry no values and are counted,
        not listed: at 10^6 parameters listing them took 66 MB and 11 s."""
        from ..judge.compare import AGREE, NAMES, UNCHECKED

        code = self.elements["verdict_code"]
        checked = code != UNCHECKED
        keep = np.flatnonzero(checked if code.size <= JSON_ELEMENTS else checked & (code != AGREE))
        out: dict[str, Any] = {
            "index": keep.tolist(),
            "label": [self.label(int(i)) for i in keep],
            "verdict": [NAMES[c] for c in code[keep].tolist()],
            "odd": [self.odd(int(i)) for i in keep],
        }
        for k, v in self.elements.items():
            if not k.startswith("odd_") and k not in ("verdict_code", "verdict"):
                out[k] = [_num(x) for x in v[keep].tolist()]
        left = np.bincount(code, minlength=len(NAMES)) - np.bincount(code[keep], minlength=len(NAMES))
        out["omitted"] = {name: int(n) for name, n in zip(NAMES, left, strict=True) if n}
        return out

    def __str__(self) -> str:
        return render_text(self)

    def format(self, verbose: bool = False) -> str:
        """The readable report; ``verbose`` adds what changed no verdict (each method's how and
        why, every random direction, the references' artefacts one by one). ``str(report)`` is
        ``report.format()``, and ``f"{report:v}"`` the verbose one."""
        return render_text(self, verbose=verbose)

    def __format__(self, spec: str) -> str:
        if spec not in ("", "v"):
            raise ValueError(f"a Report's format spec is '' or 'v' (verbose), got {spec!r}")
        return render_text(self, verbose=spec == "v")

    def to_html(self, verbose: bool = False, *, document: bool = True) -> str:
        """The report as HTML: a whole page (``document=True``, what ``--html FILE`` writes) or
        the fragment Jupyter shows; everything the text report has (see :meth:`format`)."""
        body = render_html(self, verbose=verbose)
        if not document:
            return body
        return (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>verifier: {self.status}</title></head><body>{body}</body></html>\n"
        )

    @property
    def unchecked_keys(self) -> list[str]:
        """The gradient's extra keys that were not checked: :attr:`ignored_keys` less the
        intermediate gradients checked against autograd."""
        named = {f"d{t.name}" for t in self.intermediates.tensors} if self.intermediates else set()
        named |= {u.split(" ", 1)[0] for u in self.unchecked}  # said unchecked, with the reason
        return [k for k in self.ignored_keys if k not in named]

    def __repr__(self) -> str:
        wrong = f", wrong: {', '.join(self.wrong_tensors)}" if self.wrong_tensors else ""
        return f"<Report {self.status}: {len(self.tensors)} tensors{wrong}>"

    def _repr_html_(self) -> str:
        """The report as HTML, for Jupyter (:meth:`to_html`'s fragment)."""
        return render_html(self)


@dataclass
class PointResult:
    """The check at one more point (``points=k``): what was changed, and the report there."""

    label: str
    report: Report

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "status": self.report.status,
            "wrong_tensors": self.report.wrong_tensors,
            "findings": [f.to_dict() for f in self.report.findings if f.kind == "bug"],
        }


def _num(x: Any) -> Any:
    if isinstance(x, float) and not np.isfinite(x):
        return None
    return x


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


def _method_lines(report: Report, verbose: bool) -> list[str]:
    out = []
    for name, m in report.methods.items():
        title = METHOD_TITLE[name]
        if not m.available:
            out.append(f"{title}: unavailable" + (f" ({m.reason})" if verbose else ""))
            continue
        if name == "directions":  # timed within the check, not on their own
            if verbose:
                out.append(f"{title}: {m.nfev} evaluations; {m.reason}")
            continue
        desc = f"{title}: {m.nfev} evaluations, {m.seconds * 1e3:.1f} ms"
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


def render_text(report: Report, verbose: bool = False) -> str:
    """The readable table: a status line, one row per tensor, the methods, the findings.

    Short unless ``verbose``: what changed no verdict (artefacts of the references where
    backprop agrees with a trusted one, each method's how, the agreeing random directions) is
    summed up in a line; the JSON (:meth:`Report.to_dict`) always holds all of it."""
    methods = _columns(report)
    n_wrong = len(report.wrong_tensors)
    head = {
        "pass": "PASS: backprop agrees with the references everywhere"
        + (f" (at {len(report.points) + 1} points)" if report.points else ""),
        "fail": f"FAIL: backprop is wrong in {n_wrong} of {len(report.tensors)} tensors"
        f" ({', '.join(report.wrong_tensors)})",
        "inconclusive": "INCONCLUSIVE: some elements could not be decided",
    }[report.status]
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
    out.extend("  " + line for line in _method_lines(report, verbose))
    directions = _direction_line(report, verbose)
    if directions:
        out.append("  " + directions)
    if report.unchecked_keys:
        out.append(f"  ignored gradient keys (not parameters): {', '.join(report.unchecked_keys)}")
    if report.unchecked:
        out.append(f"  unchecked gradients: {'; '.join(report.unchecked)}")
    if report.intermediates is not None:
        inter = report.intermediates
        checked = ", ".join(f"d{t.name}: {t.verdict}" for t in inter.tensors)
        out.append(f"  intermediate gradients checked against autograd: {checked}")
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
    from ..frontends.sweep import THEORY

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


GREEN, RED, AMBER = "#1a7f37", "#cf222e", "#9a6700"
_COLOURS = {"pass": GREEN, "ok": GREEN, "fail": RED, "wrong": RED, "inconclusive": AMBER, "undecided": AMBER}


def render_html(report: Report, worst: int = 10, verbose: bool = False) -> str:
    """The report as an HTML fragment, with everything :func:`render_text` says: a coloured
    status, one row per tensor (with its size), the worst elements, the methods, the random
    directions, the intermediate gradients' verdicts, the findings with their legend, the
    other points; short unless ``verbose``, as the text is."""
    from html import escape

    colour = _COLOURS.get(report.status, "#57606a")
    methods = _columns(report)
    head = escape(render_text(report).splitlines()[0])
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
    about = [*_method_lines(report, verbose)]
    directions = _direction_line(report, verbose)
    if directions:
        about.append(directions)
    if report.unchecked_keys:
        about.append(f"ignored gradient keys (not parameters): {', '.join(report.unchecked_keys)}")
    if report.unchecked:
        about.append(f"unchecked gradients: {'; '.join(report.unchecked)}")
    if report.intermediates is not None:
        checked = ", ".join(f"d{t.name}: {t.verdict}" for t in report.intermediates.tensors)
        about.append(f"intermediate gradients checked against autograd: {checked}")
    parts.append(
        "<p>relative error per tensor: ||backprop - method|| / (||backprop|| + ||method||)</p><ul>"
        + "".join(f"<li>{escape(line)}</li>" for line in about)
        + "</ul>"
    )
    marks = {"bug": "&#10007;", "artefact": "~", "note": "&ndash;", "undecided": "?"}
    if report.findings:
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
        parts.append(f"<p>findings:</p><ul>{''.join(items)}</ul><p><small>{legend}</small></p>")
    if report.points:
        items = []
        for p in report.points:
            wrong = f"; wrong: {', '.join(p.report.wrong_tensors)}" if p.report.wrong_tensors else ""
            tint = _COLOURS.get(p.report.status, "#57606a")
            sub = "".join(
                f"<li>&#10007; {escape(f.message)}</li>" for f in p.report.findings if f.kind == "bug"
            )
            items.append(
                f'<li>{escape(p.label)}: <span style="color:{tint}">{escape(p.report.status)}</span>'
                f"{escape(wrong)}{f'<ul>{sub}</ul>' if sub else ''}</li>"
            )
        parts.append(f"<p>other points ({len(report.points)}):</p><ul>{''.join(items)}</ul>")
    parts.append("</div>")
    return "".join(parts)


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


def verdict_report(
    g: np.ndarray,
    estimates: dict[str, Estimate],
    verdicts: Verdicts,
    layout: Layout,
    findings: list[Finding] | None = None,
    ignored: list[str] | None = None,
    drift: bool = False,
) -> Report:
    """The report of a comparison: status, per-tensor summary, per-element arrays, findings."""
    status = "fail" if np.any(verdicts.verdict == WRONG) else "pass"
    if status == "pass" and np.any(verdicts.verdict == UNDECIDED) or drift:
        status = "inconclusive"
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
    return Report(status, tensors, method_results, findings or [], elements, ignored or [], layout=layout)


def _headline(estimate: Estimate, layout: Layout) -> dict[str, Any]:
    """A method's headline numbers, and what it sampled if it did."""
    if estimate.sampled is None:
        return dict(estimate.extra)
    return {**estimate.extra, "sampled": describe_sample(layout, estimate.sampled)}
