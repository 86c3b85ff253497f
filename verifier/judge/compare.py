r"""The comparison rule, defined once: who agrees with whom, per element.

Notes
-----
**Agreement.** The hand-written gradient :math:`g_i` agrees with a reference
:math:`r_i` when

.. math:: |g_i - r_i| \le e_i + b_i + m \max(|g_i|, |r_i|),

where :math:`m` = :data:`MATERIAL` (:math:`10^{-7}`: a difference of a few parts in
ten million is numerics, such as a solver's or a series' own accuracy or float32
inside a backward pass, never a backprop slip), :math:`b_i` is the hand-written
gradient's own round-off (measured by running it once more in extended precision,
where it allows) and
:math:`e_i` is the reference's *own* error bound (see each estimator:
centred differences bound truncation, kinks and round-off from a five-point
stencil; SciPy's forward difference from two steps; autograd from an
extended-precision recomputation). There is no fixed threshold: a noisy
element gets a wide bound, a clean one a tight bound. A user whose gradient is approximate
by design (an adjoint solve, a truncated series) may add an accepted tolerance
``atol + rtol |r_i|`` to the right-hand side (``check(..., rtol=, atol=)``, as in
``numpy.isclose`` with the reference as ``b``; both 0 by default).

**Informative.** A reference decides element :math:`i` only if its bound is
small: :math:`e_i \le R \max(|g_i|, |r_i|)` with :math:`R` = :data:`RESOLUTION`
(:math:`10^{-5}`: a pass certifies every element to that relative accuracy, so a
gradient off by :math:`10^{-4}` cannot pass), or :math:`e_i \le 10^{-6} S_T`
with :math:`S_T` the largest gradient magnitude in the element's tensor, or
:math:`e_i \le 10^{-9} S` over all parameters, or :math:`e_i + b_i \le 2 f_T` with
:math:`f_T` the round-off floor of the element's tensor from the computation's scale
(:func:`verifier.core.tolerance.scale_floors`), which is also the least :math:`b_i`: a tensor whose
true gradient is zero (a bias before a batch normalisation) is certified zero within the
round-off of the sums that produce it, never convicted for it. The rule is
:func:`verifier.core.tolerance.decides`.

**Verdict per element** (in this order):

1. *agree*: the primary reference agrees. The primary is autograd when
   available, else the complex step, else the centred difference, else SciPy's, the first that is
   informative at the element (SciPy's forward difference and the complex step are not, where
   the centred stencil saw a kink: each takes one side of it, so its bound cannot cover it,
   and two one-sided methods that agree there are one witness, not two). References that
   disagree are the odd ones out (with a reason: kink, round-off, truncation).
2. *kink*: the centred stencil saw a change of slope within its step and
   :math:`g_i` lies between the left and right slopes (within their error):
   the derivative is not unique there and :math:`g_i` is a valid subgradient.
   Counts as a pass, with a note.
3. *agree* (autograd is the odd one out): autograd disagrees, but every
   finite-difference method available at the element is informative, agrees
   with :math:`g_i` and disagrees with autograd. Where only the centred difference
   does so (SciPy's one-sided step disagrees, or is absent), or the centred stencil
   saw a kink, the element is *contested*: undecided here, and decided at a nearby
   smooth point (at a kink autograd picks one subgradient, ``maximum``'s 1/2 at a
   tie, which need not be backprop's).
4. *wrong*: otherwise; the hand-written gradient is the odd one out. A
   non-finite hand-written value is always wrong.
5. *undecided*: no reference is informative at the element.
6. *unchecked*: no reference has a value there (a sampled method skipped it and no other
   covers it); the random-direction check of its tensor covers it in aggregate. Does not
   make a report inconclusive.

The report's status is ``"fail"`` if any element is wrong, else
``"inconclusive"`` if any is undecided, else ``"pass"``.

**Per-tensor summary.** As in the seeds, :math:`\|a - b\| / (\|a\| + \|b\|)`,
with :math:`0/0` counted as exact agreement (0), never a division by zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..core.params import Layout, chunk_segments, chunks
from ..core.tolerance import GLOBAL_FLOOR, MATERIAL, RESOLUTION, TENSOR_FLOOR, agreement
from ..core.tolerance import decides as resolves

__all__ = ["MATERIAL", "RESOLUTION", "agreement", "compare", "relative_error", "relative_errors"]

if TYPE_CHECKING:  # the estimators import the constants below; the rule only reads their results
    from ..estimators.base import Estimate

#: Verdict codes (small integers: a verdict array costs one byte per parameter) and their names.
AGREE, KINK, WRONG, UNDECIDED, UNCHECKED = range(5)
NAMES = ("agree", "kink", "wrong", "undecided", "unchecked")
#: Reference methods in order of trust.
PRIORITY = ("autograd", "complex", "centered", "scipy")


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """``||a - b|| / (||a|| + ||b||)`` over the finite entries, 0 when both are zero.

    NaN when no entry is finite in both.
    """
    a = np.asarray(a, dtype=np.float64).ravel()
    return float(relative_errors([(a, b)], (0, a.size))[0, 0])


def relative_errors(
    pairs: Sequence[tuple[np.ndarray, np.ndarray]], offsets: tuple[int, ...] | np.ndarray
) -> np.ndarray:
    """:func:`relative_error` of each pair of flat arrays on each segment
    ``offsets[k]:offsets[k + 1]`` (a layout's tensors): all pairs in one vectorised pass,
    :data:`~verifier.core.params.CHUNK_ELEMENTS` elements at a time.

    Returns
    -------
    ndarray, shape (len(pairs), len(offsets) - 1)
        NaN where no entry is finite in both (an empty segment too).
    """
    flat = [
        (np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()) for a, b in pairs
    ]
    size = int(offsets[-1])
    # per pair and segment: finite pairs, |a|^2, |b|^2, |a - b|^2
    sums = np.zeros((4, len(flat), len(offsets) - 1))
    for sl in chunks(size) if flat else ():
        tensors, starts, _ = chunk_segments(offsets, sl)
        x = np.stack([a[sl] for a, _ in flat])
        y = np.stack([b[sl] for _, b in flat])
        ok = np.isfinite(x) & np.isfinite(y)
        x, y = np.where(ok, x, 0.0), np.where(ok, y, 0.0)
        for row, part in enumerate((ok.astype(np.float64), x * x, y * y, np.square(x - y))):
            sums[row][:, tensors] += np.add.reduceat(part, starts, axis=1)
    count, norm_a, norm_b, norm_d = sums[0], *np.sqrt(sums[1:])
    denom = norm_a + norm_b
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(denom == 0, 0.0, norm_d / denom)
    out[count == 0] = np.nan
    return out


@dataclass
class Verdicts:
    """Per-element outcome of the comparison.

    Attributes
    ----------
    verdict : ndarray of int8, shape (P,)
        Verdict codes, :data:`AGREE` ... :data:`UNCHECKED`; :data:`NAMES` names them.
    agrees : dict of str to ndarray of bool
        Per method: does the hand-written gradient agree with it (NaN values count as agreeing).
    informative : dict of str to ndarray of bool
        Per method: is its own bound small enough to decide the element.
    odd : dict of str to ndarray of bool
        Per source (``"backprop"`` and each method): is it the odd one out at the element.
    primary : ndarray of int8, shape (P,)
        The reference that decided each element, as its index in :data:`PRIORITY` (-1 when
        undecided or when nothing was compared element by element): one byte per element;
        :meth:`decided_by` reads it.
    contested : ndarray of bool, shape (P,), optional
        Undecided because autograd disagrees with the hand-written value where the centred
        difference sides with it or saw a kink (rule 3).
    """

    verdict: np.ndarray
    agrees: dict[str, np.ndarray]
    informative: dict[str, np.ndarray]
    odd: dict[str, np.ndarray]
    primary: np.ndarray
    contested: np.ndarray | None = None

    def decided_by(self, method: str) -> np.ndarray:
        """Which elements ``method`` decided (it was the primary reference there)."""
        return self.primary == PRIORITY.index(method)


def compare(
    g: np.ndarray,
    estimates: dict[str, Estimate],
    layout: Layout,
    g_error: np.ndarray | None = None,
    accepted: tuple[float, float] = (0.0, 0.0),
    floors: np.ndarray | None = None,
) -> Verdicts:
    """Apply the comparison rule (see the module notes) to every element.

    Parameters
    ----------
    g : ndarray, shape (P,)
        The hand-written gradient, flat.
    estimates : dict of str to Estimate
        The references, keyed by method name.
    layout : Layout
        The parameter layout (for per-tensor scales).
    g_error : ndarray, shape (P,), optional
        Round-off bound of the hand-written gradient itself (default 0).
    accepted : (float, float), optional
        ``(rtol, atol)``: a difference the user accepts (a gradient approximate by design),
        added to every agreement test as ``atol + rtol |reference|``.
    floors : ndarray, shape (n_tensors,), optional
        Per tensor, the round-off floor from the computation's scale
        (:func:`verifier.core.tolerance.scale_floors`): the hand-written gradient's round-off is
        at least this, and a bound within it decides (a zero gradient is certified zero
        within the round-off of the sums that produce it). Default 0.

    Notes
    -----
    Elementwise but for two scales (the largest magnitude in each tensor, and over all), so it
    runs :data:`~verifier.core.params.CHUNK_ELEMENTS` elements at a time: its temporaries are
    bounded by the chunk; what it keeps is the verdicts, a byte or a bit per element.
    """
    size = layout.size
    refs = {m: e for m, e in estimates.items() if e.available}
    first = next((refs[m] for m in PRIORITY if m in refs), None)
    # per tensor, the largest finite magnitude of g and of the most trusted reference
    s_tensor = layout.tensor_maxima(g)
    if first is not None:
        s_tensor = np.maximum(s_tensor, layout.tensor_maxima(first.values))
    s_all = float(s_tensor.max()) if s_tensor.size else 0.0

    verdict = np.empty(size, dtype=np.int8)
    primary = np.empty(size, dtype=np.int8)
    contested = np.zeros(size, dtype=bool)
    agrees = {m: np.empty(size, dtype=bool) for m in refs}
    informative = {m: np.empty(size, dtype=bool) for m in refs}
    odd = {m: np.empty(size, dtype=bool) for m in ["backprop", *refs]}
    for sl in chunks(size):
        tensors, _, lengths = chunk_segments(layout.offsets, sl)
        floor = np.zeros(sl.stop - sl.start) if floors is None else np.repeat(floors[tensors], lengths)
        part = _rule(
            g[sl],
            {m: _Part.of(e, sl) for m, e in refs.items()},
            np.repeat(s_tensor[tensors], lengths),
            s_all,
            floor if g_error is None else np.maximum(g_error[sl], floor),
            accepted,
            floor,
        )
        verdict[sl], primary[sl], contested[sl] = part.verdict, part.primary, part.contested
        for m in refs:
            agrees[m][sl], informative[m][sl] = part.agrees[m], part.informative[m]
        for source in odd:
            odd[source][sl] = part.odd[source]
    return Verdicts(verdict, agrees, informative, odd, primary, contested)


@dataclass(frozen=True)
class _Part:
    """An estimate's per-element arrays on one chunk (views)."""

    values: np.ndarray
    error: np.ndarray
    kink: np.ndarray | None
    lo: np.ndarray | None
    hi: np.ndarray | None
    interval_error: np.ndarray | None
    nominal_error: np.ndarray | None

    @classmethod
    def of(cls, estimate: Estimate, sl: slice) -> _Part:
        def cut(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[sl]

        return cls(
            estimate.values[sl],
            estimate.error[sl],
            cut(estimate.kink),
            cut(estimate.lo),
            cut(estimate.hi),
            cut(estimate.interval_error),
            cut(estimate.nominal_error),
        )


def _who_decides(
    g: np.ndarray,
    refs: dict[str, _Part],
    s_tensor: np.ndarray,
    s_all: float,
    g_err: np.ndarray,
    accepted: tuple[float, float],
    floor: np.ndarray | float,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per reference: where it agrees with ``g``, where its bound resolves the value (the one rule
    of :mod:`verifier.core.tolerance`), and where it may decide (not a one-sided method at a kink)."""
    agrees, informative = {}, {}
    for m, est in refs.items():
        have = np.isfinite(est.values) & np.isfinite(est.error)
        agrees[m] = agreement(g, est.values, est.error, g_err, accepted)
        magnitude = np.maximum(np.abs(g), np.where(have, np.abs(est.values), 0.0))
        # the backprop's own round-off counts: where re-running it in long double moves it by
        # more than the resolution (another path through ties, a cancellation), it cannot be
        # certified either, so a sign flip can never hide behind its own bound
        absolute = np.maximum(np.maximum(TENSOR_FLOOR * s_tensor, GLOBAL_FLOOR * s_all), 2 * floor)
        informative[m] = have & resolves(est.error + g_err, magnitude, absolute)

    centered = refs.get("centered")
    decides = dict(informative)
    if centered is not None and centered.kink is not None:
        # a forward difference cannot see a kink just ahead of it: its bound is void there; and
        # the complex step takes one side of a kink too (its imaginary step picks a branch of
        # max(0, z) at z = 0): at a kink one-sided methods that agree with each other are one
        # witness, not two, so neither decides there; the element is decided at a nearby
        # smooth point (judge.kinks.settle_kinks) unless autograd can
        for m in ("scipy", "complex"):
            if m in decides:
                decides[m] = informative[m] & ~centered.kink
    return agrees, informative, decides


#: How many times its bound (plus backprop's own round-off) a reference must differ from the
#: hand-written value to convict an element no reference can certify: a difference larger than
#: every bound is a bug whatever the resolution (conviction is not certification).
FAR = 10.0


def _far_apart(
    g: np.ndarray,
    refs: dict[str, _Part],
    agrees: dict[str, np.ndarray],
    verdict: np.ndarray,
    g_err: np.ndarray,
    accepted: tuple[float, float],
) -> np.ndarray:
    """The undecided elements where a reference differs from ``g`` by more than :data:`FAR` times
    its bound plus ``g``'s round-off (plus the material and accepted differences), and no
    reference agrees with ``g`` within a bound tighter than that difference.

    Elements where the centred stencil saw a kink are left to the nearby point (there a
    one-sided method, or autograd's subgradient, need not be backprop's), as are those it
    could not measure.
    """
    open_ = verdict == UNDECIDED
    centered = refs.get("centered")
    if centered is not None and centered.kink is not None:
        open_ &= ~centered.kink
    if not open_.any():
        return open_
    rtol, atol = accepted
    gap = np.zeros(g.size)
    bounds = {}
    for m, est in refs.items():
        with np.errstate(invalid="ignore"):
            have = np.isfinite(est.values) & np.isfinite(est.error)
            d = np.where(have, np.abs(g - est.values), 0.0)
            r = np.where(have, np.abs(est.values), 0.0)
            slack = MATERIAL * np.maximum(np.abs(g), r) + atol + rtol * r
            bound = np.where(have, est.error + g_err, np.inf)
            far = have & (d > FAR * bound + slack)
        gap = np.maximum(gap, np.where(far, d, 0.0))
        bounds[m] = (bound, have)
    convict = open_ & (gap > 0)
    for m, (bound, have) in bounds.items():
        # a reference that agrees within a bound tighter than the gap speaks for backprop
        convict &= ~(have & agrees[m] & (FAR * bound < gap))
    return convict


def _rule(
    g: np.ndarray,
    refs: dict[str, _Part],
    s_tensor: np.ndarray,
    s_all: float,
    g_err: np.ndarray,
    accepted: tuple[float, float] = (0.0, 0.0),
    floor: np.ndarray | float = 0.0,
) -> Verdicts:
    """The rule on one chunk: ``s_tensor`` per element, ``s_all`` over all parameters,
    ``floor`` the scale floor per element (already within ``g_err``)."""
    size = g.size
    agrees: dict[str, np.ndarray] = {}
    informative: dict[str, np.ndarray] = {}
    size = g.size
    centered = refs.get("centered")
    agrees, informative, decides = _who_decides(g, refs, s_tensor, s_all, g_err, accepted, floor)

    verdict = np.full(size, UNDECIDED, dtype=np.int8)
    valued = np.zeros(size, dtype=bool)
    for est in refs.values():
        valued |= np.isfinite(est.values)
    verdict[~valued] = UNCHECKED
    primary = np.full(size, -1, dtype=np.int8)
    for m in reversed([m for m in PRIORITY if m in refs]):
        primary[decides[m]] = PRIORITY.index(m)
    decided = primary >= 0
    primary_agrees = np.zeros(size, dtype=bool)
    for m in refs:
        sel = primary == PRIORITY.index(m)
        primary_agrees[sel] = agrees[m][sel]
    verdict[decided & primary_agrees] = AGREE

    open_ = verdict != AGREE
    if centered is not None and centered.kink is not None:
        assert centered.lo is not None and centered.hi is not None
        assert centered.interval_error is not None
        with np.errstate(invalid="ignore"):
            between = (g >= centered.lo - centered.interval_error) & (
                g <= centered.hi + centered.interval_error
            )
        kink_ok = open_ & centered.kink & between
        verdict[kink_ok] = KINK
        open_ &= ~kink_ok
    open_ &= decided

    outvoted = np.zeros(size, dtype=bool)
    if "autograd" in refs:
        fds = [m for m in ("complex", "centered", "scipy") if m in refs]
        a = refs["autograd"]
        if fds:
            outvoted = open_ & (primary == PRIORITY.index("autograd"))
            # FDs side with g and against autograd
            for m in fds:
                e = refs[m]
                with np.errstate(invalid="ignore"):
                    apart = np.abs(e.values - a.values) > e.error + a.error
                outvoted &= decides[m] & agrees[m] & apart
        verdict[outvoted] = AGREE
        open_ &= ~outvoted
    contested = np.zeros(size, dtype=bool)
    if "autograd" in refs and centered is not None:
        a = refs["autograd"]
        with np.errstate(invalid="ignore"):
            apart = np.abs(centered.values - a.values) > centered.error + a.error
        sides = decides["centered"] & agrees["centered"] & apart
        at_kink = centered.kink if centered.kink is not None else np.zeros(size, dtype=bool)
        contested = open_ & (primary == PRIORITY.index("autograd")) & (sides | at_kink)
        verdict[contested] = UNDECIDED
        open_ &= ~contested
    verdict[open_] = WRONG
    verdict[_far_apart(g, refs, agrees, verdict, g_err, accepted)] = WRONG
    if refs:
        verdict[~np.isfinite(g)] = WRONG

    odd = {"backprop": verdict == WRONG}
    for m, est in refs.items():
        nominal = est.error if est.nominal_error is None else est.nominal_error
        with np.errstate(invalid="ignore"):
            beyond = np.abs(g - est.values) > nominal + g_err
        odd[m] = (verdict != WRONG) & (~agrees[m] | beyond)
    if "autograd" in refs:
        odd["autograd"] = outvoted | ((verdict == KINK) & ~agrees["autograd"])
    return Verdicts(verdict, agrees, informative, odd, primary, contested)
