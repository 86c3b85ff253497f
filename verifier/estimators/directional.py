r"""Random-direction checks, and the bisection that localises a failing one.

Notes
-----
A direction check compares :math:`v^\top g` with the centred difference of the cost along
:math:`v`, :math:`(J(\theta + hv) - J(\theta - hv)) / 2h`, using the same five-point stencil
and error bound as the per-element ``centered`` method (truncation from two steps, kinks
from the third difference of the one-sided slopes, round-off), so a direction costs four
cost evaluations whatever the number of parameters. :math:`v` has random signs, each
tensor's part scaled by :math:`1/\sqrt{n_T}` so that every tensor weighs alike (a bug in a
one-element bias is not drowned by a weight matrix of 10^5 entries). The step is
:math:`h = \epsilon^{1/3} \max(1, \mathrm{rms}(\theta))`.

**Kinks.** A step along a direction over many parameters can flip the sign of a few ReLU
pre-activations, and the change of slope then swamps the comparison: this is how
random-direction checkers flag correct gradients at scale. The stencil sees it (one-sided
slopes disagree: the third difference is large); the step is then shrunk, 16x at a time,
up to three times, and if the kink is still inside the stencil the direction is split in
two and each half checked on its own, down to single elements, where the per-element
kink rule applies (a value between the one-sided derivatives is a valid subgradient).
A kink is never reported as a bug.

**Localisation.** When a direction disagrees beyond its bound, its support is bisected:
each half gets a fresh direction and is checked, and only failing halves are bisected
further, so one wrong element among :math:`P` is found in about :math:`8 \log_2 P`
evaluations; a single element is confirmed with the per-element centred check.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..objective import EPS, Objective
from ..params import Layout
from .centered import OFFSETS, centered

#: Shrinks of the step (16x each) before a kinked direction is split.
SHRINKS = 3
#: Cost evaluations the localisation may spend before it reports the failing blocks as they are.
LOCALISE_BUDGET = 600


@dataclass
class DirectionCheck:
    """One direction's comparison.

    Attributes
    ----------
    label : str
        What the direction covers (``"all parameters"``, ``"W1"``, ``"W1[0:512]"``).
    indices : ndarray of int
        Its support (flat indices).
    projected : float
        ``v . g``, the hand-written gradient along the direction.
    value : float
        The centred difference along the direction.
    error : float
        Its bound (plus the hand-written gradient's round-off along ``v``).
    step : float
        The step taken.
    kink : bool
        A kink stayed inside the stencil at the smallest step.
    agrees : bool or None
        True: within the bound; False: beyond it; None: no verdict (kink, or noise).
    nfev : int
        Cost evaluations spent.
    """

    label: str
    indices: np.ndarray = field(repr=False)
    projected: float
    value: float
    error: float
    step: float
    kink: bool
    agrees: bool | None
    nfev: int

    def to_dict(self) -> dict[str, object]:
        return {
            "label": self.label,
            "size": int(self.indices.size),
            "projected": self.projected,
            "value": self.value,
            "error": self.error,
            "step": self.step,
            "kink": self.kink,
            "agrees": self.agrees,
            "nfev": self.nfev,
        }


@dataclass
class DirectionalResult:
    """The direction checks of a run, and the elements they localised.

    Attributes
    ----------
    checks : list of DirectionCheck
        The top-level checks (one per tensor, or one over all parameters first).
    wrong : ndarray of int
        Flat indices localised as wrong and confirmed one by one.
    kinks : ndarray of int
        Single elements at a kink whose value is a valid subgradient.
    failing_blocks : list of DirectionCheck
        Blocks still failing when the localisation budget ran out.
    nfev : int
    """

    checks: list[DirectionCheck]
    wrong: np.ndarray
    kinks: np.ndarray
    failing_blocks: list[DirectionCheck]
    nfev: int


class Directions:
    """Direction checks on one objective (see the module notes).

    Parameters
    ----------
    objective : Objective
    g : ndarray, shape (P,)
        The hand-written gradient.
    g_error : ndarray, shape (P,)
        Its round-off bound.
    rng : numpy.random.Generator
        Draws the directions.
    """

    def __init__(
        self, objective: Objective, g: np.ndarray, g_error: np.ndarray, rng: np.random.Generator
    ) -> None:
        self.objective, self.g, self.g_error, self.rng = objective, g, g_error, rng
        self.layout: Layout = objective.layout
        self.nfev = 0

    def _vector(self, idx: np.ndarray) -> np.ndarray:
        """Random signs, each tensor's part scaled by 1/sqrt(its share of the support)."""
        bits = np.unpackbits(self.rng.integers(0, 256, (idx.size + 7) // 8, dtype=np.uint8))[: idx.size]
        v = bits.astype(np.float64)
        v *= 2.0
        v -= 1.0
        # idx is sorted: each tensor's share is one run of it
        cuts = np.searchsorted(idx, self.layout.offsets)
        for a, b in zip(cuts[:-1], cuts[1:], strict=True):
            if b > a:
                v[a:b] /= np.sqrt(b - a)
        return v

    def check(self, idx: np.ndarray, label: str, *, split: bool = True) -> list[DirectionCheck]:
        """Check the direction over ``idx``; on a persistent kink, split it (see the notes)."""
        result = self._once(idx, label)
        if not result.kink or not split or idx.size == 1:
            return [result]
        half = idx.size // 2
        return self.check(idx[:half], f"{label}[:{half}]") + self.check(idx[half:], f"{label}[{half}:]")

    def _once(self, idx: np.ndarray, label: str) -> DirectionCheck:
        v = self._vector(idx)
        part: slice | np.ndarray = idx
        if idx[-1] - idx[0] + 1 == idx.size:  # contiguous: slices avoid copies
            part = slice(int(idx[0]), int(idx[-1]) + 1)
        theta, g = self.objective.theta0[part], self.g[part]
        h = float(np.cbrt(EPS) * max(1.0, np.sqrt(np.mean(theta**2))))
        projected = float(v @ g)
        magnitude = np.abs(v)
        g_round = float(magnitude @ self.g_error[part])
        nfev = 0
        for _ in range(SHRINKS + 1):
            f = self.objective.along(idx, v, OFFSETS * h)
            nfev += 4
            value, error, kink = _five_point(self.objective, f, h)
            if not kink:
                break
            h /= 16
        self.nfev += nfev
        bound = error + g_round + 1e-12 * float(magnitude @ np.abs(g))
        informative = np.isfinite(value) and bound <= 0.1 * max(abs(projected), abs(value)) + 1e-300
        if kink:
            agrees = None
        elif abs(projected - value) <= bound:
            agrees = True
        else:
            agrees = False if informative or abs(projected - value) > 10 * bound else None
        return DirectionCheck(label, idx, projected, value, bound, h, kink, agrees, nfev)

    def localise(self, block: DirectionCheck) -> tuple[list[int], list[int], list[DirectionCheck]]:
        """Bisect a failing block: (wrong elements, kink elements, blocks left when the budget ran out)."""
        wrong: list[int] = []
        kinks: list[int] = []
        left: list[DirectionCheck] = []
        stack = [block]
        spent0 = self.nfev
        while stack:
            current = stack.pop()
            idx = current.indices
            if idx.size == 1:
                verdict = self._element(int(idx[0]))
                (wrong if verdict == "wrong" else kinks if verdict == "kink" else []).append(int(idx[0]))
                continue
            if self.nfev - spent0 > LOCALISE_BUDGET:
                left.append(current)
                continue
            half = idx.size // 2
            for part, name in (
                (idx[:half], f"{current.label}[:{half}]"),
                (idx[half:], f"{current.label}[{half}:]"),
            ):
                for sub in self.check(part, name):
                    if sub.agrees is False or (sub.kink and sub.indices.size == 1):
                        stack.append(sub)
        return sorted(wrong), sorted(kinks), left

    def _element(self, i: int) -> str:
        """Confirm one element with the per-element centred check: "wrong", "kink" or "agree"."""
        est = centered(self.objective, np.array([i]))
        self.nfev += est.nfev
        d, e = est.values[i], est.error[i] + self.g_error[i]
        if np.isfinite(d) and abs(self.g[i] - d) <= e:
            return "agree"
        assert est.lo is not None and est.hi is not None and est.interval_error is not None
        if est.kink is not None and est.kink[i]:
            lo, hi, ie = est.lo[i], est.hi[i], est.interval_error[i]
            return "kink" if lo - ie <= self.g[i] <= hi + ie else "wrong"
        return "wrong" if np.isfinite(d) else "agree"


def _five_point(objective: Objective, f: np.ndarray, h: float) -> tuple[float, float, bool]:
    """Value, bound and kink flag of the centred difference from the stencil -2h, -h, h, 2h."""
    fm2, fm1, fp1, fp2 = f
    f0 = objective.value0
    delta, _ = objective.noise()
    d1 = (fp1 - fm1) / (2 * h)
    d2 = (fp2 - fm2) / (4 * h)
    s_m2, s_m1, s_p1, s_p2 = (fm1 - fm2) / h, (f0 - fm1) / h, (fp1 - f0) / h, (fp2 - fp1) / h
    third = max(abs(s_p2 - 2 * s_p1 + s_m1), abs(s_p1 - 2 * s_m1 + s_m2))
    dj = max(delta, 4 * EPS * float(np.nanmax(np.abs(np.append(f, f0)))))
    richardson = abs(d2 - d1)
    kink = bool(third > 8 * richardson + 16 * dj / h)
    fourth = abs(fm2 - 4 * fm1 + 6 * f0 - 4 * fp1 + fp2) / 8
    roundoff = (dj if kink else max(dj, fourth)) / h
    error = 3 * richardson + 1.5 * third + 2 * roundoff
    if not np.all(np.isfinite(f)):
        return float("nan"), float("inf"), False
    return float(d1), float(error), kink


def run_directions(
    objective: Objective,
    g: np.ndarray,
    g_error: np.ndarray,
    rng: np.random.Generator,
    *,
    global_first: bool = False,
) -> DirectionalResult:
    """Check every tensor along a random direction and localise what fails.

    With ``global_first``, one direction over all parameters comes first and the tensors
    are checked one by one only if it does not agree (the fast mode: four evaluations for
    a passing verdict).
    """
    runner = Directions(objective, g, g_error, rng)
    layout = objective.layout
    checks: list[DirectionCheck] = []
    if global_first:
        top = runner.check(np.arange(layout.size), "all parameters", split=False)
        if top[0].agrees:
            return DirectionalResult(
                top, np.array([], dtype=np.intp), np.array([], dtype=np.intp), [], runner.nfev
            )
    for t, name in enumerate(layout.names):
        checks += runner.check(np.arange(layout.offsets[t], layout.offsets[t + 1]), name)
    wrong: list[int] = []
    kinks: list[int] = []
    left: list[DirectionCheck] = []
    for c in checks:
        if c.agrees is False or (c.kink and c.indices.size == 1):
            w, k, rest = runner.localise(c)
            wrong += w
            kinks += k
            left += rest
    return DirectionalResult(
        checks,
        np.array(sorted(set(wrong)), dtype=np.intp),
        np.array(sorted(set(kinks)), dtype=np.intp),
        left,
        runner.nfev,
    )
