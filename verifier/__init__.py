"""backprop-verifier: is your hand-written backprop right, and if not, where and why.

The public surface:

* :func:`check` — check ``grad(params)`` against ``cost(params)`` three ways;
* :func:`check_network` — the same for a network object (``cost``/``backward``);
* :func:`check_layer` — a layer's ``backward(dout, cache)``, or a loss's ``(loss, dx)``;
* :func:`check_objects` — layer objects or a model that set their own gradients;
* :func:`reference_gradients` — autograd's gradient of a cost, in your container;
* :func:`grade` — a class's submissions graded against a reference, each in its own process;
* :class:`Report` — the result (``status``, ``ok``, tables, JSON);
* :mod:`verifier.networks` — the seeds' networks with hand-written backprop.

Names are imported on first use, so ``import verifier`` (and ``verifier --help``) does
not pay for numpy, scipy and autograd before they are needed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import CostError, InputError, NonDeterministicCostWarning, PrecisionWarning, ReferenceUnavailable

if TYPE_CHECKING:
    from . import networks
    from .api import check, check_network
    from .estimators.autograd_ref import reference_gradients
    from .frontends.grading.grader import grade
    from .frontends.layer_check import check_layer
    from .frontends.monitor import GradientCheckFailed, GradientMonitor
    from .frontends.objects import check_objects
    from .frontends.store import load_reference
    from .report import Report

#: Public name -> the module that defines it (a module itself when the name is the module's).
_LAZY = {
    "check": "api",
    "check_network": "api",
    "check_layer": "frontends.layer_check",
    "check_objects": "frontends.objects",
    "reference_gradients": "estimators.autograd_ref",
    "grade": "frontends.grading.grader",
    "GradientCheckFailed": "frontends.monitor",
    "GradientMonitor": "frontends.monitor",
    "load_reference": "frontends.store",
    "Report": "report",
    "networks": "networks",
}

__all__ = [
    "CostError",
    "GradientCheckFailed",
    "GradientMonitor",
    "InputError",
    "NonDeterministicCostWarning",
    "PrecisionWarning",
    "ReferenceUnavailable",
    "Report",
    "check",
    "check_layer",
    "check_network",
    "check_objects",
    "grade",
    "load_reference",
    "networks",
    "reference_gradients",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'verifier' has no attribute {name!r}")
    module = importlib.import_module(f".{_LAZY[name]}", __name__)
    value = module if _LAZY[name] == name else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
