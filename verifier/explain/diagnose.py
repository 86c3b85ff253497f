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

from typing import Any

import numpy as np

from ..core.params import Layout
from ..estimators.base import Estimate
from ..judge.compare import UNDECIDED, WRONG, Verdicts
from .artefacts import artefact_findings
from .findings import METHOD_TITLE, Finding, element_labels, nice_factor
from .layer_picture import layer_picture, unit_axis, weight_like


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
        reference = reference_values(refs, verdicts)
        bugs = _bug_findings(g, reference, verdicts, layout, refs, m, loss, theta)
        bugs += layer_picture(bugs, layout, reference=reference)
    artefacts = artefact_findings(g, estimates, verdicts, layout)
    notes = [Finding("note", "", str(n), "context") for n in context.get("notes", [])]
    return bugs + artefacts + notes


def reference_values(refs: dict[str, Estimate], verdicts: Verdicts) -> np.ndarray:
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
        unsure = np.flatnonzero(verdicts.verdict[sl] == UNDECIDED) + sl.start
        details.append(_detail(name, pattern, factor, g[sl], reference[sl], bad, layout, unsure))
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


def _detail(
    name: str,
    pattern: str,
    factor: float | None,
    g: np.ndarray,
    reference: np.ndarray,
    bad: np.ndarray,
    layout: Layout,
    unsure: np.ndarray | None = None,
) -> str:
    """The sentence for one wrong tensor's pattern (``bad``: flat indices of wrong elements,
    ``unsure``: of the tensor's undecided ones, which a pattern must not call right)."""
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
    others = "" if unsure is None or not unsure.size else f", {element_labels(layout, unsure)} undecided"
    if pattern == "one":
        if others:  # the others are not all known to be right
            return f"{layout.label(int(bad[0]))} is wrong{others}; {worst_text}"
        return f"only {layout.label(int(bad[0]))} is wrong ({worst_text.split(': ', 1)[1]})"
    if pattern in ("rows", "columns"):
        flags = np.zeros(int(np.prod(shape)), dtype=bool)
        flags[local] = True
        grid = flags.reshape(shape)
        axis = 0 if pattern == "rows" else 1
        which = np.flatnonzero(grid.any(axis=1 - axis)).tolist()
        head = f"only {pattern} {which} of {name} are wrong"
        if others:  # undecided elements elsewhere: the other rows are not known to be right
            head = f"{pattern} {which} of {name} are wrong{others}"
        units = unit_axis(layout, t)
        own = "those output units' gradient: look at their mask or activation derivative"
        below = f"the inputs from those units of the layer below: look at the activations {name} multiplies"
        if units is None:
            if not weight_like(name):
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
