"""A gradient of the wrong shape is a finding of a failed check (exit 1), not bad input (exit 2)."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from verifier import check
from verifier.core.params import read_as
from verifier.explain.shapes import suggestion
from verifier.frontends.cli import main

NOTEBOOK = textwrap.dedent(
    """
    import numpy as np


    def relu(Z):
        return np.maximum(0, Z)


    def sigmoid(Z):
        return 1 / (1 + np.exp(-Z))


    def forward_propagation(X, Y, parameters):
        W1, b1, W2, b2 = parameters["W1"], parameters["b1"], parameters["W2"], parameters["b2"]
        m = X.shape[1]
        Z1 = np.dot(W1, X) + b1
        A1 = relu(Z1)
        Z2 = np.dot(W2, A1) + b2
        A2 = sigmoid(Z2)
        cost = -np.sum(Y * np.log(A2) + (1 - Y) * np.log(1 - A2)) / m
        return cost, (X, Z1, A1, W1, b1, Z2, A2, W2, b2)


    def backward_axis(X, Y, cache):
        X, Z1, A1, W1, b1, Z2, A2, W2, b2 = cache
        m = X.shape[1]
        dZ2 = A2 - Y
        dW2 = 1.0 / m * np.dot(dZ2, A1.T)
        db2 = 1.0 / m * np.sum(dZ2, axis=1, keepdims=True)
        dA1 = np.dot(W2.T, dZ2)
        dZ1 = np.multiply(dA1, np.int64(A1 > 0))
        dW1 = 1.0 / m * np.dot(dZ1, X.T)
        db1 = 1.0 / m * np.sum(dZ1, axis=0)
        return {"dZ2": dZ2, "dW2": dW2, "db2": db2, "dA1": dA1, "dZ1": dZ1, "dW1": dW1, "db1": db1}


    def backward_transposed(X, Y, cache):
        X, Z1, A1, W1, b1, Z2, A2, W2, b2 = cache
        m = X.shape[1]
        dZ2 = A2 - Y
        dW2 = 1.0 / m * np.dot(dZ2, A1.T)
        db2 = 1.0 / m * np.sum(dZ2, axis=1, keepdims=True)
        dA1 = np.dot(W2.T, dZ2)
        dZ1 = np.multiply(dA1, np.int64(A1 > 0))
        dW1 = 1.0 / m * np.dot(X, dZ1.T)
        db1 = 1.0 / m * np.sum(dZ1, axis=1, keepdims=True)
        return {"dZ2": dZ2, "dW2": dW2, "db2": db2, "dA1": dA1, "dZ1": dZ1, "dW1": dW1, "db1": db1}


    def backward_keepdims(X, Y, cache):
        X, Z1, A1, W1, b1, Z2, A2, W2, b2 = cache
        m = X.shape[1]
        dZ2 = A2 - Y
        dW2 = 1.0 / m * np.dot(dZ2, A1.T)
        db2 = 1.0 / m * np.sum(dZ2, axis=1, keepdims=True)
        dA1 = np.dot(W2.T, dZ2)
        dZ1 = np.multiply(dA1, np.int64(A1 > 0))
        dW1 = 1.0 / m * np.dot(dZ1, X.T)
        db1 = 1.0 / m * np.sum(dZ1, axis=1)
        return {"dZ2": dZ2, "dW2": dW2, "db2": db2, "dA1": dA1, "dZ1": dZ1, "dW1": dW1, "db1": db1}
    """
)


@pytest.fixture
def notebook(tmp_path, monkeypatch):
    (tmp_path / "shape_slips.py").write_text(NOTEBOOK)
    monkeypatch.syspath_prepend(str(tmp_path))
    import shape_slips

    yield shape_slips
    import sys

    sys.modules.pop("shape_slips", None)


def _data(m: int = 6) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((4, m))
    Y = (rng.random((1, m)) > 0.5).astype(float)
    p = {"W1": rng.standard_normal((3, 4)), "b1": rng.standard_normal((3, 1))}
    p.update(W2=rng.standard_normal((1, 3)), b2=rng.standard_normal((1, 1)))
    return X, Y, p


def _check(module, backward: str):
    X, Y, p = _data()
    before = {k: v.copy() for k, v in p.items()}
    report = check(
        lambda q: module.forward_propagation(X, Y, q)[0],
        lambda q: getattr(module, backward)(X, Y, module.forward_propagation(X, Y, q)[1]),
        p,
    )
    assert all(np.array_equal(p[k], before[k]) for k in p)
    return report


@pytest.mark.parametrize(
    "backward, tensor, says, line",
    [
        ("backward_axis", "b1", ["shape (6,), the parameter (3, 1)", "summed over the wrong axis"], "db1"),
        ("backward_transposed", "W1", ["shape (4, 3), the parameter (3, 4)", "transposed"], "dW1"),
        ("backward_keepdims", "b1", ["shape (3,), the parameter (3, 1)", "keepdims lost", "(3, 3)"], "db1"),
    ],
)
def test_a_shape_slip_fails_the_check_names_tensor_shapes_and_line(notebook, backward, tensor, says, line):
    report = _check(notebook, backward)
    text = str(report)
    assert report.status == "fail" and report.wrong_tensors == [tensor], text
    shape = [f for f in report.findings if f.pattern == "shape"]
    assert len(shape) == 1 and shape[0].tensor == tensor, text
    for words in says:
        assert words in shape[0].message, shape[0].message
    # the line that computed it, by the lines' own finding
    assert f"look at the line that computes {line}, " in text and "shape_slips.py:" in text, text
    # every other tensor is still checked, and right
    assert all(t.verdict == "ok" for t in report.tensors if t.name != tensor), text


def test_values_read_in_the_right_shape_are_judged_too(notebook):
    for backward in ("backward_transposed", "backward_keepdims"):
        message = next(f.message for f in _check(notebook, backward).findings if f.pattern == "shape")
        assert "its values are right: only the shape is wrong" in message, message
    axis = next(f.message for f in _check(notebook, "backward_axis").findings if f.pattern == "shape")
    assert "values are right" not in axis


def test_a_wrong_value_beside_the_wrong_shape_is_also_said():
    params = {"W": np.array([[0.3, -0.2, 0.5], [0.1, 0.4, -0.6]])}
    cost = lambda p: float(np.sum(np.tanh(p["W"]) ** 2))  # noqa: E731
    grad = lambda p: {"W": (2 * np.tanh(p["W"])).T}  # transposed, and the tanh' factor is missing  # noqa: E731
    report = check(cost, grad, params)
    message = next(f.message for f in report.findings if f.pattern == "shape")
    assert report.status == "fail" and "its values are wrong as well" in message, str(report)


def test_list_parameters_slip_too():
    params = [np.array([[0.3, -0.2], [0.1, 0.4]]), np.array([[0.5], [-0.7]])]
    cost = lambda p: float(np.sum((p[0] @ np.ones((2, 1)) + p[1]) ** 2))  # noqa: E731

    def grad(p):
        r = 2 * (p[0] @ np.ones((2, 1)) + p[1])
        return [r @ np.ones((1, 2)), r.ravel()]

    report = check(cost, grad, params)
    assert report.status == "fail" and report.wrong_tensors == ["[1]"], str(report)
    assert report.tensor("[0]").verdict == "ok"


def test_cli_exits_1_with_the_finding(notebook, tmp_path, capsys):
    X, Y, p = _data()
    data = tmp_path / "d.npz"
    np.savez(data, X=X, Y=Y, **p)
    target = f"{notebook.__file__}:forward_propagation,backward_axis"
    assert main(["check", target, "--data", str(data), "--quiet"]) == 1
    out = capsys.readouterr().out
    assert (
        "b1: the gradient has shape (6,), the parameter (3, 1)" in out and "summed over the wrong axis" in out
    )


@pytest.mark.parametrize(
    "got, expected, reading",
    [
        ((3,), (3, 1), "reshaped"),
        ((1, 3), (3, 1), "transposed"),
        ((4, 3), (3, 4), "transposed"),
        ((6,), (3, 1), ""),
    ],
)
def test_read_as(got, expected, reading):
    arr = np.arange(float(np.prod(got))).reshape(got)
    values, how = read_as(arr, expected)
    assert values.shape == expected and how == reading
    if not reading:
        assert not values.any()


def test_suggestions_for_the_common_slips():
    assert "not summed over the examples" in suggestion((3, 1), (3, 6), "", 6)
    assert "one value per example (m = 6)" in suggestion((3, 1), (1, 6), "", 6)
    assert "extra axis" in suggestion((3,), (3, 1), "reshaped", None)
    assert "cannot be read" in suggestion((3, 4), (2, 2), "", None)
