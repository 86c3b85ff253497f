"""A network written the way the notebook's readers write one (plain numpy, np.dot, helpers,
``float(cost)``, a notebook-style backward with ``dW``/``db`` keys), of any size, for the
benchmarks of the check on a user's own cost. Also a vectorised cost: the same network on a
stack of parameter sets (a leading batch axis), for ``check(..., vectorized=True)``."""

import numpy as np


def relu(x):
    return np.maximum(0, x)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def forward(X, Y, parameters):
    L = len(parameters) // 2
    A = X
    for l in range(1, L):
        A = relu(np.dot(parameters["W" + str(l)], A) + parameters["b" + str(l)])
    A = sigmoid(np.dot(parameters["W" + str(L)], A) + parameters["b" + str(L)])
    m = X.shape[1]
    logprobs = np.multiply(-np.log(A), Y) + np.multiply(-np.log(1 - A), 1 - Y)
    return float(1.0 / m * np.sum(logprobs))


def backward(X, Y, parameters):
    L = len(parameters) // 2
    m = X.shape[1]
    As, Zs = [X], []
    for l in range(1, L + 1):
        Z = np.dot(parameters["W" + str(l)], As[-1]) + parameters["b" + str(l)]
        Zs.append(Z)
        As.append(relu(Z) if l < L else sigmoid(Z))
    grads = {}
    dZ = As[-1] - Y
    for l in range(L, 0, -1):
        grads["dW" + str(l)] = 1.0 / m * np.dot(dZ, As[l - 1].T)
        grads["db" + str(l)] = 1.0 / m * np.sum(dZ, axis=1, keepdims=True)
        if l > 1:
            dZ = np.dot(parameters["W" + str(l)].T, dZ) * (Zs[l - 2] > 0)
    return grads


def forward_stacked(X, Y, parameters):
    """``forward`` on arrays with a leading batch axis: k costs for k parameter sets (and one
    cost for one set without it)."""
    if parameters["W1"].ndim == 2:
        return forward(X, Y, parameters)
    L = len(parameters) // 2
    A = X[None]
    for l in range(1, L):
        A = relu(np.matmul(parameters["W" + str(l)], A) + parameters["b" + str(l)])
    A = sigmoid(np.matmul(parameters["W" + str(L)], A) + parameters["b" + str(L)])
    m = X.shape[1]
    logprobs = np.multiply(-np.log(A), Y) + np.multiply(-np.log(1 - A), 1 - Y)
    return 1.0 / m * np.sum(logprobs, axis=(1, 2))


def make(dims, m, seed=0):
    """Parameters (He initialisation), inputs ``X`` (n_x, m) and 0/1 labels ``Y`` (1, m)."""
    rng = np.random.default_rng(seed)
    params = {}
    for l in range(1, len(dims)):
        params["W" + str(l)] = rng.standard_normal((dims[l], dims[l - 1])) * np.sqrt(2.0 / dims[l - 1])
        params["b" + str(l)] = 0.1 * rng.standard_normal((dims[l], 1))
    X = rng.standard_normal((dims[0], m))
    Y = (rng.random((1, m)) < 0.5).astype(float)
    return params, X, Y
