"""The harness: attribution on constructed cases, the seeds' bugs, no mutation, and bad input."""

from __future__ import annotations

import json
import math
import warnings

import autograd.numpy as anp
import numpy as np
import pytest
from autograd.extend import defvjp, primitive

import verifier
from verifier import CostError, InputError, PrecisionWarning, check, check_network
from verifier.frontends import published as seeds
from verifier.networks import DeepReLU, XORNet


def _relu_cost(p):
    return anp.sum(3.0 * anp.where(p["w"] > 0, p["w"], 0.0) + p["w"] ** 2)


def _relu_grad(p):
    return {"w": 3.0 * (p["w"] > 0) + 2 * p["w"]}


# --- the seeds' bugs -------------------------------------------------------------------------


def test_notebook_planted_bugs_are_found_and_named():
    net, params, X, Y, backward = seeds.KNOWN_BUGS["notebook-planted"].make()
    report = check_network(net, params, X, Y, backward=backward)
    assert report.status == "fail" and not report.ok
    assert sorted(report.wrong_tensors) == ["W2", "b1"]
    factors = {f.tensor: f.factor for f in report.findings if f.pattern == "scale"}
    assert factors == {"W2": pytest.approx(2.0, rel=1e-9), "b1": pytest.approx(4.0, rel=1e-9)}
    text = str(report)
    assert "W2 is exactly 2.0× the reference" in text and "b1 is exactly 4.0× the reference" in text
    assert "4./m" in text
    # every wrong element has backprop as the odd one out, and only wrong elements do
    odd_backprop = np.array(["backprop" in o for o in report.odd_one_out()])
    assert np.array_equal(odd_backprop, report.elements["verdict"] == "wrong")
    assert set(report.ignored_keys) == {"dZ3", "dA2", "dZ2", "dA1", "dZ1"}


def test_blog_bug_is_the_missing_two_over_m():
    net, params, X, Y, backward = seeds.KNOWN_BUGS["blog-missing-2/m"].make()
    report = check_network(net, params, X, Y, backward=backward)
    assert report.status == "fail" and report.wrong_tensors == ["[0]", "[1]", "[2]"]
    head = report.findings[0]
    assert head.pattern == "scale" and head.factor == pytest.approx(2.0, rel=1e-9)
    assert "2/m is missing (m = 4)" in head.message


def test_correct_notebook_backprop_passes_with_its_extra_keys():
    x, y, parameters = seeds.notebook_test_case()
    report = check_network(
        DeepReLU(), parameters, x, y, backward=seeds.notebook_style(seeds.notebook_backward)
    )
    assert report.ok and report.status == "pass"
    # the backward's dZ1... are not parameters; checked as intermediates, they are not "ignored"
    assert "dZ1" in report.ignored_keys and report.unchecked_keys == [] and not report.unchecked
    assert "ignored gradient keys" not in str(report) and "dZ1: ok" in str(report)
    # the 20 dead-unit entries: 0 against 0 is exact agreement, never a division by zero
    for t in report.tensors:
        for value in t.rel_error.values():
            assert np.isfinite(value)


# --- attribution on constructed cases --------------------------------------------------------


def test_wrong_backprop_is_the_odd_one_out():
    report = check(
        _relu_cost,
        lambda p: {"w": _relu_grad(p)["w"] * np.array([1, 1, -1.0])},
        {"w": np.array([0.5, 1.0, 2.0])},
    )
    assert report.status == "fail" and report.wrong_tensors == ["w"]
    assert report.elements["verdict"].tolist() == ["agree", "agree", "wrong"]
    assert report.odd(2) == "backprop" and report.label(2) == "w[2]"
    assert "backprop disagrees with all 3 references at w (1/3 elements)" in str(report)


def test_kink_within_the_step_is_explained_not_reported():
    report = check(_relu_cost, _relu_grad, {"w": np.array([1e-9, -1e-9, 0.7])})
    assert report.ok
    assert "centered" in report.odd(0)
    kink = [f for f in report.findings if f.pattern == "kink" and f.kind == "artefact"]
    assert kink and "centered differences disagree at w[0]" in kink[0].message
    assert "not a bug" in kink[0].message


def test_exact_tie_takes_any_subgradient():
    """At exactly 0, autograd's maximum gives 1/2; a backprop using the mask w > 0 gives 0."""
    cost = lambda p: anp.sum(anp.maximum(p["w"], 0.0))  # noqa: E731
    report = check(cost, lambda p: {"w": (p["w"] > 0).astype(float)}, {"w": np.array([0.0, 1.0])})
    assert report.ok
    assert report.elements["verdict"][0] == "kink"
    assert any(f.pattern == "kink" and f.kind == "note" for f in report.findings)


def test_noisy_cost_is_explained():
    """The notebook cost with a saturated sigmoid: finite differences drown in round-off."""
    net = DeepReLU([2, 3, 1])
    params = {
        "W1": np.array([[1.0, 0.5], [0.3, -0.2], [0.8, 0.9]]),
        "b1": np.zeros((3, 1)),
        "W2": np.array([[5.0, 4.0, 4.0]]),
        "b2": np.array([[0.0]]),
    }
    X, Y = np.array([[1.5, 1.0], [1.0, 1.4]]), np.array([[0.0, 1.0]])
    report = check_network(net, params, X, Y)
    assert report.ok
    assert any(f.pattern == "noise" for f in report.findings)
    assert any("saturates" in f.message for f in report.findings)


def test_autograd_unavailable_still_decides_with_finite_differences():
    def plain(p):  # no numpy to trace
        return math.fsum(math.sin(v) for v in p["w"])

    w = {"w": np.array([0.1, 0.2, 0.3])}
    good = check(plain, lambda p: {"w": np.cos(p["w"])}, w)
    assert good.ok and not good.methods["autograd"].available
    assert "could not trace" in good.methods["autograd"].reason
    bad = check(plain, lambda p: {"w": np.cos(p["w"]) * 1.001}, w)
    assert bad.status == "fail" and bad.wrong_tensors == ["w"]


@primitive
def _square_wrong_vjp(x):
    return x**2


defvjp(_square_wrong_vjp, lambda ans, x: lambda g: 3 * x * g)


def test_autograd_outvoted_by_both_finite_differences():
    report = check(lambda p: anp.sum(_square_wrong_vjp(p)), lambda p: 2 * p, np.array([0.5, -1.5]))
    assert report.ok
    assert report.odd_one_out().tolist() == ["autograd", "autograd"]
    assert any(f.pattern == "trace" for f in report.findings)


def test_inconclusive_when_no_reference_can_decide():
    """A plain-numpy cost with float32 intermediates: its round-off (about 1e-7 relative) leaves
    finite differences far from the 1e-5 a pass certifies, autograd cannot trace it, and its
    float() return drops the complex step's imaginary part. Nothing can decide: inconclusive,
    never a pass and never a false alarm."""
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((4, 12)), rng.standard_normal((2, 12))

    def cost(p):
        out = np.dot(p["W"].astype(np.float32), X.astype(np.float32))
        return float(np.mean((out.astype(np.float64) - Y) ** 2))

    def grad(p):
        return {"W": 2.0 * np.dot(np.dot(p["W"], X) - Y, X.T) / 24}

    report = check(cost, grad, {"W": rng.standard_normal((2, 4))})
    assert report.status == "inconclusive" and not report.ok, str(report)
    assert any(f.kind == "undecided" for f in report.findings)
    assert "imaginary" in report.methods["complex"].reason and not report.methods["complex"].available


def test_subtle_one_element_bug_is_caught():
    net = DeepReLU([3, 4, 1], cost_form="stable")
    rng = np.random.default_rng(3)
    params = net.init_params(rng)
    X, Y = net.example_data(rng, m=5)

    def backward(p, X, Y):
        g = net.backward(p, X, Y)
        g["W1"] = g["W1"].copy()
        i = np.unravel_index(np.argmax(np.abs(g["W1"])), g["W1"].shape)
        g["W1"][i] *= 1 + 1e-5
        return g

    report = check_network(net, params, X, Y, backward=backward)
    assert report.status == "fail" and report.wrong_tensors == ["W1"]
    assert report.tensor("W1").counts["wrong"] == 1


def test_nan_in_backprop_is_a_failure():
    report = check(_relu_cost, lambda p: {"w": np.array([np.nan, 3.0])}, {"w": np.array([0.5, 1.0])})
    assert report.status == "fail"


def test_non_deterministic_cost_is_detected():
    rng = np.random.default_rng(0)

    def dropout_cost(p):
        mask = rng.random(p.shape) < 0.5
        return anp.sum((p * mask) ** 2)

    with pytest.warns(verifier.NonDeterministicCostWarning, match="not deterministic"):
        report = check(dropout_cost, lambda p: 2 * p, np.array([0.5, 1.0, 1.5]))
    assert report.status == "inconclusive"
    assert "not deterministic" in report.findings[0].message and "random state" in report.findings[0].message


# --- the report ------------------------------------------------------------------------------


def test_report_renders_and_serialises():
    report = check(_relu_cost, _relu_grad, {"w": np.array([0.5, -1.0])})
    text = str(report)
    assert text.startswith("PASS") and "vs autograd" in text and "check_grad" in text
    doc = json.loads(json.dumps(report.to_dict()))
    assert doc["status"] == "pass" and doc["ok"] is True
    assert doc["elements"]["label"] == ["w[0]", "w[1]"]
    assert set(doc["methods"]) == {"centered", "scipy", "autograd"}


def test_methods_subset_and_container_kinds():
    theta = [np.array([[0.2, -0.3, 0.4]]), np.array([[0.5, -0.6]])]
    net = XORNet([2, 1, 1])
    X, y = net.example_data()
    report = check_network(net, theta, X, y, methods=("centered",))
    assert report.ok and list(report.methods) == ["centered"]
    assert [t.name for t in report.tensors] == ["[0]", "[1]"]
    scalar = check(lambda t: t * 2.0, lambda t: np.asarray(2.0), np.asarray(4.0))
    assert scalar.ok


# --- the caller's arrays are never modified ---------------------------------------------------


def _snapshot(params):
    return {k: (v.tobytes(), v.shape, v.dtype, v.flags.writeable) for k, v in params.items()}


def test_params_untouched_after_check():
    params = {"w": np.array([0.5, -1.0, 2.0]), "v": np.array([[1e-9]])}
    before = _snapshot(params)
    cost = lambda p: _relu_cost(p) + anp.sum(p["v"] ** 2)  # noqa: E731
    check(cost, lambda p: {**_relu_grad(p), "v": 2 * p["v"]}, params)
    assert _snapshot(params) == before


def test_params_untouched_when_the_cost_raises_half_way():
    params = {"w": np.array([0.5, -1.0, 2.0])}
    before = _snapshot(params)
    calls = {"n": 0}

    def flaky(p):
        calls["n"] += 1
        if calls["n"] == 7:
            raise RuntimeError("boom")
        return _relu_cost(p)

    with pytest.raises(RuntimeError, match="boom"):
        check(flaky, _relu_grad, params)
    assert _snapshot(params) == before


def test_params_untouched_when_grad_writes_to_its_input():
    params = {"w": np.array([0.5, 1.0])}
    before = _snapshot(params)

    def vandal(p):
        out = _relu_grad(p)
        p["w"][:] = 0.0
        return out

    report = check(_relu_cost, vandal, params)
    assert _snapshot(params) == before
    assert report.ok, "a gradient that writes into its input is given a copy of its own"


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "grad, exc, match",
    [
        (lambda p: {}, InputError, "missing the gradient of parameter 'w'"),
        (lambda p: [np.ones(2)], InputError, "expected a dict"),
    ],
)
def test_bad_gradients(grad, exc, match):
    with pytest.raises(exc, match=match):
        check(_relu_cost, grad, {"w": np.array([0.5, 1.0])})


def test_unknown_gradient_key_warns_and_is_reported():
    with pytest.warns(UserWarning, match="momentum"):
        report = check(_relu_cost, lambda p: {**_relu_grad(p), "momentum": 0.0}, {"w": np.array([0.5, 1.0])})
    assert report.ok and report.ignored_keys == ["momentum"]


@pytest.mark.parametrize(
    "cost, match",
    [
        (lambda p: p["w"] * 2, r"array of shape \(2,\)"),
        (lambda p: anp.sum(p["w"]) * np.nan, "nan at the given parameters"),
        (lambda p: np.inf, "inf at the given parameters"),
        (lambda p: "1.0", "expected a real number"),
        (lambda p: True, "boolean"),
    ],
)
def test_bad_costs(cost, match):
    with pytest.raises(CostError, match=match):
        check(cost, _relu_grad, {"w": np.array([0.5, 1.0])})


@pytest.mark.parametrize(
    "params, match",
    [
        ({"w": np.array([1, 2])}, "dtype int64"),
        ({"w": np.array([True])}, "dtype bool"),
        ({}, "empty"),
        ([], "empty"),
    ],
)
def test_bad_params(params, match):
    with pytest.raises(InputError, match=match):
        check(_relu_cost, _relu_grad, params)


def test_float32_warns_and_computes_in_float64():
    params = {"w": np.array([0.5, 1.0], dtype=np.float32)}
    with pytest.warns(PrecisionWarning, match="float32"):
        report = check(_relu_cost, _relu_grad, params)
    assert report.ok and params["w"].dtype == np.float32


def test_bad_options():
    with pytest.raises(InputError, match="`methods`"):
        check(_relu_cost, _relu_grad, {"w": np.ones(2)}, methods=("fast",))
    with pytest.raises(InputError, match="`grad` must be callable"):
        check(_relu_cost, 3, {"w": np.ones(2)})
    with pytest.raises(InputError, match="with grad=None, `cost` must return its loss and its gradients"):
        check(_relu_cost, None, {"w": np.ones(2)})  # a cost alone: grad=None means (loss, grads)
    with pytest.raises(InputError, match="`cost` must be callable"):
        check(None, _relu_grad, {"w": np.ones(2)})
    with pytest.raises(InputError, match="`net` must have a callable `cost"):
        check_network(object(), {"w": np.ones(2)}, None, None)


def test_public_surface():
    assert set(verifier.__all__) >= {"check", "check_network", "reference_gradients", "Report", "networks"}
    assert set(verifier.networks.__all__) >= {"DeepReLU", "XORNet", "Scalar"}


# --- the complex step, several points, intermediate gradients --------------------------------


def test_complex_step_as_a_fourth_method():
    net = DeepReLU(cost_form="notebook")
    x, y, parameters = seeds.notebook_test_case()
    report = check_network(net, parameters, x, y, methods=("centered", "scipy", "autograd", "complex"))
    assert report.ok and report.methods["complex"].available
    assert report.tensor("W2").rel_error["complex"] < 1e-12
    stable = check_network(DeepReLU(cost_form="stable"), parameters, x, y, methods=("complex", "centered"))
    assert not stable.methods["complex"].available and "logaddexp" in stable.methods["complex"].reason
    assert stable.ok, "the other methods still decide"


def test_complex_step_settles_what_noisy_differences_cannot():
    """Without autograd, a saturated notebook cost leaves finite differences noise-dominated;
    the complex step (run on those elements only) decides them."""
    net = DeepReLU([2, 3, 1])
    params = {"W1": np.array([[1.0, 0.5], [0.3, -0.2], [0.8, 0.9]]), "b1": np.zeros((3, 1)),
              "W2": np.array([[5.0, 4.5, 4.0]]), "b2": np.array([[0.0]])}  # fmt: skip
    X, Y = np.array([[1.5, 1.0], [1.0, 1.4]]), np.array([[0.0, 1.0]])
    report = check_network(net, params, X, Y, methods=("centered", "scipy"))
    assert report.ok, str(report)
    reason = report.methods["complex"].reason
    assert "no other method decided" in reason and "not confirmed" in reason
    # saturated further, even the complex step cannot certify 1e-5: inconclusive, not a pass
    params["W2"] = np.array([[9.0, 8.0, 7.0]])
    assert check_network(net, params, X, Y, methods=("centered", "scipy")).status == "inconclusive"


def test_points_must_be_a_positive_integer():
    for bad in (0, -1, 1.5, True):
        with pytest.raises(InputError, match="`points`"):
            check(_relu_cost, _relu_grad, {"w": np.ones(2)}, points=bad)


def test_points_are_reproducible_and_reported():
    report = check(_relu_cost, _relu_grad, {"w": np.array([0.5, -1.0])}, points=3, seed=4)
    assert report.ok and len(report.points) == 2
    again = check(_relu_cost, _relu_grad, {"w": np.array([0.5, -1.0])}, points=3, seed=4)
    np.testing.assert_array_equal(
        report.points[1].report.elements["backprop"], again.points[1].report.elements["backprop"]
    )
    assert "other points (2)" in str(report) and json.dumps(report.to_dict())


def test_intermediates_name_the_first_wrong_line():
    net, params, X, Y, backward = seeds.KNOWN_BUGS["notebook-planted"].make()
    report = check_network(net, params, X, Y, backward=backward)
    assert report.intermediates is not None and report.intermediates.ok
    lines = [f.message for f in report.findings if f.pattern == "line"]
    assert "dZ2 is right, dW2 is wrong: look at the line that computes dW2" in lines[0]
    assert "dZ1 is right, db1 is wrong" in lines[1]


def test_complex_step_must_prove_itself():
    """A cost that keeps an imaginary part but is not complex-analytic (a factor computed from
    |Re z|) gives the complex step a wrong derivative: it disagrees with accurate centred
    differences, so it is not trusted, and cannot convict a correct gradient."""

    def cost(p):
        return anp.sum(p["w"] ** 2 * anp.exp(-anp.abs(anp.real(p["w"]))))

    def grad(p):
        w = p["w"]
        return {"w": (2 * w - w**2 * np.sign(w)) * np.exp(-np.abs(w))}

    report = check(cost, grad, {"w": np.array([0.7, -1.3, 2.1])}, methods=("centered", "complex"))
    assert report.ok, str(report)
    assert not report.methods["complex"].available
    assert "not complex-analytic" in report.methods["complex"].reason
    # a cost that writes complex values into a float buffer drops the imaginary part: refused

    def buffered(p):
        out = np.zeros(3)
        for i in range(3):
            out[i] = p["w"][i] ** 2
        return out.sum()

    report = check(
        buffered,
        lambda p: {"w": 2 * p["w"]},
        {"w": np.array([0.7, -1.3, 2.1])},
        methods=("centered", "complex"),
    )
    assert report.ok and not report.methods["complex"].available, str(report)


def _tanh_net(p, X, Y):
    H1 = np.tanh(np.dot(p["W1"], X))
    out = np.dot(p["W2"], H1)
    return float(0.5 * np.sum((out - Y) ** 2))


def _tanh_backward(p, X, Y, slip=1.0, extra_key="dH1"):
    H1 = np.tanh(np.dot(p["W1"], X))
    dout = np.dot(p["W2"], H1) - Y
    dW2 = np.dot(dout, H1.T)
    dH1 = np.dot(p["W2"].T, dout) * slip
    dW1 = np.dot(dH1 * (1 - H1**2), X.T)
    return {"dW1": dW1, "dW2": dW2, extra_key: dH1}


def test_any_dname_key_is_an_intermediate_checked_against_the_forward():
    """One rule for a backward's extra keys: `dNAME` is the gradient of the forward's value NAME,
    whatever NAME is (not only dZ/dA): checked, without an "ignored key" warning; a dNAME the
    forward does not hold is said to be unchecked."""
    rng = np.random.default_rng(4)
    X, Y = rng.standard_normal((3, 5)), rng.standard_normal((2, 5))
    params = {"W1": rng.standard_normal((4, 3)), "W2": rng.standard_normal((2, 4))}
    cost = lambda p: _tanh_net(p, X, Y)  # noqa: E731
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = check(cost, lambda p: _tanh_backward(p, X, Y), params)
    assert report.ok and report.intermediates is not None
    assert [t.name for t in report.intermediates.tensors] == ["H1"] and report.intermediates.ok

    slipped = check(cost, lambda p: _tanh_backward(p, X, Y, slip=1.5), params)
    assert slipped.wrong_tensors == ["W1"] and not slipped.intermediates.ok
    assert any(f.pattern == "line" and "dH1 = " in f.message for f in slipped.findings), str(slipped)

    with pytest.warns(UserWarning, match=r"\['dH_1'\], which are not checked"):
        typo = check(cost, lambda p: _tanh_backward(p, X, Y, extra_key="dH_1"), params)
    assert typo.ok and typo.ignored_keys == ["dH_1"]


def test_dead_units_are_noted_without_intermediate_keys():
    """The forward's own values are found in the forward's frame, not in the first helper that
    returned (a relu(x)), also when the backward returns no dZ/dA key to look for."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3, 6))
    Y = (rng.random((1, 6)) < 0.5).astype(float)
    b1 = np.zeros((4, 1))
    b1[:2] = -50.0  # two units never positive
    params = {
        "W1": rng.standard_normal((4, 3)),
        "b1": b1,
        "W2": rng.standard_normal((1, 4)),
        "b2": np.zeros((1, 1)),
    }

    def relu(x):
        return np.maximum(0, x)

    def forward(p):
        Z1 = np.dot(p["W1"], X) + p["b1"]
        A1 = relu(Z1)
        Z2 = np.dot(p["W2"], A1) + p["b2"]
        A2 = 1 / (1 + np.exp(-Z2))
        return float(-np.mean(Y * np.log(A2) + (1 - Y) * np.log(1 - A2)))

    def backward(p):
        Z1 = np.dot(p["W1"], X) + p["b1"]
        A1 = relu(Z1)
        A2 = 1 / (1 + np.exp(-(np.dot(p["W2"], A1) + p["b2"])))
        m = X.shape[1]
        dZ2 = A2 - Y
        dZ1 = np.dot(p["W2"].T, dZ2) * (Z1 > 0)
        return {
            "dW1": np.dot(dZ1, X.T) / m,
            "db1": np.sum(dZ1, axis=1, keepdims=True) / m,
            "dW2": np.dot(dZ2, A1.T) / m,
            "db2": np.sum(dZ2, axis=1, keepdims=True) / m,
        }

    report = check(forward, backward, params)
    assert report.ok
    assert any("layer 1: 2 of 4 units are dead" in f.message for f in report.findings), str(report)
