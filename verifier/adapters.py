"""Your own network, in the seeds' styles, as the ``cost`` and ``grad`` that :func:`verifier.check` takes.

* The notebook's style: ``forward(X, Y, parameters) -> (cost, cache)`` and
  ``backward(X, Y, cache) -> gradients`` with ``dW1``/``db1`` keys (and ``dZ``/``dA``
  extras, which the check ignores and lists): :func:`from_notebook`.
* Functions of the parameters and the data, ``cost(params, X, Y)`` and
  ``backward(params, X, Y)``, with ``params`` a dict or the blog's list of THETA
  matrices: :func:`from_functions`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .errors import InputError

Pair = tuple[Callable[[Any], Any], Callable[[Any], Any]]


def _callable(value: Any, name: str) -> None:
    if not callable(value):
        raise InputError(f"`{name}` must be callable, got {type(value).__name__}.")


def from_notebook(forward: Callable[..., Any], backward: Callable[..., Any], X: Any, Y: Any) -> Pair:
    """``(cost, grad)`` from the notebook's ``forward_propagation_n`` and ``backward_propagation_n``.

    Examples
    --------
    >>> from verifier import check, seeds
    >>> from verifier.adapters import from_notebook
    >>> x, y, parameters = seeds.notebook_test_case()
    >>> cost, grad = from_notebook(seeds.notebook_forward, seeds.notebook_backward, x, y)
    >>> check(cost, grad, parameters).ok
    True
    """
    _callable(forward, "forward")
    _callable(backward, "backward")

    def cost(params: Any) -> Any:
        result = forward(X, Y, params)
        if not (isinstance(result, tuple) and len(result) == 2):
            raise InputError(
                "`forward` must return (cost, cache) as the notebook's forward_propagation_n does;"
                f" got {type(result).__name__}."
            )
        return result[0]

    def grad(params: Any) -> Any:
        return backward(X, Y, forward(X, Y, params)[1])

    return cost, grad


def from_functions(cost: Callable[..., Any], backward: Callable[..., Any], X: Any, Y: Any) -> Pair:
    """``(cost, grad)`` from ``cost(params, X, Y)`` and ``backward(params, X, Y)``."""
    _callable(cost, "cost")
    _callable(backward, "backward")
    return (lambda p: cost(p, X, Y)), (lambda p: backward(p, X, Y))


STYLES = {"notebook": from_notebook, "functions": from_functions}
