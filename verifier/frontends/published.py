"""The seed documents' fixtures, procedures and known bugs, in one place.

* The notebook (``000_...txt``): the 1-D case ``J = theta * x`` and its check
  (``epsilon = 1e-5``), the N-dimensional test case (``gradient_check_n_test_case``,
  recipe in the seeds' README), its forward/backward pair with the cache and the
  ``dZ``/``dA`` keys, and its gradient check (``epsilon = 1e-7``, threshold ``2e-7``).
* The blog (``001_...txt``): the XOR data and its vectorised backprop.
* The known bugs (:data:`KNOWN_BUGS`): the notebook exercise's original backprop
  (``dW2`` doubled, ``db1`` computed with ``4./m``) and the blog's backprop, which
  omits the ``2/m`` of the mean-squared-error derivative.

The seed procedures are reproduced as the documents run them (a copy of the
whole vector per element, a rebuilt dict per evaluation): they are the
baseline the verifier is measured against, and the source of the figures the
tests reproduce.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.params import layout_of
from ..networks import DeepReLU, Scalar, XORNet

#: The notebook's N-dimensional check: its step.
NOTEBOOK_EPSILON = 1e-7


def one_d_gradient_check(x: float = 2, theta: float = 4, epsilon: float = 1e-5) -> float:
    """The notebook's ``gradient_check(x, theta)``: relative difference of the 1-D check."""
    net = Scalar(x)
    grad_approx = (net.cost(theta + epsilon) - net.cost(theta - epsilon)) / (2 * epsilon)
    grad = x
    numerator = np.linalg.norm(grad - grad_approx)
    denominator = np.linalg.norm(grad) + np.linalg.norm(grad_approx)
    return float(numerator / denominator)


def notebook_test_case() -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """``gradient_check_n_test_case()``: ``x`` (4, 3), ``y`` (1, 3), the 47 parameters.

    Drawn from a local ``RandomState(1)``, in the recipe's order, so the
    figures match the notebook's; the global numpy state is not touched.
    """
    rs = np.random.RandomState(1)
    x = rs.randn(4, 3)
    y = np.array([[1.0, 1.0, 0.0]])
    shapes = {"W1": (5, 4), "b1": (5, 1), "W2": (3, 5), "b2": (3, 1), "W3": (1, 3), "b3": (1, 1)}
    parameters = {k: rs.randn(*s) for k, s in shapes.items()}
    return x, y, parameters


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(0, x)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def notebook_forward(
    X: np.ndarray, Y: np.ndarray, parameters: dict[str, np.ndarray]
) -> tuple[float, tuple[Any, ...]]:
    """The notebook's ``forward_propagation_n``: ``(cost, cache)``."""
    m = X.shape[1]
    W1, b1, W2, b2, W3, b3 = (parameters[k] for k in ("W1", "b1", "W2", "b2", "W3", "b3"))
    Z1 = np.dot(W1, X) + b1
    A1 = _relu(Z1)
    Z2 = np.dot(W2, A1) + b2
    A2 = _relu(Z2)
    Z3 = np.dot(W3, A2) + b3
    A3 = _sigmoid(Z3)
    logprobs = np.multiply(-np.log(A3), Y) + np.multiply(-np.log(1 - A3), 1 - Y)
    cost = 1.0 / m * np.sum(logprobs)
    return float(cost), (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3)


def _notebook_backward(
    X: np.ndarray, Y: np.ndarray, cache: tuple[Any, ...], dw2_factor: float, db1_numerator: float
) -> dict[str, np.ndarray]:
    m = X.shape[1]
    (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3) = cache
    dZ3 = A3 - Y
    dW3 = 1.0 / m * np.dot(dZ3, A2.T)
    db3 = 1.0 / m * np.sum(dZ3, axis=1, keepdims=True)
    dA2 = np.dot(W3.T, dZ3)
    dZ2 = np.multiply(dA2, np.int64(A2 > 0))
    dW2 = 1.0 / m * np.dot(dZ2, A1.T) * dw2_factor
    db2 = 1.0 / m * np.sum(dZ2, axis=1, keepdims=True)
    dA1 = np.dot(W2.T, dZ2)
    dZ1 = np.multiply(dA1, np.int64(A1 > 0))
    dW1 = 1.0 / m * np.dot(dZ1, X.T)
    db1 = db1_numerator / m * np.sum(dZ1, axis=1, keepdims=True)
    return {
        "dZ3": dZ3,
        "dW3": dW3,
        "db3": db3,
        "dA2": dA2,
        "dZ2": dZ2,
        "dW2": dW2,
        "db2": db2,
        "dA1": dA1,
        "dZ1": dZ1,
        "dW1": dW1,
        "db1": db1,
    }


def notebook_backward(X: np.ndarray, Y: np.ndarray, cache: tuple[Any, ...]) -> dict[str, np.ndarray]:
    """The notebook's (correct) ``backward_propagation_n``, with its ``dZ``/``dA`` keys."""
    return _notebook_backward(X, Y, cache, 1.0, 1.0)


def notebook_backward_planted(X: np.ndarray, Y: np.ndarray, cache: tuple[Any, ...]) -> dict[str, np.ndarray]:
    """The exercise's original backprop: ``dW2`` multiplied by 2 and ``db1`` with ``4./m``."""
    return _notebook_backward(X, Y, cache, 2.0, 4.0)


def seed_loop(
    cost_of_vector: Callable[[np.ndarray], float],
    theta: np.ndarray,
    epsilon: float,
    elements: np.ndarray | None = None,
) -> np.ndarray:
    """The notebook's per-element loop, as written there: the parameters as a ``(P, 1)``
    column (``dictionary_to_vector``'s), a full copy and two costs per element, stored in
    ``(P, 1)`` arrays.

    ``cost_of_vector`` is given each perturbed column as a flat ``(P,)`` view; the
    approximate gradient is returned flat, shape ``(P,)``. ``elements``: loop over these
    only (the benchmarks time a sample at large sizes; every element costs the same).
    """
    parameters_values = np.asarray(theta, dtype=np.float64).reshape(-1, 1)
    num_parameters = parameters_values.shape[0]
    grad_approx = np.zeros((num_parameters, 1))
    J_plus = np.zeros((num_parameters, 1))
    J_minus = np.zeros((num_parameters, 1))
    for i in range(num_parameters) if elements is None else elements:
        theta_plus = np.copy(parameters_values)
        theta_plus[i] = theta_plus[i] + epsilon
        J_plus[i] = cost_of_vector(theta_plus[:, 0])
        theta_minus = np.copy(parameters_values)
        theta_minus[i] = theta_minus[i] - epsilon
        J_minus[i] = cost_of_vector(theta_minus[:, 0])
        grad_approx[i] = (J_plus[i] - J_minus[i]) / (2 * epsilon)
    return grad_approx[:, 0]


def notebook_gradient_check_n(
    parameters: dict[str, np.ndarray],
    gradients: dict[str, np.ndarray],
    X: np.ndarray,
    Y: np.ndarray,
    epsilon: float = NOTEBOOK_EPSILON,
) -> float:
    """The notebook's ``gradient_check_n``: ``||g - g~|| / (||g|| + ||g~||)`` over all 47 entries."""
    layout, theta = layout_of(parameters)
    grad, _ = layout.flatten_like(gradients)
    approx = seed_loop(lambda v: notebook_forward(X, Y, layout.unflatten(v))[0], theta, epsilon)
    numerator = np.linalg.norm(grad - approx)
    denominator = np.linalg.norm(grad) + np.linalg.norm(approx)
    return float(numerator / denominator)


def xor_data() -> tuple[np.ndarray, np.ndarray]:
    """The blog's XOR training data: ``X`` (4, 2), ``y`` (4, 1)."""
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
    y = np.atleast_2d([0, 1, 1, 0]).T.astype(np.float64)
    return X, y


def blog_backprop(theta: list[np.ndarray], X: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    """The blog's ``back_propagation`` as a function: its gradient for each THETA.

    Its update is ``THETA += -ETA * d``; this returns ``d`` (the update divided
    by ``-ETA``), which lacks the ``2 / m`` of the MSE derivative.
    """
    sig = _sigmoid
    A = [np.hstack((np.ones((X.shape[0], 1)), X))]
    Z = []
    for t in theta:
        Z.append(np.matmul(A[-1], t.T))
        A.append(np.hstack((np.ones((Z[-1].shape[0], 1)), sig(Z[-1]))))
    A[-1] = A[-1][:, 1:]
    y_hat = A[-1]
    prime = lambda z: sig(z) * (1 - sig(z))  # noqa: E731
    del_ = [(y_hat - y) * prime(Z[len(Z) - 1])]
    bias_free = True
    for idx in reversed(range(1, len(theta))):
        ones = np.ones((Z[idx - 1].shape[0], 1))
        back = del_[0] if bias_free else del_[0][:, 1:]
        del_ = [np.matmul(back, theta[idx]) * np.hstack((ones, prime(Z[idx - 1])))] + del_
        bias_free = False
    del_theta: list[np.ndarray] = []
    bias_free = True
    for idx in reversed(range(len(del_))):
        d = del_[idx] if bias_free else del_[idx][:, 1:]
        del_theta = [np.matmul(d.T, A[idx])] + del_theta
        bias_free = False
    return del_theta


@dataclass(frozen=True)
class KnownBug:
    """A real bug from the seeds that the verifier must find.

    Attributes
    ----------
    name : str
    description : str
    make : callable
        ``make() -> (net, params, X, Y, backward)``: the network, the point, and
        the buggy ``backward(params, X, Y)``.
    wrong : tuple of str
        The tensors the verifier must name.
    factors : dict of str to float
        The exact scale factor of each wrong tensor.
    """

    name: str
    description: str
    make: Callable[[], tuple[Any, Any, Any, Any, Callable[..., Any]]]
    wrong: tuple[str, ...]
    factors: dict[str, float] = field(default_factory=dict)


def notebook_style(backward: Callable[..., dict[str, np.ndarray]]) -> Callable[..., dict[str, np.ndarray]]:
    """Adapt a notebook-style ``backward(X, Y, cache)`` to ``backward(params, X, Y)``.

    The cache comes from :func:`notebook_forward`, as the notebook computes it.
    """

    def run(params: dict[str, np.ndarray], X: np.ndarray, Y: np.ndarray) -> dict[str, np.ndarray]:
        return backward(X, Y, notebook_forward(X, Y, params)[1])

    return run


def _notebook_case() -> tuple[Any, ...]:
    x, y, parameters = notebook_test_case()
    return DeepReLU((4, 5, 3, 1)), parameters, x, y, notebook_style(notebook_backward_planted)


def _blog_case() -> tuple[Any, ...]:
    X, y = xor_data()
    net = XORNet((2, 2, 2, 1))
    return net, net.init_params(np.random.default_rng(0), low=0.0, high=1.0), X, y, blog_backprop


KNOWN_BUGS = {
    "notebook-planted": KnownBug(
        "notebook-planted",
        "the notebook exercise's original backprop: dW2 multiplied by 2, db1 with 4./m instead of 1./m",
        _notebook_case,
        ("W2", "b1"),
        {"W2": 2.0, "b1": 4.0},
    ),
    "blog-missing-2/m": KnownBug(
        "blog-missing-2/m",
        "the blog's backprop: the 2/m of the mean-squared-error derivative is missing (m = 4)",
        _blog_case,
        ("[0]", "[1]", "[2]"),
        {"[0]": 2.0, "[1]": 2.0, "[2]": 2.0},
    ),
}
