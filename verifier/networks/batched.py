"""Many perturbed costs of a DeepReLU network at once, reusing its forward pass.

The ``centered`` method perturbs one parameter at a time: ``W_l[i, j]`` or ``b_l[i]`` moves
the pre-activation row ``Z_l[i]`` and nothing before it. Everything up to layer ``l`` is
the unperturbed forward pass, computed once. After it, ReLU layers are linear as long as
no pre-activation changes sign, so the change of the output logits is

    ΔZ_L[:, c] = G_l[:, i, c] * ΔA_l[i, c],     G_l = ∂Z_L / ∂A_l along the active paths,

with ``G_l`` computed once by a reverse pass. A perturbation that would flip a
downstream pre-activation (its change reaches half the distance to zero, measured with the
forward sensitivities) is recomputed exactly through the remaining layers. The loss
itself is always evaluated in full from the perturbed logits. The result equals the
one-at-a-time evaluation to within round-off, at a cost of O(m) per perturbation away from
kinks instead of a forward pass.

Memory: every batch of perturbations, and every block of forward sensitivities, holds at most
:data:`BATCH_NUMBERS` float64 numbers (32 MiB); the reverse sensitivities ``G_l`` take
``n_L * n_l * m`` numbers per hidden layer (``n_L`` is 1 for the usual single output).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.objective import BATCH_NUMBERS, vectorized_stencil
from ..core.params import Layout
from .base import loss_from_logits

#: Up to this many numbers, all perturbations go through one batched forward pass instead.
SMALL_NUMBERS = 64 * 1024


class BatchedStencil:
    """Perturbed costs of a DeepReLU network, for :meth:`verifier.core.objective.Objective.stencil`.

    Parameters
    ----------
    net : DeepReLU
        The network (its masks must be deterministic: a dropout network must replay them).
    params, X, Y
        The point.
    layout, theta : Layout, ndarray of shape (P,)
        The flat layout of ``params`` the indices refer to, and ``params`` flattened by it
        (both from :func:`verifier.core.params.layout_of`).
    """

    def __init__(
        self,
        net: Any,
        params: dict[str, np.ndarray],
        X: np.ndarray,
        Y: np.ndarray,
        layout: Layout,
        theta: np.ndarray,
    ) -> None:
        self.net, self.layout, self.form, self.params = net, layout, net.cost_form, params
        self.X, self.Y, self.m = np.asarray(X, dtype=np.float64), np.asarray(Y, dtype=np.float64), X.shape[1]
        masks = net.hidden_masks(self.m)
        self.masks = masks
        self.dropout = {l: masks[l - 1] for l in range(1, net.n_layers)} if masks is not None else {}
        self.L = net.n_layers
        # the unperturbed forward pass, filled in by _prepare when the layered path first runs:
        # a small network sends everything through _whole and never needs it
        self.W: dict[int, np.ndarray] = {}
        self.b: dict[int, np.ndarray] = {}
        self.Z: dict[int, np.ndarray] = {}
        self.A: dict[int, np.ndarray] = {}
        self.row_loss = np.empty(0)
        self._sens: tuple[dict[int, np.ndarray], dict[int, np.ndarray]] | None = None
        self._all: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None
        self._widest = max(net.layer_dims[1:])
        self._whole = vectorized_stencil(self._batched_cost, layout, theta)

    def at(self, theta: np.ndarray) -> BatchedStencil:
        """The same network and data at other parameters ``theta`` (flat): a nearby point's
        stencil, for the check that moves off a kink."""
        return BatchedStencil(self.net, self.layout.unflatten(theta), self.X, self.Y, self.layout, theta)

    def _prepare(self) -> None:
        """The unperturbed forward pass (the network's own), once."""
        if self.Z:
            return
        L, params = self.L, self.params
        self.W = {l: np.asarray(params[f"W{l}"], dtype=np.float64) for l in range(1, L + 1)}
        self.b = {l: np.asarray(params[f"b{l}"], dtype=np.float64) for l in range(1, L + 1)}
        cache = self.net.forward_cache(params, self.X, self.masks)
        self.Z = {l: cache[l - 1][0] for l in range(1, L + 1)}
        self.A = {0: self.X, **{l: cache[l - 1][1] for l in range(1, L)}}
        self.row_loss = loss_from_logits(self.Z[L], self.Y, self.form).sum(axis=1)

    @property
    def gain(self) -> dict[int, np.ndarray]:
        """G_l = dZ_L/dA_l per hidden layer (computed on first use: small networks never need it)."""
        if self._sens is None:
            self._sens = self._sensitivities()
        return self._sens[0]

    @property
    def room(self) -> dict[int, np.ndarray]:
        """How far each A_l[i, c] may move before a downstream flip (see :meth:`_room`)."""
        if self._sens is None:
            self._sens = self._sensitivities()
        return self._sens[1]

    def _mask(self, k: int) -> np.ndarray:
        """The derivative of A_k with respect to Z_k: the ReLU mask times the dropout mask."""
        return (self.Z[k] > 0) * self.dropout.get(k, 1.0)

    def _sensitivities(self) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
        """Per hidden layer l: G_l = dZ_L/dA_l (n_L, n_l, m), and the room before a flip (n_l, m)."""
        L, m = self.L, self.m
        gain: dict[int, np.ndarray] = {}
        back = np.repeat(np.eye(self.W[L].shape[0])[:, :, None], m, axis=2)  # dZ_L/dZ_L
        for l in range(L - 1, 0, -1):
            back = np.einsum("uvc,vi->uic", back, self.W[l + 1])  # dZ_L/dA_l
            gain[l] = back
            back = back * self._mask(l)[None, :, :]  # dZ_L/dZ_l
        room = {l: self._room(l) for l in range(1, L)}
        return gain, room

    def _room(self, l: int) -> np.ndarray:
        """How far each A_l[i, c] may move before a downstream pre-activation flips, (n_l, m).

        Forward sensitivities dZ_k/dA_l[i] are formed for a block of units i at a time, so
        the working memory stays within :data:`BATCH_NUMBERS` numbers.
        """
        n_l, m = self.W[l].shape[0], self.m
        widest = max(self.W[k].shape[0] for k in range(l + 1, self.L + 1))
        block = max(1, BATCH_NUMBERS // (widest * m))
        limit = np.full((n_l, m), np.inf)
        for start in range(0, n_l, block):
            units = slice(start, min(start + block, n_l))
            fwd = np.repeat(self.W[l + 1][:, units, None], m, axis=2)  # dZ_{l+1}/dA_l[units]
            for k in range(l + 1, self.L):
                with np.errstate(divide="ignore"):
                    ratio = np.abs(self.Z[k])[:, None, :] / np.abs(fwd)
                limit[units] = np.minimum(limit[units], ratio.min(axis=0))
                fwd = np.einsum("vu,uic->vic", self.W[k + 1], fwd * self._mask(k)[:, None, :])
        return limit

    def __call__(self, indices: np.ndarray, steps: np.ndarray) -> np.ndarray:
        """Costs at ``theta + steps[n, k] * e_indices[n]``, shape ``steps.shape``."""
        indices = np.asarray(indices, dtype=np.intp)
        if steps.size * (self.layout.size + self._widest * self.m) <= SMALL_NUMBERS:
            return self._whole(indices, steps)
        self._prepare()
        out = np.empty(steps.shape, dtype=np.float64)
        per = max(1, BATCH_NUMBERS // (steps.shape[1] * self.m * max(self.W[self.L].shape[0], 1) * 4))
        everything = indices.size == self.layout.size and np.array_equal(indices, np.arange(indices.size))
        if not everything or self._all is None:
            grouped = self._group(indices)
            if everything:
                self._all = grouped
        for layer, (sel, rows, source) in (self._all if everything and self._all else grouped).items():
            for start in range(0, sel.size, per):
                part = slice(start, start + per)
                out[sel[part]] = self._costs(layer, rows[part], source[part], steps[sel[part]])
        return out

    def _batched_cost(self, parts: dict[str, np.ndarray]) -> np.ndarray:
        """Costs of a stack of parameter sets (leading batch axis), in one batched forward pass.

        For a few hundred perturbations of a few dozen parameters, the cost is the number of
        numpy calls, not arithmetic: one pass over a stack beats a pass per layer.
        """
        W1 = parts["W1"]
        # the first layer's input is shared: one matrix product for the whole stack
        Z = (W1.reshape(-1, W1.shape[-1]) @ self.X).reshape(W1.shape[:-1] + (self.m,)) + parts["b1"]
        for l in range(2, self.L + 1):
            A = np.maximum(Z, 0.0) * self.dropout[l - 1] if l - 1 in self.dropout else np.maximum(Z, 0.0)
            Z = parts[f"W{l}"] @ A + parts[f"b{l}"]
        loss = np.asarray(loss_from_logits(Z, self.Y, self.form))
        return (loss.reshape(len(loss), -1) @ np.ones(loss[0].size)) / self.m  # the sum per stack entry

    def _group(self, indices: np.ndarray) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Per layer: positions in ``indices``, the rows of Z_l they move, and by how much per unit step."""
        tensor = np.searchsorted(self.layout.offsets, indices, side="right") - 1
        groups: dict[int, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
        for t in np.unique(tensor):  # W_l and b_l of one layer go through it together
            sel = np.flatnonzero(tensor == t)
            name, shape = self.layout.names[t], self.layout.shapes[t]
            rows, cols = np.unravel_index(indices[sel] - self.layout.offsets[t], shape)
            layer = int(name[1:])
            source = self.A[layer - 1][cols] if name[0] == "W" else np.ones((sel.size, self.m))
            groups.setdefault(layer, []).append((sel, rows, source))
        return {
            layer: tuple(np.concatenate([p[k] for p in parts]) for k in range(3))  # type: ignore[misc]
            for layer, parts in groups.items()
        }

    def _costs(self, l: int, i: np.ndarray, source: np.ndarray, steps: np.ndarray) -> np.ndarray:
        """Costs when row ``i`` of Z_l moves by ``steps * source``.

        ``source`` is ``A_{l-1}[j]`` for a perturbation of ``W_l[i, j]``, ones for ``b_l[i]``.
        """
        z_row = self.Z[l][i][:, None, :] + steps[:, :, None] * source[:, None, :]  # (n, k, m)
        L, m = self.L, self.m
        if l == L:
            rest = self.row_loss.sum() - self.row_loss[i]
            return (rest[:, None] + loss_from_logits(z_row, self.Y[i][:, None, :], self.form).sum(axis=2)) / m
        drop = self.dropout[l][i][:, None, :] if l in self.dropout else 1.0
        delta_a = np.maximum(z_row, 0.0) * drop - self.A[l][i][:, None, :]
        logits = (
            self.Z[L][None, None, :, :]
            + np.moveaxis(self.gain[l][:, i, :], 1, 0)[:, None, :, :] * delta_a[:, :, None, :]
        )
        costs = loss_from_logits(logits, self.Y[None, None], self.form).sum(axis=(2, 3)) / m
        flips = np.any(np.abs(delta_a) >= 0.5 * self.room[l][i][:, None, :], axis=2)
        for n, k in zip(*np.nonzero(flips), strict=True):
            costs[n, k] = self._exact(l, int(i[n]), delta_a[n, k])
        return costs

    def _exact(self, l: int, i: int, delta_a: np.ndarray) -> float:
        """The cost with row i of A_l changed by delta_a, through the remaining layers in full."""
        A = self.A[l].copy()
        A[i] += delta_a
        for k in range(l + 1, self.L):
            A = np.maximum(self.W[k] @ A + self.b[k], 0.0) * self.dropout.get(k, 1.0)
        Z = self.W[self.L] @ A + self.b[self.L]
        return float(loss_from_logits(Z, self.Y, self.form).sum() / self.m)
