"""The first wrong line, in the user's own file: one mechanism for any code, built-ins included.

When the hand-written backward returns intermediate gradients (the notebook's ``dZ3``,
``dA2``, ... or any ``dNAME`` whose ``NAME`` the forward assigns), the autograd reference's
own trace has recorded the values the forward's frames hold by name (their locals, and the
entries of a dict they keep, a ``cache``), and its one backward pass has given the gradient
with respect to each: the reference for the backward's ``dNAME``, compared by the one
comparison rule.
The backward's own source then says which line assigns each value and which values that
line reads, so the report names the first wrong line in backprop order: a wrong value all
of whose checked inputs are right, with its file, number and text.

The same trace gives, for the diagnosis: dJ/dZ of a layer (is a wrong bias gradient ``dZ``
summed over the wrong axis?), and the ReLU units that are dead for the data, on every check.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .compare import compare, relative_error
from .diagnose import Finding, bias_axis, layer_number
from .estimators.base import Estimate
from .params import Layout, is_intermediate_key, layout_of
from .report import verdict_report
from .tracing import Line, assignments, returning_frames

#: Names of a function's parameter that holds the labels (the line where the cost's derivative
#: enters the backward is the first that reads them).
LABELS = ("Y", "y", "labels", "targets", "y_true", "T", "t")


@dataclass
class Explained:
    """What the lines add to a report.

    Attributes
    ----------
    findings : list of Finding
        The lines at fault (with intermediates), a bias summed over the wrong axis, the line
        where a shared factor enters.
    where : dict of str to Line
        A wrong tensor's own gradient line (its name without the ``d``), when no intermediate
        gradient says more.
    intermediates : Report or None
        The check of the backward's intermediate gradients.
    notes : list of str
        Dead ReLU units, from the forward's values.
    unchecked : list of str
        The backward's ``dNAME`` keys whose ``NAME`` the traced forward does not hold (so
        nothing to check them against: a typo, or a name the forward never assigns).
    """

    findings: list[Finding] = field(default_factory=list)
    where: dict[str, Line] = field(default_factory=dict)
    intermediates: Any = None
    notes: list[str] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)


def explain(
    grad: Callable[[Any], Any],
    layout: Layout,
    theta: np.ndarray,
    raw: Any,
    wrong: list[str],
    shared_factor: bool,
    context: dict[str, Any],
    reference: Any,
) -> Explained:
    """The user's lines behind a report (see the module notes).

    Parameters
    ----------
    grad : callable
        As given to :func:`verifier.check` (run once more, to find its lines, only when
        something is wrong).
    layout, theta
        The parameters.
    raw : object
        What ``grad`` returned at ``theta`` (its extra ``dNAME`` keys are the intermediates).
    wrong : list of str
        The parameter tensors found wrong.
    shared_factor : bool
        Every wrong tensor is off by one factor (then the line where the labels enter is named).
    context : dict
        ``m`` if known (the notebook's ``dZ3 = A3 - Y`` is ``m`` times dJ/dZ3).
    reference : Estimate or None
        autograd's estimate: its ``intermediates`` and ``forward_values`` come from the same
        trace as the reference (None, or unavailable: no intermediate is checked).
    """
    extra = intermediate_keys(raw, layout)
    out = Explained()
    refs: dict[str, np.ndarray] = {}
    if reference is not None and reference.available and reference.intermediates is not None:
        refs = reference.intermediates
        out.notes = dead_units(reference.forward_values or {}, context.get("m"))
        out.unchecked = [k for k in extra if k[1:] not in refs]
    if not extra and not wrong:
        return out
    for name in wrong:
        number = layer_number(name)
        if name.startswith("b") and number is not None and f"Z{number}" in refs:
            finding = bias_axis(name, theta_part(raw, layout, name), refs[f"Z{number}"])
            if finding is not None:
                out.findings.append(finding)
    checked: dict[str, bool] = {}  # gradient name (dZ2, dW2) -> wrong
    present = [k for k in extra if k[1:] in refs]
    if present:
        out.intermediates = _check_intermediates(raw, present, refs, context.get("m"))
        if out.intermediates is not None:
            for t in out.intermediates.tensors:
                checked[f"d{t.name}"] = t.verdict == "wrong"
    for t, name in enumerate(layout.names):
        key = _gradient_key(raw, layout, t)
        if key is not None:
            checked[key] = name in wrong
    if not (wrong or any(checked.values())):
        return out  # nothing is wrong: no line to name, and the backward need not run again
    backward = _backward_lines(grad, layout, theta)
    last = dict(backward)  # each name's last assignment
    if present:
        out.findings += first_wrong_lines(checked, last)
    else:
        out.where = {
            n[1:] if n.startswith("d") else n: last[n] for n, bad in checked.items() if bad and n in last
        }
    if shared_factor and backward:
        line = labels_line(backward)
        if line is not None:
            out.findings.append(
                Finding(
                    "bug",
                    "",
                    "the factor is shared by every parameter gradient, so it enters before them:"
                    f" look at the first line that uses the labels, {line}",
                    "line",
                )
            )
    return out


def theta_part(raw: Any, layout: Layout, name: str) -> np.ndarray:
    """The hand-written gradient of tensor ``name``, from ``grad``'s own return value."""
    flat, _ = layout.flatten_like(raw)
    return flat[layout.slice(layout.names.index(name))]


def intermediate_keys(raw: Any, layout: Layout) -> list[str]:
    """The extra ``dNAME`` keys of a dict gradient, in the order the backward returned them."""
    if not isinstance(raw, dict) or layout.kind != "dict":
        return []
    known = {str(k) for k in layout.keys} | {f"d{k}" for k in layout.keys}
    return [k for k in raw if k not in known and is_intermediate_key(k)]


def _gradient_key(raw: Any, layout: Layout, t: int) -> str | None:
    """The name the backward gives tensor ``t``'s gradient (``dW2``), for a dict gradient."""
    if not isinstance(raw, dict):
        return None
    key = layout.keys[t]
    for candidate in (f"d{key}", key):
        if candidate in raw:
            return str(candidate)
    return None


def _check_intermediates(
    raw: dict[str, Any], present: list[str], refs: dict[str, np.ndarray], m: int | None
) -> Any:
    """The backward's intermediate gradients against autograd's, by the one comparison rule."""
    first = np.asarray(raw[present[0]], dtype=np.float64)
    reference = refs[present[0][1:]]
    if first.shape != reference.shape:
        return None
    # the notebook's dZ3 = A3 - Y is m times dJ/dZ3: the convention is read from the first one
    candidates = {1.0, *(float(n) for n in reference.shape if n > 1)}
    if m:
        candidates.add(float(m))
    scale = min(sorted(candidates), key=lambda c: relative_error(first / c, reference))
    user = {k[1:]: np.asarray(raw[k], dtype=np.float64) / scale for k in present}
    if any(user[k].shape != refs[k].shape for k in user):
        return None
    layout, g = layout_of(user)
    _, values = layout_of({k: refs[k] for k in user})
    error = 1e-9 * np.abs(values) + 1e-11 * layout.tensor_max(values)
    estimate = Estimate("autograd", values, error, reason="autograd, with respect to the forward's values")
    verdicts = compare(g, {"autograd": estimate}, layout)
    return verdict_report(g, {"autograd": estimate}, verdicts, layout)


def _backward_lines(grad: Callable[[Any], Any], layout: Layout, theta: np.ndarray) -> list[tuple[str, Line]]:
    """The assignments of the user's backward (the user function that returned the gradient),
    in source order."""
    own = getattr(grad, "backward_lines", None)  # a backward run elsewhere (the grader's worker)
    if own is not None:  # says its lines itself, read from its source
        return list(own)
    try:
        frames = returning_frames(lambda: grad(layout.unflatten(theta.copy())))
    except Exception:
        return []
    best: tuple[int, list[tuple[str, Line]]] = (-1, [])
    for code, value in frames:
        if not _gradient_like(value, layout):
            continue
        lines = assignments(code)
        if len(lines) > best[0]:
            best = (len(lines), lines)
    return best[1]


def _gradient_like(value: Any, layout: Layout, depth: int = 0) -> bool:
    """Whether ``value`` (or an item of a tuple it is) is a gradient for the layout."""
    if isinstance(value, dict) and layout.kind == "dict":
        keys = {str(k) for k in value}
        return all(str(k) in keys or f"d{k}" in keys for k in layout.keys)
    if isinstance(value, (list, tuple)):
        shapes = [v.shape if isinstance(v, np.ndarray) else None for v in value]
        if len(shapes) == len(layout.shapes) and all(
            s == tuple(e) for s, e in zip(shapes, layout.shapes, strict=True)
        ):
            return True
        return depth == 0 and any(_gradient_like(v, layout, 1) for v in value)
    return layout.kind == "array" and isinstance(value, np.ndarray) and value.shape == layout.shapes[0]


def first_wrong_lines(checked: dict[str, bool], lines: dict[str, Line]) -> list[Finding]:
    """The lines at fault: wrong values all of whose checked inputs are right, in backprop order.

    Parameters
    ----------
    checked : dict of str to bool
        Gradient names the check decided (``dZ2``, ``dW2``) -> wrong.
    lines : dict of str to Line
        The backward's assignments by name.
    """
    named = sorted((n for n in checked if n in lines), key=lambda n: lines[n].number)
    wrong = [n for n in named if checked[n]]
    findings: list[Finding] = []
    downstream = []
    for name in wrong:
        inputs = [r for r in sorted(lines[name].reads) if r in checked and r != name]
        if any(checked[r] for r in inputs):
            downstream.append(name)
            continue
        right = [r for r in inputs if not checked[r]]
        head = (
            f"{', '.join(right)} {'is' if len(right) == 1 else 'are'} right, {name} is wrong"
            if right
            else (f"{name} is wrong")
        )
        message = f"{head}: look at the line that computes {name}, {lines[name]}"
        findings.append(Finding("bug", name, message, "line"))
    if findings and downstream:
        tail = f"; {', '.join(downstream)} {'is' if len(downstream) == 1 else 'are'} wrong downstream"
        findings[0].message += tail
    return findings


def labels_line(lines: list[tuple[str, Line]]) -> Line | None:
    """The first line of the backward that reads the labels: where the cost's derivative enters."""
    return next((line for _, line in lines if line.reads & set(LABELS)), None)


def dead_units(values: dict[str, np.ndarray], m: int | None) -> list[str]:
    """Notes on ReLU units that are never active for the data, from the forward's own values.

    A pair ``Z<k>``, ``A<k>`` with ``A == max(Z, 0)`` is a ReLU layer; a unit (a row of ``Z``,
    its examples along the axis of length ``m``) that is never positive is dead.
    """
    notes = []
    for name in sorted(values):
        number = layer_number(name)
        if not name.startswith("Z") or number is None or f"A{number}" not in values:
            continue
        Z, A = values[name], values[f"A{number}"]
        if Z.ndim != 2 or Z.shape != A.shape or not np.array_equal(A, np.maximum(Z, 0.0)):
            continue
        axis = 1 if (m is None or Z.shape[1] == m) else 0
        dead = int(np.sum(np.all(Z <= 0, axis=axis)))
        if dead:
            notes.append(
                f"layer {number}: {dead} of {Z.shape[1 - axis]} units are dead for this data (never"
                " positive): their incoming weights have zero gradient, and a bug there cannot be"
                " seen at this point"
            )
    return notes
