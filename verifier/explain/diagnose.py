"""What a disagreement looks like, in plain words.

Two kinds of finding:

* about the hand-written gradient of a tensor that has wrong elements: a
  constant scale factor (and which common slip gives it), a sign flip, a
  transpose, all zeros, or how many and which elements;
* about a reference that is the odd one out: a kink within the step, a cost
  that loses precision, a non-finite cost at a perturbed point, or autograd
  tracing something other than the cost that was evaluated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from ..core.params import Layout
from ..estimators.base import Estimate
from ..judge.compare import KINK, UNDECIDED, WRONG, Verdicts

METHOD_TITLE = {
    "centered": "centered differences",
    "scipy": "scipy's forward differences",
    "autograd": "autograd",
    "complex": "the complex step",
    "directions": "random directions",
}


@dataclass
class Finding:
    """One statement for the report.

    Attributes
    ----------
    kind : str
        ``"bug"`` (the hand-written gradient is wrong), ``"artefact"`` (a reference
        is off, not a bug), ``"note"`` (context), or ``"undecided"``.
    tensor : str
        The tensor it is about ("" for the whole check).
    message : str
        The sentence shown to the user.
    pattern : str
        Machine-readable pattern: ``"scale"``, ``"sign"``, ``"transpose"``,
        ``"zeros"``, ``"elements"``, ``"kink"``, ``"noise"``, ``"nonfinite"``,
        ``"bound"``, ``"trace"``, ``"unavailable"``, ``"keys"``, ...
    factor : float or None
        The scale factor, for ``pattern == "scale"``.
    """

    kind: str
    tensor: str
    message: str
    pattern: str = ""
    factor: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {k: v for k, v in self.__dict__.items() if v is not None and v != ""}


def element_labels(layout: Layout, flat: np.ndarray, limit: int = 3) -> str:
    """``"W1[0, 1], W1[2, 0] and 5 more"``: the first ``limit`` labels of flat indices."""
    shown = ", ".join(layout.label(int(i)) for i in flat[:limit])
    return shown + (f" and {len(flat) - limit} more" if len(flat) > limit else "")


def nice_factor(c: float) -> str:
    """``2.0`` -> ``"2.0"``, ``0.25`` -> ``"0.25 (1/4)"``, other values to 6 digits."""
    frac = Fraction(c).limit_denominator(64)
    if abs(float(frac) - c) > 1e-9 * abs(c):
        return f"{c:.6g}"
    if frac.denominator == 1:
        return f"{frac.numerator:.1f}"
    return f"{c:.6g} ({frac.numerator}/{frac.denominator})"


def scale_slip(c: float, m: int | None, loss: str | None) -> str:
    """Which common slip gives a gradient ``c`` times the true one, or ""."""
    close = lambda x: x != 0 and abs(c - x) <= 1e-6 * abs(x)  # noqa: E731
    hints = []
    if m and loss in ("mse", None) and close(m / 2):
        unsure = "" if loss else " (if the cost is a mean of squares)"
        hints.append(f"the mean-squared-error derivative's 2/m is missing (m = {m}){unsure}")
    if m and loss == "mse" and close(2 / m) and m != 2:
        hints.append("the 2/m factor is applied twice")
    if m and m > 1 and close(m):
        hints.append(f"the 1/m averaging is missing (m = {m})")
    if m and m > 1 and close(1 / m):
        hints.append(f"the 1/m averaging is applied twice (m = {m})")
    if close(4.0):
        hints.append("a 4./m where 1./m was meant")
    if close(2.0):
        hints.append("a term counted twice, or a 1/2 (or the 2 of a square's derivative) lost")
    if close(0.5):
        hints.append("a stray 1/2, or a term counted once that belongs twice")
    return "; or ".join(hints)


def tensor_pattern(
    g: np.ndarray,
    r: np.ndarray,
    shape: tuple[int, ...],
    wrong: np.ndarray | None = None,
    theta: np.ndarray | None = None,
) -> tuple[str, float | None]:
    """Classify a tensor's hand-written gradient ``g`` against the reference ``r``.

    Parameters
    ----------
    g, r : ndarray, shape (n,)
        Flat values of one tensor.
    shape : tuple of int
        The tensor's shape.
    wrong : ndarray of bool, shape (n,), optional
        Which elements the comparison found wrong (for row/column/element patterns).
    theta : ndarray, shape (n,), optional
        The parameters (for a residual proportional to them: a stray L2 term).

    Returns
    -------
    pattern : str
        ``"zeros"``, ``"sign"``, ``"scale"``, ``"transpose"``, ``"l2"``, ``"one"``,
        ``"rows"``, ``"columns"`` or ``"elements"``.
    factor : float or None
        The scale factor (``"scale"``, ``"sign"``) or the L2 coefficient (``"l2"``).
    """
    rr = float(np.dot(r, r))
    gnorm = float(np.linalg.norm(g))
    residual = g - r
    # a pattern must explain the discrepancy itself, not merely the gradient
    tiny = 1e-3 * float(np.linalg.norm(residual)) + 1e-12 * gnorm
    if rr > 0 and gnorm == 0:
        return "zeros", None
    if rr > 0:
        c = float(np.dot(g, r) / rr)
        if np.linalg.norm(g - c * r) <= tiny:
            return ("sign" if abs(c + 1) <= 1e-6 else "scale"), c
    if len(shape) == 2 and shape[0] == shape[1] and shape[0] > 1:
        rt = r.reshape(shape).T.ravel()
        if np.linalg.norm(g - rt) <= tiny and not np.allclose(r, rt):
            return "transpose", None
    if theta is not None and np.dot(theta, theta) > 0:
        lam = float(np.dot(residual, theta) / np.dot(theta, theta))
        if lam != 0 and np.linalg.norm(residual - lam * theta) <= tiny:
            return "l2", lam
    if wrong is None or not wrong.any():
        return "elements", None
    if wrong.sum() == 1:
        return "one", None
    if len(shape) == 2 and min(shape) > 1:
        grid = wrong.reshape(shape)
        rows, cols = grid.any(axis=1), grid.any(axis=0)
        if rows.sum() < shape[0] and grid[rows].mean() >= 0.5:
            return "rows", None
        if cols.sum() < shape[1] and grid[:, cols].mean() >= 0.5:
            return "columns", None
    return "elements", None


def diagnose(
    g: np.ndarray,
    estimates: dict[str, Estimate],
    verdicts: Verdicts,
    layout: Layout,
    context: dict[str, Any] | None = None,
    theta: np.ndarray | None = None,
) -> list[Finding]:
    """All findings, bugs first.

    Parameters
    ----------
    g : ndarray, shape (P,)
        The hand-written gradient, flat.
    estimates : dict of str to Estimate
    verdicts : Verdicts
        From :func:`verifier.judge.compare.compare`.
    layout : Layout
    context : dict, optional
        What is known about the network: ``m`` (how many terms the cost
        averages: examples, times outputs for MSE), ``loss``
        (``"mse"`` or ``"cross-entropy"``), ``notes`` (list of str about the point).
    theta : ndarray, shape (P,), optional
        The parameters, flat (to recognise a stray L2 term).
    """
    context = context or {}
    m, loss = context.get("m"), context.get("loss")
    refs = {k: e for k, e in estimates.items() if e.available}
    # without a per-element reference (fast mode) the direction checks speak for the tensors
    bugs = []
    if refs:
        reference = _reference_values(refs, verdicts)
        bugs = _bug_findings(g, reference, verdicts, layout, refs, m, loss, theta)
        bugs += layer_picture(bugs, layout, reference=reference)
    artefacts = _artefact_findings(g, estimates, verdicts, layout)
    notes = [Finding("note", "", str(n), "context") for n in context.get("notes", [])]
    return bugs + artefacts + notes


def _reference_values(refs: dict[str, Estimate], verdicts: Verdicts) -> np.ndarray:
    """Per element, the value of the reference that decided it (else the best available)."""
    size = verdicts.verdict.size
    out = np.full(size, np.nan)
    for m in ("scipy", "centered", "autograd"):
        if m in refs:
            v = refs[m].values
            out = np.where(np.isfinite(v), v, out)
    for m in refs:
        sel = verdicts.decided_by(m)
        out[sel] = refs[m].values[sel]
    return out


def _bug_findings(
    g: np.ndarray,
    reference: np.ndarray,
    verdicts: Verdicts,
    layout: Layout,
    refs: dict[str, Estimate],
    m: int | None,
    loss: str | None,
    theta: np.ndarray | None,
) -> list[Finding]:
    findings: list[Finding] = []
    details: list[str] = []
    wrong = verdicts.verdict == WRONG
    for t, name in enumerate(layout.names):
        sl = layout.slice(t)
        bad = np.flatnonzero(wrong[sl]) + sl.start
        if not bad.size:
            continue
        n = sl.stop - sl.start
        others = [METHOD_TITLE[k] for k in ("autograd", "centered", "scipy") if k in refs]
        against = [k for k in refs if np.all(~verdicts.agrees[k][bad])]
        who = (
            f"all {len(refs)} references"
            if len(against) == len(refs) and len(refs) > 1
            else " and ".join(METHOD_TITLE[k] for k in against) or ", ".join(others)
        )
        head = f"backprop disagrees with {who} at {name} ({bad.size}/{n} elements)"
        r = np.nan_to_num(reference[sl])
        pattern, factor = tensor_pattern(
            g[sl], r, layout.shapes[t], wrong[sl], None if theta is None else theta[sl]
        )
        findings.append(Finding("bug", name, head, pattern, factor))
        details.append(_detail(name, pattern, factor, g[sl], reference[sl], bad, layout))
    scales = [f.factor for f in findings if f.pattern in ("scale", "sign") and f.factor is not None]
    shared = (
        len(findings) > 1 and len(scales) == len(findings) and float(np.ptp(scales)) <= 1e-6 * abs(scales[0])
    )
    for f, detail in zip(findings, details, strict=True):
        slip = (
            scale_slip(f.factor, m, loss)
            if f.pattern == "scale" and f.factor is not None and not shared
            else ""
        )
        f.message = f"{f.message}: {detail}" + (f": {slip}" if slip else "")
    if shared:
        c = scales[0]
        right = [n for n in layout.names if n not in {f.tensor for f in findings}]
        shared_by = "the whole backward pass" if not right else "the wrong tensors' paths, not the others'"
        slip = scale_slip(c, m, loss) or f"look for a factor shared by {shared_by}"
        message = f"every wrong tensor is exactly {nice_factor(c)}× the reference: {slip}"
        findings.insert(0, Finding("bug", "", message, "sign" if c == -1 else "scale", c))
    return findings


def layer_number(name: str) -> int | None:
    """``"W2"`` -> 2, ``"db1"`` -> 1, ``"[0]"`` -> 1 (a THETA list), else None."""
    match = re.fullmatch(r"\w*\[(\d+)\]", name)
    if match:
        return int(match.group(1)) + 1
    match = re.fullmatch(r"d?[A-Za-z]+?(\d+)", name)
    return int(match.group(1)) if match else None


def layer_picture(
    findings: list[Finding],
    layout: Layout,
    *,
    reference: np.ndarray | None = None,
) -> list[Finding]:
    """Where, in backprop order (last layer first), the gradient first goes wrong.

    Two tensors of one layer (``W2``, ``b2``) share that layer's ``dZ``: if one is right
    and the other wrong, the bug is in the wrong one's own line, not upstream. Claimed only
    where the structure supports it: a list's entries are layers only when each is a 2-D
    weight with its bias folded in (the blog's THETA; ``[b1, b2, W1, W2]`` is not six layers),
    and a tensor whose reference gradient is zero everywhere (a bias before batchnorm) says
    nothing about its layer's ``dZ``, so its being right proves nothing.
    """
    if layout.kind in ("list", "tuple") and any(len(s) != 2 for s in layout.shapes):
        return []
    wrong = {f.tensor for f in findings if f.kind == "bug" and f.tensor}
    if not wrong:
        return []
    layers: dict[int, list[str]] = {}
    for name in layout.names:
        number = layer_number(name)
        if number is not None:
            layers.setdefault(number, []).append(name)
    if len(layers) < 2 or not all(layer_number(n) is not None for n in wrong):
        return []
    silent: set[str] = set()
    if reference is not None:
        largest = layout.tensor_maxima(reference)
        overall = float(largest.max(initial=0.0))
        silent = {
            n for n, top in zip(layout.names, largest, strict=True) if overall > 0 and top <= 1e-9 * overall
        }
    out = []
    for number in sorted(layers, reverse=True):
        names = layers[number]
        bad = [n for n in names if n in wrong]
        good = [n for n in names if n not in wrong and n not in silent]
        if bad and good:
            out.append(
                Finding(
                    "bug",
                    bad[0],
                    f"{', '.join(bad)} {'is' if len(bad) == 1 else 'are'} wrong but {', '.join(good)}"
                    f" {'is' if len(good) == 1 else 'are'} right: they share layer {number}'s dZ, so the"
                    f" bug is in the line that computes d{bad[0]} itself",
                    "layer",
                )
            )
    order = [number for number in sorted(layers, reverse=True) if any(n in wrong for n in layers[number])]
    top = order[0]
    below = [n for number in order[1:] for n in layers[number] if n in wrong]
    shared_dz = [number for number in order if all(n in wrong for n in layers[number])]
    if below and top in shared_dz:
        out.append(
            Finding(
                "bug",
                layers[top][0],
                f"in backprop order the gradient first goes wrong at layer {top}"
                f" ({', '.join(n for n in layers[top] if n in wrong)}); {', '.join(below)} below it"
                " may only inherit its error",
                "layer",
            )
        )
    return out


def bias_axis(name: str, g_b: np.ndarray, dz_reference: np.ndarray) -> Finding | None:
    """A bias gradient summed over examples' units instead of over examples, if that is what it is.

    ``dz_reference`` is dJ/dZ of the bias's layer, shape ``(n, m)``; the right gradient sums
    it over axis 1. Only a square ``dZ`` (n = m) lets the wrong sum keep the shape.
    """
    wrong_sum = np.sum(dz_reference, axis=0)
    if wrong_sum.size != g_b.size:
        return None
    flat = np.ravel(g_b)
    if np.linalg.norm(flat - wrong_sum) <= 1e-6 * max(float(np.linalg.norm(flat)), 1e-300):
        return Finding(
            "bug",
            name,
            f"{name} is dZ summed over the wrong axis (over units instead of examples):"
            " np.sum(dZ, axis=1, keepdims=True) sums over the examples",
            "axis",
        )
    return None


def _detail(
    name: str,
    pattern: str,
    factor: float | None,
    g: np.ndarray,
    reference: np.ndarray,
    bad: np.ndarray,
    layout: Layout,
) -> str:
    """The sentence for one wrong tensor's pattern (``bad``: flat indices of wrong elements)."""
    t = layout.names.index(name)
    shape, start = layout.shapes[t], layout.offsets[t]
    if pattern == "sign":
        return f"{name} has the wrong sign everywhere (exactly -1.0× the reference)"
    if pattern == "scale":
        assert factor is not None
        return f"{name} is exactly {nice_factor(factor)}× the reference"
    if pattern == "zeros":
        return f"{name} is all zeros where the reference is not"
    if pattern == "transpose":
        return f"{name} equals the transpose of the reference (the shape is square, so nothing complained)"
    if pattern == "l2":
        assert factor is not None
        return (
            f"{name} is the reference plus {factor:.6g}×{name}: a stray L2 (weight-decay) term that the"
            " backprop has and the cost does not (or the other way round)"
        )
    local = bad - start
    worst = int(local[np.argmax(np.abs(g[local] - reference[local]))])
    shown_g, shown_r = distinct(float(g[worst]), float(reference[worst]))
    worst_text = f"worst at {layout.label(worst + start)}: backprop {shown_g}, reference {shown_r}"
    if local.size > 1:  # an approximate gradient is off everywhere, a slip in one element is a slip
        worst_text += approximate_note(g[local], reference[local])
    if pattern == "one":
        return f"only {layout.label(int(bad[0]))} is wrong ({worst_text.split(': ', 1)[1]})"
    if pattern in ("rows", "columns"):
        flags = np.zeros(int(np.prod(shape)), dtype=bool)
        flags[local] = True
        grid = flags.reshape(shape)
        axis = 0 if pattern == "rows" else 1
        which = np.flatnonzero(grid.any(axis=1 - axis)).tolist()
        head = f"only {pattern} {which} of {name} are wrong"
        units = unit_axis(layout, t)
        own = "those output units' gradient: look at their mask or activation derivative"
        below = f"the inputs from those units of the layer below: look at the activations {name} multiplies"
        if units is None:
            if not _weight_like(name):
                return f"{head}; {worst_text}"
            as_out = f"{name} @ x" if axis == 0 else f"x @ {name}"
            as_in = f"x @ {name}" if axis == 0 else f"{name} @ x"
            return f"{head}: if the layer computes {as_out}, {own}; if {as_in}, {below}; {worst_text}"
        return f"{head} ({own if units == axis else below}); {worst_text}"
    return f"wrong at {element_labels(layout, bad)}; {worst_text}"


#: A relative difference below this in every wrong element is far below what a backprop slip
#: (a missing factor, a sign, a transpose, a mask) gives, and typical of approximate gradients.
APPROXIMATE = 1e-4


def distinct(a: float, b: float) -> tuple[str, str]:
    """Two numbers with enough significant digits (6 to 17) that they print differently when
    they differ: ``backprop -0.344983, reference -0.344983`` says nothing."""
    for digits in range(6, 18):
        left, right = f"{a:.{digits}g}", f"{b:.{digits}g}"
        if left != right:
            return left, right
    return f"{a:.17g}", f"{b:.17g}"


def approximate_note(g: np.ndarray, reference: np.ndarray) -> str:
    """A clause characterising wrong elements whose relative difference is far below a slip's
    (see :data:`APPROXIMATE`), with how to accept an approximate gradient; "" otherwise."""
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.abs(g - reference) / np.maximum(np.abs(g), np.abs(reference))
    if not rel.size or not np.all(np.isfinite(rel)) or float(rel.max()) >= APPROXIMATE:
        return ""
    worst = float(rel.max())
    return (
        f" ({worst:.1g} relative at most: typical of approximate gradients such as adjoint solves"
        " or truncated series, not of a backprop slip, which is off by far more; if yours is"
        f" approximate by design, accept it with rtol={_round_up(worst)})"
    )


def _round_up(x: float) -> str:
    """``x`` rounded up to one significant digit, as an option's value reads."""
    exponent = int(np.floor(np.log10(x)))
    lead = int(np.ceil(x / 10.0**exponent - 1e-9))
    if lead == 10:
        lead, exponent = 1, exponent + 1
    return f"{lead}e{exponent}"


def _weight_like(name: str) -> bool:
    return bool(re.fullmatch(r"(?i)(w|weights?|theta)\w*|\w*\[\d+\]", name))


def _bias_of(layout: Layout, t: int) -> int | None:
    """The bias tensor of weight ``t``'s layer (``b2`` for ``W2``, ``b`` for ``w`` or ``Wx``), if any."""
    name, number = layout.names[t], layer_number(layout.names[t])
    for u, other in enumerate(layout.names):
        if u == t or not other.lower().startswith("b"):
            continue
        if number is not None and layer_number(other) == number:
            return u
        if number is None and layer_number(other) is None and _weight_like(name):
            return u
    return None


def unit_axis(layout: Layout, t: int) -> int | None:
    """The axis of a 2-D weight that indexes its layer's output units: 0 for ``W @ x``, 1 for ``x @ W``.

    Read from the layer's bias (shape ``(n, 1)``: ``W @ X`` with examples in columns; ``(n,)``
    or ``(1, n)``: ``x @ W``) or from the next or previous layer's weight (which dimension
    they share). None when the shapes leave both readings open (square weights, no bias).
    """
    shape = layout.shapes[t]
    if len(shape) != 2 or not _weight_like(layout.names[t]):
        return None
    a, b = shape
    bias = _bias_of(layout, t)
    if bias is not None:
        bs = tuple(layout.shapes[bias])
        size = int(np.prod(bs))
        if a != b:
            return 0 if size == a else 1 if size == b else None
        return 0 if bs == (a, 1) else 1 if bs in ((b,), (1, b)) else None
    number = layer_number(layout.names[t])
    votes = set()
    for u, other in enumerate(layout.names):
        n2, s2 = layer_number(other), layout.shapes[u]
        if u == t or number is None or n2 is None or len(s2) != 2 or not _weight_like(other):
            continue
        if n2 == number + 1:  # the next layer reads this one's outputs
            votes |= {0} if s2[1] == a and s2[0] != b else {1} if s2[0] == b and s2[1] != a else set()
        if n2 == number - 1:
            votes |= {0} if s2[0] == b and s2[1] != a else {1} if s2[1] == a and s2[0] != b else set()
    return votes.pop() if len(votes) == 1 else None


def _noise_reason(est: Estimate) -> str:
    """Why round-off swamps a finite difference: a cost that loses precision, or a tiny step."""
    noise, cost = est.extra.get("cost_noise", 0.0), est.extra.get("cost", 0.0)
    lossy = noise > 1e3 * np.finfo(np.float64).eps * max(1.0, abs(cost))
    if lossy:
        return (
            f"the cost loses precision here (its round-off is about {noise:.2g}, on a cost of"
            f" {cost:.3g}), so round-off swamps the difference"
        )
    return f"its step is too small for the cost's round-off ({noise:.2g})"


def _artefact_findings(
    g: np.ndarray, estimates: dict[str, Estimate], verdicts: Verdicts, layout: Layout
) -> list[Finding]:
    findings = []
    centered = estimates.get("centered")
    kinks = centered.kink if centered is not None and centered.kink is not None else None
    for method, est in estimates.items():
        if not est.available:
            findings.append(
                Finding("note", "", f"{METHOD_TITLE[method]} unavailable: {est.reason}", "unavailable")
            )
            continue
        odd = verdicts.odd.get(method, np.zeros(verdicts.verdict.size, dtype=bool))
        title = METHOD_TITLE[method]
        if method == "autograd":
            idx = np.flatnonzero(odd & (verdicts.verdict != KINK))
            if idx.size:
                findings.append(
                    Finding(
                        "artefact",
                        "",
                        f"{title} disagrees with backprop and the finite differences at"
                        f" {element_labels(layout, idx)}: autograd may be tracing something other than the"
                        " cost that was evaluated (a value taken outside autograd, or a branch on"
                        " parameter values); backprop agrees with finite differences",
                        "trace",
                    )
                )
            continue
        noisy = est.noise_dominated if est.noise_dominated is not None else np.zeros_like(odd)
        # uninformative for round-off where there is a gradient to see (dead entries are exact zeros)
        vague = ~verdicts.informative[method] & np.isfinite(est.values) & noisy & (g != 0)
        at_a_kink = (kinks if kinks is not None else False) | (verdicts.verdict == KINK)
        kink = odd & at_a_kink
        evaluated = np.ones(g.size, dtype=bool)
        if est.sampled is not None:  # a sample's other elements are placeholders, never evaluated
            evaluated[:] = False
            evaluated[est.sampled] = True
        nonfinite = ~np.isfinite(est.values) & evaluated
        noise = (odd | vague) & noisy & ~at_a_kink & ~nonfinite
        groups = {
            "kink": (
                kink,
                "disagree",
                "its one-sided slopes differ by more than the cost's measured noise: the step"
                " crosses a kink such as ReLU at 0",
            ),
            "nonfinite": (nonfinite, "disagree", "the cost is not finite at a perturbed point"),
            "noise": (noise, "are noise-dominated", _noise_reason(est)),
            "bound": (
                odd & ~kink & ~nonfinite & ~noise,
                "disagree",
                "it differs by more than its own error estimate (truncation at this step)",
            ),
        }
        trusted = (
            "backprop and autograd agree"
            if "autograd" in estimates and estimates["autograd"].available
            else "backprop agrees with the other references"
        )
        for kind, (sel, verb, why) in groups.items():
            idx = np.flatnonzero(sel)
            if not idx.size:
                continue
            tail = f"; {trusted}, not a bug" if np.all(verdicts.verdict[idx] != WRONG) else ""
            message = f"{title} {verb} at {element_labels(layout, idx)}: {why}{tail}"
            findings.append(Finding("artefact", layout.locate(int(idx[0]))[0], message, kind))
    at_kink = np.flatnonzero(verdicts.verdict == KINK)
    if at_kink.size:
        findings.append(
            Finding(
                "note",
                layout.locate(int(at_kink[0]))[0],
                f"at {element_labels(layout, at_kink)} the cost has a kink at this point (left and right"
                " derivatives differ); backprop's value lies between them, a valid subgradient",
                "kink",
            )
        )
    undecided = np.flatnonzero(verdicts.verdict == UNDECIDED)
    if undecided.size:
        findings.append(
            Finding(
                "undecided",
                layout.locate(int(undecided[0]))[0],
                f"no reference is accurate enough to decide {element_labels(layout, undecided)}:"
                f" {_why_undecided(estimates, undecided)}",
                "undecided",
            )
        )
    return findings


def _why_undecided(estimates: dict[str, Estimate], idx: np.ndarray) -> str:
    """Why no reference could certify these elements, and what would let one."""
    parts = []
    fd = [estimates[m] for m in ("centered", "scipy") if m in estimates and estimates[m].available]
    if fd:
        best = min(fd, key=lambda e: float(np.nanmedian(e.error[idx])))
        with np.errstate(invalid="ignore", divide="ignore"):
            relative = float(np.nanmedian(best.error[idx] / np.abs(best.values[idx])))
        noise = best.extra.get("cost_noise")
        seen = f" (the cost's noise is about {noise:.2g})" if isinstance(noise, float) else ""
        parts.append(
            f"finite differences resolve them only to about {relative:.1g} relative{seen}, and a pass"
            " needs 1e-5"
        )
    auto = estimates.get("autograd")
    if auto is None or not auto.available:
        parts.append("autograd is unavailable")
    else:
        parts.append("autograd's own round-off is as large as the gradient there")
    advice = (
        "to decide them, write the cost with autograd.numpy so autograd can trace it, compute it"
        " in float64 throughout (no float32 intermediates), or use a numerically stable form"
        " (cross-entropy from the logits, log-sum-exp)"
    )
    return "; ".join(parts) + "; " + advice


def direction_findings(directions: Any, layout: Layout) -> list[Finding]:
    """What the random-direction checks found: failures (localised or not) and kinks split away."""
    out = []
    top = directions.checks
    for c in top:
        if c.agrees is False:
            ratio = f", {c.projected / c.value:.6g}× the slope" if c.value else ""
            message = (
                f"the random-direction check of {c.label} disagrees: backprop gives v.g = {c.projected:.6g},"
                f" the cost's slope along v is {c.value:.6g} (bound {c.error:.2g}{ratio})"
            )
            mine = [int(i) for i in directions.wrong if c.start <= i < c.stop]
            if mine:
                message += f"; bisection localised it to {element_labels(layout, np.array(mine))}"
            out.append(
                Finding("bug", c.label.split("[")[0] if c.label in layout.names else "", message, "direction")
            )
    for c in top:
        if c.unpinned:
            out.append(
                Finding(
                    "undecided",
                    "",
                    f"the random-direction check of {c.label} disagrees"
                    f" ({c.projected:.6g} against {c.value:.6g} ± {c.error:.2g}), but no single"
                    " element could be confirmed wrong: the cost's noise may exceed its bound"
                    " here; check the full mode (mode='full')",
                    "direction",
                )
            )
        elif c.agrees is None and not c.kink:
            out.append(
                Finding(
                    "undecided",
                    c.label if c.label in layout.names else "",
                    f"the random-direction check of {c.label} cannot decide: the slope along v is"
                    f" {c.value:.3g} and backprop gives {c.projected:.3g}, but the bound"
                    f" {c.error:.2g} is too wide to certify them (the cost's round-off, or a slope"
                    " near zero along every direction tried); check the full mode"
                    " (mode='full'), which checks each element with its own bound",
                    "direction",
                )
            )
    certified = [c for c in top if c.agrees is True and np.isfinite(c.resolution)]
    if certified:
        parts = ", ".join(f"{c.label}: {c.resolution:.2g}" for c in certified[:6])
        more = f" and {len(certified) - 6} more" if len(certified) > 6 else ""
        out.append(
            Finding(
                "note",
                "",
                "what the random directions certify: an error in any one element larger than"
                f" ({parts}{more}) would have been seen, whatever the draw (every element moves by"
                " at least half the typical step); every element off by the same factor, more"
                " than 1e-5, is seen too; errors in several elements cancel along a random"
                " direction only by chance",
                "certified",
            )
        )
    split = [c for c in top if c.label not in layout.names and c.label != "all parameters"]
    if split:
        out.append(
            Finding(
                "artefact",
                "",
                f"random directions crossed ReLU kinks at every step size, so {len(split)} directions were"
                " split into smaller ones until no kink was inside the stencil; not a bug",
                "kink",
            )
        )
    for block in directions.failing_blocks:
        out.append(
            Finding(
                "bug",
                "",
                f"{block.label} ({block.size} elements) still disagrees when the localisation budget"
                " ran out: many elements are wrong there",
                "direction",
            )
        )
    return out


def nearby_findings(layout: Layout, settled: np.ndarray, undecided: np.ndarray) -> list[Finding]:
    """What the check at nearby smooth points found for the elements at a kink."""
    parts = []
    if settled.size:
        parts.append(
            f"at {element_labels(layout, settled)} the cost has a kink at this point; at a nearby smooth"
            " point (a small seeded move of the parameters) backprop agrees with centred differences"
        )
    if undecided.size:
        parts.append(f"{element_labels(layout, undecided)} could not be decided at nearby points either")
    if not parts:
        return []
    return [Finding("artefact" if not undecided.size else "undecided", "", "; ".join(parts), "kink")]
