r"""Random-direction checks, and the bisection that localises a failing one.

Notes
-----
A direction check compares :math:`v^\top g` with the centred difference of the cost along
:math:`v`, :math:`(J(\theta + hv) - J(\theta - hv)) / 2h`, using the same five-point stencil
and error bound as the per-element ``centered`` method (truncation from two steps, kinks
from the third difference of the one-sided slopes, round-off), so a direction costs four
cost evaluations whatever the number of parameters. :math:`v` has random signs and
magnitudes (never orthogonal to a structured gradient by construction), each tensor's part
scaled by :math:`1/\sqrt{n_T}` so that every tensor weighs alike (a bug in a one-element
bias is not drowned by a weight matrix of 10^5 entries).

**Verdict.** A direction agrees only when its bound is within the resolution a pass
certifies (:data:`~verifier.core.tolerance.RESOLUTION` of the slope, or a millionth of the largest
gradient in its tensors for slopes near zero); otherwise it tries fresh directions, then
gives no verdict. Before it disagrees, it measures the cost's noise and takes its slope
again with a step :data:`WIDE` times wider; and a disagreement convicts only through an
element its bisection pins down (each single element confirmed by its own stencil, at the
step and at the wider one). The step is
:math:`h = \epsilon^{1/3} \max(1, \mathrm{rms}(\theta))` (the RMS over the support, from a
strided sample of it).

**Cost.** At a million parameters a pass over them costs about half a forward pass, so the
check makes few: :math:`hv` is generated already scaled, in one array (the only array of
the support's size it allocates); :math:`v^\top g` and the norms of :math:`g` it needs are
reads; the four points are reached in four passes (:meth:`Objective.along`).

**Kinks.** A step along a direction over many parameters can flip the sign of a few ReLU
pre-activations, and the change of slope then swamps the comparison: this is how
random-direction checkers flag correct gradients at scale. The stencil sees it (one-sided
slopes disagree: the third difference is large); the step is then shrunk, 16x at a time,
up to three times, and if the kink is still inside the stencil the direction is split in
two and each half checked on its own, down to single elements, which the check decides
at a nearby point where the cost is smooth (``judge.kinks.settle_kinks``, as in the full
mode). A kink is never reported as a bug.

**Localisation.** When a direction disagrees beyond its bound, its support is bisected:
each half gets a fresh direction and is checked, and only failing halves are bisected
further, so one wrong element among :math:`P` is found in about :math:`8 \log_2 P`
evaluations; a single element is confirmed with the per-element centred check.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..core.objective import CBRT_EPS, EPS, Objective, step_sizes
from ..core.params import Layout
from ..core.tolerance import GLOBAL_FLOOR, MATERIAL, TENSOR_FLOOR, decides, scale_floors
from .centered import centered
from .five_point import OFFSETS, POINTS, five_point

#: Shrinks of the step (16x each) before a kinked direction is split.
SHRINKS = 3
#: Cost evaluations the localisation may spend before it reports the failing blocks as they are.
LOCALISE_BUDGET = 600
#: Fresh directions tried when one gives no verdict.
RETRIES = 3
#: Before a slope convicts, it is taken again with a step this many times wider.
WIDE = 256.0
#: The RMS of the weights' magnitudes 64 .. 191 (see Directions._vector).
WEIGHT_RMS = float(np.sqrt(np.mean(np.arange(64, 192) ** 2.0)))
#: The smallest weight's magnitude over the RMS: every element of a support moves by at least this
#: part of the typical step along a direction.
MIN_WEIGHT = 64.0 / WEIGHT_RMS
#: The allowance for the round-off of ``v . g`` itself, in units of eps times ``sum |v_i g_i|``.
DOT_ROUNDOFF = 64.0


@dataclass
class DirectionCheck:
    """One direction's comparison.

    Attributes
    ----------
    label : str
        What the direction covers (``"all parameters"``, ``"W1"``, ``"W1[0:512]"``).
    start, stop : int
        Its support: the flat indices ``start`` to ``stop - 1``.
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
    unpinned : bool
        It disagreed, but its bisection pinned no element: withdrawn to no verdict by the
        check (a disagreement convicts only through an element).
    """

    label: str
    start: int
    stop: int
    projected: float
    value: float
    error: float
    step: float
    kink: bool
    agrees: bool | None
    nfev: int
    unpinned: bool = False
    #: It disagrees beyond its bound but within the old allowance, MATERIAL of the slope (a
    #: backward in float32, a solver's accuracy): if no element is pinned it agrees after all.
    lenient: bool = False
    #: The least error in any one element of its support it would see: its bound plus the
    #: allowance, over the smallest |v_i| (every element moves by at least MIN_WEIGHT of the
    #: largest). NaN when it gave no verdict.
    resolution: float = float("nan")

    @property
    def size(self) -> int:
        """Number of parameters in the support."""
        return self.stop - self.start

    @property
    def decisive(self) -> bool:
        """Agrees, with an :func:`informative` bound: a pass noise could not give."""
        return self.agrees is True and informative(self.error, self.projected, self.value)

    def to_dict(self) -> dict[str, object]:
        return {
            "label": self.label,
            "size": self.size,
            "projected": self.projected,
            "value": self.value,
            "error": self.error,
            "step": self.step,
            "kink": self.kink,
            "agrees": self.agrees,
            "nfev": self.nfev,
            "unpinned": self.unpinned,
            "resolution": self.resolution,
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
        Single elements at a kink (decided at a nearby point by the check).
    agreed : ndarray of int
        Single elements the localisation confirmed as agreeing.
    failing_blocks : list of DirectionCheck
        Blocks still failing when the localisation budget ran out.
    nfev : int
    drift : float
        How much a repeat evaluation of the cost at the base point differed (see
        :func:`run_directions`'s ``confirm``); nonzero means no verdict.
    """

    checks: list[DirectionCheck]
    wrong: np.ndarray
    kinks: np.ndarray
    failing_blocks: list[DirectionCheck]
    nfev: int
    drift: float = 0.0
    agreed: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.intp))


class Directions:
    """Direction checks on one objective (see the module notes).

    Parameters
    ----------
    objective : Objective
    g : ndarray, shape (P,)
        The hand-written gradient.
    g_error : ndarray, shape (P,), or None
        Its round-off bound (None: not measured, taken as zero; the fast mode).
    rng : numpy.random.Generator
        Draws the directions.
    """

    def __init__(
        self, objective: Objective, g: np.ndarray, g_error: np.ndarray | None, rng: np.random.Generator
    ) -> None:
        self.objective, self.g, self.g_error, self.rng = objective, g, g_error, rng
        self.layout: Layout = objective.layout
        self.nfev = 0
        self._largest: np.ndarray | None = None
        self._floors: np.ndarray | None = None

    def _tensors(self, start: int, stop: int) -> tuple[int, int]:
        """The first and last tensor that the flat range ``start:stop`` touches."""
        first, last = self.layout.tensor_of(np.array([start, stop - 1]))
        return int(first), int(last)

    def largest(self, start: int, stop: int) -> float:
        """The largest |g| in the tensors ``start:stop`` touches (made on first use: a pass over g)."""
        if self._largest is None:
            self._largest = np.array(
                [np.max(np.abs(self.g[self.layout.slice(t)])) for t in range(len(self.layout.names))]
            )
        first, last = self._tensors(start, stop)
        return float(np.max(self._largest[first : last + 1]))

    def floor(self, start: int, stop: int) -> float:
        """The absolute bound that decides a slope near zero on ``start:stop``: the per-element
        rule's floors (:mod:`verifier.judge.compare`): :data:`~verifier.core.tolerance.TENSOR_FLOOR`
        of the largest gradient in the tensors it touches,
        :data:`~verifier.core.tolerance.GLOBAL_FLOOR` of the largest over all parameters (a tensor whose
        gradient is all zero, dead units, has no scale of its own), and twice the round-off
        floor from the computation's scale (:func:`verifier.core.tolerance.scale_floors`)."""
        largest = self.largest(start, stop)
        everywhere = self.largest(0, self.layout.size)
        if self._floors is None:
            self._floors = scale_floors(self.layout, self.objective.theta0, self.g, self.objective.value0)
        first, last = self._tensors(start, stop)
        scale_floor = 2 * float(np.max(self._floors[first : last + 1]))
        return max(TENSOR_FLOOR * largest, GLOBAL_FLOOR * everywhere, scale_floor)

    def _vector(self, start: int, stop: int, h: float) -> tuple[np.ndarray, list[tuple[int, int]]]:
        """The step ``h v`` on ``start:stop``: random signs and magnitudes, each tensor's part
        scaled by ``h / sqrt(its share)``.

        Magnitudes vary (128 levels, from 64 to 191), so that a direction is not orthogonal to
        a structured gradient by construction: with signs alone, ``v = (1, -1)`` is orthogonal
        to ``g = (a, a)``, and a gradient wrong by a factor everywhere passes along it. They
        never come near zero (the smallest is :data:`MIN_WEIGHT` of the largest), so that one
        element's error is never diluted by a small weight: an error of ``e`` in any one
        element moves ``v . g`` by at least ``MIN_WEIGHT * max|v| * e``, whatever the draw.
        One random byte per element (its low bit the sign) costs about what a pass over the
        parameters does.

        Also returns the runs ``(a, b)``, positions relative to ``start``, that each
        tensor's share occupies.
        """
        n = stop - start
        levels = self.rng.integers(0, 256, n, dtype=np.uint8)
        levels_sign = (levels & 1).astype(bool)
        offsets = self.layout.offsets
        runs = [
            (max(a, start) - start, min(b, stop) - start)
            for a, b in zip(offsets[:-1], offsets[1:], strict=True)
            if min(b, stop) > max(a, start)
        ]
        w = np.empty(n)
        for a, b in runs:  # three passes in all: at 1e6 parameters each costs a quarter forward pass
            # magnitude 64 + level // 2 (64 .. 191), sign from the low bit
            np.right_shift(levels[a:b], 1, out=levels[a:b])
            np.add(levels[a:b], 64.0, out=w[a:b], dtype=np.float64)
            w[a:b] *= np.where(levels_sign[a:b], -1.0, 1.0)
            # WEIGHT_RMS is the magnitudes' RMS: |v| is about 2 per element, as it always was
            w[a:b] *= 2.0 * h / (WEIGHT_RMS * np.sqrt(b - a))
        return w, runs

    def check(self, start: int, stop: int, label: str, *, split: bool = True) -> list[DirectionCheck]:
        """Check the direction over ``start:stop``; on a persistent kink, split it (see the notes).

        A direction that gives no verdict (its bound is wider than :data:`RESOLUTION` of the slope: the
        slope is near zero along it, or round-off fills the bound) is tried again along up to
        :data:`RETRIES` fresh directions before the support is reported as undecided.
        """
        result = self._once(start, stop, label)
        for _ in range(RETRIES):
            if result.agrees is not None or result.kink:
                break
            again = self._once(start, stop, label)
            again.nfev += result.nfev
            result = again
        if not result.kink or not split or result.size == 1:
            return [result]
        half = result.size // 2
        return self.check(start, start + half, f"{label}[:{half}]") + self.check(
            start + half, stop, f"{label}[{half}:]"
        )

    def _once(self, start: int, stop: int, label: str) -> DirectionCheck:
        part = slice(start, stop)
        theta, g = self.objective.theta0[part], self.g[part]
        scale = _rms(theta)
        h = CBRT_EPS * (scale if scale > 0 else 1.0)  # parameters of size 1e-6 take steps of their size
        w, runs = self._vector(start, stop, h)  # the step h v itself: the cost is evaluated at theta + k w
        projected = float(w @ g) / h  # one read each of w and g, no temporaries
        # |v| is 1/sqrt(n) on a run of n: |v|.g_error per run, and |v|.|g| <= ||g_run|| (Cauchy-Schwarz)
        errors = self.g_error[part] if self.g_error is not None else None
        g_round = 0.0 if errors is None else sum(float(errors[a:b].sum()) / np.sqrt(b - a) for a, b in runs)
        g_scale = sum(float(np.sqrt(g[a:b] @ g[a:b])) for a, b in runs)
        # the round-off of v . g: eps-sized per term of sum |v_i g_i| (at most ||g_run|| / sqrt(n) per run)
        allowance = DOT_ROUNDOFF * EPS * float(np.abs(w) @ np.abs(g)) / h
        nfev0 = self.objective.nfev
        for _ in range(SHRINKS + 1):
            f = self.objective.along(part, w, OFFSETS)
            value, error, kink = _five_point(self.objective, f, h, measure=False)
            if not kink:
                break
            h /= 16
            w /= 16  # exact: a power of two
        floor = 0.0
        if not informative(error, projected, value):  # near-zero slopes: the tensor's scale decides
            floor = self.floor(start, stop)
        agrees, bound = _verdict(projected, value, error + g_round + 1e-12 * g_scale, kink, floor, allowance)
        if agrees is False:  # before convicting, measure the cost's noise (once per check)
            value, error, kink = _five_point(self.objective, f, h, measure=True)
            agrees, bound = _verdict(
                projected, value, error + g_round + 1e-12 * g_scale, kink, floor, allowance
            )
        if agrees is False:
            wide, wide_error, wide_kink = _five_point(
                self.objective, self.objective.along(part, WIDE * w, OFFSETS), WIDE * h, measure=True
            )
            spread = _spread(value, error, wide, wide_error, wide_kink)
            if spread:
                agrees, bound = _verdict(projected, value, max(bound, spread), True, floor, allowance)
        nfev = self.objective.nfev - nfev0
        self.nfev += nfev
        lenient = agrees is False and abs(projected - value) <= bound + MATERIAL * max(
            abs(projected), abs(value)
        )
        # the least single-element error it sees: |v_i| >= 2 MIN_WEIGHT / sqrt(n_run) in units of h
        smallest = min(2 * MIN_WEIGHT / np.sqrt(b - a) for a, b in runs)
        resolution = (bound + allowance) / smallest if agrees is not None else float("nan")
        return DirectionCheck(
            label, start, stop, projected, value, bound, h, kink, agrees, nfev, False, lenient, resolution
        )

    def localise(self, block: DirectionCheck) -> tuple[list[int], list[int], list[int], list[DirectionCheck]]:
        """Bisect a failing block: (wrong elements, kink elements, agreeing elements, blocks left
        when the budget ran out)."""
        wrong: list[int] = []
        kinks: list[int] = []
        agreed: list[int] = []
        left: list[DirectionCheck] = []
        stack = [block]
        spent0 = self.nfev
        while stack:
            current = stack.pop()
            if current.size == 1:
                verdict = self._element(current.start)
                {"wrong": wrong, "kink": kinks, "agree": agreed, "undecided": []}[verdict].append(
                    current.start
                )
                continue
            if self.nfev - spent0 > LOCALISE_BUDGET:
                left.append(current)
                continue
            half = current.size // 2
            middle = current.start + half
            for a, b, name in (
                (current.start, middle, f"{current.label}[:{half}]"),
                (middle, current.stop, f"{current.label}[{half}:]"),
            ):
                for sub in self.check(a, b, name):
                    if sub.agrees is False or (sub.kink and sub.size == 1):
                        stack.append(sub)
        return sorted(wrong), sorted(kinks), sorted(agreed), left

    def _element(self, i: int) -> str:
        """Confirm one element with the per-element centred check (the directions' rule):
        "agree", "wrong", "kink" (decided at a nearby point by the check) or "undecided"."""
        est = centered(self.objective, np.array([i]))
        self.nfev += est.nfev
        if est.kink is not None and est.kink[i]:  # finite differences cannot convict at a kink
            return "kink"
        d, e = est.values[i], est.error[i] + (self.g_error[i] if self.g_error is not None else 0.0)
        floor = self.floor(i, i + 1)
        agrees, _ = _verdict(float(self.g[i]), float(d), float(e), False, floor)
        if agrees is False:  # the same wider-step confirmation as a direction's
            x = self.objective.theta0[i]
            h = float((x + WIDE * step_sizes(x, self.objective.step_scale[i])) - x)
            F = self.objective.stencil(np.array([i]), (OFFSETS * h)[None, :])[0]
            wide, wide_error, wide_kink = _five_point(self.objective, F, h, measure=True)
            if _spread(float(d), float(e), wide, wide_error, wide_kink):
                return "undecided"
        return {True: "agree", False: "wrong", None: "undecided"}[agrees]


def _spread(value: float, error: float, wide: float, wide_error: float, wide_kink: bool) -> float:
    """How far a slope taken with a :data:`WIDE` times wider step strays from the first: 0 when the
    two agree within their bounds, else their distance plus both bounds (a bound to use instead).

    A wrong gradient disagrees with both slopes alike. Noise the bounds missed makes the two
    disagree with each other: a saturated ``log(1 - A)`` is flat over a small step (A does not
    move by one ulp of 1) and jumps over a wider one, so the small step's slope, however
    consistent, is not the cost's.
    """
    if wide_kink or not np.isfinite(wide):
        return np.inf
    gap = abs(value - wide)
    return gap + error + wide_error if gap > error + wide_error else 0.0


def _verdict(
    projected: float,
    value: float,
    bound: float,
    kink: bool,
    floor: float = 0.0,
    allowance: float | None = None,
) -> tuple[bool | None, float]:
    """A direction's verdict: True (agrees), False (disagrees) or None (cannot decide), and its bound.

    Agreement within a bound wider than :data:`RESOLUTION` of the slope (and than ``floor``,
    :data:`~verifier.core.tolerance.TENSOR_FLOOR` of the largest gradient in the tensors, for slopes
    near zero: the per-element rule's clause) is no verdict: a wrong gradient would agree too. A
    disagreement beyond ten times the bound convicts even then.

    ``allowance``: what besides the bound is agreement, the round-off of ``v . g`` (a
    direction's check); None: :data:`MATERIAL` of the value (one element's check). Along a
    direction MATERIAL of the slope would dilute one element's error in the sum of all: a
    disagreement is a reason to bisect, and only a confirmed element convicts.
    """
    decides = informative(bound, projected, value) or bound <= floor
    if kink or not np.isfinite(projected):
        return None, bound
    extra = MATERIAL * max(abs(projected), abs(value)) if allowance is None else allowance
    if abs(projected - value) <= bound + extra:
        return (True if decides else None), bound
    far = abs(projected - value) > 10 * bound
    return (False if decides or far else None), bound


def informative(bound: float, projected: float, value: float) -> bool:
    """Whether a direction's bound is within :data:`~verifier.core.tolerance.RESOLUTION` of the slope it
    bounds (and the slope finite): the per-element rule, along a direction."""
    return bool(np.isfinite(value)) and bool(decides(bound, max(abs(projected), abs(value)), 1e-300))


def _rms(theta: np.ndarray) -> float:
    """Root mean square of ``theta``, from at most about 65,536 evenly strided elements.

    It only sets the scale of the step, so a sample does; reading every element would
    cost a pass over P numbers, about a forward pass at a million parameters.
    """
    sample = theta[:: max(1, theta.size // 65536)]
    return float(np.sqrt((sample @ sample) / sample.size))


def _five_point(objective: Objective, f: np.ndarray, h: float, *, measure: bool) -> tuple[float, float, bool]:
    """Value, bound and kink flag of the centred difference from the stencil -2h, -h, h, 2h
    (the per-element method's rule, :func:`~.five_point.five_point`); ``measure``: with the
    cost's measured noise rather than its floor (see :meth:`Objective.noise`)."""
    if not np.all(np.isfinite(f)):
        return float("nan"), float("inf"), False
    F = np.array([f[0], f[1], objective.value0, f[2], f[3]])[:, None]
    b = five_point(F, POINTS * h, objective.noise(measure=measure)[0])
    return float(b.value[0]), float(b.error[0]), bool(b.kink[0])


def run_directions(
    objective: Objective,
    g: np.ndarray,
    g_error: np.ndarray | None,
    rng: np.random.Generator,
    *,
    global_first: bool = False,
    confirm: Callable[[], float] | None = None,
) -> DirectionalResult:
    """Check every tensor along a random direction and localise what fails.

    With ``global_first``, one direction over all parameters comes first and the tensors
    are checked one by one only if it does not agree (the fast mode: four evaluations for
    a passing verdict). ``confirm`` (the cost's repeat evaluation at the base point) is
    called when that direction is not :attr:`~DirectionCheck.decisive`, before any other:
    a cost that draws random numbers cannot pass decisively (its noise fills the bound),
    so a decisive pass needs no repeat evaluation, and anything else gets one. If it
    returns nonzero the run stops there, with it as ``drift``.
    """
    runner = Directions(objective, g, g_error, rng)
    layout = objective.layout
    checks: list[DirectionCheck] = []
    none = np.array([], dtype=np.intp)
    if global_first:
        top = runner.check(0, layout.size, "all parameters", split=False)
        drift = confirm() if confirm is not None and not top[0].decisive else 0.0
        if drift or top[0].agrees:
            return DirectionalResult(top, none, none, [], runner.nfev, drift)
    for t, name in enumerate(layout.names):
        checks += runner.check(layout.offsets[t], layout.offsets[t + 1], name)
    wrong: list[int] = []
    kinks: list[int] = []
    agreed: list[int] = []
    left: list[DirectionCheck] = []
    for c in checks:
        if c.agrees is False or (c.kink and c.size == 1):
            w, k, a, rest = runner.localise(c)
            wrong += w
            kinks += k
            agreed += a
            left += rest
    return DirectionalResult(
        checks,
        np.array(sorted(set(wrong)), dtype=np.intp),
        np.array(sorted(set(kinks)), dtype=np.intp),
        left,
        runner.nfev,
        agreed=np.array(sorted(set(agreed)), dtype=np.intp),
    )
