"""Verdicts must be right: no false alarm on correct backprop (planted bugs: test_mutations.py)."""

from __future__ import annotations

import numpy as np

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
