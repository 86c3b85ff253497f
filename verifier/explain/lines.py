"""The first wrong line, in the user's own file: one mechanism for any code, built-ins included.

When something is wrong, the user's backward is run once more under observation
(:mod:`verifier.trace.provenance`): where each array that ends up in a gradient was made or
written, through helpers, methods, loops and buffers, and which arrays each statement read.
The cost is traced once more, and every value its forward computed, with the cost's gradient
with respect to it, says which of those arrays are right. The report then names, for each
wrong tensor, the first statement whose inputs are right and whose output is wrong, with
its file, number, text and iteration; for a buffer filled region by region, which regions
are right.

When the backward also returns intermediate gradients under the forward's names (the
notebook's ``dZ3``, ``dA2``, ...), the autograd reference's own trace checks them by name,
for the report's table of intermediates. The same trace gives, for the diagnosis: dJ/dZ of a
layer (is a wrong bias gradient ``dZ`` summed over the wrong axis?), and the ReLU units that
are dead for the data, on every check.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..core.params import Layout, is_intermediate_key, layout_of
from ..core.tolerance import autograd_floor
from ..estimators.base import Estimate
from ..judge.compare import compare, relative_error
from ..judge.kinks import NEARBY
from ..judge.verdict import verdict_report
from ..trace.provenance import EVENT_BUDGET, Recording, record
from ..trace.statements import cite
from .findings import Finding, nice_factor
from .forward_table import Table, forward_table
from .layer_picture import bias_axis, layer_number
from .walk import Culprit, first_wrong, outputs, regions


@dataclass
class Explained:
    """What the lines add to a report.

    Attributes
    ----------
    findings : list of Finding
        The lines at fault, the regions of a buffer that are right and wrong, a bias summed
        over the wrong axis, where a shared factor enters.
    where : dict of str to str
        A wrong tensor's own gradient line (``"dW1 is computed at …"``), when there is no
        reference for the arrays it was computed from (autograd unavailable).
    intermediates : Report or None
        The check of the backward's intermediate gradients.
    notes : list of str
        Dead ReLU units, from the forward's values.
    unchecked : list of str
        The backward's ``dNAME`` keys whose ``NAME`` the traced forward does not hold (so
        nothing to check them against: a typo, or a name the forward never assigns).
    """

    findings: list[Finding] = field(default_factory=list)
    where: dict[str, str] = field(default_factory=dict)
    intermediates: Any = None
    notes: list[str] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)
    #: why the forward has nothing to check them against, in words
    unheld: str = ""


def explain(
    grad: Callable[[Any], Any],
    cost: Callable[[Any], Any],
    layout: Layout,
    theta: np.ndarray,
    raw: Any,
    wrong: dict[str, np.ndarray],
    shared: Shared | None,
    context: dict[str, Any],
    reference: Any,
) -> Explained:
    """The user's lines behind a report (see the module notes).

    Parameters
    ----------
    grad, cost : callable
        As given to :func:`verifier.check` (``grad`` is run once more under observation, and
        the cost traced once more, only when something is wrong).
    layout, theta
        The parameters.
    raw : object
        What ``grad`` returned at ``theta`` (its extra ``dNAME`` keys are the intermediates).
    wrong : dict of str to ndarray of bool
        The parameter tensors found wrong, each with its wrong elements (in its shape).
    shared : Shared or None
        Every wrong tensor is off by one factor (and which tensors are right).
    context : dict
        ``m`` if known (the notebook's ``dZ3 = A3 - Y`` is ``m`` times dJ/dZ3).
    reference : Estimate or None
        autograd's estimate: its ``intermediates`` and ``forward_values`` come from the same
        trace as the reference (None, or unavailable: no intermediate is checked, and a wrong
        tensor's line is the one that computed it).
    """
    extra = intermediate_keys(raw, layout)
    out = Explained()
    refs: dict[str, np.ndarray] = {}
    available = reference is not None and reference.available
    if available and reference.intermediates is not None:
        refs = reference.intermediates
        out.notes = dead_units(reference.forward_values or {}, context.get("m"))
        out.unchecked = [k for k in extra if k[1:] not in refs]
        out.unheld = unheld([k[1:] for k in out.unchecked], reference.extra.get("held", []))
    for name in wrong:
        number = layer_number(name)
        if name.startswith("b") and number is not None and f"Z{number}" in refs:
            finding = bias_axis(name, theta_part(raw, layout, name), refs[f"Z{number}"])
            if finding is not None:
                out.findings.append(finding)
    present = [k for k in extra if k[1:] in refs]
    if present:
        out.intermediates = _check_intermediates(raw, present, refs, context.get("m"))
    if not wrong:
        return out  # nothing is wrong: no line to name, and the backward need not run again
    resolve = available and bool(reference.extra.get("resolved"))
    observed = _observe(grad, cost, layout, theta, available, resolve)
    if observed is None:
        return out
    recording, table = observed
    if recording.events > EVENT_BUDGET:
        out.notes.append(
            f"the backward made or wrote arrays in more than {EVENT_BUDGET:,} statements (a loop over"
            " every element): its lines were not followed to the first wrong one"
        )
        return out
    try:
        culprits = first_wrong(recording, layout, wrong, table, context.get("m"))
    except Exception as exc:  # the verdict stands; only the line is missing, and the report says why
        out.notes.append(f"the first wrong line could not be worked out ({type(exc).__name__}: {exc})")
        culprits = []
    keys = dict(zip(layout.names, outputs(recording, layout), strict=True))
    common = culprits[0] if len(culprits) == 1 and set(culprits[0].tensors) == set(wrong) else None
    if shared is not None:
        site = ""
        covered = {t for c in culprits for t in c.tensors} == set(wrong)
        if (
            common is None
            and covered
            and len({(c.event.site, c.event.target, c.kind) for c in culprits}) == 1
        ):
            # one statement, reached once per layer or step: its line here, each call in its own finding
            e = culprits[0].event
            line = cite(f"{Path(e.statement.file).name}:{e.statement.line}", e.statement.text)
            site = f": each goes wrong at {line}, the line that computes {e.target}"
        out.findings.append(_shared_finding(shared, common, site))
    for c in culprits:
        if table is None and c.kind == "made":
            for name in c.tensors:
                out.where[name] = f"{_noun(c.event.target)} is computed at {c.event.where()}"
            continue
        if c is common and shared is not None and c.kind == "line":
            continue  # the shared factor's finding names it
        zero = not any(np.any(theta_part(raw, layout, name)) for name in c.tensors)
        out.findings.append(Finding("bug", c.tensors[0], _words(c, zero), "line"))
    for name, mask in wrong.items():
        key = keys.get(name)
        if key is not None:
            text = regions(recording, key, mask)
            if text:
                out.findings.append(Finding("bug", name, f"{name}: {text}", "region"))
    return out


def _observe(
    grad: Callable[[Any], Any],
    cost: Callable[[Any], Any],
    layout: Layout,
    theta: np.ndarray,
    available: bool,
    resolve: bool,
) -> tuple[Recording, Table | None] | None:
    """The backward recorded, and the forward's table (None without autograd), at ``theta``, or
    at a nearby point when the forward takes the maximum of two equal values here.

    At such a tie (ReLU exactly at 0, integer data) autograd's gradient is 1/2 on each side and
    the backward's mask a valid subgradient: the arrays behind it match none of autograd's, and
    a right ``dZ1`` would look wrong. A small seeded move (as the check's own nearby points)
    clears the tie; a slip's line is the same statement there. If no move clears it (a tie that
    does not depend on the parameters), the lines are followed here.
    """
    recording = record(grad, layout.unflatten(theta.copy()))
    if recording is None or not available or recording.events > EVENT_BUDGET:
        return None if recording is None else (recording, None)
    table = _table(cost, layout, theta, recording, resolve)
    if table is None or not table.ties:
        return recording, table
    rng = np.random.default_rng(0)
    largest = layout.tensor_max(theta)  # each tensor's scale, as the check's steps (step_scale)
    scale = np.maximum(np.abs(theta), np.where(largest > 0, np.minimum(largest, 1.0), 1.0))
    for size in NEARBY:  # the check's own moves to a point where a kink is cleared
        moved = theta + size * scale * rng.standard_normal(theta.size)
        near = record(grad, layout.unflatten(moved))
        if near is None or near.events > EVENT_BUDGET:
            break
        there = _table(cost, layout, moved, near, resolve)
        if there is not None and not there.ties:
            return near, there
    return recording, table


def _table(
    cost: Callable[[Any], Any], layout: Layout, theta: np.ndarray, recording: Recording, resolve: bool
) -> Table | None:
    shapes = {r.array.shape for r in recording.arrays.values() if r.array.dtype.kind in "fc"}
    return forward_table(cost, layout, theta, shapes | set(layout.shapes), resolve)


@dataclass
class Shared:
    """One factor every wrong tensor is off by, and the tensors that are right."""

    factor: float
    wrong: list[str]
    right: list[str]


def _shared_finding(shared: Shared, common: Culprit | None, site: str = "") -> Finding:
    """Where a factor shared by the wrong tensors enters, saying only what the data show.

    ``common``: the one statement every wrong tensor goes wrong at; ``site``: the one line they
    each go wrong at, in calls of their own (a helper called once per layer)."""
    at = f": look at {_place(common)}" if common else site
    if not shared.right:
        if site and not common:
            message = f"the factor is shared by every parameter gradient{site}"
        else:
            message = "the factor is shared by every parameter gradient, so it enters before them" + (
                at or ": look at the first lines of the backward pass"
            )
    else:
        wrong, right = ", ".join(shared.wrong), ", ".join(shared.right)
        verb = "is" if len(shared.wrong) == 1 else "are"
        message = (
            f"{wrong} {verb} {nice_factor(shared.factor)}× the reference and {right}"
            f" {'is' if len(shared.right) == 1 else 'are'} right: the factor enters on the path to"
            f" {wrong} only, after it parts from the path to {right}{at}"
        )
    return Finding("bug", "", message, "line" if common or site else "shared")


def _noun(target: str) -> str:
    """How the report calls a target: its text, or what a statement returns."""
    return "the value returned" if target == "return value" else target


def _words(c: Culprit, zero: bool = False) -> str:
    """A culprit's sentence: what is right, what is wrong, and the line with its iteration
    (``zero``: every tensor it is blamed for came back all zeros)."""
    target = _noun(c.event.target)
    own = len(c.tensors) == 1 and target in (c.tensors[0], f"d{c.tensors[0]}")
    prefix = "" if own else f"{', '.join(c.tensors)}: "
    where = c.event.where(first=c.repeated)
    if c.kind == "dropped":
        return (
            f"{prefix}{target} keeps only the last of the {c.detail} values its line computes, at {where}:"
            " each one replaces the one before, which nothing reads (an accumulation needs +=; a value"
            " carried to the next step must be read there)"
        )
    if c.kind == "misnamed":
        return (
            f"{prefix}{target} is the gradient of another of the forward's values, not of"
            f" {target[1:]}: look at the line that computes {target}, {where}"
        )
    if c.kind == "unwritten":
        return f"{prefix}{c.detail} are never written after {where}"
    if c.right:
        state = "is all zeros" if zero else "is wrong"
        head = f"{', '.join(c.right)} {'is' if len(c.right) == 1 else 'are'} right, {target} {state}"
    elif c.terms or (c.event.statement.kind == "return" and not c.event.statement.reads):
        # (a return whose reads are unknown: a lambda's, or code with no source text to read)
        head = f"{target} is wrong"
    elif zero:  # how zeros came about is not known: what they suggest is
        head = f"{target} is all zeros, like a gradient never computed or left at the zeros it started from"
    elif not c.event.inputs:
        head = f"{target} is wrong, and reads no array"
    else:
        head = f"{target} is wrong, computed from the forward's values and the data"
    if c.terms:
        head += f"; it reads {'; '.join(c.terms)}"
    return f"{prefix}{head}: look at {_place(c)}"


def _place(c: Culprit) -> str:
    """``the line that computes dW, file.py:12 `…` (at t = 3)``, or the lines, when several
    statements on one array cannot be told apart."""
    where = c.event.where(first=c.repeated)
    if c.event.target == "return value":
        return f"the line that returns it, {where}"
    if c.also:
        others = " or ".join(e.where(first=True) for e in c.also)
        return f"the lines that compute {c.event.target}, {where} or {others}"
    return f"the line that computes {c.event.target}, {where}"


def unheld(names: list[str], held: list[str]) -> str:
    """Why the forward has no value for ``names`` (its ``dNAME`` keys go unchecked), from the
    names its frame does hold: ``A``, ``A_prev`` rebound as a loop runs hold ``A1``, ``A2`` in
    turn, and no name says which value is which layer's."""
    listed = ", ".join(names)
    bases = {n.rstrip("0123456789") for n in names if n.rstrip("0123456789")}
    similar = [h for h in held if h not in names and any(h == b or h.startswith(f"{b}_") for b in bases)]
    if not similar:
        return f"the forward holds no value named {listed} (a typo, or a name the forward never assigns)"
    return (
        f"the forward holds no value under the names {listed}; it holds its values as"
        f" {', '.join(similar)}, names that do not say which layer's value each is (a loop's"
        " `A_prev = A` binds them layer after layer), so they cannot be matched by name"
    )


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
    error = autograd_floor(values, layout)
    estimate = Estimate("autograd", values, error, reason="autograd, with respect to the forward's values")
    verdicts = compare(g, {"autograd": estimate}, layout)
    return verdict_report(g, {"autograd": estimate}, verdicts, layout)


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
