"""The first wrong line where a review found it wrong or missing: ReLU exactly at 0 on integer
data (autograd's 1/2 at a tie against the backward's mask), a boolean-index write read as
reading nothing, object-style layers and a loss returning (loss, grads) (the check's adapters
hand over copies of the user's arrays), a forward loop rebinding ``A_prev = A``, and code with
no source text. Each module is written as students write it, to a file of its own."""

from __future__ import annotations

import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest

import verifier
from verifier.frontends.loading import load_module
from verifier.trace.provenance import record


def write(tmp_path: Path, name: str, text: str) -> object:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return load_module(str(path))


def line_of(module: object, text: str) -> str:
    """``file.py:N`` of the one line of ``module``'s file that holds ``text``."""
    path = Path(module.__file__)  # type: ignore[attr-defined]
    lines = path.read_text().splitlines()
    hits = [n for n, line in enumerate(lines, 1) if text in line]
    assert len(hits) == 1, (text, hits)
    return f"{path.name}:{hits[0]}"


def lines_of(report: verifier.Report) -> str:
    return "\n".join(f.message for f in report.findings if f.pattern == "line")


# ---------------------------------------------------------------------------------------------
# ReLU exactly at 0 (integer data)

TIED = """\
import numpy as np

X = np.array([[1., -1, 0, 2, 1, -2], [0, 1, 1, -1, 2, 1]])     # integer data: Z1 hits 0 exactly
Y = np.array([[1., 0, 1, 1, 0, 1]])


def cost(p):
    A1 = np.maximum(0, np.dot(p["W1"], X))
    A2 = 1 / (1 + np.exp(-np.dot(p["W2"], A1)))
    return float(-np.mean(Y * np.log(A2) + (1 - Y) * np.log(1 - A2)))


def grad(p):
    m = X.shape[1]
    Z1 = np.dot(p["W1"], X)
    A1 = np.maximum(0, Z1)
    A2 = 1 / (1 + np.exp(-np.dot(p["W2"], A1)))
    dZ2 = A2 - Y
    dW2 = np.dot(dZ2, A1.T) / m
    dA1 = np.dot(p["W2"].T, dZ2)
    dZ1 = np.array(dA1, copy=True)
    dZ1[Z1 <= 0] = 0
    dW1 = np.dot(dZ1, X.T) / m
    return {"W1": dW1, "W2": dW2}
"""


def tied_params() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {"W1": rng.integers(-2, 3, (3, 2)).astype(float), "W2": rng.standard_normal((1, 3))}


def test_relu_exactly_at_zero_names_the_line_missing_1_over_m(tmp_path: Path) -> None:
    module = write(tmp_path, "tied.py", TIED.replace("dW1 = np.dot(dZ1, X.T) / m", "dW1 = np.dot(dZ1, X.T)"))
    params = tied_params()
    assert np.sum(params["W1"] @ module.X == 0) > 0  # the point has ReLUs exactly at 0
    report = verifier.check(module.cost, module.grad, params)
    assert report.status == "fail"
    lines = lines_of(report)
    assert line_of(module, "dW1 = np.dot(dZ1, X.T)") in lines
    assert "dZ1 is right, dW1 is wrong" in lines
    assert line_of(module, "dZ1[Z1 <= 0] = 0") not in lines
    assert "reads no array" not in lines


def test_relu_exactly_at_zero_correct_backward_passes(tmp_path: Path) -> None:
    module = write(tmp_path, "tied_ok.py", TIED)
    report = verifier.check(module.cost, module.grad, tied_params())
    assert report.ok
    assert not lines_of(report)


NOTEBOOK = """\
import numpy as np


def relu(Z):
    A = np.maximum(0, Z)
    cache = Z
    return A, cache


def sigmoid(Z):
    return 1 / (1 + np.exp(-Z)), Z


def L_model_forward(X, parameters):
    caches = []
    A = X
    L = len(parameters) // 2
    for l in range(1, L):
        A_prev = A
        Z = np.dot(parameters["W" + str(l)], A_prev) + parameters["b" + str(l)]
        A, activation_cache = relu(Z)
        caches.append(((A_prev, parameters["W" + str(l)], parameters["b" + str(l)]), activation_cache))
    Z = np.dot(parameters["W" + str(L)], A) + parameters["b" + str(L)]
    AL, activation_cache = sigmoid(Z)
    caches.append(((A, parameters["W" + str(L)], parameters["b" + str(L)]), activation_cache))
    return AL, caches


def compute_cost(AL, Y):
    m = Y.shape[1]
    cost = (-1. / m) * np.sum(Y * np.log(AL) + (1 - Y) * np.log(1 - AL))
    return float(np.squeeze(cost))


def linear_backward(dZ, cache):
    A_prev, W, b = cache
    m = A_prev.shape[1]
    dW = 1. / m * np.dot(dZ, A_prev.T)
    db = 1. / m * np.sum(dZ, axis=1, keepdims=True)
    dA_prev = np.dot(W.T, dZ)
    return dA_prev, dW, db


def L_model_backward(AL, Y, caches):
    grads = {}
    L = len(caches)
    Y = Y.reshape(AL.shape)
    dAL = -(np.divide(Y, AL) - np.divide(1 - Y, 1 - AL))
    linear_cache, Z = caches[L - 1]
    s = 1 / (1 + np.exp(-Z))
    dZ = dAL * s * (1 - s)
    grads["dA" + str(L - 1)], grads["dW" + str(L)], grads["db" + str(L)] = linear_backward(dZ, linear_cache)
    for l in reversed(range(L - 1)):
        linear_cache, Z = caches[l]
        dZ = np.array(grads["dA" + str(l + 1)], copy=True)
        dZ[Z <= 0] = 0
        dA_prev, dW, db = linear_backward(dZ, linear_cache)
        grads["dA" + str(l)] = dA_prev
        grads["dW" + str(l + 1)] = dW
        grads["db" + str(l + 1)] = db
    return grads
"""


def notebook_case(module: object) -> tuple[object, object, dict[str, np.ndarray]]:
    rng = np.random.default_rng(1)
    X = rng.integers(-2, 3, (4, 10)).astype(float)
    Y = (rng.random((1, 10)) > 0.5).astype(float)
    params = {
        "W1": rng.integers(-2, 3, (5, 4)).astype(float),
        "b1": np.zeros((5, 1)),
        "W2": rng.standard_normal((3, 5)) * 0.3,
        "b2": np.zeros((3, 1)),
        "W3": rng.standard_normal((1, 3)),
        "b3": np.zeros((1, 1)),
    }
    assert np.sum(params["W1"] @ X == 0) > 0  # ReLUs exactly at 0 in the first layer

    def cost(p):
        return module.compute_cost(module.L_model_forward(X, p)[0], Y)

    def grad(p):
        AL, caches = module.L_model_forward(X, p)
        return module.L_model_backward(AL, Y, caches)

    return cost, grad, params


def test_relu_exactly_at_zero_in_notebook_helpers_names_the_bias_line(tmp_path: Path) -> None:
    slipped = NOTEBOOK.replace(
        "    dA_prev = np.dot(W.T, dZ)\n",
        "    if W.shape[1] == 4:\n        db = np.sum(dZ, axis=1, keepdims=True)\n"
        "    dA_prev = np.dot(W.T, dZ)\n",
    )
    module = write(tmp_path, "nb.py", slipped)
    cost, grad, params = notebook_case(module)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # dA2, dA1, dA0 go unchecked (test_forward_loop_...)
        report = verifier.check(cost, grad, params)
    assert report.status == "fail"
    assert [t.name for t in report.tensors if t.verdict == "wrong"] == ["b1"]
    lines = lines_of(report)
    assert line_of(module, "        db = np.sum(dZ, axis=1, keepdims=True)") in lines
    assert line_of(module, "dZ[Z <= 0] = 0") not in lines


def test_a_write_through_a_boolean_index_reads_the_mask_source() -> None:
    Z = np.array([[1.0, -2.0, 0.0], [3.0, 0.0, -1.0]])

    def backward(p):
        dZ = np.array(p["dA"], copy=True)
        dZ[Z <= 0] = 0
        return dZ

    recording = record(backward, {"dA": np.ones((2, 3))})
    assert recording is not None
    (write,) = [e for r in recording.arrays.values() for e in r.writes]
    assert write.target == "dZ[Z <= 0]"
    assert write.inputs.get(id(Z)) == "Z"


# ---------------------------------------------------------------------------------------------
# object-style layers and a loss returning (loss, grads)

NNFS = """\
import numpy as np


class Layer_Dense:
    def __init__(self, n_inputs, n_neurons, rng):
        self.weights = 0.1 * rng.standard_normal((n_inputs, n_neurons))
        self.biases = np.zeros((1, n_neurons))

    def forward(self, inputs):
        self.inputs = inputs
        self.output = np.dot(inputs, self.weights) + self.biases

    def backward(self, dvalues):
        self.dweights = np.dot(self.inputs.T, dvalues)
        self.dbiases = np.sum(dvalues, axis=0, keepdims=True)
        self.dinputs = np.dot(dvalues, self.weights.T)


class Activation_ReLU:
    def forward(self, inputs):
        self.inputs = inputs
        self.output = np.maximum(0, inputs)

    def backward(self, dvalues):
        self.dinputs = dvalues.copy()
        self.dinputs[self.inputs <= 0] = 0


class Activation_Softmax_Loss_CategoricalCrossentropy:
    def forward(self, inputs, y_true):
        exp_values = np.exp(inputs - np.max(inputs, axis=1, keepdims=True))
        self.output = exp_values / np.sum(exp_values, axis=1, keepdims=True)
        clipped = np.clip(self.output, 1e-7, 1 - 1e-7)
        return np.mean(-np.log(clipped[range(len(inputs)), y_true]))

    def backward(self, dvalues, y_true):
        samples = len(dvalues)
        self.dinputs = dvalues.copy()
        self.dinputs[range(samples), y_true] -= 1
        self.dinputs = self.dinputs / samples
"""


def test_object_layers_missing_division_by_samples_names_a_line(tmp_path: Path) -> None:
    module = write(
        tmp_path, "nnfs_layers.py", NNFS.replace("        self.dinputs = self.dinputs / samples\n", "")
    )
    rng = np.random.default_rng(3)
    X = rng.standard_normal((30, 2))
    y = rng.integers(0, 3, 30)
    dense1 = module.Layer_Dense(2, 8, rng)
    activation1 = module.Activation_ReLU()
    dense2 = module.Layer_Dense(8, 3, rng)
    loss_activation = module.Activation_Softmax_Loss_CategoricalCrossentropy()

    def forward():
        dense1.forward(X)
        activation1.forward(dense1.output)
        dense2.forward(activation1.output)
        return loss_activation.forward(dense2.output, y)

    def backward():
        loss_activation.backward(loss_activation.output, y)
        dense2.backward(loss_activation.dinputs)
        activation1.backward(dense2.dinputs)
        dense1.backward(activation1.dinputs)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the layers' dinputs are named as unchecked
        report = verifier.check_objects(forward, backward, dense1, dense2)
    assert report.status == "fail"
    lines = lines_of(report)
    assert line_of(module, "self.dinputs[range(samples), y_true] -= 1") in lines
    assert "look at the first lines of the backward pass" not in lines
    assert line_of(module, "self.dinputs[self.inputs <= 0] = 0") not in lines


TWO_LAYER_NET = """\
import numpy as np


class TwoLayerNet:
    def __init__(self, input_size, hidden_size, output_size, std=1e-1, reg=0.05):
        rng = np.random.default_rng(0)
        self.params = {}
        self.params["W1"] = std * rng.standard_normal((input_size, hidden_size))
        self.params["b1"] = np.zeros(hidden_size)
        self.params["W2"] = std * rng.standard_normal((hidden_size, output_size))
        self.params["b2"] = np.zeros(output_size)
        self.reg = reg

    def loss(self, X, y):
        W1, b1 = self.params["W1"], self.params["b1"]
        W2, b2 = self.params["W2"], self.params["b2"]
        N = X.shape[0]
        h = np.maximum(0, X.dot(W1) + b1)
        scores = h.dot(W2) + b2
        scores -= np.max(scores, axis=1, keepdims=True)
        probs = np.exp(scores) / np.sum(np.exp(scores), axis=1, keepdims=True)
        loss = -np.sum(np.log(probs[np.arange(N), y])) / N
        loss += self.reg * (np.sum(W1 * W1) + np.sum(W2 * W2))

        grads = {}
        dscores = probs.copy()
        dscores[np.arange(N), y] -= 1
        dscores /= N
        grads["W2"] = h.T.dot(dscores) + 2 * self.reg * W2
        grads["b2"] = np.sum(dscores, axis=0)
        dh = dscores.dot(W2.T)
        dh[h <= 0] = 0
        grads["W1"] = X.T.dot(dh) + 2 * self.reg * W1
        grads["b1"] = np.sum(dh, axis=0)
        return loss, grads
"""


@pytest.mark.parametrize("route", ["check", "check_objects"])
def test_loss_and_grads_missing_factor_2_on_l2_names_the_line(tmp_path: Path, route: str) -> None:
    module = write(
        tmp_path,
        "two_layer_net.py",
        TWO_LAYER_NET.replace(
            'grads["W1"] = X.T.dot(dh) + 2 * self.reg * W1', 'grads["W1"] = X.T.dot(dh) + self.reg * W1'
        ),
    )
    rng = np.random.default_rng(1)
    X = rng.standard_normal((5, 4))
    y = rng.integers(0, 3, 5)
    net = module.TwoLayerNet(4, 10, 3)
    if route == "check":

        def cost(params):
            net.params = params
            return net.loss(X, y)

        report = verifier.check(cost, None, net.params)
    else:
        report = verifier.check_objects(lambda: net.loss(X, y), None, net)
    assert report.status == "fail"
    lines = lines_of(report)
    assert line_of(module, 'grads["W1"] = X.T.dot(dh) + self.reg * W1') in lines
    assert "dh is right" in lines
    # dh, named before its mask is applied, holds the gradient of the pre-activation after it
    assert "gradient of another of the forward's values" not in lines


# ---------------------------------------------------------------------------------------------
# a forward loop rebinding A_prev = A; code with no source text


def test_forward_loop_rebinding_names_says_why_dA_keys_go_unchecked(tmp_path: Path) -> None:
    module = write(tmp_path, "nb_ok.py", NOTEBOOK)
    cost, grad, params = notebook_case(module)
    with pytest.warns(UserWarning) as caught:
        report = verifier.check(cost, grad, params)
    assert report.ok
    (message,) = [str(w.message) for w in caught if "not checked" in str(w.message)]
    assert "['dA2', 'dA1', 'dA0']" in message
    assert "it holds its values as A, A_prev" in message
    assert "cannot be matched by name" in message
    assert "holds no value named" not in message


@pytest.mark.parametrize("filename", ["<student>", "<string>"])
def test_a_line_from_code_without_source_text_has_no_empty_quotes(filename: str) -> None:
    source = textwrap.dedent(
        """\
        import numpy as np

        def cost(p):
            A1 = np.maximum(0, p["W1"] @ X)
            return float(np.mean((p["W2"] @ A1 - Y) ** 2))

        def grad(p):
            Z1 = p["W1"] @ X
            A1 = np.maximum(0, Z1)
            dS = 2 * (p["W2"] @ A1 - Y)
            dW2 = dS @ A1.T / X.shape[1]
            dZ1 = (p["W2"].T @ dS) * (Z1 > 0)
            dW1 = dZ1 @ X.T
            return {"W1": dW1, "W2": dW2}
        """
    )
    rng = np.random.default_rng(0)
    namespace = {"X": rng.standard_normal((3, 8)), "Y": rng.standard_normal((1, 8))}
    exec(compile(source, filename, "exec"), namespace)
    params = {"W1": rng.standard_normal((4, 3)), "W2": rng.standard_normal((1, 4))}
    report = verifier.check(namespace["cost"], namespace["grad"], params)
    assert report.status == "fail"
    text = "\n".join(f.message for f in report.findings)
    assert f"{filename}:14" in text
    assert "``" not in text
    assert "reads no array" not in text  # what a line with no source text reads is unknown
