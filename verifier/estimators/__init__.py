"""One module per gradient source; each returns an :class:`~verifier.estimators.base.Estimate`."""

from .autograd_ref import autograd_ref, reference_gradients
from .base import Estimate
from .centered import centered
from .scipy_fd import scipy_fd

__all__ = ["Estimate", "autograd_ref", "centered", "reference_gradients", "scipy_fd"]
