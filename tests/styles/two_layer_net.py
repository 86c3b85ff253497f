"""The convolutional-networks course's model: ``self.params`` a dict, ``loss(X, y)`` returning
``loss, grads`` with ``grads`` keyed like ``params`` (examples in rows)."""

import numpy as np


class TwoLayerNet:
    def __init__(self, input_size, hidden_size, output_size, std=1e-1, rng=None, slip=None):
        rng = np.random.default_rng(0) if rng is None else rng
        self.params = {}
        self.params["W1"] = std * rng.standard_normal((input_size, hidden_size))
        self.params["b1"] = std * rng.standard_normal(hidden_size)
        self.params["W2"] = std * rng.standard_normal((hidden_size, output_size))
        self.params["b2"] = std * rng.standard_normal(output_size)
        self.slip = slip

    def loss(self, X, y=None, reg=0.05):
        W1, b1 = self.params["W1"], self.params["b1"]
        W2, b2 = self.params["W2"], self.params["b2"]
        N, D = X.shape
        h1 = np.maximum(0, X.dot(W1) + b1)
        scores = h1.dot(W2) + b2
        if y is None:
            return scores
        shifted = scores - np.max(scores, axis=1, keepdims=True)
        exp_scores = np.exp(shifted)
        probs = exp_scores / np.sum(exp_scores, axis=1, keepdims=True)
        loss = -np.sum(np.log(probs[np.arange(N), y])) / N
        loss += reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
        grads = {}
        dscores = probs.copy()
        dscores[np.arange(N), y] -= 1
        if self.slip != "not divided by N":
            dscores /= N
        grads["W2"] = h1.T.dot(dscores) + 2 * reg * W2
        grads["b2"] = np.sum(dscores, axis=0)
        dh1 = dscores.dot(W2.T)
        if self.slip == "relu derivative":
            dh1[h1 < 0] = 0
            dh1 = dh1 * h1
        else:
            dh1[h1 <= 0] = 0
        grads["W1"] = X.T.dot(dh1) + 2 * reg * W1
        grads["b1"] = np.sum(dh1, axis=0)
        return loss, grads
