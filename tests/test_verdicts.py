"""Verdicts must be right: no false alarms on correct backprop, every planted bug found and named."""

from __future__ import annotations

import numpy as np
import pytest

from verifier import CostError, check_network
from verifier.networks import DeepReLU, XORNet

DRAWS = 200


def _deep_relu_draw(rng: np.random.Generator):
    """Notebook-like draws with the hard cases mixed in: kinks, dead units, saturation, ties."""
    dims = [int(rng.integers(1, 7)) for _ in range(int(rng.integers(2, 5)))] + [1]
    net = DeepReLU(dims, cost_form=str(rng.choice(["notebook", "stable"])))
    params = net.init_params(rng, scale=float(rng.choice([1.0, 2.0])) if rng.random() < 0.7 else "he")
    X, Y = net.example_data(rng, m=int(rng.integers(1, 9)))
    kind = rng.integers(0, 4)
    if kind == 1 and net.n_layers > 1:  # a pre-activation within 1e-8 of a ReLU kink
        Z = params["W1"] @ X + params["b1"]
        j, k = rng.integers(0, Z.shape[0]), rng.integers(0, Z.shape[1])
        params["b1"][j, 0] -= Z[j, k] + rng.uniform(-1e-8, 1e-8)
    elif kind == 2:  # saturate the sigmoid
        params[f"W{net.n_layers}"] *= rng.uniform(2, 6)
    elif kind == 3 and net.n_layers > 1:  # exact ties: zero biases and an all-zero example
        params["b1"][:] = 0.0
        X[:, 0] = 0.0
    return net, params, X, Y


def test_no_false_alarm_on_correct_deep_relu():
    rng = np.random.default_rng(2026)
    outcomes = {"pass": 0, "fail": 0, "inconclusive": 0, "infinite cost": 0}
    for _ in range(DRAWS):
        net, params, X, Y = _deep_relu_draw(rng)
        try:
            report = check_network(net, params, X, Y)
        except CostError:
            outcomes["infinite cost"] += 1
            continue
        assert report.status != "fail", str(report)
        outcomes[report.status] += 1
    assert outcomes["pass"] >= 0.9 * DRAWS, outcomes


def test_no_false_alarm_on_correct_xor():
    rng = np.random.default_rng(7)
    for _ in range(DRAWS):
        layers = [int(rng.integers(1, 6)) for _ in range(int(rng.integers(2, 5)))]
        net = XORNet(layers)
        params = net.init_params(rng, low=-4.0, high=4.0)
        X, y = net.example_data(rng, m=int(rng.integers(1, 9)))
        report = check_network(net, params, X, y)
        assert report.ok, str(report)


def _mutant(net, change):
    def backward(params, X, Y):
        grads = {k: np.array(v, copy=True) for k, v in net.backward(params, X, Y).items()}
        change(grads, params, X, Y)
        return grads

    return backward


def _first_layer_mask_from_layer_two(grads, params, X, Y):
    """dZ1 masked with the wrong layer's activations: redo layer 1 with a shifted mask."""
    net = DeepReLU([4, 3, 3, 1])
    cache = net.forward_cache(params, X)
    m = X.shape[1]
    dZ = cache[-1][1] - Y
    dA2 = params["W3"].T @ dZ
    dZ2 = dA2 * (cache[1][0] > 0)
    dA1 = params["W2"].T @ dZ2
    dZ1 = dA1 * (cache[1][0] > 0)  # should be cache[0][0]
    grads["W1"] = dZ1 @ X.T / m
    grads["b1"] = dZ1.sum(axis=1, keepdims=True) / m


MUTANTS = [
    ("W1 doubled", lambda g, *a: g.__setitem__("W1", 2 * g["W1"]), {"W1"}, "scale"),
    ("b2 sign flipped", lambda g, *a: g.__setitem__("b2", -g["b2"]), {"b2"}, "sign"),
    ("W2 transposed", lambda g, *a: g.__setitem__("W2", g["W2"].T.copy()), {"W2"}, "transpose"),
    ("W3 zeroed", lambda g, *a: g.__setitem__("W3", 0 * g["W3"]), {"W3"}, "zeros"),
    (
        "1/m missing everywhere",
        lambda g, p, X, Y: [g.__setitem__(k, v * X.shape[1]) for k, v in list(g.items())],
        {"W1", "b1", "W2", "b2", "W3", "b3"},
        "scale",
    ),
    ("one element off", lambda g, *a: g["W1"].__setitem__((1, 2), g["W1"][1, 2] + 0.05), {"W1"}, "elements"),
    ("subtle 1e-4 relative on b3", lambda g, *a: g.__setitem__("b3", g["b3"] * (1 + 1e-4)), {"b3"}, "scale"),
    ("mask from the wrong layer", _first_layer_mask_from_layer_two, {"W1", "b1"}, None),
]


@pytest.mark.parametrize("name, change, wrong, pattern", MUTANTS, ids=[m[0] for m in MUTANTS])
def test_planted_bugs_are_found_and_attributed(name, change, wrong, pattern):
    net = DeepReLU([4, 3, 3, 1], cost_form="stable")
    rng = np.random.default_rng(11)
    for _ in range(20):  # a point where every unit is alive, so every bug is visible
        params = net.init_params(rng, scale=1.0)
        X, Y = net.example_data(rng, m=6)
        if all(np.all((Z > 0).any(axis=1)) for Z, _ in net.forward_cache(params, X)[:-1]):
            break
    report = check_network(net, params, X, Y, backward=_mutant(net, change))
    assert report.status == "fail", str(report)
    assert set(report.wrong_tensors) == wrong, str(report)
    if pattern:
        patterns = {f.tensor: f.pattern for f in report.findings if f.kind == "bug" and f.tensor}
        assert all(patterns[t] == pattern for t in wrong), patterns
