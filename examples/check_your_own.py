"""Check a hand-written gradient of your own function, and get autograd's reference gradients."""

import autograd.numpy as anp
import numpy as np

import verifier


def cost(p):
    return anp.sum(anp.tanh(p["W"] @ p["x"]) ** 2)


def grad(p):
    d = 2 * np.tanh(p["W"] @ p["x"]) * (1 - np.tanh(p["W"] @ p["x"]) ** 2)
    return {"W": np.outer(d, p["x"]), "x": p["W"].T @ d}


def grad_with_a_slip(p):
    good = grad(p)
    return {"W": good["W"].T, "x": good["x"]}  # the transpose keeps the shape: a classic


if __name__ == "__main__":
    params = {"W": np.array([[0.5, -1.0], [2.0, 0.3]]), "x": np.array([0.7, -0.2])}
    print(verifier.check(cost, grad, params), end="\n\n")
    print(verifier.check(cost, grad_with_a_slip, params), end="\n\n")
    print("autograd's gradient:", verifier.reference_gradients(cost, params))
