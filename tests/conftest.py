"""Shared fixtures; hypothesis runs under a deterministic profile so CI is reproducible."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "deterministic",
    derandomize=True,
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("deterministic")

#: Relative spread of a seed figure that BLAS summation order can cause. The notebook's
#: procedure divides cost differences by 2 * 1e-7: each cost carries ~eps * |J| of round-off
#: that the order of a dot product's sums moves, so each gradapprox entry moves by up to
#: ~eps * |J| / 1e-7, about 1e-9 relative. Seen: ...623 (printed), ...624 (AMD, newest
#: OpenBLAS), ...0699 (another OpenBLAS core type: 1.6e-11 relative).
SUMMATION_RTOL = 1e-8


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)
