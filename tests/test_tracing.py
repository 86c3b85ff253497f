"""autograd on plain-numpy code as people write it: traced as written, or refused at its line."""

from __future__ import annotations

import importlib
import sys
import textwrap

import numpy as np
import pytest

from verifier import check, reference_gradients
from verifier.errors import ReferenceUnavailable

HELPERS = """
import numpy as np
from numpy import dot as npdot


def relu(x):
    return np.maximum(0, x)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))
"""

STYLES = """
import math

import numpy as np
from numpy import dot
from helpers import relu, sigmoid, npdot

rng = np.random.default_rng(0)
X = rng.standard_normal((4, 6))


def np_dot(p):
    return float(np.sum(sigmoid(np.dot(p["W"], X)) ** 2))


def from_numpy_import(p):
    return np.sum(relu(dot(p["W"], X)) ** 2) + np.sum(npdot(p["W"], X))


def method_dot(p):
    return np.sum(p["W"].dot(X) ** 2)


def einsum(p):
    return np.einsum("ij,jk->", p["W"] ** 2, X)


def where(p):
    Z = p["W"] @ X
    return np.sum(np.where(Z > 0, Z, 0.01 * Z) ** 2)


def clip(p):
    return np.sum(np.clip(p["W"] @ X, -1, 1) ** 2)


def copies(p):
    A = np.copy(p["W"])
    B = A.copy()
    return np.sum(B**3)


def transpose_axes(p):
    w = p["W"].reshape(2, 2, 2, 1).transpose(3, 1, 2, 0)
    return np.sum(w**2 * np.arange(8).reshape(1, 2, 2, 2))


def masking(p):
    Z = p["W"] @ X
    A = Z.copy()
    A[Z < 0] = 0
    A[0] += 1.0
    return np.sum(A**2)


def add_at(p):
    out = np.zeros_like(p["W"])
    np.add.at(out, [0, 0, 1], p["W"][0])
    return np.sum(out**2)


def preallocated(p):
    out = np.zeros((2, 6))
    for i in range(2):
        for j in range(6):
            out[i, j] = np.sum(p["W"][i] * X[:, j])
    return np.sum(np.tanh(out))


def mean_of_list(p):
    return np.mean([_ * _ for _ in (p["W"] - 1)])


def item(p):
    return (np.sum(p["W"] ** 2) / 3).item()


class Layer:
    def __init__(self, scale):
        self.scale = scale

    def __call__(self, p):
        return self.cost(p)

    def cost(self, p):
        return float(self.scale * np.sum(np.tanh(np.dot(p["W"], X))))


def make_closure():
    import numpy as onp

    def cost(p):
        return onp.sum(onp.exp(p["W"] / 3))

    return cost


def plain_dot_method(p):
    return np.sum(X.T.dot(p["W"].T) ** 2)


def rebuilt_dot_method(p):
    rows = np.asarray(X.tolist())  # a plain array the check cannot reach before the trace
    return np.sum(rows.T.dot(p["W"].T) ** 2)


def math_module(p):
    return sum(math.sin(v) for v in p["W"].ravel())
"""


@pytest.fixture
def user_modules(tmp_path, monkeypatch):
    (tmp_path / "helpers.py").write_text(HELPERS)
    (tmp_path / "styles.py").write_text(STYLES)
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("helpers", "styles"):
        sys.modules.pop(name, None)
    styles = importlib.import_module("styles")
    yield styles
    for name in ("helpers", "styles"):
        sys.modules.pop(name, None)


def _centred(cost, W):
    """The notebook's centred difference, for comparison."""
    out = np.zeros_like(W)
    for i in np.ndindex(W.shape):
        up, down = W.copy(), W.copy()
        up[i] += 1e-6
        down[i] -= 1e-6
        out[i] = (float(cost({"W": up})) - float(cost({"W": down}))) / 2e-6
    return out


TRACED = [
    "np_dot",
    "from_numpy_import",
    "method_dot",
    "einsum",
    "where",
    "clip",
    "copies",
    "transpose_axes",
    "masking",
    "add_at",
    "preallocated",
    "mean_of_list",
    "plain_dot_method",
    "item",
]


@pytest.mark.parametrize("name", TRACED)
def test_plain_numpy_styles_get_the_autograd_reference(user_modules, name):
    cost = getattr(user_modules, name)
    W = np.random.default_rng(1).standard_normal((2, 4))
    before = W.copy()
    got = reference_gradients(cost, {"W": W})["W"]
    np.testing.assert_allclose(got, _centred(cost, W), rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(W, before)


def test_classes_and_closures_are_resolved(user_modules):
    W = np.random.default_rng(2).standard_normal((2, 4))
    for cost in (user_modules.Layer(0.5), user_modules.Layer(2.0).cost, user_modules.make_closure()):
        np.testing.assert_allclose(reference_gradients(cost, {"W": W})["W"], _centred(cost, W), rtol=1e-6)


def test_everything_is_restored_after_the_trace_also_when_it_raises(user_modules):
    import helpers

    W = np.random.default_rng(3).standard_normal((2, 4))
    reference_gradients(user_modules.np_dot, {"W": W})

    def failing(p):  # fails half-way through the trace, after the helpers ran resolved
        return user_modules.np_dot(p) + user_modules.math_module(p)

    with pytest.raises(ReferenceUnavailable, match="TypeError"):
        reference_gradients(failing, {"W": W})
    for module in (user_modules, helpers):
        assert module.np is np and "float" not in vars(module)
    assert user_modules.dot is np.dot and helpers.npdot is np.dot
    from autograd.numpy.numpy_boxes import ArrayBox

    assert not hasattr(ArrayBox, "__array__") and not hasattr(ArrayBox, "dot")


@pytest.mark.parametrize(
    "name, operation",
    [("rebuilt_dot_method", "`rows.T.dot(...)`: a plain data array"), ("math_module", "TypeError")],
)
def test_untraceable_code_is_refused_at_its_line(user_modules, name, operation):
    with pytest.raises(ReferenceUnavailable) as info:
        reference_gradients(getattr(user_modules, name), {"W": np.ones((2, 4))})
    message = str(info.value)
    assert "styles.py:" in message and operation in message, message


def test_a_check_says_where_the_reference_came_from(user_modules):
    def grad(p):
        Z = np.dot(p["W"], user_modules.X)
        s = 1 / (1 + np.exp(-Z))
        return {"W": np.dot(2 * s * s * (1 - s), user_modules.X.T)}

    report = check(user_modules.np_dot, grad, {"W": np.random.default_rng(4).standard_normal((2, 4))})
    assert report.ok, str(report)
    method = report.methods["autograd"]
    assert method.available and "traced from your numpy code" in method.reason and "styles" in method.reason


BIG = textwrap.dedent(
    """
    import numpy as np

    X = np.random.default_rng(0).standard_normal((20, 60_000))
    calls = []


    def data_method(w):
        calls.append(1)
        rows = np.asarray(X.tolist())
        return float(np.sum(rows.dot(w) ** 2))


    def filled(w):
        calls.append(1)
        out = np.zeros(w.size)
        for i in range(w.size):
            out[i] = w[i] ** 2
        return float(np.sum(out))
    """
)


@pytest.mark.parametrize(
    "name, says",
    [("data_method", "`rows.dot(...)`: a plain data array"), ("filled", "element-by-element writes")],
)
def test_untraceable_code_at_60k_parameters_stops_at_once(tmp_path, monkeypatch, name, says):
    """Refused within three cost evaluations (the plain value, the trace as written, the trace
    resolved), never an object array of traced numbers (timed in benchmarks/trace_refusal.py)."""
    (tmp_path / "big.py").write_text(BIG)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("big", None)
    big = importlib.import_module("big")
    with pytest.raises(ReferenceUnavailable) as info:
        reference_gradients(getattr(big, name), np.ones(60_000))
    assert len(big.calls) <= 3
    assert "big.py:" in str(info.value) and says in str(info.value), str(info.value)
    sys.modules.pop("big", None)
