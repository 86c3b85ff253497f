# Ivan: unpacks the cache wrongly, so his backward raises
import numpy as np


def backward_propagation_n(X, Y, cache):
    (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3) = cache
    return {"dW1": np.zeros_like(W1)}
