"""A wide centred stencil that crossed a kink, told from one that saw round-off: the confirmation
step of :func:`verifier.estimators.centered._confirm_disagreements` must not raise the cost's
noise level for a ReLU input a few steps from 0."""

from __future__ import annotations

from typing import Any

import numpy as np


def kink_crossed(stencil: Any, indices: np.ndarray, X: np.ndarray, F: np.ndarray) -> np.ndarray:
    """Where a wide five-point stencil (offsets ``X``, costs ``F``, rows -2H ... 2H) crossed a
    single change of slope rather than round-off: extended to +-3H and +-4H (four evaluations
    per element), the slopes on one side of the kink agree with each other and those beyond it
    with each other, and the two sides differ by far more than either side's spread (with
    round-off every slope moves; a staircase's flat treads give one slope on both sides).
    """
    H = X[3]
    Xo = np.stack([-4 * H, -3 * H, np.zeros_like(H), 3 * H, 4 * H])
    Fo = stencil(indices, Xo)
    F = np.concatenate([Fo[:2], F, Fo[3:]])  # costs at -4H ... 4H, nine rows
    with np.errstate(invalid="ignore", divide="ignore"):
        s = (F[1:] - F[:-1]) / H  # eight slopes, segments (-4, -3) ... (3, 4)
        out = np.zeros(H.size, dtype=bool)
        for old, new in ((s[:4], s[6:]), (s[4:], s[:2])):  # kink in (0, 2H), then in (-2H, 0)
            spread = np.ptp(old, axis=0) + np.ptp(new, axis=0)
            jump = np.abs(np.mean(new, axis=0) - np.mean(old, axis=0))
            out |= np.isfinite(jump) & (jump > 8 * spread)
    return out
