"""Sigmoid layers with the bias folded into each THETA matrix, mean squared error: the blog's network."""

from __future__ import annotations

import itertools
from typing import Any

import autograd.numpy as anp
import numpy as np

from .. import validate
from ..errors import InputError
from .base import Network, data_array, layer_sizes, param_shapes


def sigmoid(x: Any) -> Any:
    """``1 / (1 + exp(-x))``, autograd-traceable."""
    return 1.0 / (1.0 + anp.exp(-x))


class XORNet(Network):
    """The blog's network: sigmoid layers, a bias column in every THETA, mean squared error.

    Parameters
    ----------
    layers : sequence of int, default (2, 2, 2, 1)
        ``[n_x, n_1, ..., n_out]``. The default is the blog's ``LAYERS``.

    Notes
    -----
    Data are row-major as in the blog: ``X`` has shape ``(m, n_x)``, ``y``
    shape ``(m, n_out)``. Parameters are a list of matrices, ``THETA[l]`` of
    shape ``(n_{l+1}, n_l + 1)``, column 0 multiplying the bias unit. The cost
    is ``mean((y_hat - y) ** 2)`` over all ``m * n_out`` entries, so its
    gradient carries a factor ``2 / (m * n_out)`` that the blog's backprop
    omits (with the XOR data, ``m = 4``: its gradients are exactly 2x too big).
    """

    loss = "mse"

    def __init__(self, layers: Any = (2, 2, 2, 1)) -> None:
        self.layers = layer_sizes(layers, "layers")
        self.shapes = [(self.layers[i + 1], self.layers[i] + 1) for i in range(len(self.layers) - 1)]

    def __repr__(self) -> str:
        return f"XORNet({list(self.layers)})"

    @property
    def n_params(self) -> int:
        """Number of parameters."""
        return sum(a * b for a, b in self.shapes)

    def init_params(
        self, rng: np.random.Generator, *, low: float = -1.0, high: float = 1.0
    ) -> list[np.ndarray]:
        """THETA matrices drawn from ``U[low, high)``.

        The default is the symmetric range the blog's text recommends;
        ``low=0, high=1`` is what its code actually does (``np.random.rand``).
        """
        validate.generator(rng)
        low, high = validate.real(low, "low"), validate.real(high, "high")
        if not high > low:
            raise InputError(f"`high` must exceed `low`, got low={low}, high={high}.")
        return [rng.uniform(low, high, shape) for shape in self.shapes]

    def example_data(
        self, rng: np.random.Generator | None = None, m: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The XOR truth table for [2, ..., 1]; else all binary inputs (or m random ones), parity labels."""
        n_x, n_out = self.layers[0], self.layers[-1]
        if rng is not None:
            validate.generator(rng)
        if m is not None:
            m = validate.integer(m, "m", minimum=1)
        if m is None and n_x <= 10:
            X = np.array(list(itertools.product([0.0, 1.0], repeat=n_x)))
        else:
            rng = rng if rng is not None else np.random.default_rng(0)
            X = (rng.random((m or 16, n_x)) < 0.5).astype(np.float64)
        parity = np.sum(X, axis=1, keepdims=True) % 2
        return X, np.repeat(parity, n_out, axis=1)

    def _check(self, params: Any, X: Any, y: Any) -> None:
        if (
            isinstance(params, (dict, np.ndarray))
            or not hasattr(params, "__len__")
            or len(params) != len(self.shapes)
        ):
            got = len(params) if isinstance(params, (list, tuple)) else type(params).__name__
            raise InputError(f"`params`: expected a list of {len(self.shapes)} THETA matrices, got {got}.")
        param_shapes(params, dict(enumerate(self.shapes)))
        X = data_array(X, "X", (None, self.layers[0]), "m examples by n_x, row-major")
        data_array(y, "y", (X.shape[0], self.layers[-1]), f"m = {X.shape[0]} by n_out targets")

    def cost(self, params: Any, X: Any, y: Any) -> Any:
        """Mean squared error of the network's output."""
        self._check(params, X, y)
        A = X
        for theta in params:
            A = sigmoid(anp.dot(anp.concatenate([anp.ones((A.shape[0], 1)), A], axis=1), theta.T))
        return anp.mean((A - y) ** 2)

    def forward_cache(self, params: list[np.ndarray], X: np.ndarray) -> list[np.ndarray]:
        """Plain-numpy forward pass: the activations with their bias column, and the output last."""
        acts, A = [], X
        for theta in params:
            Ab = np.hstack([np.ones((A.shape[0], 1)), A])
            acts.append(Ab)
            A = sigmoid(Ab @ theta.T)
        acts.append(A)
        return acts

    def backward(self, params: list[np.ndarray], X: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
        """Hand-written backprop: the true gradient of :meth:`cost`, one array per THETA."""
        self._check(params, X, y)
        acts = self.forward_cache(params, X)
        out = acts[-1]
        delta = 2.0 / y.size * (out - y) * out * (1 - out)
        grads = [np.empty(0)] * len(params)
        for l in range(len(params) - 1, -1, -1):
            grads[l] = delta.T @ acts[l]
            if l:
                a = acts[l][:, 1:]
                delta = (delta @ params[l][:, 1:]) * a * (1 - a)
        return grads

    def train(
        self,
        X: np.ndarray,
        y: np.ndarray,
        *,
        eta: float = 0.1,
        epochs: int = 10000,
        seed: int = 6,
        params: list[np.ndarray] | None = None,
        blog_scaling: bool = True,
        backward: Any = None,
        callback: Any = None,
    ) -> tuple[list[np.ndarray], np.ndarray]:
        """The blog's training loop, without its global state.

        Parameters
        ----------
        X, y : ndarray
            Training data, row-major.
        eta : float
            The blog's ``ETA``.
        epochs : int
            Full-batch gradient steps.
        seed : int
            Seeds ``numpy.random.default_rng`` for the initial THETA
            (``U[0, 1)``, as the blog's code draws them) unless ``params`` is
            given. The default, 6, classifies all four XOR points within the
            blog's 10,000 epochs at ``eta = 0.1``; many seeds stall on the
            mean-squared-error plateau for longer, as the blog observes.
        params : list of ndarray, optional
            Starting point (copied, never modified).
        blog_scaling : bool
            True: step ``eta * m * n_out / 2`` times the true gradient, which is
            exactly the blog's update (its backprop omits ``2 / (m * n_out)``).
            False: step ``eta`` times the true gradient.
        backward : callable, optional
            ``backward(theta, X, y)`` to train with instead of :meth:`backward`.
        callback : callable, optional
            Called as ``callback(epoch, theta)`` before each step (e.g. a
            :class:`verifier.GradientMonitor`).

        Returns
        -------
        params : list of ndarray
            The trained THETA matrices.
        history : ndarray, shape (epochs + 1,)
            The cost before each step and after the last.
        """
        if params is None:
            params = self.init_params(np.random.default_rng(seed), low=0.0, high=1.0)
        theta = [np.array(p, dtype=np.float64, copy=True) for p in params]
        step = eta * (y.size / 2 if blog_scaling else 1.0)
        history = np.empty(epochs + 1)
        back = backward if backward is not None else self.backward
        for i in range(epochs):
            if callback is not None:
                callback(i, theta)
            history[i] = self.cost(theta, X, y)
            for t, g in zip(theta, back(theta, X, y), strict=True):
                t -= step * g
        history[epochs] = self.cost(theta, X, y)
        return theta, history

    def describe(self, params: list[np.ndarray], X: np.ndarray, y: np.ndarray) -> dict[str, Any]:
        """Context for the diagnosis: the number of averaged terms (``m * n_out``) and the loss."""
        self._check(params, X, y)
        return {"m": int(np.size(y)), "loss": self.loss, "notes": []}

    def predict(self, params: list[np.ndarray], X: np.ndarray) -> np.ndarray:
        """The network's output ``y_hat``, shape ``(m, n_out)``."""
        return self.forward_cache(params, X)[-1]
