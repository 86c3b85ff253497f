"""The pytest plugin (entry point ``pytest11``): provides the ``gradient_check`` fixture."""

from .testing import gradient_check

__all__ = ["gradient_check"]
