"""Check a layer's ``backward(dout, cache)``: the layer style of the convolutional-networks course.

``out, cache = affine_forward(x, w, b)`` and ``dx, dw, db = affine_backward(dout, cache)``;
likewise naive convolution and max-pool loops, batchnorm, dropout, rnn and lstm steps, and
losses ``loss, dx = softmax_loss(x, y)``. The course checks them with a random upstream
gradient ``dout`` and a numerical gradient of ``sum(out * dout)`` with respect to every
input, ``x`` included: :func:`check_layer` is that wrapper, with the three methods of
:func:`verifier.check` behind it.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import validate
from .errors import InputError
from .report import Report


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

    def inputs(self, params: dict[str, Any]) -> list[Any]:
        """The forward's arguments: the differentiated ones from ``params``, fresh copies of the rest
        (a mode dict the forward writes into, batchnorm's running mean, is never shared)."""
        return [
            params[n] if n in params else copy.deepcopy(v)
            for n, v in zip(self.names, self.values, strict=True)
        ]


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
        (``x`` or ``dx``), or one array. None for a loss, whose ``dx`` is checked.
    *inputs
        The forward's arguments. Float arrays are differentiated (copies: yours are never
        modified); integer labels, mode dicts (``bn_param``, ``dropout_param`` with its
        ``seed``), shapes and scalars are held constant, a fresh copy at every evaluation.
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
    from .harness import check

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
    params = {
        n: np.array(v, dtype=np.float64)
        for n, v in zip(call.names, call.values, strict=True)
        if n in call.wrt
    }
    if backward is None:
        cost, grad = _loss_pair(forward, call)
    else:
        cost, grad = _layer_pair(forward, backward, call, params, np.random.default_rng([seed, 7]))
    return check(cost, grad, params, seed=seed, **options)


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
    params: dict[str, np.ndarray],
    rng: np.random.Generator,
) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    outs, _ = _split(forward(*call.inputs(params)), "as a layer's forward does")
    douts = [rng.standard_normal(np.shape(o)) for o in outs]

    def cost(p: Any) -> Any:
        outs, _ = _split(forward(*call.inputs(p)), "as a layer's forward does")
        total = 0.0
        for o, d in zip(outs, douts, strict=True):
            total = total + (o * d).sum()
        return total

    def grad(p: Any) -> Any:
        _, cache = _split(forward(*call.inputs(p)), "as a layer's forward does")
        return _by_name(backward(*(d.copy() for d in douts), cache), call)

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


def _by_name(result: Any, call: LayerCall) -> dict[str, Any]:
    """The backward's gradients keyed by the differentiated inputs' names."""
    if isinstance(result, dict):
        out = {}
        for name in call.wrt:
            for key in (name, f"d{name}"):
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
