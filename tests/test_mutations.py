"""The mutation suite: planted bugs in copies of both networks' backward.

Every non-equivalent mutant must make ``check_network`` fail, name exactly the tensors it
breaks, and, where its error has one of the diagnosed patterns, name that pattern. The
equivalent mutants (same gradient, written differently) must pass.
"""

from __future__ import annotations

import numpy as np
import pytest

from verifier import check_network
from verifier.networks import DeepReLU, XORNet

ALL_DEEP = {"W1", "b1", "W2", "b2", "W3", "b3"}
LOWER = {"W1", "b1", "W2", "b2"}


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def deep_backward(params, X, Y, bug=None):
    """A notebook-style backward for DeepReLU([4, 3, 3, 1]), with intermediates, and one knob per bug."""
    W1, b1, W2, b2, W3, b3 = (params[k] for k in ("W1", "b1", "W2", "b2", "W3", "b3"))
    m = X.shape[1]
    Z1 = W1 @ X + b1
    A1 = np.maximum(Z1, 0)
    Z2 = W2 @ A1 + b2
    A2 = np.maximum(Z2, 0)
    A3 = _sigmoid(W3 @ A2 + b3)
    dZ3 = {"dZ3 sign": Y - A3, "mse-style output delta": (A3 - Y) * A3 * (1 - A3)}.get(bug, A3 - Y)
    inv_m = {"1/m missing": 1.0, "1/m twice": 1.0 / m**2}.get(bug, 1.0 / m)
    dW3 = inv_m * dZ3 @ A2.T * (0.0 if bug == "W3 zeroed" else 1.0)
    db3 = inv_m * np.sum(dZ3, axis=1, keepdims=True) * (1 + 1e-4 if bug == "b3 off by 1e-4" else 1.0)
    dA2 = W3.T @ dZ3
    if bug == "mask taken from dA":
        dZ2 = dA2 * (dA2 > 0)
    elif bug == "sigmoid derivative for ReLU":
        dZ2 = dA2 * _sigmoid(Z2) * (1 - _sigmoid(Z2))
    elif bug == "mask of the layer below":
        dZ2 = dA2 * (A1 > 0)
    elif bug == "equivalent: mask Z >= 0":
        dZ2 = dA2 * (Z2 >= 0)
    else:
        dZ2 = dA2 * (A2 > 0)
    dW2 = inv_m * dZ2 @ (A2 if bug == "dW2 uses A2" else A1).T
    if bug == "dW2 transposed":
        dW2 = dW2.T
    if bug == "stray L2 on W2":
        dW2 = dW2 + 0.01 * W2
    if bug == "column of dW2 zeroed":
        dW2 = dW2.copy()
        dW2[:, 1] = 0.0
    if bug == "db2 over the wrong axis":
        db2 = inv_m * np.sum(dZ2, axis=0, keepdims=True).T
    elif bug == "equivalent: mean for 1/m sum":
        db2 = np.mean(dZ2, axis=1, keepdims=True)
    else:
        db2 = inv_m * np.sum(dZ2, axis=1, keepdims=True)
    db2 = -db2 if bug == "db2 sign" else db2
    dA1 = (W2 if bug == "dA1 without the transpose" else W2.T) @ dZ2
    if bug == "ReLU mask missing in layer 1":
        dZ1 = dA1
    elif bug == "equivalent: sign(A) as the mask":
        dZ1 = dA1 * np.sign(A1)
    else:
        dZ1 = dA1 * (A1 > 0)
    dW1 = inv_m * dZ1 @ X.T
    if bug == "dW1 doubled":
        dW1 = 2 * dW1
    if bug in ("row of dW1 doubled", "one element of dW1", "one element of dW1 off by 1e-5"):
        dW1 = dW1.copy()
        if bug == "row of dW1 doubled":
            dW1[0] *= 2
        elif bug == "one element of dW1":
            dW1[1, 2] += 0.05
        else:
            dW1[1, 2] *= 1 + 1e-5
    db1 = (4.0 / m if bug == "4./m in db1" else inv_m) * np.sum(dZ1, axis=1, keepdims=True)
    return {"dZ3": dZ3, "dW3": dW3, "db3": db3, "dA2": dA2, "dZ2": dZ2, "dW2": dW2, "db2": db2,
            "dA1": dA1, "dZ1": dZ1, "dW1": dW1, "db1": db1}  # fmt: skip


def xor_backward(theta, X, y, bug=None):
    """A vectorised backward for the blog's network (true gradient), with one knob per bug."""
    acts, A = [], X
    for t in theta:
        Ab = np.hstack([np.ones((A.shape[0], 1)), A])
        acts.append(Ab)
        A = _sigmoid(Ab @ t.T)
    scale = {"2/m of the MSE missing": 1.0, "mean over outputs missing": 2.0 / y.shape[0]}.get(
        bug, 2.0 / y.size
    )
    delta = scale * (A - y) * A * (1 - A)
    grads = [None] * len(theta)
    for l in range(len(theta) - 1, -1, -1):
        source = acts[l + 1] if bug == "off-by-one layer" and l == 1 else acts[l]
        grads[l] = delta.T @ source
        if l:
            a = acts[l][:, 1:]
            delta = (delta @ theta[l][:, 1:]) * (a if bug == "a for a(1 - a)" else a * (1 - a))
            if bug == "hidden delta sign" and l == len(theta) - 1:
                delta = -delta
    if bug == "bias column zeroed":
        grads[0] = grads[0].copy()
        grads[0][:, 0] = 0.0
    if bug == "[2] off by 1e-4":
        grads[2] = grads[2] * (1 + 1e-4)
    return grads


# name, network, wrong tensors, expected diagnosis: a per-tensor pattern, ("line", name), or ("axis", name)
DEEP = [
    ("dZ3 sign", ALL_DEEP, "sign"),
    ("mse-style output delta", ALL_DEEP, ("line", "dZ3")),
    ("W3 zeroed", {"W3"}, "zeros"),
    ("1/m missing", ALL_DEEP, "scale"),
    ("1/m twice", ALL_DEEP, "scale"),
    ("b3 off by 1e-4", {"b3"}, "scale"),
    ("mask taken from dA", LOWER, ("line", "dZ2")),
    ("sigmoid derivative for ReLU", LOWER, ("line", "dZ2")),
    ("mask of the layer below", LOWER, ("line", "dZ2")),
    ("dW2 uses A2", {"W2"}, ("line", "dW2")),
    ("dW2 transposed", {"W2"}, "transpose"),
    ("stray L2 on W2", {"W2"}, "l2"),
    ("column of dW2 zeroed", {"W2"}, "columns"),
    ("db2 over the wrong axis", {"b2"}, ("axis", "b2")),
    ("db2 sign", {"b2"}, "sign"),
    ("dA1 without the transpose", {"W1", "b1"}, ("line", "dA1")),
    ("ReLU mask missing in layer 1", {"W1", "b1"}, ("line", "dZ1")),
    ("dW1 doubled", {"W1"}, "scale"),
    ("row of dW1 doubled", {"W1"}, "rows"),
    ("one element of dW1", {"W1"}, "one"),
    ("one element of dW1 off by 1e-5", {"W1"}, "one"),
    ("4./m in db1", {"b1"}, "scale"),
]
XOR = [
    ("2/m of the MSE missing", [2, 2, 2, 1], {"[0]", "[1]", "[2]"}, "scale"),
    ("mean over outputs missing", [2, 3, 2], {"[0]", "[1]"}, "scale"),
    ("off-by-one layer", [2, 2, 2, 1], {"[1]"}, None),
    ("hidden delta sign", [2, 2, 2, 1], {"[0]", "[1]"}, "sign"),
    ("a for a(1 - a)", [2, 2, 2, 1], {"[0]", "[1]"}, None),
    ("bias column zeroed", [2, 3, 3, 1], {"[0]"}, "columns"),
    ("[2] off by 1e-4", [2, 2, 2, 1], {"[2]"}, "scale"),
]
EQUIVALENT = {
    "equivalent: mask Z >= 0": "differs from Z > 0 only where a pre-activation is exactly 0",
    "equivalent: mean for 1/m sum": "np.mean over the examples is 1/m times their sum",
    "equivalent: sign(A) as the mask": "A = max(Z, 0) >= 0, so sign(A) is the mask A > 0",
}


def _alive_point(net, m):
    """A point where every hidden unit is active for some example, so no bug is hidden."""
    rng = np.random.default_rng(11)
    for _ in range(200):
        params = net.init_params(rng, scale=1.0)
        X, Y = net.example_data(rng, m=m)
        if all(np.all((Z > 0).any(axis=1)) for Z, _ in net.forward_cache(params, X)[:-1]):
            return params, X, Y
    raise AssertionError("no point with every unit alive")


def _assert_diagnosis(report, wrong, expected):
    assert report.status == "fail", str(report)
    assert set(report.wrong_tensors) == wrong, str(report)
    bugs = [f for f in report.findings if f.kind == "bug"]
    if isinstance(expected, tuple):
        kind, name = expected

        # a line finding is about the parameter tensors it explains, and names the wrong value's line
        def named(f):
            return f.tensor == name or (kind == "line" and f"the line that computes {name}," in f.message)

        assert any(f.pattern == kind and named(f) for f in bugs), str(report)
    elif expected is not None:
        per_tensor = {
            f.tensor: f.pattern for f in bugs if f.tensor and f.pattern not in ("layer", "line", "axis")
        }
        shared = [f.pattern for f in bugs if not f.tensor]
        assert all(per_tensor[t] == expected for t in wrong) or expected in shared, str(report)


def test_there_are_at_least_25_distinct_mutants():
    assert len({name for name, *_ in DEEP + XOR}) >= 25


@pytest.mark.parametrize("name, wrong, expected", DEEP, ids=[d[0] for d in DEEP])
def test_deep_relu_mutant_is_caught_and_named(name, wrong, expected):
    net = DeepReLU([4, 3, 3, 1], cost_form="stable")
    params, X, Y = _alive_point(net, m=3)
    report = check_network(net, params, X, Y, backward=lambda p, X, Y: deep_backward(p, X, Y, name))
    _assert_diagnosis(report, wrong, expected)


@pytest.mark.parametrize("name, layers, wrong, expected", XOR, ids=[x[0] for x in XOR])
def test_xor_mutant_is_caught_and_named(name, layers, wrong, expected):
    net = XORNet(layers)
    rng = np.random.default_rng(5)
    params = net.init_params(rng, low=-2.0, high=2.0)
    X, y = net.example_data(rng, m=4)
    report = check_network(net, params, X, y, backward=lambda p, X, y: xor_backward(p, X, y, name))
    _assert_diagnosis(report, wrong, expected)


@pytest.mark.parametrize("name", sorted(EQUIVALENT))
def test_equivalent_mutants_pass(name):
    net = DeepReLU([4, 3, 3, 1], cost_form="stable")
    params, X, Y = _alive_point(net, m=3)
    assert check_network(net, params, X, Y, backward=lambda p, X, Y: deep_backward(p, X, Y, name)).ok


def test_unmutated_copies_pass():
    net = DeepReLU([4, 3, 3, 1], cost_form="stable")
    params, X, Y = _alive_point(net, m=3)
    assert check_network(net, params, X, Y, backward=deep_backward).ok
    xor = XORNet([2, 2, 2, 1])
    theta = xor.init_params(np.random.default_rng(5), low=-2.0, high=2.0)
    X, y = xor.example_data()
    assert check_network(xor, theta, X, y, backward=xor_backward).ok


def test_a_bug_hidden_by_dead_units_is_found_at_other_points():
    """Layer 2 dead at the given point hides a bug in W1; points=4 finds it."""
    net = DeepReLU([4, 3, 3, 1], cost_form="stable")
    params, X, Y = _alive_point(net, m=3)
    params = {**params, "b2": np.full((3, 1), -50.0)}  # every unit of layer 2 dead
    backward = lambda p, X, Y: deep_backward(p, X, Y, "dW1 doubled")  # noqa: E731
    single = check_network(net, params, X, Y, backward=backward)
    assert single.ok and any("3 of 3 units are dead" in f.message for f in single.findings)
    several = check_network(net, {**params, "b2": np.zeros((3, 1))}, X, Y, backward=backward, points=4)
    assert several.status == "fail" and "W1" in several.wrong_tensors
