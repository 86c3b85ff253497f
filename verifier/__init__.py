"""backprop-verifier: is your hand-written backprop right, and if not, where and why.

The public surface:

* :func:`check` — check ``grad(params)`` against ``cost(params)`` three ways;
* :func:`check_network` — the same for a network object (``cost``/``backward``);
* :func:`reference_gradients` — autograd's gradient of a cost, in your container;
* :class:`Report` — the result (``status``, ``ok``, tables, JSON);
* :mod:`verifier.networks` — the seeds' networks with hand-written backprop.
"""

from . import networks
from .errors import CostError, InputError, NonDeterministicCostWarning, PrecisionWarning, ReferenceUnavailable
from .estimators.autograd_ref import reference_gradients
from .harness import check, check_network
from .monitor import GradientCheckFailed, GradientMonitor
from .reference import load_reference
from .report import Report

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
    "check_network",
    "load_reference",
    "networks",
    "reference_gradients",
]
__version__ = "0.1.0"
