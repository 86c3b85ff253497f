"""Gradient checks as test assertions, and the pytest plugin.

In a test::

    from verifier.testing import assert_gradients_ok

    def test_my_layer():
        assert_gradients_ok(cost, grad, params)

or, with the plugin that installing the package registers (entry point ``pytest11``), the
``gradient_check`` fixture::

    def test_my_layer(gradient_check):
        gradient_check(cost, grad, params)

A failure raises :class:`AssertionError` whose message is the report's table and findings:
which tensor, which elements, what kind of bug. Plain assertions: they work from unittest
and scripts as well, without pytest; under pytest the library's own frames are hidden
from the failure.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .api import check, check_network
from .report import Report


def assert_gradients_ok(
    cost: Callable[[Any], Any], grad: Callable[[Any], Any], params: Any, **options: Any
) -> Report:
    """Check ``grad`` against ``cost`` at ``params`` (see :func:`verifier.check`); raise unless it passes.

    Returns
    -------
    Report
        The passing report.

    Raises
    ------
    AssertionError
        The check failed or was inconclusive; the message is the full report.
    """
    __tracebackhide__ = True  # pytest shows the caller's line, not the library's frames
    return _assert(check(cost, grad, params, **options))


def assert_network_ok(net: Any, params: Any, X: Any, Y: Any, **options: Any) -> Report:
    """:func:`verifier.check_network` as an assertion (see :func:`assert_gradients_ok`)."""
    __tracebackhide__ = True
    return _assert(check_network(net, params, X, Y, **options))


def _assert(report: Report) -> Report:
    __tracebackhide__ = True
    if not report.ok:
        raise AssertionError(f"gradient check {report.status}\n{report}")
    return report
