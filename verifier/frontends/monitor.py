"""Checks during training: a cheap check every N iterations, its history, and a raise or a warning.

The notebook's advice is to check once every 100 or 1000 iterations, because a full check
is slow. :class:`GradientMonitor` is called by the training loop at every iteration and
runs :func:`verifier.check` (the fast mode by default: a few cost evaluations) every
``every`` iterations.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .. import validate
from ..api import CHECK_OPTIONS, check
from ..errors import InputError
from ..report import Report


class GradientCheckFailed(AssertionError):
    """A check during training failed; ``report`` says where and why."""

    def __init__(self, iteration: int, report: Report) -> None:
        super().__init__(f"gradient check failed at iteration {iteration}\n{report}")
        self.iteration, self.report = iteration, report


class GradientCheckWarning(UserWarning):
    """A check during training failed (``on_failure="warn"``)."""


@dataclass
class MonitorEntry:
    """One check made during training."""

    iteration: int
    status: str
    wrong_tensors: list[str]


@dataclass
class GradientMonitor:
    """Call it with ``(iteration, params)`` at every iteration; it checks every ``every``.

    Parameters
    ----------
    cost, grad : callable
        As for :func:`verifier.check`, of the parameters alone (bind the data).
    every : int
        Check at iterations 0, every, 2 * every, ...
    on_failure : {"raise", "warn"}
        Raise :class:`GradientCheckFailed` at the first failure, or warn and go on.
    options : dict
        Passed to :func:`verifier.check`; default ``{"mode": "fast"}``.

    Attributes
    ----------
    history : list of MonitorEntry
    """

    cost: Callable[[Any], Any]
    grad: Callable[[Any], Any]
    every: int = 100
    on_failure: str = "raise"
    options: dict[str, Any] = field(default_factory=lambda: {"mode": "fast"})
    history: list[MonitorEntry] = field(default_factory=list)

    def __post_init__(self) -> None:
        validate.callable_(self.cost, "cost", "(params) -> float")
        validate.callable_(self.grad, "grad", "(params) -> gradients like params")
        self.every = validate.integer(self.every, "every", minimum=1)
        validate.choice(self.on_failure, "on_failure", ("raise", "warn"))
        if not isinstance(self.options, dict):
            raise InputError(
                f"`options`: expected a dict of check() options, got {validate.shown(self.options)}."
            )
        unknown = sorted(set(self.options) - CHECK_OPTIONS - {"points", "seed"})
        if unknown:
            raise InputError(
                f"`options`: unknown check() options {unknown}; expected among"
                f" {sorted(CHECK_OPTIONS | {'points', 'seed'})}."
            )

    def __call__(self, iteration: int, params: Any) -> Report | None:
        """Check at this iteration if it is due; return the report (None when not due)."""
        iteration = validate.integer(iteration, "iteration", minimum=0)
        if iteration % self.every:
            return None
        report = check(self.cost, self.grad, params, **{"seed": iteration, **self.options})
        self.history.append(MonitorEntry(iteration, report.status, report.wrong_tensors))
        if report.status == "fail":
            if self.on_failure == "raise":
                raise GradientCheckFailed(iteration, report)
            warnings.warn(
                f"gradient check failed at iteration {iteration}: wrong {', '.join(report.wrong_tensors)}",
                GradientCheckWarning,
                stacklevel=2,
            )
        return report
