"""Which elements a method checks one by one when checking all of them would be too slow.

Per tensor: its ``top`` largest elements by magnitude of the hand-written gradient and of
the reference (where a bug that inflates or shrinks a gradient shows first), plus a seeded
random sample up to ``per_tensor`` elements in all. A tensor no larger than that is checked
whole. Every element is still covered by the random-direction check of its tensor. The
sample is as large as :data:`PER_TENSOR` per tensor allows and the check's ``budget`` pays
for (:func:`per_tensor_within`): a budget is a ceiling on the one-by-one evaluations, also
when they are a sample.
"""

from __future__ import annotations

import numpy as np

from .params import Layout

#: Elements per tensor checked one by one when a method samples.
PER_TENSOR = 32
#: Of which, the largest by |backprop| and by |reference|.
TOP = 4


#: Cost evaluations per sampled element planned for the costliest method (the centred
#: difference: two where its three-point difference decides, counted as 2.2).
PER_ELEMENT = 2.2


def per_tensor_within(layout: Layout, budget: int) -> int:
    """The largest sample per tensor, at most :data:`PER_TENSOR`, whose elements a method can
    check one by one in ``budget`` cost evaluations (0 when not even one element each fits)."""
    sizes = np.diff(np.asarray(layout.offsets))
    for k in range(PER_TENSOR, 0, -1):
        if PER_ELEMENT * int(np.minimum(sizes, k).sum()) <= budget:
            return k
    return 0


def sample_indices(
    layout: Layout,
    g: np.ndarray,
    reference: np.ndarray | None,
    rng: np.random.Generator,
    *,
    per_tensor: int = PER_TENSOR,
) -> np.ndarray:
    """Sorted flat indices to check one by one (see the module notes)."""
    top = _largest(per_tensor)
    chosen: list[np.ndarray] = []
    for t in range(len(layout.names)):
        sl = layout.slice(t)
        size = sl.stop - sl.start
        if size <= per_tensor:
            chosen.append(np.arange(sl.start, sl.stop))
            continue
        picks = set(np.argsort(-np.abs(g[sl]), kind="stable")[:top].tolist())
        if reference is not None:
            ref = np.nan_to_num(np.abs(reference[sl]))
            picks |= set(np.argsort(-ref, kind="stable")[:top].tolist())
        rest = np.setdiff1d(np.arange(size), np.fromiter(picks, dtype=np.intp))
        extra = rng.choice(rest, size=max(0, per_tensor - len(picks)), replace=False)
        chosen.append(sl.start + np.sort(np.concatenate([np.fromiter(picks, dtype=np.intp), extra])))
    return np.concatenate(chosen)


def describe_sample(layout: Layout, indices: np.ndarray) -> str:
    """``"32 of 32768 elements of W1, ..."``: what a sampled method checked."""
    counts = np.bincount(layout.tensor_of(indices), minlength=len(layout.names))
    parts = [
        f"{c} of {layout.offsets[t + 1] - layout.offsets[t]} in {name}"
        for t, (name, c) in enumerate(zip(layout.names, counts, strict=True))
        if c < layout.offsets[t + 1] - layout.offsets[t]
    ]
    sampled = [c for t, c in enumerate(counts) if c < layout.offsets[t + 1] - layout.offsets[t]]
    top = _largest(max(sampled, default=PER_TENSOR))  # a sampled tensor holds exactly per_tensor
    return "sampled " + ", ".join(parts) + f" (the {top} largest by |gradient| and a seeded random sample)"


def _largest(per_tensor: int) -> int:
    """Of a sample of ``per_tensor``, how many are the largest by |gradient| (and as many by
    |reference|): :data:`TOP`, or fewer in a sample the budget shrank, so they never fill it."""
    return min(TOP, per_tensor // 2)
