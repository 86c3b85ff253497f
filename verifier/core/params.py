"""Parameters as one flat float64 vector: the only place that flattens and unflattens.

Three containers are accepted, each mapped to the same flat layout:

* a ``dict`` of arrays (the notebook's ``{"W1": ..., "b1": ...}``), flattened
  in the dict's order, each array row-major;
* a ``list`` or ``tuple`` of arrays (the blog's ``THETA``), named ``[0]``, ``[1]``, ...;
  a namedtuple's tensors are named by its fields;
* a single array (0-d included), named ``theta``.

Subclasses (a namedtuple, a dict with attribute access, an ``OrderedDict``) are rebuilt
as the caller's own type, so ``p.W`` in the caller's cost works on what the check hands it.

:class:`Layout` remembers names, shapes and offsets. It builds the flat vector
(always a fresh float64 copy: the caller's arrays are never written to), hands
out a structure of *views* into one flat buffer (so a perturbation loop changes
one number in place instead of rebuilding a dict), maps a flat index back to
``(name, index)``, and aligns a gradient structure with the parameters,
accepting the notebook's ``dW1``-for-``W1`` key convention.
"""

from __future__ import annotations

import copy
import re
import warnings
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..errors import InputError, PrecisionWarning


def is_intermediate_key(key: object) -> bool:
    """Whether an extra key of a dict gradient names the gradient of a value of the forward
    pass: ``d`` and a name (``dZ2``, ``dA1``, ``dH1``), the backward's intermediate. The one
    rule: such keys are checked against autograd's gradient of the value the forward holds
    under that name, and never make the "ignored key" warning."""
    return isinstance(key, str) and len(key) > 1 and key[0] == "d" and key[1:].isidentifier()


#: Elements processed together by the passes over all P parameters (the centred stencils'
#: reductions, the comparison rule, the per-tensor summaries): their working memory is a few
#: dozen arrays of this many numbers (about 50 MiB), whatever P.
CHUNK_ELEMENTS = 65_536


def chunks(n: int) -> list[slice]:
    """``slice(0, n)`` cut into consecutive pieces of at most :data:`CHUNK_ELEMENTS`."""
    return [slice(a, min(a + CHUNK_ELEMENTS, n)) for a in range(0, n, CHUNK_ELEMENTS)]


def chunk_segments(
    offsets: tuple[int, ...] | np.ndarray, part: slice
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The tensors (segments ``offsets[k]:offsets[k + 1]``) a chunk ``part`` of the flat vector
    overlaps, each with the start and length of its overlap, relative to the chunk.

    For per-tensor reductions a chunk at a time: ``np.add.reduceat(x[part], starts)`` reduces
    each overlap, and ``np.repeat(tensors, lengths)`` is each element's tensor. Empty
    overlaps (empty tensors) are left out, so the starts are strictly increasing.
    """
    bounds = np.asarray(offsets, dtype=np.intp)
    starts = np.maximum(bounds[:-1], part.start) - part.start  # over every tensor: they are few
    ends = np.minimum(bounds[1:], part.stop) - part.start
    filled = ends > starts
    return np.flatnonzero(filled), starts[filled], (ends - starts)[filled]


def _type_name(value: Any) -> str:
    return type(value).__name__


def _as_param_array(value: Any, label: str) -> tuple[np.ndarray, bool]:
    """Validate one parameter tensor's type; return it (not copied) and whether it was low precision.

    Finiteness is checked once on the flat vector by :func:`layout_of`.
    """
    try:
        arr = value if isinstance(value, np.ndarray) else np.asarray(value)
    except ValueError:
        raise InputError(
            f"`params` {label}: a ragged nested list (rows of different lengths); expected a float array."
        ) from None
    kind = arr.dtype.kind
    if kind != "f":
        if kind in "iub":
            raise InputError(
                f"`params` {label}: expected a float array, got dtype {arr.dtype}. Integer and"
                " boolean parameters cannot take the small steps a gradient check needs; pass"
                f" `np.asarray(value, dtype=np.float64)` instead."
            )
        raise InputError(
            f"`params` {label}: expected a float array, got {_type_name(value)} with dtype {arr.dtype}."
        )
    if arr.size == 0:
        raise InputError(f"`params` {label}: the array is empty (shape {arr.shape}).")
    return arr, arr.dtype != np.float64


@dataclass(frozen=True)
class Layout:
    """Names, shapes and offsets of the tensors in a parameter structure.

    Attributes
    ----------
    kind : {"dict", "list", "tuple", "array"}
        The container the caller used; :meth:`unflatten` returns the same kind.
    names : tuple of str
        One display name per tensor: the dict key, ``"[i]"`` for a sequence,
        ``"theta"`` for a single array.
    keys : tuple
        The dict keys or sequence positions (``None`` for a single array).
    shapes : tuple of tuple of int
        The shape of each tensor.
    offsets : tuple of int
        Start of each tensor in the flat vector; ``offsets[-1]`` is the size.
    template : object, optional
        The caller's container when it is a subclass of dict, list or tuple (a namedtuple,
        an attribute dict): :meth:`pack` rebuilds that type. None for the plain types.
    """

    kind: str
    names: tuple[str, ...]
    keys: tuple[Any, ...]
    shapes: tuple[tuple[int, ...], ...]
    offsets: tuple[int, ...] = field(repr=False)
    template: Any = field(default=None, repr=False, compare=False)

    @property
    def size(self) -> int:
        """Total number of parameters, P."""
        return self.offsets[-1]

    def slice(self, t: int) -> slice:
        """The flat slice of tensor number ``t``."""
        return slice(self.offsets[t], self.offsets[t + 1])

    def locate(self, flat_index: int) -> tuple[str, tuple[int, ...]]:
        """Map a flat index to ``(tensor name, index within the tensor)``."""
        t = int(np.searchsorted(self.offsets, flat_index, side="right")) - 1
        local = flat_index - self.offsets[t]
        idx = np.unravel_index(local, self.shapes[t]) if self.shapes[t] else ()
        return self.names[t], tuple(int(i) for i in idx)

    def label(self, flat_index: int) -> str:
        """``"W1[3, 2]"``-style label of a flat index."""
        name, idx = self.locate(flat_index)
        return f"{name}[{', '.join(map(str, idx))}]" if idx else name

    def unflatten(self, flat: Any) -> Any:
        """Structure of the caller's kind whose arrays are views of ``flat``.

        Works on numpy arrays and on autograd's traced arrays alike. A 2-D ``flat`` of
        shape ``(k, P)`` gives a batch: each array of shape ``(k, *shape)``.
        """
        return self.pack(self.parts(flat))

    def named(self, name: str) -> Layout:
        """This layout with a list's or tuple's tensors named ``name[0]``, ``name[1]``, ..."""
        if self.kind not in ("list", "tuple") or not all(re.fullmatch(r"\[\d+\]", n) for n in self.names):
            return self
        return replace(self, names=tuple(f"{name}{n}" for n in self.names))

    def parts(self, flat: Any) -> list[Any]:
        """The tensors of ``flat`` in layout order, as shaped views (see :meth:`unflatten`)."""
        o = self.offsets
        if flat.ndim == 1:
            return [flat[o[t] : o[t + 1]].reshape(s) for t, s in enumerate(self.shapes)]
        lead = tuple(flat.shape[:-1])
        return [flat[..., o[t] : o[t + 1]].reshape(lead + s) for t, s in enumerate(self.shapes)]

    def pack(self, parts: list[Any]) -> Any:
        """A new container of the caller's type holding ``parts`` (in layout order)."""
        if self.kind == "array":
            return parts[0]
        if self.template is None:
            if self.kind == "dict":
                return dict(zip(self.keys, parts, strict=True))
            return list(parts) if self.kind == "list" else tuple(parts)
        cls = type(self.template)
        if self.kind == "dict":
            try:
                return cls(zip(self.keys, parts, strict=True))
            except Exception:  # a constructor of another form (defaultdict): copy, then fill
                out = copy.copy(self.template)
                for key, part in zip(self.keys, parts, strict=True):
                    out[key] = part
                return out
        if hasattr(cls, "_fields"):  # a namedtuple takes its fields as arguments
            return cls(*parts)
        return cls(parts)

    def tensor_max(self, values: np.ndarray) -> np.ndarray:
        """Per element, the largest finite magnitude of ``values`` within its tensor."""
        return np.repeat(self.tensor_maxima(values), np.diff(self.offsets))

    def tensor_maxima(self, values: np.ndarray, at: np.ndarray | None = None) -> np.ndarray:
        """Per tensor, the largest finite magnitude of flat ``values`` (0 for an empty tensor),
        :data:`CHUNK_ELEMENTS` at a time; or, given ``at``, of ``values`` taken to be those of
        the flat elements ``at`` (a sample: no array of P numbers is made)."""
        out = np.zeros(len(self.names))
        if at is not None:
            np.maximum.at(out, self.tensor_of(at), np.where(np.isfinite(values), np.abs(values), 0.0))
            return out
        for part in chunks(self.size):
            tensors, starts, _ = chunk_segments(self.offsets, part)
            x = values[part]
            magnitude = np.where(np.isfinite(x), np.abs(x), 0.0)
            if tensors.size:
                out[tensors] = np.maximum(out[tensors], np.maximum.reduceat(magnitude, starts))
        return out

    def tensor_of(self, flat: np.ndarray) -> np.ndarray:
        """The tensor (its position in :attr:`names`) of each flat index."""
        return np.searchsorted(np.asarray(self.offsets), flat, side="right") - 1

    def split(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        """Per-tensor arrays (views, shaped) keyed by display name."""
        return {n: flat[self.slice(t)].reshape(self.shapes[t]) for t, n in enumerate(self.names)}

    def flatten_like(
        self,
        values: Any,
        *,
        argument: str = "grad",
        slips: list[tuple[int, tuple[int, ...], str]] | None = None,
    ) -> tuple[np.ndarray, list[str]]:
        """Flatten a structure shaped like the parameters (a gradient, usually).

        Returns the flat float64 vector and the list of ignored extra keys.
        For dict parameters each key ``k`` is looked up as ``k`` and then as
        ``"d" + k`` (the notebook's convention). Keys of intermediate values
        (``dZ1``, ``dA2``, ...) are ignored silently; other unknown keys are
        ignored with a warning. A missing key, a wrong container or a wrong
        shape raises :class:`~verifier.errors.InputError`, unless ``slips`` is
        a list: then a wrong shape is appended to it as ``(tensor index, shape
        got, reading)`` and its place in the vector holds the values as
        :func:`read_as` reads them (``reading`` says how: ``"reshaped"``,
        ``"transposed"``, or ``""`` and zeros when no reading fits).
        """
        arrays, extra = self.collect(values, argument=argument)
        out = np.empty(self.size, dtype=np.float64)
        for t, (name, shape) in enumerate(zip(self.names, self.shapes, strict=True)):
            label = f"{argument}[{name!r}]" if self.kind == "dict" else f"{argument}{name}"
            if self.kind == "array":
                label = argument
            try:
                arr = np.asarray(arrays[t])
            except ValueError:
                raise InputError(
                    f"`{label}`: a ragged nested list (rows of different lengths); expected an"
                    f" array of shape {shape}."
                ) from None
            if arr.dtype == object or arr.dtype.kind not in "fiub":
                raise InputError(f"`{label}`: expected a float array, got dtype {arr.dtype}.")
            if arr.shape != shape and slips is not None:
                read, reading = read_as(arr, shape)
                slips.append((t, tuple(arr.shape), reading))
                out[self.slice(t)] = read.ravel()
                continue
            if arr.shape != shape:
                raise InputError(
                    f"`{label}`: expected shape {shape} (the shape of parameter {name}), got {arr.shape}."
                )
            out[self.slice(t)] = arr.ravel()
        return out, extra

    def collect(self, values: Any, *, argument: str = "grad") -> tuple[list[Any], list[str]]:
        """The arrays of a structure shaped like the parameters, in layout order, and the extra keys.

        Shapes are not checked here (:meth:`flatten_like` does); the container and keys are.
        """
        if self.kind == "dict":
            if not isinstance(values, dict):
                raise InputError(
                    f"`{argument}`: expected a dict keyed like the parameters"
                    f" {list(self.keys)}, got {_type_name(values)}."
                )
            arrays, used = [], set()
            for key in self.keys:
                for candidate in (key, f"d{key}"):
                    if candidate in values:
                        arrays.append(values[candidate])
                        used.add(candidate)
                        break
                else:
                    raise InputError(
                        f"`{argument}`: missing the gradient of parameter {key!r}"
                        f" (looked for keys {key!r} and 'd{key}'); it has keys {list(values)}."
                    )
            extra = [str(k) for k in values if k not in used]
            unknown = [k for k in extra if not is_intermediate_key(k)]
            if unknown:
                warnings.warn(
                    f"`{argument}` has keys that match no parameter and were ignored: {unknown}"
                    " (a key `dNAME` is read as the gradient of the forward's value NAME).",
                    UserWarning,
                    stacklevel=4,
                )
            return arrays, extra
        if self.kind in ("list", "tuple"):
            if not isinstance(values, (list, tuple)) or len(values) != len(self.shapes):
                got = len(values) if isinstance(values, (list, tuple)) else _type_name(values)
                raise InputError(
                    f"`{argument}`: expected a list of {len(self.shapes)} arrays like the"
                    f" parameters, got {got}."
                )
            return list(values), []
        return [values], []


def read_as(arr: np.ndarray, shape: tuple[int, ...]) -> tuple[np.ndarray, str]:
    """``arr`` read as an array of ``shape``, and how: ``"reshaped"`` when only axes of length 1
    differ (keepdims lost, or an extra axis), ``"transposed"`` when its axes are ``shape``'s
    reversed (a row for a column too), else zeros and ``""`` (a sum over the wrong axis leaves
    nothing to read)."""
    if arr.ndim >= 2 and arr.shape[::-1] == shape:
        return arr.T.astype(np.float64), "transposed"
    if arr.size == int(np.prod(shape)) and [n for n in arr.shape if n != 1] == [n for n in shape if n != 1]:
        return arr.reshape(shape).astype(np.float64), "reshaped"
    return np.zeros(shape), ""


def layout_of(params: Any, *, argument: str = "params") -> tuple[Layout, np.ndarray]:
    """Validate ``params`` and return its :class:`Layout` and a flat float64 copy.

    Parameters
    ----------
    params : dict of array_like, list or tuple of array_like, or array_like
        The parameters. Float arrays only; float32 (or lower) is upcast with a
        :class:`~verifier.errors.PrecisionWarning`.
    argument : str
        The argument name used in error messages.

    Returns
    -------
    layout : Layout
    flat : ndarray, shape (P,)
        A new float64 array; writing to it never touches ``params``.
    """
    template: Any = None
    if isinstance(params, dict):
        if not params:
            raise InputError(f"`{argument}` is an empty dict: there is nothing to check.")
        kind, keys = "dict", tuple(params)
        names = tuple(str(k) for k in keys)
        labels = [f"[{k!r}]" for k in keys]
        values = list(params.values())
        template = None if type(params) is dict else params
    elif isinstance(params, (list, tuple)):
        if not params:
            raise InputError(f"`{argument}` is an empty {_type_name(params)}: nothing to check.")
        kind = "list" if isinstance(params, list) else "tuple"
        keys = tuple(range(len(params)))
        fields = getattr(type(params), "_fields", None)
        names = tuple(str(f) for f in fields) if fields else tuple(f"[{i}]" for i in keys)
        labels = [f".{n}" for n in names] if fields else list(names)
        values = list(params)
        template = None if type(params) in (list, tuple) else params
    else:
        kind, keys, names, labels, values = "array", (None,), ("theta",), [""], [params]
    arrays: list[np.ndarray] = []
    low: list[str] = []
    high: list[str] = []
    for label, value in zip(labels, values, strict=True):
        arr, other = _as_param_array(value, label or "")
        arrays.append(arr)
        if other:
            (low if arr.dtype.itemsize < 8 else high).append(f"{label or 'theta'} ({arr.dtype})")
    if low:
        warnings.warn(
            f"`{argument}` {', '.join(low)} has less precision than float64; finite differences"
            " are unreliable there, so the check computes in float64.",
            PrecisionWarning,
            stacklevel=3,
        )
    if high:
        warnings.warn(
            f"`{argument}` {', '.join(high)}: the check computes in float64, so digits beyond"
            " float64's are rounded away (the cost still sees float64 arrays).",
            PrecisionWarning,
            stacklevel=3,
        )
    shapes = tuple(tuple(int(d) for d in a.shape) for a in arrays)
    offsets = [0]
    for a in arrays:
        offsets.append(offsets[-1] + int(a.size))
    layout = Layout(kind, names, keys, shapes, tuple(offsets), template)
    flat = np.concatenate([np.ravel(a) for a in arrays], dtype=np.float64)
    # a NaN or inf makes the sum non-finite (one read, no temporary); so may an overflow
    with np.errstate(over="ignore", invalid="ignore"):
        total = flat.sum()
    if not np.isfinite(total) and not np.isfinite(flat).all():
        bad = int(np.flatnonzero(~np.isfinite(flat))[0])
        t = int(np.searchsorted(layout.offsets, bad, side="right")) - 1
        raise InputError(f"`params` {labels[t] or ''}: contains NaN or infinite values.")
    return layout, flat
