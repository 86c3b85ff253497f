"""The references' artefacts and the undecided elements, said as such; the random directions' and
the nearby point's findings.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.params import Layout
from ..estimators.base import Estimate
from ..judge.compare import AGREE, KINK, UNDECIDED, Verdicts
from .findings import METHOD_TITLE, Finding, element_labels


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


def artefact_findings(
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
            findings += _trace_artefact(title, odd, verdicts, layout)
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
        for kind, (sel, verb, why) in groups.items():
            idx = np.flatnonzero(sel)
            if not idx.size:
                continue
            tail = _not_a_bug(estimates, verdicts, idx)
            message = f"{title} {verb} at {element_labels(layout, idx)}: {why}{tail}"
            findings.append(Finding("artefact", layout.locate(int(idx[0]))[0], message, kind))
    return findings + _kinks_and_undecided(estimates, verdicts, layout)


def _not_a_bug(estimates: dict[str, Estimate], verdicts: Verdicts, idx: np.ndarray) -> str:
    """ "; backprop and autograd agree, not a bug" where the data say so: every element decided
    right, and autograd (when it ran) agreeing at each; "" where any is wrong or undecided."""
    verdict = verdicts.verdict[idx]
    if not np.all((verdict == AGREE) | (verdict == KINK)):
        return ""
    auto = estimates.get("autograd")
    if auto is not None and auto.available and "autograd" in verdicts.agrees:
        if np.all(verdicts.agrees["autograd"][idx]):
            return "; backprop and autograd agree, not a bug"
    if np.all(verdict == KINK):
        return "; backprop's value lies between the one-sided slopes, not a bug"
    return "; backprop agrees with the other references, not a bug"


def _trace_artefact(title: str, odd: np.ndarray, verdicts: Verdicts, layout: Layout) -> list[Finding]:
    """autograd alone disagreeing (off a kink): its trace followed something else than the cost."""
    idx = np.flatnonzero(odd & (verdicts.verdict != KINK))
    if not idx.size:
        return []
    message = (
        f"{title} disagrees with backprop and the finite differences at"
        f" {element_labels(layout, idx)}: autograd may be tracing something other than the"
        " cost that was evaluated (a value taken outside autograd, or a branch on"
        " parameter values); backprop agrees with finite differences"
    )
    return [Finding("artefact", "", message, "trace")]


def _kinks_and_undecided(estimates: dict[str, Estimate], verdicts: Verdicts, layout: Layout) -> list[Finding]:
    """The notes on the elements at a kink (a valid subgradient) and on those left undecided."""
    findings = []
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
                f" {_why_undecided(estimates, undecided, verdicts, layout)}",
                "undecided",
            )
        )
    return findings


def _why_undecided(
    estimates: dict[str, Estimate],
    idx: np.ndarray,
    verdicts: Verdicts | None = None,
    layout: Layout | None = None,
) -> str:
    """Why no reference could certify these elements, and what would let one (the advice on
    precision only where round-off is why: not where autograd is accurate and disagrees)."""
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
    vague = np.ones(idx.size, dtype=bool)
    if auto is None or not auto.available:
        parts.append("autograd is unavailable")
    else:
        if verdicts is not None and "autograd" in verdicts.informative:
            vague = ~verdicts.informative["autograd"][idx]
        if vague.any():
            where = "there" if vague.all() or layout is None else f"at {element_labels(layout, idx[vague])}"
            parts.append(f"autograd's own round-off is as large as the gradient {where}")
        if not vague.all():
            at = "" if layout is None else f"at {element_labels(layout, idx[~vague])} "
            parts.append(
                f"{at}autograd is accurate but disagrees with backprop, while centred differences side"
                " with backprop or saw a kink within their step (where autograd takes a subgradient of"
                " its own), and no nearby point settled them"
            )
    if not vague.any():
        return "; ".join(parts)
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
