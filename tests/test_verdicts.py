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


def test_the_rule_runs_in_chunks_with_the_same_verdicts(monkeypatch):
    """compare (and the per-tensor summaries) work CHUNK_ELEMENTS at a time: with chunks of 7
    elements every verdict, every method's agreement and the summaries are those of one pass,
    on correct draws, slipped ones and a non-finite hand-written value."""
    from verifier.core import params as params_module

    rng = np.random.default_rng(11)
    for draw in range(24):
        net, params, X, Y = _deep_relu_draw(rng)
        slip = draw % 3

        def backward(p, X, Y, net=net, slip=slip):
            grads = {k: np.array(v, dtype=np.float64) for k, v in net.backward(p, X, Y).items()}
            if slip == 1:
                grads["W1"].flat[-1] *= 1.01
            elif slip == 2:
                grads["b1"].flat[0] = np.nan
            return grads

        runs = []
        for chunk in (65_536, 7):
            monkeypatch.setattr(params_module, "CHUNK_ELEMENTS", chunk)
            try:
                runs.append(check_network(net, params, X, Y, backward=backward))
            except CostError:
                break
        if len(runs) < 2:
            continue
        whole, chunked = runs
        assert whole.status == chunked.status
        np.testing.assert_array_equal(whole.elements["verdict_code"], chunked.elements["verdict_code"])
        for key in whole.elements:
            if key.startswith("odd_"):
                np.testing.assert_array_equal(whole.elements[key], chunked.elements[key])
        for a, b in zip(whole.tensors, chunked.tensors, strict=True):
            assert a.counts == b.counts
            np.testing.assert_allclose(list(a.rel_error.values()), list(b.rel_error.values()), rtol=1e-9)
        if slip == 2:  # the non-finite element is wrong, and the others still get their verdicts
            assert whole.status == "fail" and sum(t.counts["wrong"] for t in whole.tensors) == 1
