"""LINEAR -> RELU -> ... -> LINEAR -> SIGMOID with binary cross-entropy: the notebook's network, any depth."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import validate
from ..errors import InputError
from .base import Network, array_module, data_array, layer_sizes, loss_from_logits, param_shapes

COST_FORMS = ("notebook", "stable")


class DeepReLU(Network):
    """A ReLU network with a sigmoid output and cross-entropy cost.

    Parameters
    ----------
    layer_dims : sequence of int, default (4, 5, 3, 1)
        ``[n_x, n_1, ..., n_L]``; the default is the notebook's network (47 parameters).
    cost_form : {"notebook", "stable"}
        ``"notebook"``: exactly the notebook's
        ``1/m * sum(-Y log A - (1 - Y) log(1 - A))`` with ``A = sigmoid(Z_L)``.
        It loses precision once ``A`` is within ~1e-8 of 0 or 1 (``1 - A``
        keeps few significant digits) and becomes infinite when ``A`` rounds to
        exactly 0 or 1 (``|Z_L|`` above ~37). ``"stable"``: the same
        function computed from the logits,
        ``1/m * sum(Y log(1 + e^-Z) + (1 - Y) log(1 + e^Z))``, accurate for any
        ``Z_L``; prefer it unless reproducing the notebook.

    Notes
    -----
    Data are column-major as in the notebook: ``X`` has shape ``(n_x, m)`` and
    ``Y`` shape ``(n_L, m)`` with labels in [0, 1]. Parameters are a dict
    ``{"W1": (n_1, n_x), "b1": (n_1, 1), ..., "WL", "bL"}``. ReLU's derivative
    at exactly 0 is taken as 0 in both the cost (as traced by autograd) and
    the backward pass.
    """

    loss = "cross-entropy"

    def __init__(self, layer_dims: Any = (4, 5, 3, 1), *, cost_form: str = "notebook") -> None:
        self.layer_dims = layer_sizes(layer_dims, "layer_dims")
        if cost_form not in COST_FORMS:
            raise InputError(f"`cost_form`: expected one of {list(COST_FORMS)}, got {cost_form!r}.")
        self.cost_form = cost_form
        dims = self.layer_dims
        self.shapes: dict[str, tuple[int, ...]] = {}
        for l in range(1, len(dims)):
            self.shapes[f"W{l}"] = (dims[l], dims[l - 1])
            self.shapes[f"b{l}"] = (dims[l], 1)

    def __repr__(self) -> str:
        return f"DeepReLU({list(self.layer_dims)}, cost_form={self.cost_form!r})"

    @property
    def n_params(self) -> int:
        """Number of parameters."""
        return sum(int(np.prod(s)) for s in self.shapes.values())

    @property
    def n_layers(self) -> int:
        """Number of weight layers, L."""
        return len(self.layer_dims) - 1

    def init_params(self, rng: np.random.Generator, *, scale: float | str = "he") -> dict[str, np.ndarray]:
        """Random parameters.

        Parameters
        ----------
        rng : numpy.random.Generator
        scale : "he" or float
            ``"he"``: weights ``N(0, 2 / n_in)``, biases ``N(0, 0.1^2)``. A float:
            every entry ``N(0, scale^2)`` (``1.0`` is the notebook's ``randn``).
        """
        validate.generator(rng)
        params = {}
        for name, shape in self.shapes.items():
            if scale == "he":
                std = np.sqrt(2.0 / shape[1]) if name[0] == "W" else 0.1
            elif isinstance(scale, (int, float)) and not isinstance(scale, bool) and scale > 0:
                std = float(scale)
            else:
                raise InputError(f"`scale`: expected 'he' or a positive number, got {scale!r}.")
            params[name] = std * rng.standard_normal(shape)
        return params

    def example_data(self, rng: np.random.Generator, m: int = 3) -> tuple[np.ndarray, np.ndarray]:
        """Random inputs ``X ~ N(0, 1)`` of shape ``(n_x, m)`` and 0/1 labels ``Y`` of shape ``(n_L, m)``."""
        validate.generator(rng)
        m = validate.integer(m, "m", minimum=1)
        X = rng.standard_normal((self.layer_dims[0], m))
        Y = (rng.random((self.layer_dims[-1], m)) < 0.5).astype(np.float64)
        return X, Y

    def _check(self, params: Any, X: Any, Y: Any) -> None:
        param_shapes(params, self.shapes)
        n_x, n_out = self.layer_dims[0], self.layer_dims[-1]
        X = data_array(X, "X", (n_x, None), "n_x by m examples, column-major")
        m = X.shape[1]
        Y = data_array(Y, "Y", (n_out, m), "n_L by m labels")
        y = np.asarray(getattr(Y, "_value", Y))
        if y.min() < 0 or y.max() > 1:
            raise InputError(
                f"`Y`: cross-entropy needs labels in [0, 1], got values in [{y.min()}, {y.max()}]."
            )

    def batch_stencil(self, params: Any, X: Any, Y: Any, layout: Any, theta: np.ndarray) -> Any:
        """Perturbed costs many at a time, reusing the forward pass (:class:`~.batched.BatchedStencil`).

        None when the masks are redrawn at every evaluation: then each cost evaluation
        must draw its own, as the plain cost does.
        """
        from .batched import BatchedStencil

        if not self.replay:
            return None
        self._check(params, X, Y)
        return BatchedStencil(self, params, X, Y, layout, theta)

    def hidden_masks(self, m: int) -> list[np.ndarray] | None:
        """Multipliers for the hidden activations (dropout); None for this network: no dropout."""
        return None

    def logits(self, params: Any, X: Any, masks: list[np.ndarray] | None = None) -> Any:
        """Forward pass up to ``Z_L`` (autograd-traceable); ``masks[l-1]`` multiplies ``A_l`` (dropout).

        The intermediate values are kept by name in ``cache`` (``Z1``, ``A1``, ...), the way
        a hand-written forward keeps them: the check reads them there to name the first
        wrong line of a backward that returns ``dZ1``, ``dA1``, ...
        """
        xp = array_module(X, *params.values())
        cache: dict[str, Any] = {}
        A = X
        for l in range(1, self.n_layers):
            Z = cache[f"Z{l}"] = xp.dot(params[f"W{l}"], A) + params[f"b{l}"]
            A = xp.where(Z > 0, Z, 0.0)
            if masks is not None:
                A = A * masks[l - 1]
            cache[f"A{l}"] = A
        L = self.n_layers
        cache[f"Z{L}"] = xp.dot(params[f"W{L}"], A) + params[f"b{L}"]
        return cache[f"Z{L}"]

    def cost(self, params: Any, X: Any, Y: Any) -> Any:
        """Cross-entropy cost (float), in the selected ``cost_form``."""
        self._check(params, X, Y)
        m = X.shape[1]
        Z = self.logits(params, X, self.hidden_masks(m))
        logprobs = loss_from_logits(Z, Y, self.cost_form)
        if self.cost_form == "stable":
            return logprobs.sum() / m
        return 1.0 / m * logprobs.sum()  # the notebook's order of operations

    def forward_cache(
        self, params: dict[str, np.ndarray], X: np.ndarray, masks: list[np.ndarray] | None = None
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Plain-numpy forward pass: ``[(Z_l, A_l)]`` for l = 1..L, with ``A_0 = X`` omitted."""
        cache, A = [], X
        for l in range(1, self.n_layers + 1):
            Z = params[f"W{l}"] @ A + params[f"b{l}"]
            if l < self.n_layers:
                A = np.maximum(Z, 0.0) if masks is None else np.maximum(Z, 0.0) * masks[l - 1]
            else:
                with np.errstate(over="ignore"):  # exp(-Z) = inf gives A = 0, as it should
                    A = 1.0 / (1.0 + np.exp(-Z))
            cache.append((Z, A))
        return cache

    def backward(self, params: dict[str, np.ndarray], X: np.ndarray, Y: np.ndarray) -> dict[str, np.ndarray]:
        """Hand-written backprop: the gradient of :meth:`cost`, keyed like ``params``."""
        self._check(params, X, Y)
        masks = self.hidden_masks(X.shape[1])
        return self.backward_with(params, X, Y, masks, masks)

    def backward_with(
        self,
        params: dict[str, np.ndarray],
        X: np.ndarray,
        Y: np.ndarray,
        masks: list[np.ndarray] | None,
        back_masks: list[np.ndarray] | None,
    ) -> dict[str, np.ndarray]:
        """Backprop with the forward pass's ``masks`` and the ``back_masks`` applied to ``dA_l``.

        They are the same in a correct dropout backward; the dropout network's known bugs
        pass other ones (no mask, or the mask without its ``1 / keep_prob``).
        """
        m = X.shape[1]
        cache = self.forward_cache(params, X, masks)
        grads: dict[str, np.ndarray] = {}
        dZ = cache[-1][1] - Y
        for l in range(self.n_layers, 0, -1):
            A_prev = cache[l - 2][1] if l > 1 else X
            grads[f"W{l}"] = 1.0 / m * dZ @ A_prev.T
            grads[f"b{l}"] = 1.0 / m * np.sum(dZ, axis=1, keepdims=True)
            if l > 1:
                dA = params[f"W{l}"].T @ dZ
                if back_masks is not None:
                    dA = dA * back_masks[l - 2]
                dZ = dA * (cache[l - 2][0] > 0)
        return {k: grads[k] for k in self.shapes}

    def describe(self, params: dict[str, np.ndarray], X: np.ndarray, Y: np.ndarray) -> dict[str, Any]:
        """What the point looks like, for the diagnosis: near-kinks, saturation (dead units are read
        from the forward's own values by the check, as for any code)."""
        self._check(params, X, Y)
        cache = self.forward_cache(params, X)
        notes = []
        for l, (Z, _) in enumerate(cache[:-1], start=1):
            near = int(np.sum(np.abs(Z) < 1e-6 * max(1.0, float(np.abs(Z).max()))))
            if near:
                notes.append(
                    f"layer {l}: {near} pre-activations lie within 1e-6 of 0: finite steps cross"
                    " ReLU kinks there"
                )
        A = cache[-1][1]
        sat = int(np.sum(np.minimum(A, 1 - A) < 1e-8))
        if sat:
            notes.append(
                f"the sigmoid output saturates for {sat} of {A.size} outputs (A within 1e-8 of 0"
                " or 1): log(1 - A) loses precision"
                + (" (cost_form='stable' avoids it)" if self.cost_form == "notebook" else "")
            )
        return {"m": int(X.shape[1]), "loss": self.loss, "notes": notes}
