"""The pytest plugin (entry point ``pytest11``): provides the ``gradient_check`` fixture."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from .report import Report
from .testing import assert_gradients_ok

__all__ = ["gradient_check"]


@pytest.fixture
def gradient_check() -> Callable[..., Report]:
    """:func:`verifier.testing.assert_gradients_ok` as a fixture.

    ``gradient_check(cost, grad, params, **options)`` raises an ``AssertionError`` carrying
    the report unless the check passes.
    """
    return assert_gradients_ok
