"""A zoo of correct cost and gradient pairs written the way people write them, and planted slips.

Plain numpy throughout (``np.dot``, ``float()`` returns, preallocated buffers filled in loops,
float32 intermediates), as in the seeds and the classic courses; none is traced by autograd,
so the finite differences carry the verdict. Every gradient is correct (each family's test
checks it against autograd on an autograd twin, or against a closed form).

:func:`draw` gives a family's ``(cost, grad, params)`` for a seed; :func:`slip` plants a bug
in a gradient: one element off by 1e-4 relative, the whole gradient 1.01 times, a sign flip.

The verdicts the verifier owes the zoo (tests/test_zoo.py; thousands of draws in
benchmarks/zoo_verdicts.py):

* a correct gradient never fails; it passes, unless the family is marked ``limited`` (the
  cost's own noise hides what finite differences would need to see), where "inconclusive"
  is allowed too;
* a planted slip never passes; it fails, naming the tensor, unless the family is
  ``limited``, where "inconclusive" is allowed too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class Family:
    """A kind of cost, its hand-written gradient and how to draw parameters."""

    name: str
    make: Callable[[np.random.Generator], tuple[Callable[[Any], float], Callable[[Any], Any], Any]]
    #: Finite differences cannot resolve a 1e-4 relative slip here (noisy or float32 costs).
    limited: bool = False


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def mlp_dot(rng):
    """A tanh MLP in the notebook's layout with ``np.dot``, MSE, ``float()`` return."""
    n, h, m = 4, 6, 10
    X, Y = rng.standard_normal((n, m)), rng.standard_normal((1, m))
    params = {
        "W1": rng.standard_normal((h, n)) * 0.7,
        "b1": rng.standard_normal((h, 1)) * 0.1,
        "W2": rng.standard_normal((1, h)) * 0.7,
        "b2": rng.standard_normal((1, 1)) * 0.1,
    }

    def cost(p):
        A1 = np.tanh(np.dot(p["W1"], X) + p["b1"])
        A2 = np.dot(p["W2"], A1) + p["b2"]
        return float(np.mean((A2 - Y) ** 2))

    def grad(p):
        A1 = np.tanh(np.dot(p["W1"], X) + p["b1"])
        A2 = np.dot(p["W2"], A1) + p["b2"]
        dA2 = 2.0 * (A2 - Y) / m
        dZ1 = np.dot(p["W2"].T, dA2) * (1 - A1**2)
        return {
            "dW1": np.dot(dZ1, X.T),
            "db1": np.sum(dZ1, axis=1, keepdims=True),
            "dW2": np.dot(dA2, A1.T),
            "db2": np.sum(dA2, axis=1, keepdims=True),
        }

    return cost, grad, params


def saturated_sigmoid(rng):
    """Logistic regression with the notebook's cross-entropy, outputs near 0 and 1, ``float()``."""
    n, m = 5, 8
    X = rng.standard_normal((n, m))
    Y = (rng.random((1, m)) < 0.5).astype(float)
    params = {"w": rng.standard_normal((1, n)) * 3.0, "b": rng.standard_normal((1, 1))}

    def cost(p):
        A = _sigmoid(np.dot(p["w"], X) + p["b"])
        return float(-np.sum(Y * np.log(A) + (1 - Y) * np.log(1 - A)) / m)

    def grad(p):
        A = _sigmoid(np.dot(p["w"], X) + p["b"])
        dZ = (A - Y) / m
        return {"w": np.dot(dZ, X.T), "b": np.sum(dZ, axis=1, keepdims=True)}

    return cost, grad, params


def float32_intermediates(rng):
    """A linear layer computed in float32 inside the cost (``x.astype(np.float32)``), MSE."""
    n, m = 4, 12
    X, Y = rng.standard_normal((n, m)), rng.standard_normal((2, m))
    params = {"W": rng.standard_normal((2, n))}

    def cost(p):
        out = np.dot(p["W"].astype(np.float32), X.astype(np.float32))
        return float(np.mean((out.astype(np.float64) - Y) ** 2))

    def grad(p):
        return {"W": 2.0 * np.dot(np.dot(p["W"], X) - Y, X.T) / (2 * m)}

    return cost, grad, params


def maxpool_ties(rng):
    """Naive max-pooling loops into a preallocated buffer, integer-valued inputs with ties."""
    H = 6
    params = {"x": rng.integers(-2, 3, (H, H)).astype(float)}
    dout = rng.standard_normal((H // 2, H // 2))

    def cost(p):
        x = p["x"]
        out = np.zeros((H // 2, H // 2))
        for i in range(H // 2):
            for j in range(H // 2):
                out[i, j] = np.max(x[2 * i : 2 * i + 2, 2 * j : 2 * j + 2])
        return float(np.sum(out * dout))

    def grad(p):
        x = p["x"]
        dx = np.zeros_like(x)
        for i in range(H // 2):
            for j in range(H // 2):
                window = x[2 * i : 2 * i + 2, 2 * j : 2 * j + 2]
                a, b = np.unravel_index(np.argmax(window), window.shape)
                dx[2 * i + a, 2 * j + b] += dout[i, j]
        return {"x": dx}

    return cost, grad, params


def relu_at_zero(rng):
    """ReLU with pre-activations exactly 0 in several examples: integer data, zero biases."""
    n, h, m = 3, 5, 8
    X = rng.integers(-1, 2, (n, m)).astype(float)
    Y = rng.standard_normal((1, m))
    params = {
        "W1": rng.integers(-1, 2, (h, n)).astype(float),
        "b1": np.zeros((h, 1)),
        "W2": rng.standard_normal((1, h)),
    }

    def cost(p):
        Z1 = np.dot(p["W1"], X) + p["b1"]
        A1 = np.maximum(0, Z1)
        return float(np.sum((np.dot(p["W2"], A1) - Y) ** 2) / 2)

    def grad(p):
        Z1 = np.dot(p["W1"], X) + p["b1"]
        A1 = np.maximum(0, Z1)
        dA2 = np.dot(p["W2"], A1) - Y
        dZ1 = np.dot(p["W2"].T, dA2) * (Z1 > 0)
        return {"W1": np.dot(dZ1, X.T), "b1": np.sum(dZ1, axis=1, keepdims=True), "W2": np.dot(dA2, A1.T)}

    return cost, grad, params


def _scaled(cost_scale, param_scale):
    def make(rng):
        params = {"w": rng.standard_normal(6) * param_scale}
        c = rng.standard_normal(6)

        def cost(p):
            return float(cost_scale * np.sum(c * np.tanh(p["w"] / param_scale)))

        def grad(p):
            return {"w": cost_scale * c * (1 - np.tanh(p["w"] / param_scale) ** 2) / param_scale}

        return cost, grad, params

    return make


def softmax_logsumexp(rng):
    """Softmax cross-entropy through a max-shifted logsumexp, integer labels."""
    n, k, m = 4, 3, 10
    X = rng.standard_normal((m, n))
    y = rng.integers(0, k, m)
    params = {"W": rng.standard_normal((n, k)), "b": rng.standard_normal(k) * 0.1}

    def cost(p):
        S = np.dot(X, p["W"]) + p["b"]
        top = S.max(axis=1, keepdims=True)
        lse = top[:, 0] + np.log(np.sum(np.exp(S - top), axis=1))
        return float(np.mean(lse - S[np.arange(m), y]))

    def grad(p):
        S = np.dot(X, p["W"]) + p["b"]
        P = np.exp(S - S.max(axis=1, keepdims=True))
        P /= P.sum(axis=1, keepdims=True)
        P[np.arange(m), y] -= 1
        P /= m
        return {"W": np.dot(X.T, P), "b": P.sum(axis=0)}

    return cost, grad, params


def long_sum(rng):
    """A mean over 100,000 examples of a logistic loss: round-off of a long sum."""
    n, m = 4, 100_000
    X = rng.standard_normal((m, n))
    y = (rng.random(m) < 0.5).astype(float)
    params = {"w": rng.standard_normal(n) * 0.5}

    def cost(p):
        z = np.dot(X, p["w"])
        return float(np.mean(np.logaddexp(0, z) - y * z))

    def grad(p):
        return {"w": np.dot(X.T, _sigmoid(np.dot(X, p["w"])) - y) / m}

    return cost, grad, params


def noisy_solver(rng):
    """An adaptive ODE solver's result (relative noise near 1e-8) against the closed-form gradient."""
    from scipy.integrate import solve_ivp

    T = 2.0
    params = {"k": np.array([0.5 + rng.random()]), "y0": np.array([1.0 + rng.random()])}

    def cost(p):
        k, y0 = float(p["k"][0]), float(p["y0"][0])
        sol = solve_ivp(lambda t, y: -k * y, (0.0, T), [y0], rtol=1e-8, atol=1e-12)
        return float(sol.y[0, -1])

    def grad(p):
        k, y0 = float(p["k"][0]), float(p["y0"][0])
        return {"k": np.array([-T * y0 * np.exp(-k * T)]), "y0": np.array([np.exp(-k * T)])}

    return cost, grad, params


FAMILIES = [
    Family("mlp np.dot float()", mlp_dot),
    Family("saturated sigmoid cross-entropy", saturated_sigmoid, limited=True),
    Family("float32 intermediates", float32_intermediates, limited=True),
    Family("max-pool loops with ties", maxpool_ties),
    Family("relu exactly at 0 across examples", relu_at_zero),
    Family("cost 1e-12, params 1e-6", _scaled(1e-12, 1e-6)),
    Family("cost 1e12, params 1e6", _scaled(1e12, 1e6)),
    Family("softmax logsumexp", softmax_logsumexp),
    Family("long sum, 1e5 examples", long_sum),
    Family("noisy ODE solver", noisy_solver, limited=True),
]

SLIPS = ("element 1e-4", "scale 1.01", "sign")


def slip(grad: Callable[[Any], Any], kind: str) -> Callable[[Any], Any]:
    """``grad`` with a bug planted in its first tensor (``kind`` in :data:`SLIPS`).

    ``element 1e-4``: the first tensor's largest element times 1 + 1e-4; ``scale 1.01``: every
    tensor times 1.01; ``sign``: the first tensor negated.
    """

    def wrong(p):
        out = {k: np.array(v, dtype=float) for k, v in grad(p).items()}
        first = next(iter(out))
        if kind == "element 1e-4":
            flat = out[first].reshape(-1)
            flat[np.argmax(np.abs(flat))] *= 1 + 1e-4
        elif kind == "scale 1.01":
            out = {k: 1.01 * v for k, v in out.items()}
        elif kind == "sign":
            out[first] = -out[first]
        else:
            raise ValueError(kind)
        return out

    return wrong


def first_tensor(params: dict) -> str:
    """The name of the tensor a slip is planted in."""
    return next(iter(params))
