"""Backprop organised as the books and courses organise it (the zoo in ``tests/styles``): each
style correct over ten seeded draws with no false alarm and the autograd reference available,
whether its code is imported inside the test, exec'd into a module without ``__file__`` or
run as a notebook cell; and each style's realistic slips caught with the right tensors."""

from __future__ import annotations

import builtins
import importlib
import types
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import verifier
from verifier.errors import InputError

STYLES = Path(__file__).parent / "styles"
HOW = ("import", "exec", "notebook")


class Cell:
    """The names a notebook cell defined (its globals, as ``__main__``'s are in IPython)."""

    def __init__(self, namespace: dict[str, Any]) -> None:
        object.__setattr__(self, "_ns", namespace)

    def __getattr__(self, name: str) -> Any:
        return self._ns[name]

    def __setattr__(self, name: str, value: Any) -> None:
        self._ns[name] = value


def load(name: str, how: str) -> Any:
    """The zoo module ``name``: imported here (a function-local import), exec'd into a
    ``types.ModuleType`` (no ``__file__``, as autograders do), or run as a notebook cell."""
    if how == "import":
        module = importlib.import_module(f"styles.{name}")
        return importlib.reload(module)  # a fresh SLIP for every test
    source = (STYLES / f"{name}.py").read_text()
    if how == "exec":
        module = types.ModuleType(f"student_{name}")
        exec(compile(source, "<string>", "exec"), vars(module))
        assert not hasattr(module, "__file__")
        return module
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    exec(compile(source, "<ipython-input-3-5e1f0c2a9b7d>", "exec"), namespace)
    return Cell(namespace)


def quiet(run: Any, *args: Any, **kwargs: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run(*args, **kwargs)


# ---------------------------------------------------------------------------------------------
# the glue each style needs (what the README shows)


def nnfs_check(mod: Any, seed: int, *, loss_cls: str = "", act_cls: str = "", dense2_cls: str = "") -> Any:
    rng = np.random.default_rng(seed)
    X, y = mod.spiral_data(4, 3, rng)
    dense1 = mod.Layer_Dense(2, 4)
    activation1 = getattr(mod, act_cls or "Activation_Sigmoid")()
    dense2 = getattr(mod, dense2_cls or "Layer_Dense")(4, 4)
    activation2 = mod.Activation_ReLU()
    dense3 = mod.Layer_Dense(4, 3)
    loss_activation = getattr(mod, loss_cls or "Activation_Softmax_Loss_CategoricalCrossentropy")()
    for layer in (dense1, dense2, dense3):  # seeded draws (the book draws from np.random)
        layer.weights = rng.standard_normal(layer.weights.shape)
        layer.biases = 0.5 * rng.standard_normal(layer.biases.shape)

    def forward():
        dense1.forward(X)
        activation1.forward(dense1.output)
        dense2.forward(activation1.output)
        activation2.forward(dense2.output)
        dense3.forward(activation2.output)
        return loss_activation.forward(dense3.output, y)

    def backward():
        loss_activation.backward(loss_activation.output, y)
        dense3.backward(loss_activation.dinputs)
        activation2.backward(dense3.dinputs)
        dense2.backward(activation2.dinputs)
        activation1.backward(dense2.dinputs)
        dense1.backward(activation1.dinputs)

    before = dense1.weights.copy()
    report = quiet(
        verifier.check_objects, forward, backward, dense1, dense2, dense3, activation1, loss_activation
    )
    assert np.array_equal(dense1.weights, before) and not hasattr(dense1, "dweights")  # restored
    return report


def course_check(mod: Any, seed: int) -> Any:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((3, 7))
    Y = (rng.random((1, 7)) > 0.5).astype(float)
    parameters = mod.initialize_parameters_deep([3, 4, 3, 1], rng)

    def cost(p):
        return mod.compute_cost(mod.L_model_forward(X, p)[0], Y)

    def grad(p):
        AL, caches = mod.L_model_forward(X, p)
        return mod.L_model_backward(AL, Y, caches)

    return quiet(verifier.check, cost, grad, parameters)


def rnn_parameters(
    rng: np.random.Generator, n_x: int = 3, n_a: int = 4, n_y: int = 2
) -> dict[str, np.ndarray]:
    return {
        "Wax": rng.standard_normal((n_a, n_x)),
        "Waa": rng.standard_normal((n_a, n_a)),
        "Wya": rng.standard_normal((n_y, n_a)),
        "ba": rng.standard_normal((n_a, 1)),
        "by": rng.standard_normal((n_y, 1)),
    }


def rnn_cell_check(mod: Any, seed: int) -> Any:
    rng = np.random.default_rng(seed)
    xt, a_prev = rng.standard_normal((3, 5)), rng.standard_normal((4, 5))
    return quiet(
        verifier.check_layer, mod.rnn_cell_forward, mod.rnn_cell_backward, xt, a_prev, rnn_parameters(rng)
    )


def rnn_check(mod: Any, seed: int) -> Any:
    rng = np.random.default_rng(seed)
    x, a0 = rng.standard_normal((3, 5, 4)), rng.standard_normal((4, 5))
    return quiet(verifier.check_layer, mod.rnn_forward, mod.rnn_backward, x, a0, rnn_parameters(rng))


def lstm_cell_check(mod: Any, seed: int) -> Any:
    rng = np.random.default_rng(seed)
    n_x, n_a, n_y, m = 3, 4, 2, 5
    parameters = {}
    for gate in "fico":
        parameters[f"W{gate}"] = rng.standard_normal((n_a, n_a + n_x))
        parameters[f"b{gate}"] = rng.standard_normal((n_a, 1))
    parameters["Wy"], parameters["by"] = rng.standard_normal((n_y, n_a)), rng.standard_normal((n_y, 1))
    xt, a_prev, c_prev = (
        rng.standard_normal((n_x, m)),
        rng.standard_normal((n_a, m)),
        rng.standard_normal((n_a, m)),
    )
    return quiet(
        verifier.check_layer, mod.lstm_cell_forward, mod.lstm_cell_backward, xt, a_prev, c_prev, parameters
    )


def cnn_check(mod: Any, seed: int) -> Any:
    rng = np.random.default_rng(seed)
    image = rng.standard_normal((1, 6, 6))
    label = np.eye(3)[:, [seed % 3]]
    params = [
        rng.standard_normal((2, 1, 3, 3)),
        0.5 * rng.standard_normal((3, 8)),
        0.1 * rng.standard_normal((2, 1)),
        0.1 * rng.standard_normal((3, 1)),
    ]
    return quiet(verifier.check, lambda p: mod.conv(image, label, p, 1, 2, 2), None, params)


def model_check(mod: Any, seed: int, slip: str | None = None) -> Any:
    rng = np.random.default_rng(seed)
    model = mod.TwoLayerNet(4, 5, 3, std=0.5, rng=rng, slip=slip)
    X, y = rng.standard_normal((6, 4)), rng.integers(0, 3, 6)
    before = {k: v.copy() for k, v in model.params.items()}
    report = quiet(verifier.check_objects, lambda: model.loss(X, y), None, model)
    assert all(np.array_equal(model.params[k], before[k]) for k in before)  # restored
    return report


CHECKS = {
    "nnfs": nnfs_check,
    "dnn_utils": course_check,
    "rnn_utils.cell": rnn_cell_check,
    "rnn_utils.sequence": rnn_check,
    "rnn_utils.lstm": lstm_cell_check,
    "cnn": cnn_check,
    "two_layer_net": model_check,
}


@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize("style", list(CHECKS))
def test_correct_backprop_passes_ten_draws_with_the_autograd_reference(style, how):
    module = load(style.split(".")[0], how)
    for seed in range(10):
        report = CHECKS[style](module, seed)
        assert report.ok, f"seed {seed}:\n{report}"
        assert report.methods["autograd"].available, report.methods["autograd"].reason


def _slipped(style: str, module: Any, slip: str, seed: int) -> Any:
    if style == "nnfs":
        return nnfs_check(module, seed, **{slip.split("=")[0]: slip.split("=")[1]})
    if style == "two_layer_net":
        return model_check(module, seed, slip)
    module.SLIP = slip
    return CHECKS[style](module, seed)


SLIPS = [
    # a fused softmax-cross-entropy gradient not divided by the batch: every tensor below it
    (
        "nnfs",
        "loss_cls=Softmax_Loss_NotDividedByBatch",
        {f"dense{k}.{p}" for k in (1, 2, 3) for p in ("weights", "biases")},
    ),
    # a wrong activation derivative in one layer: the tensors below it
    ("nnfs", "act_cls=Activation_Sigmoid_WrongDerivative", {"dense1.weights", "dense1.biases"}),
    # a transposed product (a square layer, so the shapes still fit)
    ("nnfs", "dense2_cls=Layer_Dense_TransposedProduct", {"dense2.weights"}),
    # 1/m missing in a per-layer helper: every dW, no db
    ("dnn_utils", "no 1/m", {"W1", "W2", "W3"}),
    ("dnn_utils", "sigmoid derivative", {"W1", "W2", "W3", "b1", "b2", "b3"}),
    # a transposed gradient of a parameter passed in a dict (it passed 10 of 10 draws before)
    ("rnn_utils.cell", "dWaa transposed", {"Waa"}),
    # `=` for `+=` in a loop over time steps
    ("rnn_utils.sequence", "= for +=", {"Wax"}),
    ("cnn", "= for +=", {"[0]"}),
    (
        "two_layer_net",
        "not divided by N",
        {"model.params[W1]", "model.params[b1]", "model.params[W2]", "model.params[b2]"},
    ),
    ("two_layer_net", "relu derivative", {"model.params[W1]", "model.params[b1]"}),
]


@pytest.mark.parametrize("style, slip, wrong", SLIPS, ids=[f"{s}-{k}" for s, k, _ in SLIPS])
def test_realistic_slips_are_caught_with_the_right_tensors(style, slip, wrong):
    module = load(style.split(".")[0], "import")
    for seed in range(3):
        report = _slipped(style, module, slip, seed)
        assert report.status == "fail", f"seed {seed}:\n{report}"
        assert set(report.wrong_tensors) == wrong, f"seed {seed}:\n{report}"


@pytest.fixture
def nnfs_float32():
    """The book's ``nnfs.init()``: ``np.dot`` returns float32 until the test ends."""
    module = load("nnfs", "import")
    undo = module.init()
    yield module
    undo()


def test_float32_from_a_global_patch_draws_no_false_alarm(nnfs_float32):
    """The backprop's own round-off is counted at the precision it ran in (float32 here: the
    long-double re-run comes back float32), so its last digits never convict it."""
    statuses = [nnfs_check(nnfs_float32, seed).status for seed in range(10)]
    assert "fail" not in statuses, statuses
    assert statuses.count("pass") >= 8, statuses


def test_float32_still_catches_the_slip(nnfs_float32):
    report = nnfs_check(nnfs_float32, 0, loss_cls="Softmax_Loss_NotDividedByBatch")
    assert report.status == "fail"
    assert set(report.wrong_tensors) == {f"dense{k}.{p}" for k in (1, 2, 3) for p in ("weights", "biases")}


# ---------------------------------------------------------------------------------------------
# every gradient is checked or named unchecked; nothing matched is an error


def test_the_course_dA_keys_are_checked_or_named_unchecked_never_ignored():
    """dA1, dA2: the gradients of the activations the course's helpers hold as A_prev, checked
    against autograd's; dA0 is the gradient of the data X, which the trace does not follow."""
    mod = load("dnn_utils", "import")
    report = course_check(mod, 0)
    assert report.ok
    assert [u.split(" ")[0] for u in report.unchecked] == ["dA0"], report.unchecked
    assert report.intermediates is not None
    assert {t.name: t.verdict for t in report.intermediates.tensors} == {"A2": "ok", "A1": "ok"}
    assert "ignored gradient keys" not in str(report) and "unchecked gradients: dA0" in str(report)


def test_a_wrong_dA_is_named_among_the_intermediates():
    mod = load("dnn_utils", "import")
    mod.SLIP = "sigmoid derivative"  # the last layer's dZ, and every dA below it, are wrong
    report = course_check(mod, 0)
    assert report.status == "fail"
    assert {t.name: t.verdict for t in report.intermediates.tensors} == {"A2": "wrong", "A1": "wrong"}


def test_objects_name_the_gradients_of_inputs_unchecked_and_warn():
    mod = load("nnfs", "import")
    with pytest.warns(UserWarning, match="not checked"):
        rng = np.random.default_rng(0)
        X, y = mod.spiral_data(3, 3, rng)
        dense = mod.Layer_Dense(2, 3)
        loss_activation = mod.Activation_Softmax_Loss_CategoricalCrossentropy()

        def forward():
            dense.forward(X)
            return loss_activation.forward(dense.output, y)

        def backward():
            loss_activation.backward(loss_activation.output, y)
            dense.backward(loss_activation.dinputs)

        report = verifier.check_objects(forward, backward, dense)
    assert report.ok and [t.name for t in report.tensors] == ["dense.weights", "dense.biases"]
    assert any(u.startswith("dense.dinputs") for u in report.unchecked)


def test_objects_with_no_gradient_paired_is_an_error_and_they_are_restored():
    class Odd:
        def __init__(self):
            self.kernel = np.ones((2, 2))

        def forward(self, x):
            self.out = x @ self.kernel
            return float(np.sum(self.out**2))

        def backward(self):
            self.delta = 2 * self.out  # a gradient of the output: pairs with no parameter

    odd, x = Odd(), np.arange(4.0).reshape(2, 2)
    with pytest.raises(InputError, match="none of its gradients pairs with a parameter"):
        verifier.check_objects(lambda: odd.forward(x), odd.backward, odd=odd)
    assert set(vars(odd)) == {"kernel"}


def test_objects_are_restored_when_the_users_code_raises():
    mod = load("two_layer_net", "import")
    model = mod.TwoLayerNet(3, 4, 2, rng=np.random.default_rng(1))
    before = {k: v.copy() for k, v in model.params.items()}
    calls = []

    def loss():
        calls.append(1)
        if len(calls) > 3:
            model.params["W1"] += 1.0  # writes into the parameters, then fails
            raise RuntimeError("boom")
        return model.loss(np.ones((2, 3)), np.array([0, 1]))

    with pytest.raises(RuntimeError, match="boom"):
        verifier.check_objects(loss, None, model=model)
    assert all(np.array_equal(model.params[k], before[k]) for k in before)
    assert set(vars(model)) == {"params", "slip"}


@pytest.mark.parametrize("order", ["loss first", "grads first"])
def test_a_cost_returning_its_gradients_in_either_order(order):
    def cost(p):
        loss, grads = np.sum(np.tanh(p["w"]) ** 2), {"w": 2 * np.tanh(p["w"]) * (1 - np.tanh(p["w"]) ** 2)}
        return (loss, grads) if order == "loss first" else (grads, loss)

    report = verifier.check(cost, None, {"w": np.array([0.3, -1.2, 0.7])})
    assert report.ok and report.methods["autograd"].available


def test_the_loss_is_traced_past_a_gradient_half_autograd_cannot_follow():
    """Plain numpy in the gradient half (after the loss) does not block autograd; before the
    loss it does, and the refusal names that line."""
    X = np.random.default_rng(3).standard_normal((4, 3))

    def after(p):
        loss = np.sum(np.dot(X, p["w"]) ** 2)
        rows = np.asarray(X.tolist())
        return loss, {"w": 2 * rows.T.dot(rows.dot(np.asarray(p["w"]).tolist()))}

    def before(p):
        rows = np.asarray(X.tolist())
        loss = np.sum(rows.dot(p["w"]) ** 2)
        return loss, {"w": 2 * X.T.dot(X.dot(p["w"]))}

    w = {"w": np.array([0.5, -0.2, 0.1])}
    assert quiet(verifier.check, after, None, w).methods["autograd"].available
    method = quiet(verifier.check, before, None, w).methods["autograd"]
    assert not method.available and "rows.dot(...)" in method.reason, method.reason


def test_the_silent_pass_of_a_transposed_dict_gradient_is_gone():
    """Passed the parameters dict, check_layer used to hold it constant and drop dWaa: a
    transposed dWaa passed 10 of 10 draws (with the glue that made the cell run at all, a
    forward keeping a_next and the cache; and now without glue)."""
    mod = load("rnn_utils", "import")
    mod.SLIP = "dWaa transposed"

    def forward(xt, a_prev, parameters):
        a_next, _, cache = mod.rnn_cell_forward(xt, a_prev, parameters)
        return a_next, cache

    for seed in range(10):
        rng = np.random.default_rng(seed)
        xt, a_prev = rng.standard_normal((3, 5)), rng.standard_normal((4, 5))
        report = quiet(verifier.check_layer, forward, mod.rnn_cell_backward, xt, a_prev, rnn_parameters(rng))
        assert report.status == "fail" and report.wrong_tensors == ["Waa"], report
        assert rnn_cell_check(mod, seed).wrong_tensors == ["Waa"]


def test_the_cells_upstream_gradients_are_matched_by_the_backwards_signature():
    mod = load("rnn_utils", "import")
    report = lstm_cell_check(mod, 0)
    notes = " ".join(f.message for f in report.findings)
    assert "a_next (da_next), c_next (dc_next) got a random dout, yt_pred none" in notes, notes
    assert "held constant: Wy, by" in notes
    assert {t.name for t in report.tensors} >= {"xt", "a_prev", "c_prev", "Wf", "bo"}


DTYPES = """
import numpy as np


def cost(p):
    w = p["w"].astype(float)
    out = np.zeros(w.size, dtype=float)
    tiny = np.finfo(float).eps
    k = np.nanargmax(w)
    values, idx = np.unique(np.round(w, 3), return_index=True)
    assert isinstance(1.5, float) and not isinstance(1, float) and (w > 0).dtype == bool
    return float(np.sum(w**2) + tiny * np.sum(out) + 0.5 * w[k] + np.sum(w[idx]))
"""


@pytest.mark.parametrize("filename", ["<string>", "<ipython-input-7-0a1b2c3d4e5f>"])
def test_float_stays_a_dtype_and_integer_functions_run_on_values(filename):
    module = types.ModuleType("student_dtypes")
    exec(compile(DTYPES, filename, "exec"), vars(module))
    w = np.array([0.3, -1.2, 0.9, 0.1])
    got = verifier.reference_gradients(module.cost, {"w": w})["w"]
    np.testing.assert_allclose(got, 2 * w + 1 + 0.5 * (np.arange(4) == 2), rtol=1e-12)
    assert module.np is np and "float" not in vars(module)  # put back


def test_a_backward_starting_from_the_loss_is_sent_to_check_with_the_glue():
    mod = load("dnn_utils", "import")
    rng = np.random.default_rng(0)
    X, parameters = rng.standard_normal((3, 4)), mod.initialize_parameters_deep([3, 2, 1], rng)
    with pytest.raises(InputError, match=r"takes \(AL, Y, caches\).*verifier.check"):
        verifier.check_layer(mod.L_model_forward, mod.L_model_backward, X, parameters)


def test_the_batch_size_reaches_the_diagnosis():
    report = nnfs_check(load("nnfs", "import"), 0, loss_cls="Softmax_Loss_NotDividedByBatch")
    assert "the 1/m averaging is missing (m = 12)" in str(report), str(report)


class DenseW:  # self.W / self.dW, examples in rows
    def __init__(self, rng):
        self.W, self.b = rng.standard_normal((3, 2)), rng.standard_normal(2)

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, dout):
        self.dW, self.db = self.x.T @ dout, dout.sum(axis=0)
        return dout @ self.W.T


class TanhW:  # self.w / self.grad_w
    def __init__(self, rng):
        self.w = rng.standard_normal((2, 2))

    def forward(self, x):
        self.x, self.out = x, np.tanh(x @ self.w)
        return self.out

    def backward(self, dout):
        dz = dout * (1 - self.out**2)
        self.grad_w = self.x.T @ dz
        return dz @ self.w.T


class Head:  # self.params[k] / self.grads[k], set by a backward of its own
    def __init__(self, rng):
        self.params = {"V": rng.standard_normal((2, 1))}
        self.grads = {}

    def forward(self, h):
        self.h = h
        return h @ self.params["V"]

    def backward(self, dout):
        self.grads["V"] = self.h.T @ dout
        return dout @ self.params["V"].T


def test_the_naming_conventions_pair_each_parameter_with_its_gradient():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 3))
    dense, act, head = DenseW(rng), TanhW(rng), Head(rng)

    def forward():
        return float(np.mean(head.forward(act.forward(dense.forward(x))) ** 2))

    def backward():
        out = head.h @ head.params["V"]
        dense.backward(act.backward(head.backward(2 * out / out.size)))

    report = quiet(verifier.check_objects, forward, backward, dense=dense, act=act, head=head)
    assert report.ok, report
    assert [t.name for t in report.tensors] == ["dense.W", "dense.b", "act.w", "head.params[V]"]
    assert vars(head)["grads"] == {} and not hasattr(dense, "dW")  # put back as they were
