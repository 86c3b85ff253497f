"""The notebook's 1-D example: J(theta) = theta * x."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import validate
from .base import Network


class Scalar(Network):
    """``J(theta) = theta * x``; its derivative is ``x``.

    Parameters
    ----------
    x : float, default 2.0
        The input (the notebook uses ``x = 2``, ``theta = 4``).

    Notes
    -----
    ``params`` is a 0-d float array ``theta``. ``X`` overrides ``x`` when not None; ``Y`` is unused.
    """

    loss = "linear"

    def __init__(self, x: float = 2.0) -> None:
        self.x = validate.real(x, "x")

    def __repr__(self) -> str:
        return f"Scalar(x={self.x})"

    def init_params(self, rng: np.random.Generator) -> np.ndarray:
        """A standard-normal ``theta`` as a 0-d array."""
        return np.asarray(validate.generator(rng).standard_normal())

    def example_data(self, rng: np.random.Generator | None = None, m: Any = None) -> tuple[np.ndarray, None]:
        """``(x, None)``."""
        return np.asarray(self.x), None

    def cost(self, params: Any, X: Any = None, Y: Any = None) -> Any:
        """``theta * x``."""
        return params * (self.x if X is None else X)

    def backward(self, params: Any, X: Any = None, Y: Any = None) -> np.ndarray:
        """``dJ/dtheta = x``, shaped like ``theta``."""
        return np.full(np.shape(params), self.x if X is None else X, dtype=np.float64)
