"""Your own network, in the seeds' styles, as the ``cost`` and ``grad`` that :func:`verifier.check` takes.

* The notebook's style: ``forward(X, Y, parameters) -> (cost, cache)`` and
  ``backward(X, Y, cache) -> gradients`` with ``dW1``/``db1`` keys (and ``dZ``/``dA``
  extras, which the check ignores and lists): :func:`from_notebook`.
* Functions of the parameters and the data, ``cost(params, X, Y)`` and
  ``backward(params, X, Y)``, with ``params`` a dict or the blog's list of THETA
  matrices: :func:`from_functions`.
* Parameters in a module's global (the blog's ``THETA``, read by its
  ``forward_propagation(X, initialize=False)``), with the cost and the gradient as
  expressions or functions of no argument: :func:`from_globals`.

The cost each adapter returns carries ``context``, what its data and names say:
``m``, how many examples the data hold (the diagnosis's "the 1/m averaging is missing
(m = 10)"), and ``name``, the parameters' own name (``THETA``: tensors read ``THETA[0]``).
:func:`verifier.check` uses it where its own ``context`` argument is silent.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import validate
from ..errors import InputError
from .catalog import STYLES as STYLE_SIGNATURES

Pair = tuple[Callable[[Any], Any], Callable[[Any], Any]]
#: First-parameter names that mark a forward taking the parameters first (the functions style).
PARAMS_FIRST = ("params", "parameters", "theta", "thetas", "p", "w", "weights")


def from_notebook(forward: Callable[..., Any], backward: Callable[..., Any], X: Any, Y: Any) -> Pair:
    """``(cost, grad)`` from the notebook's ``forward_propagation_n`` and ``backward_propagation_n``.

    Examples
    --------
    >>> from verifier import check, seeds
    >>> from verifier.frontends.adapters import from_notebook
    >>> x, y, parameters = seeds.notebook_test_case()
    >>> cost, grad = from_notebook(seeds.notebook_forward, seeds.notebook_backward, x, y)
    >>> check(cost, grad, parameters).ok
    True
    """
    validate.callable_(forward, "forward", "(X, Y, parameters) -> (cost, cache)")
    validate.callable_(backward, "backward", "(X, Y, cache) -> gradients")
    run_forward = bind_data(forward, X, Y, data_first=True)
    run_backward = bind_data(backward, X, Y, data_first=True)

    def cost(params: Any) -> Any:
        result = run_forward(params)
        if not (isinstance(result, tuple) and len(result) == 2):
            raise InputError(
                "`forward` must return (cost, cache) as the notebook's forward_propagation_n does;"
                f" got {type(result).__name__}."
            )
        return result[0]

    def grad(params: Any) -> Any:
        return run_backward(run_forward(params)[1])

    cost.context = data_context(X, Y)  # type: ignore[attr-defined]
    return cost, grad


def from_functions(cost: Callable[..., Any], backward: Callable[..., Any], X: Any, Y: Any) -> Pair:
    """``(cost, grad)`` from ``cost(params, X, Y)`` and ``backward(params, X, Y)``."""
    validate.callable_(cost, "cost", "(params, X, Y) -> float")
    validate.callable_(backward, "backward", "(params, X, Y) -> gradients")
    bound = bind_data(cost, X, Y, data_first=False)
    bound.context = data_context(X, Y)  # type: ignore[attr-defined]
    return bound, bind_data(backward, X, Y, data_first=False)


def from_globals(
    module: Any, name: str, cost: str | Callable[[], Any], grad: str | Callable[[], Any], data: Any = None
) -> tuple[Callable[[Any], Any], Callable[[Any], Any], Any]:
    """``(cost, grad, params)`` for code that keeps its parameters in a module global.

    The blog's code keeps ``THETA`` global: its ``forward_propagation(X, initialize=False)``
    reads it, its ``back_propagation(X, y, initialize, debug=True)`` returns the update
    ``-ETA * gradient`` and writes into it. Each evaluation sets ``module.<name>`` to the
    parameters the check hands over (a fresh container), runs ``cost`` or ``grad``, and puts
    the module's own value back, also when they raise.

    Parameters
    ----------
    module : module
        The user's module (imported, or :func:`verifier.frontends.loading.load_module`).
    name : str
        The global that holds the parameters (``"THETA"``).
    cost, grad : str or callable
        Expressions evaluated in the module's namespace, or functions of no argument:
        ``"cost(forward_propagation(X, initialize=False)[2], y)"`` and
        ``"[d / -ETA for d in back_propagation(X, y, False, debug=True)[4]]"``.
    data : (X, Y), optional
        The data, to read the number of examples from; default the module's ``X`` and
        ``y`` (or ``Y``) if it has them.

    Returns
    -------
    cost, grad : callable
        Functions of the parameters, for :func:`verifier.check`.
    params : same container as ``module.<name>``
        A copy of its current value: where to check.
    """
    namespace = vars(module) if not isinstance(module, dict) else module
    if not isinstance(name, str) or name not in namespace:
        found = sorted(k for k, v in namespace.items() if isinstance(v, (list, tuple, dict, np.ndarray)))
        raise InputError(f"`name`: the module has no global {name!r}; its array-like globals are {found}.")
    run_cost = _expression(cost, "cost", namespace)
    run_grad = _expression(grad, "grad", namespace)

    def swapped(run: Callable[[], Any]) -> Callable[[Any], Any]:
        def call(params: Any) -> Any:
            own = namespace[name]
            namespace[name] = params
            try:
                return run()
            finally:
                namespace[name] = own

        return call

    if data is None:
        labels = namespace.get("Y", namespace.get("y"))
        data = (namespace.get("X"), labels)
    bound_cost = swapped(run_cost)
    bound_cost.context = {**data_context(*data), "name": name}  # type: ignore[attr-defined]
    current = namespace[name]
    params = copy.deepcopy(current)
    return bound_cost, swapped(run_grad), params


def _expression(
    value: str | Callable[[], Any], argument: str, namespace: dict[str, Any]
) -> Callable[[], Any]:
    if callable(value):
        return value
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"`{argument}`: expected a Python expression (str) or a function of no argument.")
    try:
        code = compile(value, f"<{argument}>", "eval")
    except SyntaxError as exc:
        raise InputError(f"`{argument}`: not a Python expression ({exc.msg}): {value!r}.") from None

    def run() -> Any:
        return eval(code, namespace)  # the user's own expression, in their own module

    return run


def bind_data(
    fn: Callable[..., Any], X: Any, Y: Any, *, data_first: bool, copy: bool = True
) -> Callable[[Any], Any]:
    """``fn`` with the data bound: ``call(a)`` is ``fn(X, Y, a)`` (``data_first``) or ``fn(a, X, Y)``.

    ``fn`` sees private, read-only copies of ``X`` and ``Y`` (validated: numbers, finite, not
    empty), so the caller's data are never changed and every call sees the same data. A
    function that writes into its data (``X -= X.mean(axis=1, keepdims=True)``) gets fresh
    copies at every call instead: writing into shared copies would make the cost drift.
    ``copy=False``: ``X`` and ``Y`` are already the caller's private copies (validated).
    """
    if copy:
        X, Y = validate.data(X, "X"), validate.data(Y, "Y")
    for value in (X, Y):
        if isinstance(value, np.ndarray):
            value.setflags(write=False)
    writes = False

    def call(a: Any) -> Any:
        nonlocal writes
        if not writes:
            try:
                return fn(X, Y, a) if data_first else fn(a, X, Y)
            except ValueError as exc:
                if "read-only" not in str(exc):
                    raise
                writes = True
        x, y = (np.array(v) if isinstance(v, np.ndarray) else v for v in (X, Y))
        return fn(x, y, a) if data_first else fn(a, x, y)

    return call


STYLES = {"notebook": from_notebook, "functions": from_functions}
assert set(STYLES) == set(STYLE_SIGNATURES)


def style_of(forward: Callable[..., Any]) -> str:
    """The style a forward function is written in, from the name of its first parameter.

    ``"functions"`` when it is named like the parameters (``params``, ``theta``, ...),
    else ``"notebook"`` (``X`` first, as ``forward_propagation_n(X, Y, parameters)``).
    """
    try:
        first = next(iter(inspect.signature(forward).parameters), "")
    except (TypeError, ValueError):  # a builtin or C function without a signature
        return "notebook"
    return "functions" if first.lower() in PARAMS_FIRST else "notebook"


def data_context(X: Any, Y: Any) -> dict[str, Any]:
    """What the data say for the diagnosis: ``{"m": examples}`` when :func:`examples_in` can tell."""
    m = examples_in(X, Y)
    return {} if m is None else {"m": m}


def examples_in(X: Any, Y: Any) -> int | None:
    """How many examples the data hold: the axis of ``X`` that ``Y`` shares, or None if unclear.

    The notebook's data are column-major (``X`` of shape ``(n_x, m)``, ``Y`` of ``(1, m)``:
    the last axes agree); the blog's row-major (``X`` of ``(m, n_x)``, ``y`` of ``(m, 1)``:
    the first axes agree). When both or neither agree, the count is not guessed.
    """
    shape_x: tuple[int, ...] = tuple(getattr(X, "shape", ()))
    shape_y: tuple[int, ...] = tuple(getattr(Y, "shape", ()))
    if len(shape_x) < 2 or len(shape_y) < 1:
        return None
    last = shape_x[-1] == shape_y[-1] and (len(shape_y) == 1 or shape_y[0] != shape_x[0])
    first = shape_x[0] == shape_y[0] and (len(shape_y) == 1 or shape_y[-1] != shape_x[-1])
    if last == first:
        return None
    return int(shape_x[-1] if last else shape_x[0])


def loss_and_gradients(fn: Callable[[Any], Any]) -> Pair:
    """``(cost, grad)`` from one function returning its loss and its hand-written gradients
    together: ``fn(params) -> (loss, grads)`` or ``(grads, loss)`` (a CNN's
    ``conv(...) -> grads, loss``, a model's ``loss(X, y) -> loss, grads``, SciPy's ``jac=True``).

    The loss is the part that is a scalar (with both scalar, the first, as SciPy's). The cost
    is marked ``loss_beside_gradients``: autograd differentiates the loss part only, and plain
    numpy in the gradient half, computed after the loss, does not block its trace.
    """

    def parts(params: Any) -> tuple[Any, Any]:
        result = fn(params)
        if not (isinstance(result, tuple) and len(result) == 2):
            raise InputError(
                "with grad=None, `cost` must return its loss and its gradients as a tuple,"
                f" (loss, grads) or (grads, loss); got {type(result).__name__}"
                f"{f' of {len(result)}' if isinstance(result, tuple) else ''}."
            )
        a, b = result
        scalar_a = _is_scalar(a)
        if scalar_a or not _is_scalar(b):
            if not scalar_a:
                raise InputError(
                    "with grad=None, `cost` must return a scalar loss beside its gradients; neither"
                    f" part is one ({type(a).__name__}, {type(b).__name__})."
                )
            return a, b
        return b, a

    def cost(params: Any) -> Any:
        return parts(params)[0]

    def grad(params: Any) -> Any:
        return parts(params)[1]

    cost.loss_beside_gradients = True  # type: ignore[attr-defined]
    if isinstance(getattr(fn, "context", None), dict):
        cost.context = fn.context  # type: ignore[attr-defined]
    return cost, grad


def _is_scalar(value: Any) -> bool:
    if isinstance(value, (dict, list, tuple, str, bytes)) or value is None:
        return False
    try:
        return bool(np.ndim(value) == 0)
    except Exception:
        return False
