"""Check backprop that lives in objects: layers with ``forward``/``backward`` methods, a model
with ``self.params`` and ``loss(X, y) -> (loss, grads)``.

The object-oriented "from scratch" style keeps its parameters in attributes
(``self.weights``, ``self.biases``) and its backward writes their gradients beside them
(``self.dweights``, ``self.dbiases``, ``self.dinputs``); other tutorials write ``self.W`` and
``self.dW``, ``self.w`` and ``self.grad_w``, or a dict ``self.params`` with a dict of
gradients keyed alike. :func:`check_objects` runs the user's own calls as they are, finds
which of the objects' float arrays the backward gives a gradient for, and checks those with
the three methods of :func:`verifier.check`. Every gradient the backward sets that pairs with
no parameter is named as unchecked; the objects are restored afterwards, also when the user's
code raises.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .. import validate
from ..errors import InputError
from ..report import Report

#: How a gradient's name says which parameter it belongs to: prefixes and suffixes around it.
PREFIXES = ("grad_", "d_", "d", "g_")
SUFFIXES = ("_grad", "_gradient", "_g")
#: Names of a dict attribute holding gradients keyed like a dict of parameters.
GRAD_DICTS = ("grads", "gradients", "grad", "dparams", "d_params", "param_grads")


@dataclass(frozen=True)
class Slot:
    """Where one parameter lives: an attribute of an object, or an entry of a dict attribute."""

    owner: str  # the caller's name for the object
    obj: Any
    attr: str
    key: Any = None  # the entry of a dict attribute (``params['W1']``), or None

    @property
    def name(self) -> str:
        return f"{self.owner}.{self.attr}" if self.key is None else f"{self.owner}.{self.attr}[{self.key}]"

    def get(self) -> Any:
        value = getattr(self.obj, self.attr)
        return value if self.key is None else value[self.key]

    def set(self, value: Any) -> None:
        if self.key is None:
            setattr(self.obj, self.attr, value)
        else:
            getattr(self.obj, self.attr)[self.key] = value


@dataclass
class Pairing:
    """The parameters found, where each one's gradient is read, and what could not be paired."""

    params: list[Slot] = field(default_factory=list)
    grads: list[Slot | Any] = field(default_factory=list)  # a Slot, or a key of the returned dict
    unchecked: list[str] = field(default_factory=list)  # "name (why)"


class _Saved:
    """The objects' state, to put back: their attributes (the same objects), the contents of
    their arrays, and the entries (and their arrays' contents) of their dict attributes."""

    def __init__(self, objects: Sequence[Any]) -> None:
        self.items: list[tuple[Any, dict[str, Any], dict[str, dict[Any, Any]]]] = []
        self.arrays: list[tuple[np.ndarray, np.ndarray]] = []  # (the array, a copy of its contents)
        for obj in objects:
            attrs = dict(vars(obj))
            dicts = {k: dict(v) for k, v in attrs.items() if isinstance(v, dict)}
            held = [*attrs.values(), *(e for d in dicts.values() for e in d.values())]
            self.arrays += [(a, a.copy()) for a in held if isinstance(a, np.ndarray)]
            self.items.append((obj, attrs, dicts))

    def restore(self) -> None:
        for obj, attrs, dicts in self.items:
            vars(obj).clear()
            vars(obj).update(attrs)
            for k, entries in dicts.items():
                attrs[k].clear()
                attrs[k].update(entries)
        for array, contents in self.arrays:
            if not _same(array, contents):
                np.copyto(array, contents)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    try:
        return bool(np.array_equal(a, b, equal_nan=True))
    except TypeError:  # no NaN in this dtype (strings, objects)
        return bool(np.array_equal(a, b))


def check_objects(
    forward: Callable[[], Any],
    backward: Callable[[], Any] | None,
    *objects: Any,
    seed: int = 0,
    points: int = 1,
    context: dict[str, Any] | None = None,
    methods: Sequence[str] | None = None,
    mode: str = "full",
    budget: int | None = None,
    progress: bool | None = False,
    **named_objects: Any,
) -> Report:
    """Check the backprop of layer objects or a model, calling your own code as it is.

    Parameters
    ----------
    forward : callable
        ``forward() -> loss``: runs your forward pass (however your objects chain) and returns
        the loss; with ``backward=None``, returns the loss and the gradients together,
        ``(loss, grads)`` or ``(grads, loss)``, with ``grads`` a dict keyed like a parameter
        dict of the objects (``model.params``) or like their attributes.
    backward : callable or None
        ``backward()``: runs your backward pass, which sets the gradients on the objects
        (``self.dweights``, ``self.dW``, ``self.grad_w``, ``self.grads['W1']``).
    *objects, **named_objects
        The objects holding the parameters (layers, a model). Keyword names are used in the
        report (``dense1.weights``); positional ones are named by the variable that holds
        them where you call this, else by their class.
    seed, points, context, methods, mode, budget, progress
        As for :func:`verifier.check`. ``context["m"]`` defaults to the batch size read from
        the arrays your forward stores (``self.inputs``) or the labels it reads.

    Returns
    -------
    Report
        Tensors named ``object.attribute`` (``dense1.weights``, ``model.params[W1]``). The
        gradients the backward sets that pair with no parameter (``dense1.dinputs``, the
        gradient of an input) are listed in ``report.unchecked`` and warned about.

    Raises
    ------
    verifier.errors.InputError
        No objects, an object without attributes, a forward that returns no loss, or a
        backward whose gradients pair with none of the objects' arrays.

    Notes
    -----
    A float array attribute that exists before the forward runs (and that the forward does
    not rebind) is a parameter when the backward gives it a gradient: an attribute or
    entry named ``dNAME``, ``grad_NAME``, ``d_NAME``, ``NAME_grad`` beside ``NAME``, or an
    entry of a gradient dict (``self.grads``) keyed ``NAME`` or ``dNAME``. The objects'
    attributes, arrays and dict entries are put back when the check ends, also when your
    code raises.

    Examples
    --------
    >>> import numpy as np, verifier
    >>> class Dense:
    ...     def __init__(self, n_in, n_out, rng):
    ...         self.weights, self.biases = 0.1 * rng.standard_normal((n_in, n_out)), np.zeros((1, n_out))
    ...     def forward(self, inputs):
    ...         self.inputs, self.output = inputs, np.dot(inputs, self.weights) + self.biases
    ...     def backward(self, dvalues):
    ...         self.dweights = np.dot(self.inputs.T, dvalues)
    ...         self.dbiases = np.sum(dvalues, axis=0, keepdims=True)
    ...         self.dinputs = np.dot(dvalues, self.weights.T)
    >>> rng = np.random.default_rng(0)
    >>> X, dense = rng.standard_normal((5, 3)), Dense(3, 2, rng)
    >>> def forward():
    ...     dense.forward(X)
    ...     return np.mean(dense.output**2)
    >>> def backward():
    ...     dense.backward(2 * dense.output / dense.output.size)
    >>> with __import__("warnings").catch_warnings():
    ...     __import__("warnings").simplefilter("ignore")
    ...     verifier.check_objects(forward, backward, dense=dense).ok
    True
    """
    from ..api import check
    from ..core.plan import FULL_BUDGET

    validate.callable_(forward, "forward", "() -> loss (your forward pass, as you call it)")
    if backward is not None:
        validate.callable_(backward, "backward", "() -> None (your backward pass, setting the gradients)")
    owners = _owners(objects, named_objects, inspect.currentframe(), [forward, backward])
    if not owners:
        raise InputError(
            "`objects`: check_objects needs the objects that hold the parameters (layers, a model)."
        )
    for name, obj in owners:
        if not hasattr(obj, "__dict__"):
            raise InputError(f"`{name}`: expected an object with attributes, got {type(obj).__name__}.")
    saved = _Saved([obj for _, obj in owners])
    try:
        pairing, m = _probe(forward, backward, owners)
        params = {s.name: np.array(s.get(), dtype=np.float64) for s in pairing.params}
        cost, grad = _pair(forward, backward, pairing)
        known = {"m": m} if m is not None else {}
        options: dict[str, Any] = {"mode": mode, "progress": progress}
        if methods is not None:
            options["methods"] = methods
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="`grad` has keys that match no parameter")
            report = check(
                cost,
                grad,
                params,
                seed=seed,
                points=points,
                context={**known, **(validate.context(context) or {})},
                budget=FULL_BUDGET if budget is None else budget,
                **options,
            )
    finally:
        saved.restore()
    if pairing.unchecked:
        report = replace(report, unchecked=[*pairing.unchecked, *report.unchecked])
        warnings.warn(
            f"not checked: {'; '.join(pairing.unchecked)}",
            UserWarning,
            stacklevel=2,
        )
    return report


def _referenced(fn: Any) -> dict[str, Any]:
    """The names a function reads from its closure and its module (empty if it has none)."""
    try:
        names = inspect.getclosurevars(fn)
    except (TypeError, ValueError):
        return {}
    return {**names.nonlocals, **names.globals}


def _owners(
    objects: tuple[Any, ...], named: dict[str, Any], frame: Any, functions: Sequence[Any] = ()
) -> list[tuple[str, Any]]:
    """The objects with the caller's names for them: the nearest frame up the stack (a few
    levels, through wrappers) that holds the object under a name."""
    scopes: list[dict[str, Any]] = [_referenced(fn) for fn in functions]  # the names your calls use
    caller = frame.f_back if frame is not None else None
    while caller is not None and len(scopes) < 6:
        scopes.append({**caller.f_globals, **caller.f_locals})
        caller = caller.f_back
    del frame, caller
    out: list[tuple[str, Any]] = []
    taken = set(named)
    for i, obj in enumerate(objects):
        name = next(
            (
                k
                for scope in scopes
                for k, v in scope.items()
                if v is obj and not k.startswith("_") and k not in taken
            ),
            None,
        )
        if name is None:
            name = f"{type(obj).__name__}{i}"
        taken.add(name)
        out.append((name, obj))
    return out + list(named.items())


def _floats(value: Any) -> bool:
    return isinstance(value, np.ndarray) and value.dtype.kind == "f" and value.size > 0


def _loss_part(result: Any, *, with_grads: bool) -> tuple[Any, Any]:
    """The loss, and (with ``with_grads``) the gradients, of what ``forward`` returned."""
    if with_grads:
        if not (isinstance(result, tuple) and len(result) == 2):
            raise InputError(
                "with backward=None, `forward` must return (loss, grads) or (grads, loss); got"
                f" {type(result).__name__}."
            )
        a, b = result
        if isinstance(b, dict) and not isinstance(a, dict):
            return a, b
        if isinstance(a, dict) and not isinstance(b, dict):
            return b, a
        raise InputError("with backward=None, `forward` must return a loss and a dict of gradients.")
    if isinstance(result, tuple):  # (loss, something): the first scalar
        scalars = [r for r in result if np.ndim(r) == 0 and not isinstance(r, (str, bool))]
        if not scalars:
            raise InputError(f"`forward` returned a tuple without a scalar loss: {result!r:.80}")
        return scalars[0], None
    return result, None


def _candidates(gradient_name: str) -> list[str]:
    """The parameter names a gradient's name points at (``dweights`` -> ``weights``)."""
    out = [
        gradient_name[len(p) :]
        for p in PREFIXES
        if gradient_name.startswith(p) and len(gradient_name) > len(p)
    ]
    out += [
        gradient_name[: -len(s)]
        for s in SUFFIXES
        if gradient_name.endswith(s) and len(gradient_name) > len(s)
    ]
    return out


def _probe(
    forward: Callable[[], Any], backward: Callable[[], Any] | None, owners: list[tuple[str, Any]]
) -> tuple[Pairing, int | None]:
    """Run the user's forward and backward once: which arrays are parameters, where their
    gradients are, and the batch size."""
    before = {id(obj): dict(vars(obj)) for _, obj in owners}
    result = forward()
    after_forward = {id(obj): dict(vars(obj)) for _, obj in owners}
    _, returned = _loss_part(result, with_grads=backward is None)
    # parameters: float arrays present before the forward and not rebound by it; dict entries alike
    params: dict[tuple[int, str, Any], Slot] = {}
    for name, obj in owners:
        for attr, value in before[id(obj)].items():
            if after_forward[id(obj)].get(attr) is not value:
                continue
            if _floats(value):
                params[id(obj), attr, None] = Slot(name, obj, attr)
            elif isinstance(value, dict):
                for key, entry in value.items():
                    if _floats(entry):
                        params[id(obj), attr, key] = Slot(name, obj, attr, key)
    set_by_forward = [
        v
        for _, obj in owners
        for k, v in after_forward[id(obj)].items()
        if before[id(obj)].get(k) is not v and isinstance(v, np.ndarray)
    ]
    pairing = Pairing()
    if backward is None:
        _pair_returned(returned, owners, params, pairing)
    else:
        snapshot = {
            id(obj): {k: (v, v.copy() if isinstance(v, np.ndarray) else None) for k, v in vars(obj).items()}
            for _, obj in owners
        }
        dicts = {
            id(obj): {k: dict(v) for k, v in vars(obj).items() if isinstance(v, dict)} for _, obj in owners
        }
        backward()
        _pair_set(owners, params, snapshot, dicts, pairing)
    order = list(params.values())
    ranked = sorted(zip(pairing.params, pairing.grads, strict=True), key=lambda pair: order.index(pair[0]))
    pairing.params, pairing.grads = [p for p, _ in ranked], [g for _, g in ranked]
    if not pairing.params:
        unchecked = f" (it set {', '.join(pairing.unchecked)})" if pairing.unchecked else ""
        found = [s.name for s in params.values()]
        raise InputError(
            f"`backward`: none of its gradients pairs with a parameter of the objects{unchecked};"
            f" their float arrays are {found}. A gradient pairs by name: `dNAME`, `grad_NAME`,"
            " `NAME_grad` beside `NAME`, or a dict `grads` keyed like a dict `params`."
        )
    return pairing, _batch_size(forward, set_by_forward, pairing)


def _pair_set(
    owners: list[tuple[str, Any]],
    params: dict[tuple[int, str, Any], Slot],
    snapshot: dict[int, dict[str, tuple[Any, Any]]],
    dicts: dict[int, dict[str, dict[Any, Any]]],
    pairing: Pairing,
) -> None:
    """Pair the arrays the backward set (new, rebound or rewritten) with the parameters."""

    def changed(old: tuple[Any, Any] | None, value: Any) -> bool:
        if old is None or old[0] is not value:
            return True
        return old[1] is not None and not np.array_equal(old[1], value, equal_nan=True)

    for name, obj in owners:
        for attr, value in vars(obj).items():
            if isinstance(value, dict):
                old_entries = dicts[id(obj)].get(attr, {})
                for key, entry in value.items():
                    if not isinstance(entry, np.ndarray) or entry.dtype.kind not in "fc":
                        continue
                    if old_entries.get(key) is entry and not changed(snapshot[id(obj)].get(attr), value):
                        continue
                    if (id(obj), attr, key) in params:  # the parameter dict itself
                        continue
                    target = _target_in_dict(obj, attr, key, params, owners)
                    _add(pairing, target, Slot(name, obj, attr, key), f"{name}.{attr}[{key}]", entry)
                continue
            if not isinstance(value, np.ndarray) or value.dtype.kind not in "fc":
                continue
            if not changed(snapshot[id(obj)].get(attr), value) or (id(obj), attr, None) in params:
                continue
            target = next(
                (params[id(obj), c, None] for c in _candidates(attr) if (id(obj), c, None) in params), None
            )
            of = next((c for c in _candidates(attr) if c in vars(obj)), None)
            why = f"the gradient of {name}.{of}, which the forward sets: not a parameter" if of else ""
            _add(pairing, target, Slot(name, obj, attr), f"{name}.{attr}", value, why)


def _target_in_dict(
    obj: Any, attr: str, key: Any, params: dict[tuple[int, str, Any], Slot], owners: list[tuple[str, Any]]
) -> Slot | None:
    """The parameter an entry ``obj.<attr>[key]`` of a gradient dict belongs to."""
    names = [key, *(_candidates(key) if isinstance(key, str) else [])]
    for n in names:
        for (i, _, k), slot in params.items():
            if i == id(obj) and k is not None and k == n and attr in GRAD_DICTS:
                return slot
        if isinstance(n, str) and (id(obj), n, None) in params and attr in GRAD_DICTS:
            return params[id(obj), n, None]
    return None


def _pair_returned(
    returned: dict[Any, Any],
    owners: list[tuple[str, Any]],
    params: dict[tuple[int, str, Any], Slot],
    pairing: Pairing,
) -> None:
    """Pair a returned dict of gradients with the objects' parameters (``params[k]`` or attributes)."""
    for key, value in returned.items():
        names = [key, *(_candidates(key) if isinstance(key, str) else [])]
        target = None
        for n in names:
            hits = [s for (_, a, k), s in params.items() if k == n] or [
                s for (_, a, k), s in params.items() if k is None and a == n
            ]
            if len(hits) == 1:
                target = hits[0]
                break
        _add(pairing, target, key, f"grads[{key}]", value)


def _add(pairing: Pairing, target: Slot | None, where: Any, label: str, value: Any, why: str = "") -> None:
    if target is None:
        if isinstance(value, np.ndarray):
            pairing.unchecked.append(f"{label} ({why or 'pairs with no parameter of the objects'})")
        return
    if target in pairing.params:
        pairing.unchecked.append(f"{label} (a second gradient for {target.name})")
        return
    if np.shape(value) != np.shape(target.get()):
        pairing.unchecked.append(
            f"{label} (shape {np.shape(value)}, not that of {target.name} {np.shape(target.get())})"
        )
        return
    pairing.params.append(target)
    pairing.grads.append(where)


def _batch_size(forward: Callable[[], Any], set_by_forward: list[np.ndarray], pairing: Pairing) -> int | None:
    """How many examples the forward runs: the labels it reads (``y``), else the leading axis
    most of the arrays it stores share (``self.inputs``, ``self.output``)."""
    scope = _referenced(forward)
    for label in ("y", "Y", "labels", "y_true", "targets"):
        value = scope.get(label)
        if isinstance(value, np.ndarray) and value.ndim >= 1 and value.size:
            return int(value.shape[0])
    shapes = {np.shape(s.get()) for s in pairing.params}
    leading = [a.shape[0] for a in set_by_forward if a.ndim >= 2 and a.shape not in shapes]
    if not leading:
        return None
    values, counts = np.unique(leading, return_counts=True)
    return int(values[np.argmax(counts)])


def _pair(
    forward: Callable[[], Any], backward: Callable[[], Any] | None, pairing: Pairing
) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    """The cost and the gradient as functions of the parameter dict the check hands over."""
    slots = pairing.params

    def install(p: dict[str, Any]) -> None:
        for s in slots:
            s.set(p[s.name])

    def cost(p: dict[str, Any]) -> Any:
        install(p)
        return _loss_part(forward(), with_grads=backward is None)[0]

    def grad(p: dict[str, Any]) -> dict[str, Any]:
        install(p)
        result = forward()
        if backward is None:
            returned = _loss_part(result, with_grads=True)[1]
            return {s.name: _copy(returned[w]) for s, w in zip(slots, pairing.grads, strict=True)}
        backward()
        return {s.name: _copy(w.get()) for s, w in zip(slots, pairing.grads, strict=True)}

    return cost, grad


def _copy(value: Any) -> Any:
    return np.array(value, copy=True)
