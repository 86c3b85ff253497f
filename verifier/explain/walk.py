"""The first wrong line (:func:`first_wrong`), from the recording of
:mod:`verifier.trace.provenance`, walks back from each wrong parameter gradient through the
statements that made or wrote it, into those of its inputs that are neither right nor the
forward's own values. Which those are is read from the cost's own autograd trace
(:func:`forward_table`): every value the traced forward computed, and the cost's gradient with
respect to each; a backward array equal to one of those gradients (times the backward's
convention, 1 or m, one for the whole backward, read from the arrays behind the right tensors)
is right, one equal to a term of one (a time step's share of a weight's gradient, the part of
dJ/dc carried back one step) is a term, one equal to a forward value is a forward value; a
``dNAME`` equal to the gradient of another value than the forward's ``NAME`` is misnamed. The
walk stops at the statements whose inputs are all right, terms or forward values and whose
output is wrong: the first wrong lines. Three patterns are named as such: an output that keeps
only the last of the values one statement computes in turn (``=`` for ``+=``), a buffer's
elements no statement wrote, and which regions of a buffer filled region by region are right
(:func:`regions`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..core.params import Layout
from ..trace.provenance import Event, Recording
from .forward_table import Table, rows_close


@dataclass
class Culprit:
    """A statement found at fault for one or more wrong tensors."""

    event: Event
    tensors: list[str]
    right: list[str]  # the gradients it reads that are right
    #: "line" (inputs right, output wrong), "dropped" (only the last value kept), "unwritten", "made"
    kind: str
    detail: str = ""
    repeated: bool = False  # its statement ran more than once: the event is the first on the wrong path
    also: list[Event] = field(default_factory=list)  # other statements on the same array, as likely
    terms: list[str] = field(default_factory=list)  # inputs that hold one term of a sum, and where made


class _Walk:
    def __init__(self, rec: Recording, table: Table | None, scales: list[float]) -> None:
        self.rec = rec
        self.table = table
        self.scales = scales
        self.scale: float | None = None
        self.cache: dict[int, tuple[set[float], bool]] = {}
        self.outputs: set[int] = set()
        self.natures: dict[int, str] = {}
        self.terms: dict[int, bool] = {}
        self.misnamed: dict[int, str] = {}  # event seq -> the dNAME it gave a gradient of another value

    def match(self, key: int) -> tuple[set[float], bool]:
        if key not in self.cache:
            a = self.rec.arrays[key].array
            if self.table is None or a.dtype.kind != "f" or a.size == 0:
                self.cache[key] = (set(), False)
            else:
                self.cache[key] = (self.table.gradient_scales(a, self.scales), self.table.matches_value(a))
        return self.cache[key]

    def parameter(self, key: int) -> bool:
        """Whether the array is a parameter's gradient (returned at scale 1 under any convention)."""
        a = self.rec.arrays[key].array
        return self.table is not None and a.dtype.kind == "f" and self.table.is_parameter_gradient(a)

    def term(self, key: int) -> bool:
        """Whether the array is one term of a forward value's gradient (a step's share)."""
        if key not in self.terms:
            a = self.rec.arrays[key].array
            ok = self.table is not None and a.dtype.kind == "f" and a.size > 0
            scales = self.table.term_scales(a, self.scales) if ok and self.table is not None else set()
            self.terms[key] = (self.scale in scales) if self.scale is not None else bool(scales)
        return self.terms[key]

    def status(self, key: int) -> str:
        """``"input"`` (it existed before, or holds no floats), ``"right"``, ``"forward"``, ``"zeros"``
        (an allocation nothing wrote into) or ``"suspect"``."""
        r = self.rec.arrays.get(key)
        if r is None or r.origin is None or r.array.dtype.kind not in "fc":
            return "input"
        scales, value = self.match(key)
        if self.scale is not None and self.scale in scales:
            return "right"
        if self.scale is not None and 1.0 in scales and self.parameter(key):
            return "right"
        if self.scale is None and scales:
            return "right"
        if value:
            return "forward"
        if not r.writes and not r.origin.inputs and not np.any(r.array):
            return "zeros"
        if self.term(key):
            return "term"
        return "suspect"

    def read_as(self, key: int, text: str, before: int) -> str:
        """:meth:`status`, for the array as read under the name ``text`` by event ``before``: a
        ``dNAME`` that is the gradient of some forward value, but not of the forward's ``NAME``,
        is ``"misnamed"`` (unless written after it was named, ``dh = …; dh[h <= 0] = 0``: the
        name was given to what it held before, which its final contents cannot judge)."""
        status = self.status(key)
        ref = self.table.named.get(text[1:]) if self.table is not None and text.startswith("d") else None
        a = self.rec.arrays[key].array if key in self.rec.arrays else None
        if ref is None or a is None or a.shape != ref.shape or status not in ("right", "term"):
            return status
        scales = [self.scale] if self.scale is not None else list(self.scales)
        if self.parameter(key):
            scales.append(1.0)  # a parameter's gradient is returned at scale 1 under any convention
        if any(np.any(rows_close(ref[None], a / c)) for c in scales):
            return "right"
        naming = self.named_here(key, text, before)
        if naming is not None and any(naming.seq < w.seq < before for w in self.rec.arrays[key].writes):
            return status
        return "misnamed"

    def named_here(self, key: int, text: str, before: int) -> Event | None:
        """The statement that last gave the array ``key`` the name ``text`` before event ``before``."""
        r = self.rec.arrays[key]
        events = [e for e in (r.origin, *r.binds) if e is not None and e.target == text and e.seq < before]
        return events[-1] if events else None

    def nature(self, key: int) -> str:
        """A suspect array's kind: ``"grad"`` when a gradient enters it (a right one, a term, or a
        suspect gradient), or the data (an input that is no forward value: the labels) together
        with the forward's values (a cost's derivative, ``A3 - Y``); ``"data"`` when it is made
        from the data alone (``np.hstack((ones, X))``); else ``"factor"``, a value computed from
        the forward's values alone (an activation's derivative): nothing to check those against."""
        if key in self.natures:
            return self.natures[key]
        self.natures[key] = "factor"  # a guard against cycles
        r = self.rec.arrays[key]
        gradient = label = forward = False
        for e in [x for x in (r.origin, *r.writes) if x is not None]:
            for i in e.inputs:
                if i == key or i not in self.rec.arrays:
                    continue
                other = self.rec.arrays[i]
                status = self.status(i)
                if status in ("right", "term"):
                    gradient = True
                elif other.origin is None:
                    value = other.array.astype(np.float64) if other.array.dtype.kind in "fciub" else None
                    known = value is not None and self.table is not None and self.table.matches_value(value)
                    forward |= known
                    label |= not known
                elif status == "suspect":
                    inner = self.nature(i)
                    gradient |= inner == "grad"
                    label |= inner == "data"
                    forward |= inner == "factor"
                else:  # a forward value, a mask made from one, an allocation
                    forward = True
        result = "grad" if gradient or (label and forward) else "data" if label else "factor"
        self.natures[key] = result
        return result

    def explore(self, key: int, mask: np.ndarray | None, found: dict[int, Event], seen: set[int]) -> None:
        r = self.rec.arrays[key]
        events: list[Event] = []
        covered = np.zeros(r.array.shape, dtype=bool)
        for w in r.writes:
            region = _region(r.array.shape, w.region)
            covered |= region
            if mask is None or np.any(region & mask):
                events.append(w)
        # an array made and then written into (``dZ = dA.copy(); dZ[Z <= 0] = 0``) got its wrong
        # values from the writes, unless what it was made from is itself wrong
        if r.origin is not None and (not events or self.suspects(r.origin, key)):
            events.append(r.origin)
        for e in events:
            for i, text in e.inputs.items():
                if i != key and i in self.rec.arrays and self.read_as(i, text, e.seq) == "misnamed":
                    naming = self.named_here(i, text, e.seq)
                    if naming is not None:
                        self.misnamed[naming.seq] = text
                        found.setdefault(naming.seq, naming)
            suspects = self.suspects(e, key)
            if not suspects:
                if not self.adds_right_terms(e, key):
                    found.setdefault(e.seq, e)
                continue
            for s in suspects:
                if s not in seen:
                    seen.add(s)
                    inner = None
                    if (
                        mask is not None
                        and r.array.base is not None
                        and _owner(r.array) is self.rec.arrays[s].array
                    ):
                        inner = _base_mask(r.array, self.rec.arrays[s].array, mask)
                    self.explore(s, inner, found, seen)

    def adds_right_terms(self, event: Event, key: int) -> bool:
        """An accumulating write (``dW += term``) whose terms are all right did its part."""
        if event.kind != "write" or (event.statement.kind != "aug" and event.statement.add_at is None):
            return False
        # the target's own elements, read by ``dx[rows, y] -= 1``, are no term
        terms = [
            i
            for i, text in event.inputs.items()
            if i != key and text != event.target and i in self.rec.arrays
        ]
        return any(self.rec.arrays[i].array.dtype.kind == "f" for i in terms)

    def suspects(self, event: Event, key: int) -> list[int]:
        """The inputs of ``event`` (other than the array ``key`` it makes or writes) that carry a
        gradient and are neither right nor forward values."""
        return [
            i
            for i in event.inputs
            if i != key and i in self.rec.arrays and self.status(i) == "suspect" and self.nature(i) == "grad"
        ]


def _owner(a: np.ndarray) -> Any:
    base = a.base
    while isinstance(base, np.ndarray) and base.base is not None and isinstance(base.base, np.ndarray):
        base = base.base
    return base


def _base_mask(view: np.ndarray, base: np.ndarray, mask: np.ndarray) -> np.ndarray | None:
    """``mask`` over a view, carried to the array it views (None when the layout does not allow it)."""
    if base.itemsize != view.itemsize or not base.flags.c_contiguous:
        return None
    offset = view.__array_interface__["data"][0] - base.__array_interface__["data"][0]
    if offset % base.itemsize:
        return None
    flat = np.arange(base.size, dtype=np.int64)
    try:
        index = np.lib.stride_tricks.as_strided(
            flat[offset // base.itemsize :], shape=view.shape, strides=view.strides, writeable=False
        )
        out = np.zeros(base.size, dtype=bool)
        out[index[mask]] = True
    except (ValueError, IndexError):
        return None
    return out.reshape(base.shape)


def _region(shape: tuple[int, ...], index: Any) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    if index is None:
        mask[...] = True
        return mask
    try:
        mask[index] = True
    except Exception:
        mask[...] = True
    return mask


def _right_inputs(walk: _Walk, event: Event) -> list[str]:
    names = []
    for key, text in event.inputs.items():
        if key in walk.rec.arrays and walk.read_as(key, text, event.seq) == "right":
            origin = walk.rec.arrays[key].origin
            if text == event.target and origin is not None:
                text = f"{text} as line {origin.statement.line} left it"
            if text not in names:
                names.append(text)
    return names


def _term_inputs(walk: _Walk, event: Event) -> list[str]:
    """The inputs of ``event`` that hold a single term of a sum, with where each was made."""
    latest: tuple[int, str] | None = None  # the one made last: made for this iteration
    for key, text in event.inputs.items():
        origin = walk.rec.arrays[key].origin if key in walk.rec.arrays else None
        if origin is not None and walk.status(key) == "term" and origin.site != event.site:
            if latest is None or origin.seq > latest[0]:
                latest = (origin.seq, f"{text}, one term of a sum, made at {origin.where()}")
    return [latest[1]] if latest else []


def outputs(rec: Recording, layout: Layout) -> list[int | None]:
    """Per tensor, the id of the array the recorded backward returned for it (None if not an array)."""
    try:
        parts, _ = layout.collect(rec.value, argument="grad")
    except Exception:
        return [None] * len(layout.names)
    out: list[int | None] = []
    for p in parts:
        if isinstance(p, np.ndarray) and id(p) in rec.arrays:
            out.append(id(p))
        elif isinstance(p, np.ndarray):
            out.append(_copied_from(rec, p))
        else:
            out.append(None)
    return out


def _copied_from(rec: Recording, p: np.ndarray) -> int | None:
    """The array the user's code made or wrote whose copy ``p`` is: the check's adapters hand
    over copies (``check_objects`` reads ``layer.dweights`` after the backward ran), so the
    returned array is found by its contents, the latest such array if several hold them."""
    best: tuple[int, int] | None = None
    for key, r in rec.arrays.items():
        a = r.array
        if r.origin is None or a.shape != p.shape or a.dtype != p.dtype or not np.array_equal(a, p):
            continue
        last = max(e.seq for e in (r.origin, *r.writes, *r.binds))
        if best is None or last > best[0]:
            best = (last, key)
    return None if best is None else best[1]


def first_wrong(
    rec: Recording, layout: Layout, wrong: dict[str, np.ndarray], table: Table | None, m: int | None
) -> list[Culprit]:
    """The statements at fault for the wrong tensors, one culprit per statement and iteration.

    Parameters
    ----------
    rec : Recording
        The backward, recorded at the checked point.
    layout : Layout
    wrong : dict of str to ndarray of bool
        Each wrong tensor's wrong elements, in the tensor's shape.
    table : Table or None
        The forward's values and gradients (None: autograd unavailable; each wrong tensor's
        own statement is named, kind ``"made"``).
    m : int or None
        Examples the cost averages over, if known (a candidate for the backward's convention).

    Returns
    -------
    list of Culprit
        In the order the backward ran them.
    """
    # the backward's convention: 1, or a count (m examples: the notebook's dZ = A - Y)
    dims = sorted({d for r in rec.arrays.values() if r.origin is None for d in r.array.shape if d > 1})
    scales = list(dict.fromkeys([1.0, *([float(m)] if m and m > 1 else []), *map(float, dims[:8])]))
    walk = _Walk(rec, table, scales)
    keys = outputs(rec, layout)
    walk.outputs = {k for k in keys if k is not None}
    culprits: dict[tuple[Any, ...], Culprit] = {}
    used, terms = _used_and_terms(rec)

    def add(event: Event, tensor: str, kind: str, detail: str = "", also: list[Event] | None = None) -> None:
        ident = (
            event.site,
            event.loops,
            tuple((c.file, c.line, c.loops) for c in event.calls),
            kind,
            event.target,
        )
        if ident in culprits:
            if tensor not in culprits[ident].tensors:
                culprits[ident].tensors.append(tensor)
            return
        repeated = kind == "line" and rec.sites.get(event.site, 0) > 1
        culprits[ident] = Culprit(
            event,
            [tensor],
            _right_inputs(walk, event),
            kind,
            detail,
            repeated,
            also or [],
            _term_inputs(walk, event),
        )

    # the backward's convention (1, or m for the notebook's dZ = A - Y) is read from the arrays
    # the right tensors were computed from: under it, most of them are gradients of forward
    # values (the wrong tensors' own arrays cannot say: a factor they all share looks like one)
    if table is not None:
        _read_convention(walk, rec, layout, keys, wrong, scales, m)
    for name, key in zip(layout.names, keys, strict=True):
        if key is None or name not in wrong:
            continue
        r = rec.arrays[key]
        mask = wrong[name]
        dropped = _dropped(rec, walk, key, used)
        if dropped is not None:
            add(dropped[0], name, "dropped", dropped[1])
            continue
        if r.origin is not None and r.writes:
            covered = np.zeros(r.array.shape, dtype=bool)
            for w in r.writes:
                covered |= _region(r.array.shape, w.region)
            if (mask & ~covered).any() and not r.origin.inputs:
                add(r.origin, name, "unwritten", _count(mask & ~covered, r.array.size))
        if table is None:
            last = [w for w in r.writes if np.any(_region(r.array.shape, w.region) & mask)]
            add(last[0] if last else r.origin if r.origin is not None else r.writes[0], name, "made")
            continue
        found: dict[int, Event] = {}
        walk.explore(key, mask, found, {key})
        if not found:  # every term it adds is right: a term is missing, or added where it does not belong
            found = {w.seq: w for w in r.writes if np.any(_region(r.array.shape, w.region) & mask)}
        if not found:
            continue

        # a term added into a sum (``dWf += …``, one per time step) has no reference of its own:
        # a statement whose value is right for its term would look wrong, so it comes last
        # a dNAME that holds the gradient of another value than NAME comes first: it is certain
        def order(e: Event) -> tuple[bool, bool, bool]:
            return (e.seq not in walk.misnamed, terms.get(e.seq, False), not _right_inputs(walk, e))

        ranked = sorted(found.values(), key=lambda e: (*order(e), e.seq))
        best = ranked[0]
        rank = order(best)
        # statements on one array that cannot be told apart are all named (``dx -= 1``; ``dx /= N``)
        also = [e for e in ranked[1:] if e.key == best.key and e.site != best.site and order(e) == rank]
        add(best, name, "misnamed" if best.seq in walk.misnamed else "line", also=also)
    return sorted(culprits.values(), key=lambda c: c.event.seq)


def _used_and_terms(rec: Recording) -> tuple[set[int], dict[int, bool]]:
    """The arrays some statement read, other than the one it made or wrote; and the statements
    (by sequence number) that made an array added into another (``+=``, ``np.add.at``)."""
    used: set[int] = set()
    summed: set[int] = set()
    for k, r in rec.arrays.items():
        for e in [x for x in (r.origin, *r.writes) if x is not None]:  # a binding computes nothing
            used.update(i for i in e.inputs if i != k)
            if e.kind == "write" and (e.statement.kind == "aug" or e.statement.add_at is not None):
                summed.update(i for i in e.inputs if i != k)
    terms = {
        e.seq: True
        for k in summed
        if k in rec.arrays
        for e in [x for x in (rec.arrays[k].origin, *rec.arrays[k].writes) if x is not None]
    }
    return used, terms


def _read_convention(
    walk: _Walk,
    rec: Recording,
    layout: Layout,
    keys: list[int | None],
    wrong: dict[str, np.ndarray],
    scales: list[float],
    m: int | None,
) -> None:
    """Set the walk's convention (1, or a count) to the one under which most arrays behind the
    right tensors are gradients of forward values (or, with no right tensor, behind the wrong)."""
    right = [k for name, k in zip(layout.names, keys, strict=True) if k is not None and name not in wrong]
    behind = _ancestry(rec, right)
    pool = scales if behind else scales[: 2 if m and m > 1 else 1]
    if not behind:
        found: dict[int, Event] = {}
        seen: set[int] = set()
        for name, key in zip(layout.names, keys, strict=True):
            if key is not None and name in wrong:
                walk.explore(key, wrong[name], found, seen)
        behind = seen
    votes = {c: sum(c in walk.match(k)[0] for k in behind) for c in pool}
    walk.scale = max(pool, key=lambda c: (votes[c], c == 1.0))
    walk.natures.clear()
    walk.terms.clear()


def _ancestry(rec: Recording, keys: list[int]) -> set[int]:
    """The float arrays made during the recording that the arrays ``keys`` were computed from."""
    visited = set(keys)
    stack = list(keys)
    while stack:
        r = rec.arrays.get(stack.pop())
        if r is None:
            continue
        for e in [x for x in (r.origin, *r.writes) if x is not None]:
            for i in e.inputs:
                other = rec.arrays.get(i)
                if i not in visited and other is not None and other.origin is not None:
                    visited.add(i)
                    stack.append(i)
    return {i for i in visited - set(keys) if rec.arrays[i].array.dtype.kind == "f"}


def _count(mask: np.ndarray, size: int) -> str:
    return f"{int(mask.sum())} of its {size} elements"


def _dropped(rec: Recording, walk: _Walk, key: int, used: set[int]) -> tuple[Event, str] | None:
    """An output that is only the last of several values one statement bound in turn, the
    earlier ones read by nothing: ``dWaa = …`` where ``dWaa += …`` was meant."""
    r = rec.arrays[key]
    events = [e for e in ([r.origin] if r.origin is not None else []) + r.binds]
    for e in reversed(events):
        history = rec.site_binds.get((*e.site, e.target), [])
        ids = list(dict.fromkeys(i for _, i in history))
        if len(ids) < 2 or ids[-1] != key:
            continue
        if any(i in walk.outputs or i in used for i in ids[:-1]):
            continue  # the earlier values are returned, or read: not dropped
        if r.writes and max(w.seq for w in r.writes) > e.seq:
            continue
        return e, f"{len(ids)}"
    return None


def regions(rec: Recording, key: int, mask: np.ndarray) -> str:
    """Which of a buffer's region writes hold right values and which wrong, by iteration
    (``"right at t = 4; wrong at t = 3, 2, 1, 0"``), when one statement writes it region by region."""
    r = rec.arrays[key]
    writes = [w for w in r.writes if w.region is not None and w.loops]
    if len(writes) < 2 or len({w.site for w in writes}) != 1:
        return ""
    right: list[str] = []
    bad: list[str] = []
    for w in writes:
        region = _region(r.array.shape, w.region)
        if not region.any() or region.all():
            return ""
        label = ", ".join(f"{n} = {v}" for n, v in w.loops)
        (bad if np.any(mask & region) else right).append(label)
    if not right or not bad:
        return ""
    only = "only " if len(right) == 1 else ""
    return (
        f"{only}the region{'s' if len(right) > 1 else ''} written at {'; '.join(right)}"
        f" {'is' if len(right) == 1 else 'are'} right, those written at {'; '.join(bad)} are wrong"
        f" ({writes[0].target} at {Path(writes[0].statement.file).name}:{writes[0].statement.line})"
    )
