# Henry: a test block left at the top level that ends the script
import sys

import numpy as np


def backward_propagation_n(X, Y, cache):
    return {}


sys.exit(3)
