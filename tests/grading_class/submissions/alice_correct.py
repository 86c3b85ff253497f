# Alice: a correct backward, written her own way (a helper for each layer)
import numpy as np


def linear_backward(dZ, A_prev, m):
    dW = np.dot(dZ, A_prev.T) / m
    db = np.sum(dZ, axis=1, keepdims=True) / m
    return dW, db


def backward_propagation_n(X, Y, cache):
    m = X.shape[1]
    (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3) = cache
    gradients = {}
    dZ3 = A3 - Y
    gradients["dW3"], gradients["db3"] = linear_backward(dZ3, A2, m)
    dZ2 = np.dot(W3.T, dZ3) * (A2 > 0)
    gradients["dW2"], gradients["db2"] = linear_backward(dZ2, A1, m)
    dZ1 = np.dot(W2.T, dZ2) * (A1 > 0)
    gradients["dW1"], gradients["db1"] = linear_backward(dZ1, X, m)
    print("backward done")
    return gradients
