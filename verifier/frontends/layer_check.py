"""Check a layer's ``backward(dout, cache)``: the layer style of the convolutional-networks course.

``out, cache = affine_forward(x, w, b)`` and ``dx, dw, db = affine_backward(dout, cache)``;
likewise naive convolution and max-pool loops, batchnorm, dropout, rnn and lstm steps, and
losses ``loss, dx = softmax_loss(x, y)``. The course checks them with a random upstream
gradient ``dout`` and a numerical gradient of ``sum(out * dout)`` with respect to every
input, ``x`` included: :func:`check_layer` is that wrapper, with the three methods of
:func:`verifier.check` behind it.
"""

from __future__ import annotations

import ast
import copy
import inspect
import textwrap
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .. import validate
from ..errors import InputError
from ..report import Report


@dataclass(frozen=True)
class LayerCall:
    """How a layer is called: its inputs by name, which ones are differentiated, the constants.

    Attributes
    ----------
    names : tuple of str
        The forward's parameter names, one per input (``x``, ``w``, ``b``, ``conv_param``).
    wrt : tuple of str
        The inputs the check differentiates (float arrays, or those ``wrt`` named).
    values : tuple
        The inputs, copied.
    """

    names: tuple[str, ...]
    wrt: tuple[str, ...]
    values: tuple[Any, ...]
    #: Differentiated entries of dict inputs (the course's ``parameters``): tensor name ->
    #: (the input's name, the key).
    entries: dict[str, tuple[str, Any]] = field(default_factory=dict)

    def inputs(self, params: dict[str, Any]) -> list[Any]:
        """The forward's arguments: the differentiated ones from ``params``, fresh copies of the rest
        (a mode dict the forward writes into, batchnorm's running mean, is never shared)."""
        out = [
            params[n] if n in params else copy.deepcopy(v)
            for n, v in zip(self.names, self.values, strict=True)
        ]
        for tensor, (name, key) in self.entries.items():
            if tensor in params:
                out[self.names.index(name)][key] = params[tensor]
        return out

    def tensor(self, name: str) -> Any:
        """The input (or dict entry) behind a tensor name."""
        if name in self.entries:
            owner, key = self.entries[name]
            return self.values[self.names.index(owner)][key]
        return self.values[self.names.index(name)]


def check_layer(
    forward: Callable[..., Any],
    backward: Callable[..., Any] | None,
    *inputs: Any,
    wrt: Sequence[str] | None = None,
    seed: int = 0,
    **options: Any,
) -> Report:
    """Check a layer's hand-written backward (or a loss's own ``dx``) three ways.

    Parameters
    ----------
    forward : callable
        ``forward(*inputs)``, returning ``(out, cache)``; several outputs and a cache
        (``next_h, next_c, cache`` of an lstm step); or, with ``backward=None``, a loss
        and its gradient ``(loss, dx)``.
    backward : callable or None
        ``backward(dout, cache)`` (``backward(dnext_h, dnext_c, cache)`` for several
        outputs) returning the gradients of the differentiated inputs: a tuple in the
        inputs' order (``dx, dw, db``), a dict keyed by the forward's parameter names
        (``x`` or ``dx``), or one array. None for a loss, whose ``dx`` is checked. A
        backward taking fewer upstream gradients than the forward has outputs
        (``rnn_cell_backward(da_next, cache)`` for ``a_next, yt_pred, cache``) gets them for
        the outputs its parameters name (``da_next``: ``a_next``; else the first ones), and
        the report says which outputs got one. Every gradient it returns is checked or
        listed in ``report.unchecked`` (and warned about).
    *inputs
        The forward's arguments. Float arrays are differentiated (copies: yours are never
        modified); a dict of float arrays (the course's ``parameters``) has its entries
        differentiated, named by their keys and matched with the returned ``dNAME``
        (entries the backward returns no gradient for are held constant, with a note);
        integer labels, mode dicts (``bn_param``, ``dropout_param`` with its ``seed``),
        shapes and scalars are held constant, a fresh copy at every evaluation.
    wrt : sequence of str, optional
        The inputs to differentiate, by the forward's parameter names (default: every
        float-array input; for a loss, the first).
    seed : int, optional
        Seeds the upstream gradient ``dout`` (standard normal, the shape of each output)
        and every random choice of the check.
    **options
        Passed to :func:`verifier.check` (``methods``, ``mode``, ``points`` ...).

    Returns
    -------
    Report
        Its tensors are named after the forward's parameters: a wrong ``x`` is your ``dx``.

    Examples
    --------
    >>> import numpy as np
    >>> from verifier import check_layer
    >>> def affine_forward(x, w, b):
    ...     return x.reshape(x.shape[0], -1).dot(w) + b, (x, w, b)
    >>> def affine_backward(dout, cache):
    ...     x, w, b = cache
    ...     return dout.dot(w.T).reshape(x.shape), x.reshape(x.shape[0], -1).T.dot(dout), dout.sum(axis=0)
    >>> rng = np.random.default_rng(0)
    >>> x, w, b = rng.standard_normal((2, 3, 2)), rng.standard_normal((6, 4)), rng.standard_normal(4)
    >>> check_layer(affine_forward, affine_backward, x, w, b).ok
    True
    """
    from ..api import check

    validate.callable_(forward, "forward", "(*inputs) -> (out, cache), or (loss, dx) with backward=None")
    if backward is not None:
        validate.callable_(backward, "backward", "(dout, cache) -> gradients of the inputs")
    if not inputs:
        raise InputError("`inputs`: check_layer needs the forward's arguments (x, w, b, ...).")
    seed = validate.seed(seed)
    if "context" in options or "vectorized" in options or "stencil" in options:
        raise InputError(
            "`check_layer` takes no `context`, `vectorized` or `stencil`: it builds its own cost."
        )
    call = _layer_call(forward, inputs, wrt, loss=backward is None)
    notes: list[str] = []
    unchecked: list[str] = []
    if backward is None:
        params = _params(call)
        cost, grad = _loss_pair(forward, call)
    else:
        upstream = _upstream(forward, backward, call)
        call, unchecked, more = _matched(forward, backward, _with_entries(call, wrt), upstream)
        notes += more
        params = _params(call)
        cost, grad = _layer_pair(forward, backward, call, upstream, np.random.default_rng([seed, 7]))
        notes += upstream.notes
    if notes:
        context = dict(options.pop("context", None) or {})
        context["notes"] = [*context.get("notes", []), *notes]
        options["context"] = context
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="`grad` has keys that match no parameter")
        report = check(cost, grad, params, seed=seed, **options)
    if unchecked:
        report = replace(report, unchecked=[*unchecked, *report.unchecked])
        warnings.warn(f"not checked: {'; '.join(unchecked)}", UserWarning, stacklevel=2)
    return report


def _params(call: LayerCall) -> dict[str, np.ndarray]:
    return {n: np.array(call.tensor(n), dtype=np.float64) for n in call.wrt}


@dataclass(frozen=True)
class Upstream:
    """Which of a forward's outputs get an upstream gradient: those the backward takes."""

    count: int  # outputs of the forward (before its cache)
    taking: tuple[int, ...]  # the outputs the backward takes a ``dout`` for, in its order
    notes: tuple[str, ...] = ()


def _return_names(forward: Callable[..., Any]) -> list[str] | None:
    """The names in the forward's ``return a_next, yt_pred, cache`` (None if it says no names)."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(forward)))
    except (OSError, TypeError, SyntaxError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Return) and isinstance(node.value, ast.Tuple):
            if all(isinstance(e, ast.Name) for e in node.value.elts):
                return [e.id for e in node.value.elts if isinstance(e, ast.Name)]
    return None


def _upstream(forward: Callable[..., Any], backward: Callable[..., Any], call: LayerCall) -> Upstream:
    """Match the forward's outputs with the upstream gradients the backward's signature takes:
    ``rnn_cell_forward -> a_next, yt_pred, cache`` with ``rnn_cell_backward(da_next, cache)``
    gives ``a_next`` its ``dout`` and ``yt_pred`` none."""
    outs, _ = _split(forward(*call.inputs(_params(call))), "as a layer's forward does")
    count = len(outs)
    try:
        taken = [
            p
            for p in inspect.signature(backward).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
        ]
        varargs = any(p.kind is p.VAR_POSITIONAL for p in inspect.signature(backward).parameters.values())
    except (TypeError, ValueError):
        return Upstream(count, tuple(range(count)))
    k = len(taken) - 1  # the last is the cache
    if not varargs and k > count:
        signature = ", ".join(p.name for p in taken)
        raise InputError(
            f"`backward` takes ({signature}): more than an upstream gradient for each of the forward's"
            f" {count} output(s) and its cache. A backward that starts from the loss itself (the"
            " course's L_model_backward(AL, Y, caches)) is checked with verifier.check: cost ="
            " lambda p: compute_cost(L_model_forward(X, p)[0], Y), and grad(p) running the forward"
            " and your backward."
        )
    if varargs or k == count or k < 1:
        return Upstream(count, tuple(range(count)))
    names = _return_names(forward)
    outputs = names[:count] if names and len(names) == count + 1 else [f"output {i}" for i in range(count)]
    chosen: list[int] = []
    for p in taken[:k]:
        hit = next(
            (
                i
                for i, o in enumerate(outputs)
                if i not in chosen and p.name in (f"d{o}", f"d_{o}", f"grad_{o}")
            ),
            None,
        )
        chosen.append(hit if hit is not None else next(i for i in range(count) if i not in chosen))
    given = ", ".join(f"{outputs[i]} ({p.name})" for i, p in zip(chosen, taken, strict=False))
    rest = ", ".join(outputs[i] for i in range(count) if i not in chosen)
    note = (
        f"upstream gradients: the backward takes {k} for the forward's {count} outputs; {given} got"
        f" a random dout, {rest} none (the check differentiates sum(output * dout) over those)"
    )
    return Upstream(count, tuple(chosen), (note,))


def _with_entries(call: LayerCall, wrt: Sequence[str] | None) -> LayerCall:
    """``call`` with the float entries of its dict inputs (the course's ``parameters``) to
    differentiate too, named by their keys (``Waa``; ``parameters[Waa]`` where a key is also an
    input's name)."""
    entries: dict[str, tuple[str, Any]] = {}
    for name, value in zip(call.names, call.values, strict=True):
        if not isinstance(value, dict):
            continue
        for key, entry in value.items():
            if not (isinstance(entry, np.ndarray) and entry.dtype.kind == "f" and entry.size):
                continue
            tensor = str(key) if str(key) not in call.names and str(key) not in entries else f"{name}[{key}]"
            if wrt is None or tensor in wrt or name in wrt:
                entries[tensor] = (name, key)
    if not entries:
        return call
    return replace(call, wrt=(*call.wrt, *entries), entries=entries)


def _matched(
    forward: Callable[..., Any], backward: Callable[..., Any], call: LayerCall, upstream: Upstream
) -> tuple[LayerCall, list[str], list[str]]:
    """Run the backward once: keep the dict entries it returns a gradient for, and name what it
    returns that matches no input (every gradient is either checked or named unchecked)."""
    outs, cache = _split(forward(*call.inputs(_params(call))), "as a layer's forward does")
    rng = np.random.default_rng(0)
    result = backward(*(rng.standard_normal(np.shape(outs[i])) for i in upstream.taking), cache)
    if not isinstance(result, dict):
        notes = []
        if call.entries:  # gradients by position: the dict entries are held constant, as they were
            constant = ", ".join(call.entries)
            notes.append(
                f"held constant: {constant} (the backward returns its gradients by position, not by name)"
            )
            call = replace(call, wrt=tuple(n for n in call.wrt if n not in call.entries), entries={})
        return call, _unchecked_by_position(result, call), notes
    keys = {str(k): k for k in result}
    used: set[str] = set()
    kept_names: list[str] = []
    held: list[str] = []
    for name in call.wrt:
        short = call.entries[name][1] if name in call.entries else name
        hit = next((c for c in (name, f"d{name}", str(short), f"d{short}") if c in keys), None)
        if hit is None:
            if name in call.entries:
                held.append(name)
                continue
            kept_names.append(name)  # _by_name says what is missing
            continue
        used.add(hit)
        kept_names.append(name)
    inputs = {c: n for n in call.names for c in (n, f"d{n}")}
    unchecked = [
        f"{k} (the gradient of {inputs[k]}, which `wrt` leaves out)"
        if k in inputs
        else f"{k} (matches no input of the forward nor an entry of a dict input)"
        for k, v in keys.items()
        if k not in used and isinstance(result[v], np.ndarray)
    ]
    notes = []
    if held:
        notes.append(
            f"held constant: {', '.join(held)} (the backward returns no gradient for them: with the"
            " upstream gradients it takes, their gradient is not part of its job)"
        )
    entries = {n: e for n, e in call.entries.items() if n in kept_names}
    if not kept_names:
        raise InputError(
            f"`backward` returned {sorted(keys)}, none of which is the gradient of an input"
            f" {list(call.names)} or of an entry of a dict input: nothing could be checked."
        )
    return replace(call, wrt=tuple(kept_names), entries=entries), unchecked, notes


def _layer_call(
    forward: Callable[..., Any], inputs: tuple[Any, ...], wrt: Sequence[str] | None, *, loss: bool
) -> LayerCall:
    try:
        signature = list(inspect.signature(forward).parameters.values())
    except (TypeError, ValueError):
        signature = []
    names: list[str] = []
    for i in range(len(inputs)):
        p = signature[i] if i < len(signature) else None
        if p is not None and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            names.append(p.name)
        else:
            names.append(f"input{i}")
    values = tuple(copy.deepcopy(v) for v in inputs)
    floats = [
        n for n, v in zip(names, values, strict=True) if isinstance(v, np.ndarray) and v.dtype.kind == "f"
    ]
    if wrt is None:
        chosen = floats[:1] if loss else floats
    else:
        if isinstance(wrt, str) or not all(isinstance(w, str) for w in wrt):
            raise InputError(
                f"`wrt`: expected a sequence of the forward's parameter names {names}, got {wrt!r}."
            )
        unknown = [w for w in wrt if w not in names]
        if unknown:
            raise InputError(f"`wrt`: {unknown} are not among the forward's parameters {names}.")
        bad = [w for w in wrt if w not in floats]
        if bad:
            raise InputError(f"`wrt`: {bad} are not float arrays; only float inputs can be differentiated.")
        chosen = list(wrt)
    if not chosen:
        raise InputError(f"`inputs`: none of {names} is a float array to differentiate.")
    for v, n in zip(values, names, strict=True):
        if isinstance(v, np.ndarray) and v.dtype.kind == "f" and n in chosen:
            validate.data(v, n)  # finite, not empty
    return LayerCall(tuple(names), tuple(n for n in names if n in chosen), values)


def _split(result: Any, where: str) -> tuple[list[Any], Any]:
    """The outputs and the cache of a forward's return value: ``(out, cache)``, ``(a, b, cache)``."""
    if isinstance(result, tuple) and len(result) >= 2:
        return list(result[:-1]), result[-1]
    raise InputError(
        f"`forward` must return (out, cache), or several outputs and a cache, {where}; got"
        f" {type(result).__name__}."
    )


def _layer_pair(
    forward: Callable[..., Any],
    backward: Callable[..., Any],
    call: LayerCall,
    upstream: Upstream,
    rng: np.random.Generator,
) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    outs, _ = _split(forward(*call.inputs(_params(call))), "as a layer's forward does")
    douts = {i: rng.standard_normal(np.shape(outs[i])) for i in upstream.taking}

    def cost(p: Any) -> Any:
        outs, _ = _split(forward(*call.inputs(p)), "as a layer's forward does")
        total = 0.0
        for i, d in douts.items():
            total = total + (outs[i] * d).sum()
        return total

    def grad(p: Any) -> Any:
        _, cache = _split(forward(*call.inputs(p)), "as a layer's forward does")
        return _by_name(backward(*(douts[i].copy() for i in upstream.taking), cache), call)

    return cost, grad


def _loss_pair(
    forward: Callable[..., Any], call: LayerCall
) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    def cost(p: Any) -> Any:
        result = forward(*call.inputs(p))
        if not (isinstance(result, tuple) and len(result) == 2):
            raise InputError(
                "with backward=None, `forward` must be a loss returning (loss, dx); got"
                f" {type(result).__name__}."
            )
        return result[0]

    def grad(p: Any) -> Any:
        return _by_name(forward(*call.inputs(p))[1:], call)

    return cost, grad


def _unchecked_by_position(result: Any, call: LayerCall) -> list[str]:
    """The gradients of a tuple a backward returns that :func:`_by_name` does not check: those
    of the inputs ``wrt`` leaves out, and any beyond the inputs."""
    values = list(result) if isinstance(result, (tuple, list)) else [result]
    floats = [
        n
        for n, v in zip(call.names, call.values, strict=True)
        if isinstance(v, np.ndarray) and v.dtype.kind == "f"
    ]
    if len(values) == len(floats):
        return [
            f"gradient {i + 1} (the gradient of {n}, which `wrt` leaves out)"
            for i, n in enumerate(floats)
            if n not in call.wrt and isinstance(values[i], np.ndarray)
        ]
    return [
        f"gradient {i + 1} (beyond the {len(call.wrt)} differentiated inputs {list(call.wrt)})"
        for i in range(len(call.wrt), len(values))
        if isinstance(values[i], np.ndarray)
    ]


def _by_name(result: Any, call: LayerCall) -> dict[str, Any]:
    """The backward's gradients keyed by the differentiated inputs' names."""
    if isinstance(result, dict):
        out = {}
        for name in call.wrt:
            short = str(call.entries[name][1]) if name in call.entries else name
            for key in (name, f"d{name}", short, f"d{short}"):
                if key in result:
                    out[name] = result[key]
                    break
            else:
                keys = sorted(map(str, result))
                raise InputError(f"`backward` returned a dict without {name!r} or 'd{name}' (keys: {keys}).")
        return out
    values = list(result) if isinstance(result, (tuple, list)) else [result]
    if len(values) < len(call.wrt):
        raise InputError(
            f"`backward` returned {len(values)} gradient(s) for {len(call.wrt)} inputs {list(call.wrt)}:"
            " return one per differentiated input, in the forward's order, or pass `wrt=`."
        )
    differentiable = [
        n
        for n, v in zip(call.names, call.values, strict=True)
        if isinstance(v, np.ndarray) and v.dtype.kind == "f"
    ]
    if len(values) == len(differentiable):  # one per float input: pick those differentiated
        return {n: v for n, v in zip(differentiable, values, strict=True) if n in call.wrt}
    return dict(zip(call.wrt, values[: len(call.wrt)], strict=True))
