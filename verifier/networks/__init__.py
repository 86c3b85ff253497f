"""Built-in networks: cost in autograd.numpy, backward by hand in numpy, one interface."""

from .base import Network
from .deep_relu import DeepReLU
from .dropout import DropoutDeepReLU
from .scalar import Scalar
from .xor import XORNet

__all__ = ["DeepReLU", "DropoutDeepReLU", "Network", "Scalar", "XORNet"]
