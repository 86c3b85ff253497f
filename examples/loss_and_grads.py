"""Code that returns its loss and its gradients from one call: a model's
``loss(X, y) -> loss, grads`` keyed like ``self.params``, and a function ``-> grads, loss``.

Run: python examples/loss_and_grads.py
"""

import numpy as np

import verifier


class TwoLayerNet:
    def __init__(self, input_size, hidden_size, output_size, rng):
        self.params = {
            "W1": 0.5 * rng.standard_normal((input_size, hidden_size)),
            "b1": np.zeros(hidden_size),
            "W2": 0.5 * rng.standard_normal((hidden_size, output_size)),
            "b2": np.zeros(output_size),
        }

    def loss(self, X, y):
        W1, b1, W2, b2 = self.params["W1"], self.params["b1"], self.params["W2"], self.params["b2"]
        N = X.shape[0]
        h1 = np.maximum(0, X.dot(W1) + b1)
        scores = h1.dot(W2) + b2
        probs = np.exp(scores - np.max(scores, axis=1, keepdims=True))
        probs /= np.sum(probs, axis=1, keepdims=True)
        loss = -np.sum(np.log(probs[np.arange(N), y])) / N
        dscores = probs.copy()
        dscores[np.arange(N), y] -= 1
        dscores /= N
        grads = {"W2": h1.T.dot(dscores), "b2": np.sum(dscores, axis=0)}
        dh1 = dscores.dot(W2.T)
        dh1[h1 <= 0] = 0
        grads["W1"], grads["b1"] = X.T.dot(dh1), np.sum(dh1, axis=0)
        return loss, grads


def tanh_regression(params, X, y):
    """One function, forward and backward: returns its gradients first, as some CNN code does."""
    pred = np.tanh(X @ params["w"])
    loss = np.mean((pred - y) ** 2)
    dpred = 2 * (pred - y) / len(y)
    return {"w": X.T @ (dpred * (1 - pred**2))}, loss


rng = np.random.default_rng(2)
X, y = rng.standard_normal((20, 4)), rng.integers(0, 3, 20)
model = TwoLayerNet(4, 6, 3, rng)

if __name__ == "__main__":
    report = verifier.check_objects(lambda: model.loss(X, y), None, model)
    print(f"model.loss(X, y): {report.status}; tensors {', '.join(t.name for t in report.tensors)}")
    w = {"w": rng.standard_normal(4)}
    report = verifier.check(lambda p: tanh_regression(p, X, np.tanh(X[:, 0])), None, w)
    print(
        f"(grads, loss) function: {report.status}; autograd available: {report.methods['autograd'].available}"
    )
