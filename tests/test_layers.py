"""check_layer on the course's layer set, correct and with a slip each, and hints that read the layout."""

from __future__ import annotations

import json

import numpy as np
import pytest
from layers_zoo import LAYERS, LOSSES

from verifier import check, check_layer
from verifier.errors import InputError
from verifier.frontends.cli import main


@pytest.mark.parametrize("name", list(LAYERS))
def test_each_course_layer_passes_and_its_slip_is_named(name):
    forward, backward, slipped, make, wrong = LAYERS[name]
    for seed in range(2):
        inputs = make(seed)
        before = [json.dumps(v.tolist()) if isinstance(v, np.ndarray) else repr(v) for v in inputs]
        report = check_layer(forward, backward, *inputs, seed=seed)
        assert report.ok, f"{name}, seed {seed}:\n{report}"
        assert all(report.methods[m].available for m in ("autograd", "centered", "scipy")), str(report)
        bad = check_layer(forward, slipped, *inputs, seed=seed)
        assert bad.status == "fail" and wrong in bad.wrong_tensors, f"{name}, seed {seed}:\n{bad}"
        # the caller's inputs, mode dicts included (batchnorm writes its running mean), are untouched
        assert [json.dumps(v.tolist()) if isinstance(v, np.ndarray) else repr(v) for v in inputs] == before


@pytest.mark.parametrize("name", list(LOSSES))
def test_losses_check_their_own_dx(name):
    loss, slipped, make = LOSSES[name]
    x, y = make(0)
    report = check_layer(loss, None, x, y)
    assert report.ok and [t.name for t in report.tensors] == ["x"], str(report)
    bad = check_layer(slipped, None, x, y)
    assert bad.status == "fail" and bad.wrong_tensors == ["x"]
    assert "backprop disagrees with all 3 references at x" in str(bad)


def test_a_dict_backward_and_wrt():
    forward, backward, _, make, _ = LAYERS["affine"]
    x, w, b = make(0)

    def as_dict(dout, cache):
        dx, dw, db = backward(dout, cache)
        return {"dx": dx, "dw": dw, "db": db}

    assert check_layer(forward, as_dict, x, w, b).ok
    with pytest.warns(UserWarning, match="dw .the gradient of w, which `wrt` leaves out"):
        report = check_layer(forward, as_dict, x, w, b, wrt=["x"])
    assert report.ok and [t.name for t in report.tensors] == ["x"]
    assert [u.split(" ")[0] for u in report.unchecked] == ["dw", "db"]  # named, never dropped
    with pytest.warns(UserWarning, match="gradient 2 .the gradient of w, which `wrt` leaves out"):
        report = check_layer(forward, backward, x, w, b, wrt=["x"])
    assert report.ok and len(report.unchecked) == 2
    with pytest.raises(InputError, match="`wrt`"):
        check_layer(forward, backward, x, w, b, wrt=["z"])
    with pytest.raises(InputError, match="returned 1 gradient"):
        check_layer(forward, lambda dout, cache: backward(dout, cache)[0], x, w, b)


def test_the_cli_checks_a_layer_file(tmp_path, capsys):
    forward, backward, slipped, make, _ = LAYERS["conv naive"]
    x, w, b, conv_param = make(0)
    np.savez(tmp_path / "conv.npz", x=x, w=w, b=b)
    zoo = f"{tmp_path.parent}/layers_zoo.py"
    from pathlib import Path

    Path(zoo).write_text((Path(__file__).parent / "layers_zoo.py").read_text())
    const = "conv_param=" + json.dumps(conv_param)
    code = main(
        [
            "layer",
            f"{zoo}:conv_forward_naive,conv_backward_naive",
            "--inputs",
            str(tmp_path / "conv.npz"),
            "--const",
            const,
            "--quiet",
        ]
    )
    assert code == 0
    xs, ys = LOSSES["softmax"][2](0)
    (tmp_path / "loss.json").write_text(json.dumps({"x": xs.tolist(), "y": ys.tolist()}))
    assert main(["layer", f"{zoo}:softmax_loss", "--inputs", str(tmp_path / "loss.json"), "--quiet"]) == 0
    code = main(
        ["layer", f"{zoo}:conv_forward_naive,conv_backward_naive", "--inputs", str(tmp_path / "conv.npz")]
    )
    assert code == 2 and "needs 'conv_param'" in capsys.readouterr().err


def _two_layer(row_major: bool, seed: int = 0):
    """An MLP whose backward skips the ReLU mask of hidden units 0 and 3: x @ W or W @ X."""
    rng = np.random.default_rng(seed)
    n, h, m = 4, 5, 12
    X = rng.standard_normal((m, n) if row_major else (n, m))
    Y = rng.standard_normal((m, 1) if row_major else (1, m))
    params = {
        "W1": rng.standard_normal((n, h) if row_major else (h, n)),
        "b1": rng.standard_normal(h) if row_major else rng.standard_normal((h, 1)),
        "W2": rng.standard_normal((h, 1) if row_major else (1, h)),
    }

    def forward(p):
        Z = X @ p["W1"] + p["b1"] if row_major else p["W1"] @ X + p["b1"]
        A = np.maximum(Z, 0)
        return Z, A, (A @ p["W2"] if row_major else p["W2"] @ A)

    def cost(p):
        return 0.5 * np.sum((forward(p)[2] - Y) ** 2)

    def grad(p):
        Z, A, out = forward(p)
        d = out - Y
        mask = (Z > 0).astype(float)
        if row_major:
            mask[:, [0, 3]] = 1.0  # the slip: units 0 and 3 pass their gradient unmasked
            dZ = (d @ p["W2"].T) * mask
            return {"W1": X.T @ dZ, "b1": dZ.sum(axis=0), "W2": A.T @ d}
        mask[[0, 3], :] = 1.0
        dZ = (p["W2"].T @ d) * mask
        return {"W1": dZ @ X.T, "b1": dZ.sum(axis=1, keepdims=True), "W2": d @ A.T}

    return cost, grad, params


def test_row_and_column_hints_read_the_layout():
    for row_major, axis in ((True, "columns"), (False, "rows")):
        for seed in range(4):
            cost, grad, params = _two_layer(row_major, seed)
            report = check(cost, grad, params)
            text = str(report)
            if "W1" not in report.wrong_tensors:
                continue  # units 0 and 3 active for every example: nothing to see
            assert f"only {axis} [" in text and "of W1 are wrong (those output units' gradient" in text, text
            assert "inputs from those units of the layer below" not in text
            break
        else:
            pytest.fail("no draw showed the slip")


def test_square_weights_without_a_bias_get_both_readings():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((4, 4))

    def cost(p):
        return np.sum(np.tanh(p["W"] @ X))

    def grad(p):
        d = 1 - np.tanh(p["W"] @ X) ** 2
        d[1] *= 3.0  # a wrong unit
        return {"W": d @ X.T}

    text = str(check(cost, grad, {"W": rng.standard_normal((4, 4))}))
    assert "only rows [1] of W are wrong: if the layer computes W @ x, those output units" in text, text
    assert "if x @ W, the inputs from those units of the layer below" in text


def test_the_layer_picture_claims_only_what_the_structure_supports():
    # a list [b1, b2, W1, W2] is not four layers
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3, 6))
    params = [
        rng.standard_normal((4, 1)),
        rng.standard_normal((1, 1)),
        rng.standard_normal((4, 3)),
        rng.standard_normal((1, 4)),
    ]

    def cost(p):
        return np.sum(np.tanh(p[3] @ np.tanh(p[2] @ X + p[0]) + p[1]))

    def grad(p):
        H = np.tanh(p[2] @ X + p[0])
        d2 = 1 - np.tanh(p[3] @ H + p[1]) ** 2
        d1 = (p[3].T @ d2) * (1 - H**2)
        return [d1.sum(axis=1, keepdims=True), d2.sum(axis=1, keepdims=True), 2 * d1 @ X.T, d2 @ H.T]

    report = check(cost, grad, params)
    assert report.status == "fail" and not [f for f in report.findings if f.pattern == "layer"], str(report)
    # a bias before batchnorm has a zero gradient: its being right says nothing about dZ1
    Xb = rng.standard_normal((8, 3))

    def bn_cost(p):
        Z = Xb @ p["W1"] + p["b1"]
        Zn = (Z - Z.mean(axis=0)) / np.sqrt(Z.var(axis=0) + 1e-5)
        return np.sum(np.tanh(Zn) @ p["W2"])

    def bn_grad(p):  # the batchnorm backward forgets its mean terms
        Z = Xb @ p["W1"] + p["b1"]
        std = np.sqrt(Z.var(axis=0) + 1e-5)
        Zn = (Z - Z.mean(axis=0)) / std
        dZn = p["W2"].T * (1 - np.tanh(Zn) ** 2)
        dZ = dZn / std
        return {"W1": Xb.T @ dZ, "b1": np.zeros(4), "W2": np.tanh(Zn).T @ np.ones((8, 1))}

    bn = {"W1": rng.standard_normal((3, 4)), "b1": rng.standard_normal(4), "W2": rng.standard_normal((4, 1))}
    report = check(bn_cost, bn_grad, bn)
    assert report.wrong_tensors == ["W1"], str(report)
    assert "b1 is right" not in str(report)


@pytest.mark.parametrize(
    "argv, says",
    [
        (["layer", "nofile.py"], "TARGET"),
        (["layer", "nofile.py:f,b", "--inputs", "missing.npz"], "--inputs"),
        (["layer", "x.py:f", "--const", "conv_param={bad json"], "--const"),
        (["layer", "x.py:f", "--const", "=1"], "--const"),
        (["check", "x.py:THETA", "--cost", "c()"], "--cost"),
        (["check", "x.py:f,b"], "--data"),
        (["check", "x.py:THETA", "--cost", "c(", "--grad", "g()"], "cost"),
    ],
)
def test_the_new_commands_name_what_is_wrong(tmp_path, capsys, argv, says):
    (tmp_path / "x.py").write_text("THETA = [1.0]\n\ndef f(x):\n    return x, None\n")
    argv = [a.replace("x.py", str(tmp_path / "x.py")) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err, err


def test_check_layer_refuses_what_it_cannot_check():
    forward, backward, _, make, _ = LAYERS["affine"]
    x, w, b = make(0)
    with pytest.raises(InputError, match="`inputs`"):
        check_layer(forward, backward)
    with pytest.raises(InputError, match="none of"):
        check_layer(lambda n: (np.ones(3), None), lambda d, c: d, 3)
    with pytest.raises(InputError, match="takes no `context`"):
        check_layer(forward, backward, x, w, b, context={"m": 2})
    with pytest.raises(InputError, match="`forward` must return"):
        check_layer(lambda x: x * 2, lambda d, c: d, x)
    with pytest.raises(InputError, match="expected a Python name"):
        check(
            lambda p: float(np.sum(p[0] ** 2)),
            lambda p: [2 * p[0]],
            [np.ones(2)],
            context={"name": "no name"},
        )
