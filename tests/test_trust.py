"""Trust, third pass (issue 22): each case reproduced as a user writes it."""

from __future__ import annotations

import warnings

import autograd.numpy as anp
import numpy as np
import pytest

from verifier import check, check_network
from verifier.networks import DeepReLU


def _saturated_logistic(seed: int, scale: float):
    """Logistic regression, the notebook's cross-entropy, autograd.numpy, returned through float()."""
    rng = np.random.default_rng(seed)
    n, m = 5, 8
    X = rng.standard_normal((n, m))
    Y = (rng.random((1, m)) < 0.5).astype(float)
    params = {"w": rng.standard_normal((1, n)) * scale, "b": rng.standard_normal((1, 1))}

    def cost(p):
        A = 1 / (1 + anp.exp(-(anp.dot(p["w"], X) + p["b"])))
        return float(-anp.sum(Y * anp.log(A) + (1 - Y) * anp.log(1 - A)) / m)

    def grad(p):
        A = 1 / (1 + np.exp(-(np.dot(p["w"], X) + p["b"])))
        dZ = (A - Y) / m
        return {"w": np.dot(dZ, X.T), "b": np.sum(dZ, axis=1, keepdims=True)}

    return cost, grad, params


@pytest.mark.parametrize(("seed", "scale"), [(26, 4.0), (8, 6.0), (33, 8.0)])
def test_case1_saturated_cost_through_float_is_no_false_alarm(seed, scale):
    # the cost is flat over a step where log(1 - A) keeps no digits: centred and SciPy
    # differences must not outvote an autograd that agrees with backprop
    cost, grad, params = _saturated_logistic(seed, scale)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = check(cost, grad, params, seed=seed)
    assert report.status != "fail", str(report)


def test_case1_a_real_slip_in_a_saturated_cost_is_still_caught():
    cost, grad, params = _saturated_logistic(3, 2.0)

    def wrong(p):
        out = grad(p)
        return {"w": 2 * out["w"], "b": out["b"]}

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = check(cost, wrong, params, seed=3)
    assert report.status == "fail" and "w" in report.wrong_tensors


def test_case2_fast_mode_on_the_builtin_network_notebook_cost_is_no_false_alarm():
    net = DeepReLU([5, 10, 10, 1])
    rng = np.random.default_rng(98)
    params = net.init_params(rng, scale=1.0)
    X, Y = net.example_data(rng, m=8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = check_network(net, params, X, Y, mode="fast")
        assert report.status != "fail", str(report)
        # a training loop's monitor (fast mode) does not raise on it either
        from verifier.frontends.monitor import GradientMonitor

        monitor = GradientMonitor(lambda p: net.cost(p, X, Y), lambda p: net.backward(p, X, Y), every=1)
        for iteration in range(3):
            monitor(iteration, params)
    assert all(entry.status != "fail" for entry in monitor.history)


def test_case6_an_exception_on_the_trace_is_reported_not_swallowed():
    calls = {"n": 0}

    def cost(p):
        calls["n"] += 1
        if calls["n"] == 3:  # the call that starts autograd's trace
            raise RuntimeError("lazy table not ready")
        return float(np.sum(p["w"] ** 2))

    def grad(p):
        return {"w": 2 * p["w"]}

    with pytest.warns(UserWarning, match="lazy table not ready"):
        report = check(cost, grad, {"w": np.array([0.3, -1.2])})
    retried = [f for f in report.findings if f.pattern == "retried"]
    assert retried and "RuntimeError" in retried[0].message
    assert "test_trust.py:" in retried[0].message  # their file and line


@pytest.mark.parametrize(
    ("stencil", "said"),
    [(lambda idx, steps: 1.0, "a scalar"), (lambda idx, steps: np.zeros(3), "shape (3,)")],
)
def test_case7_a_malformed_stencil_gets_the_librarys_error(stencil, said):
    from verifier.errors import InputError

    with pytest.raises(InputError, match=r"`stencil\(indices, steps\)`.*steps' shape") as info:
        check(
            lambda p: float(np.sum(p["w"] ** 2)),
            lambda p: {"w": 2 * p["w"]},
            {"w": np.ones(2)},
            stencil=stencil,
        )
    assert said in str(info.value)


def _truncated_series_pair():
    """A cost with exp, and a gradient whose exp is a truncated Taylor series (off by ~3e-6)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3, 6)) * 0.4
    params = {"W": rng.standard_normal((2, 3)) * 0.5}

    def cost(p):
        return anp.sum(anp.exp(anp.dot(p["W"], X)))

    def exp_series(z, terms=6):
        out, term = np.ones_like(z), np.ones_like(z)
        for k in range(1, terms):
            term = term * z / k
            out = out + term
        return out

    def grad(p):
        return {"W": exp_series(p["W"] @ X) @ X.T}

    return cost, grad, params


def test_case9_a_small_discrepancy_prints_digits_that_differ_and_says_what_it_is_typical_of():
    cost, grad, params = _truncated_series_pair()
    report = check(cost, grad, params)
    assert report.status == "fail"
    text = next(f.message for f in report.findings if f.kind == "bug")
    worst = text.split("backprop ", 1)[1]
    shown_g, shown_r = worst.split(", reference ")
    assert shown_g != shown_r.split(" ")[0]
    assert "typical of approximate gradients" in text and "rtol=" in text


def test_case9_rtol_accepts_an_approximate_gradient_and_says_so():
    cost, grad, params = _truncated_series_pair()
    report = check(cost, grad, params, rtol=1e-5)
    assert report.status == "pass"
    assert any(f.pattern == "accepted" for f in report.findings)
    # a real slip is still caught under the accepted tolerance
    slipped = check(cost, lambda p: {"W": 1.01 * grad(p)["W"]}, params, rtol=1e-5)
    assert slipped.status == "fail"


def test_case9_rtol_atol_bad_values_name_the_argument():
    from verifier.errors import InputError

    cost, grad, params = _truncated_series_pair()
    with pytest.raises(InputError, match="`rtol`"):
        check(cost, grad, params, rtol=-1.0)
    with pytest.raises(InputError, match="`atol`"):
        check(cost, grad, params, atol="big")


def _bias_before_batchnorm(seed: int, slip: bool = False):
    """A layer whose bias feeds a batch normalisation (its true gradient is exactly zero),
    db1 accumulated example by example into an ``np.zeros`` buffer, as students write it."""
    rng = np.random.default_rng(seed)
    n, h, m = 3, 4, 6
    X, Y = rng.standard_normal((n, m)), rng.standard_normal((1, m))
    params = {
        "W1": rng.standard_normal((h, n)),
        "b1": rng.standard_normal((h, 1)),
        "W2": rng.standard_normal((1, h)),
        "b2": rng.standard_normal((1, 1)),
    }

    def cost(p):
        Z1 = anp.dot(p["W1"], X) + p["b1"]
        mu = anp.mean(Z1, axis=1, keepdims=True)
        Zn = (Z1 - mu) / anp.sqrt(anp.mean((Z1 - mu) ** 2, axis=1, keepdims=True) + 1e-5)
        Z2 = anp.dot(p["W2"], anp.tanh(Zn)) + p["b2"]
        return anp.sum((Z2 - Y) ** 2) / (2 * m)

    def grad(p):
        Z1 = p["W1"] @ X + p["b1"]
        mu = Z1.mean(axis=1, keepdims=True)
        std = np.sqrt(((Z1 - mu) ** 2).mean(axis=1, keepdims=True) + 1e-5)
        Zn = (Z1 - mu) / std
        A1 = np.tanh(Zn)
        dZ2 = (p["W2"] @ A1 + p["b2"] - Y) / m
        dZn = (p["W2"].T @ dZ2) * (1 - A1**2)
        dZ1 = (dZn - dZn.mean(axis=1, keepdims=True) - Zn * (dZn * Zn).mean(axis=1, keepdims=True)) / std
        db1 = np.zeros((h, 1))
        for j in range(m):
            db1[:, 0] += (dZn / std)[:, j] if slip else dZ1[:, j]
        return {"W1": dZ1 @ X.T, "b1": db1, "W2": dZ2 @ A1.T, "b2": dZ2.sum(axis=1, keepdims=True)}

    return cost, grad, params


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_case4_a_zero_gradient_is_certified_zero_within_its_sums_round_off(seed):
    cost, grad, params = _bias_before_batchnorm(seed)
    report = check(cost, grad, params, seed=seed)
    assert report.status == "pass", str(report)
    slipped = check(cost, _bias_before_batchnorm(seed, slip=True)[1], params, seed=seed)
    assert slipped.status == "fail" and slipped.wrong_tensors == ["b1"]


def _relu_at_zero_mlp(seed: int):
    """An MLP on integer data with zero biases: pre-activations exactly 0 in several examples,
    a cost the complex step evaluates (no float()), autograd left out by ``methods``."""
    rng = np.random.default_rng(seed)
    n, h, m = 3, 5, 8
    X = rng.integers(-1, 2, (n, m)).astype(float)
    Y = rng.standard_normal((1, m))
    params = {
        "W1": rng.integers(-1, 2, (h, n)).astype(float),
        "b1": np.zeros((h, 1)),
        "W2": rng.standard_normal((1, h)),
    }

    def cost(p):
        A1 = np.maximum(0, np.dot(p["W1"], X) + p["b1"])
        return np.sum((np.dot(p["W2"], A1) - Y) ** 2) / 2

    def grad(p):
        Z1 = np.dot(p["W1"], X) + p["b1"]
        A1 = np.maximum(0, Z1)
        dA2 = np.dot(p["W2"], A1) - Y
        dZ1 = np.dot(p["W2"].T, dA2) * (Z1 > 0)
        return {"W1": np.dot(dZ1, X.T), "b1": np.sum(dZ1, axis=1, keepdims=True), "W2": np.dot(dA2, A1.T)}

    return cost, grad, params


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_case5_one_sided_methods_at_a_kink_are_one_witness(seed):
    cost, grad, params = _relu_at_zero_mlp(seed)
    methods = ("centered", "scipy", "complex")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = check(cost, grad, params, methods=methods, seed=seed)
        assert report.status == "pass", str(report)
        wrong = check(
            cost, lambda p: {**grad(p), "W1": 1.01 * grad(p)["W1"]}, params, methods=methods, seed=seed
        )
    assert wrong.status == "fail" and "W1" in wrong.wrong_tensors


def _xor_with_one_element_off(seed: int, rel: float):
    from verifier.networks import XORNet

    net = XORNet()
    rng = np.random.default_rng(seed)
    params = net.init_params(rng)
    X, Y = net.example_data(rng)
    shapes = [a.size for a in net.backward(params, X, Y)]
    t = int(rng.integers(len(shapes)))
    i = int(rng.integers(shapes[t]))

    def back(p, X, Y):
        out = [np.array(a, dtype=float) for a in net.backward(p, X, Y)]
        out[t].reshape(-1)[i] *= 1 + rel
        return out

    return net, params, X, Y, back


@pytest.mark.parametrize("seed", [7, 11])
def test_case3_fast_mode_does_not_dilute_one_elements_error(seed):
    net, params, X, Y, back = _xor_with_one_element_off(seed, 1e-4)
    report = check_network(net, params, X, Y, backward=back, mode="fast", seed=seed)
    assert report.status == "fail", str(report)


def test_case3_a_fast_pass_says_what_it_certifies():
    net, params, X, Y, _ = _xor_with_one_element_off(0, 0.0)
    report = check_network(net, params, X, Y, mode="fast")
    assert report.status == "pass"
    note = next(f.message for f in report.findings if f.pattern == "certified")
    assert "any one element larger than" in note


def test_case9_cli_rtol_accepts_an_approximate_backward(tmp_path, capsys):
    import textwrap

    from verifier.frontends.cli import main

    module = tmp_path / "approx.py"
    module.write_text(
        textwrap.dedent(
            """
            import numpy as np

            def forward(X, Y, parameters):
                A = np.exp(parameters["W"] @ X)
                return float(np.sum(A)), (A, X)

            def backward(X, Y, cache):  # exp from five terms of its series
                A, X = cache
                Z = np.log(A)
                series = 1 + Z + Z**2 / 2 + Z**3 / 6 + Z**4 / 24 + Z**5 / 120
                return {"dW": series @ X.T}
            """
        )
    )
    rng = np.random.default_rng(0)
    data = tmp_path / "d.npz"
    np.savez(
        data, X=rng.standard_normal((3, 6)) * 0.4, Y=np.zeros((2, 6)), W=rng.standard_normal((2, 3)) * 0.5
    )
    target = f"{module}:forward,backward"
    assert main(["check", target, "--data", str(data), "--quiet"]) == 1
    assert "typical of approximate gradients" in capsys.readouterr().out
    assert main(["check", target, "--data", str(data), "--quiet", "--rtol", "1e-5"]) == 0
    assert "rtol=1e-05" in capsys.readouterr().out
