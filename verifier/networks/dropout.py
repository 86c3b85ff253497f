"""The notebook's network with inverted dropout on its hidden layers: checkable once the masks are replayed.

The notebook ends by asking why gradient checking "cannot be used with dropout". The
answer: a finite difference compares the cost at two points, and if the dropout mask is
drawn afresh at every evaluation, the two costs belong to two different networks. Their
difference measures the change of mask, not the slope. Replaying the random state (the
same masks at every evaluation, in the cost and in the backward pass) makes the cost a
deterministic function of the parameters again, and the check meaningful.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .. import validate
from ..errors import InputError
from .deep_relu import DeepReLU


class DropoutDeepReLU(DeepReLU):
    """:class:`DeepReLU` with inverted dropout on every hidden layer.

    Parameters
    ----------
    layer_dims : sequence of int, default (4, 5, 3, 1)
    keep_prob : float, default 0.8
        Probability of keeping a hidden unit; kept activations are divided by it.
    seed : int, default 0
        Seeds the masks.
    replay : bool, default True
        True: every evaluation (cost or backward) draws its masks from a fresh
        ``numpy.random.default_rng(seed)``, so all of them see the same masks: the
        random state is replayed and the cost is deterministic. False: one generator
        advances at every evaluation, as during training, so no two evaluations share
        a mask, and a gradient check of it is meaningless (``verifier.check`` detects
        this and says so).
    cost_form : {"stable", "notebook"}, default "stable"
    """

    def __init__(
        self,
        layer_dims: Any = (4, 5, 3, 1),
        *,
        keep_prob: float = 0.8,
        seed: int = 0,
        replay: bool = True,
        cost_form: str = "stable",
    ) -> None:
        super().__init__(layer_dims, cost_form=cost_form)
        if not (isinstance(keep_prob, (int, float)) and 0 < keep_prob <= 1):
            raise InputError(f"`keep_prob`: expected a number in (0, 1], got {keep_prob!r}.")
        self.keep_prob = float(keep_prob)
        self.seed = validate.seed(seed)
        self.replay = bool(validate.flag(replay, "replay"))
        self._rng = np.random.default_rng(seed)  # advanced per evaluation only when replay is False

    def __repr__(self) -> str:
        mode = "replayed masks" if self.replay else "masks redrawn per evaluation"
        return f"DropoutDeepReLU({list(self.layer_dims)}, keep_prob={self.keep_prob}, {mode})"

    def hidden_masks(self, m: int) -> list[np.ndarray]:
        """One mask per hidden layer, shape ``(n_l, m)``: 0 or ``1 / keep_prob``."""
        rng = np.random.default_rng(self.seed) if self.replay else self._rng
        return [(rng.random((n, m)) < self.keep_prob) / self.keep_prob for n in self.layer_dims[1:-1]]


def _mask_missing(net: DropoutDeepReLU) -> Callable[..., dict[str, np.ndarray]]:
    def backward(params: dict[str, np.ndarray], X: np.ndarray, Y: np.ndarray) -> dict[str, np.ndarray]:
        return net.backward_with(params, X, Y, net.hidden_masks(X.shape[1]), None)

    return backward


def _rescale_missing(net: DropoutDeepReLU) -> Callable[..., dict[str, np.ndarray]]:
    def backward(params: dict[str, np.ndarray], X: np.ndarray, Y: np.ndarray) -> dict[str, np.ndarray]:
        masks = net.hidden_masks(X.shape[1])
        return net.backward_with(params, X, Y, masks, [mk * net.keep_prob for mk in masks])

    return backward


#: Dropout backprop slips: name -> (make a buggy backward for a network, tensors it breaks).
DROPOUT_BUGS: dict[str, tuple[Callable[[DropoutDeepReLU], Callable[..., Any]], str]] = {
    "mask not applied in backward": (_mask_missing, "every tensor below the last hidden layer"),
    "1/keep_prob missing in backward": (_rescale_missing, "every tensor below the last hidden layer"),
}
