"""The result of a check and its renderings. Rendering only: every number is computed elsewhere."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..explain.findings import Finding
from ..judge.compare import NAMES

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
        from ..judge.compare import AGREE, UNCHECKED

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
        from .text import render_text  # the renderings import the Report

        return render_text(self)

    def format(self, verbose: bool = False) -> str:
        """The readable report; ``verbose`` adds what changed no verdict (each method's how and
        why, every random direction, the references' artefacts one by one). ``str(report)`` is
        ``report.format()``, and ``f"{report:v}"`` the verbose one."""
        from .text import render_text  # the renderings import the Report

        return render_text(self, verbose=verbose)

    def __format__(self, spec: str) -> str:
        if spec not in ("", "v"):
            raise ValueError(f"a Report's format spec is '' or 'v' (verbose), got {spec!r}")
        from .text import render_text  # the renderings import the Report

        return render_text(self, verbose=spec == "v")

    def to_html(self, verbose: bool = False, *, document: bool = True) -> str:
        """The report as HTML: a whole page (``document=True``, what ``--html FILE`` writes) or
        the fragment Jupyter shows; everything the text report has (see :meth:`format`)."""
        from .html import render_html  # the renderings import the Report

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
        from .html import render_html  # the renderings import the Report

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
