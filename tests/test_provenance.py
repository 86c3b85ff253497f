"""The first wrong line, for code written in each style (tests/provenance_styles/): a slip
planted at a known line is named with its file, line and iteration, in every draw where the
slip shows; and no finding states a premise the data contradict."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from verifier import check
from verifier.core.params import layout_of
from verifier.frontends.loading import load_module
from verifier.trace.provenance import record

STYLES = Path(__file__).resolve().parent / "provenance_styles"
DRAWS = (0, 1, 2)
SHARED_BY_ALL = "shared by every parameter gradient"

pytestmark = pytest.mark.filterwarnings("ignore")  # the course's dA keys are reported as unchecked


def planted(tmp_path: Path, style: str, correct: str, slipped: str | None = None) -> tuple[object, str]:
    """The style module with ``correct`` replaced by ``slipped`` (a copy in ``tmp_path``), and
    ``file:line`` of that line."""
    text = (STYLES / style).read_text()
    assert text.count(correct) == 1, correct
    line = text[: text.index(correct)].count("\n") + 1
    path = tmp_path / style
    path.write_text(text if slipped is None else text.replace(correct, slipped))
    return load_module(str(path)), f"{style}:{line}"


def lines_of(report) -> str:
    return "\n".join(f.message for f in report.findings if f.kind == "bug")


def about(report, tensor: str) -> str:
    """The line findings that name ``tensor`` (or every wrong tensor)."""
    return "\n".join(
        f.message
        for f in report.findings
        if f.pattern in ("line", "region")
        and (f.tensor == tensor or f.message.startswith(tensor) or f"{tensor}," in f.message or not f.tensor)
    )


# ---------------------------------------------------------------------------------------------
# glue: cost and gradient of each style, for verifier.check


def course(module, rng):
    dims = [4, 5, 3, 1]
    m = 6
    X = rng.standard_normal((dims[0], m))
    Y = (rng.random((1, m)) > 0.5).astype(float)
    params = {}
    for l in range(1, len(dims)):
        params[f"W{l}"] = rng.standard_normal((dims[l], dims[l - 1])) * 0.8
        params[f"b{l}"] = rng.standard_normal((dims[l], 1)) * 0.3

    def cost(p):
        AL, _ = module.L_model_forward(X, p)
        return module.compute_cost(AL, Y)

    def grad(p):
        AL, caches = module.L_model_forward(X, p)
        return module.L_model_backward(AL, Y, caches)

    return cost, grad, params


def layers(module, rng):
    N, D, H, C = 6, 4, 5, 3
    X = rng.standard_normal((N, D))
    y = rng.integers(0, C, N)
    params = {
        "W1": rng.standard_normal((D, H)) * 0.7,
        "b1": rng.standard_normal(H) * 0.3,
        "W2": rng.standard_normal((H, C)) * 0.7,
        "b2": rng.standard_normal(C) * 0.3,
    }
    return (
        (lambda p: module.two_layer_loss(p, X, y)[0]),
        (lambda p: module.two_layer_loss(p, X, y)[1]),
        params,
    )


def objects(module, rng):
    N = 6
    X = rng.standard_normal((N, 2))
    y = rng.integers(0, 3, N)
    shapes = {"W1": (2, 5), "b1": (1, 5), "W2": (5, 5), "b2": (1, 5), "W3": (5, 3), "b3": (1, 3)}
    params = {k: rng.standard_normal(s) * 0.7 for k, s in shapes.items()}

    def cost(p):
        return module.Model(p).forward(X, y)

    def grad(p):
        model = module.Model(p)
        model.forward(X, y)
        model.backward(y)
        layers = {"1": model.dense1, "2": model.dense2, "3": model.dense3}
        out = {}
        for n, layer in layers.items():
            out["W" + n] = layer.dweights
            out["b" + n] = layer.dbiases
        return out

    return cost, grad, params


def recurrent(module, rng, forward, backward, shapes):
    n_x, n_a, m, T = 3, 4, 2, 5
    sizes = {"x": (n_x, m, T), "a0": (n_a, m), **shapes(n_x, n_a)}
    params = {k: rng.standard_normal(s) * 0.5 for k, s in sizes.items()}
    G = rng.standard_normal((n_a, m, T))

    def cost(p):
        a, _ = getattr(module, forward)(p["x"], p["a0"], p)
        return np.sum(a * G)

    def grad(p):
        a, caches = getattr(module, forward)(p["x"], p["a0"], p)
        return getattr(module, backward)(G, caches)

    return cost, grad, params


def rnn(module, rng):
    return recurrent(
        module,
        rng,
        "rnn_forward",
        "rnn_backward",
        lambda n_x, n_a: {"Wax": (n_a, n_x), "Waa": (n_a, n_a), "ba": (n_a, 1)},
    )


def lstm(module, rng):
    def shapes(n_x, n_a):
        out = {}
        for gate in "fico":
            out[f"W{gate}"] = (n_a, n_a + n_x)
            out[f"b{gate}"] = (n_a, 1)
        return out

    return recurrent(module, rng, "lstm_forward", "lstm_backward", shapes)


def conv(module, rng):
    params = {
        "x": rng.standard_normal((2, 2, 4, 4)),
        "w": rng.standard_normal((2, 2, 3, 3)),
        "b": rng.standard_normal(2),
    }
    conv_param = {"stride": 1, "pad": 1}
    G = rng.standard_normal((2, 2, 4, 4))

    def cost(p):
        out, _ = module.conv_forward_naive(p["x"], p["w"], p["b"], conv_param)
        return np.sum(out * G)

    def grad(p):
        out, cache = module.conv_forward_naive(p["x"], p["w"], p["b"], conv_param)
        dx, dw, db = module.conv_backward_naive(G, cache)
        return {"x": dx, "w": dw, "b": db}

    return cost, grad, params


def attention(module, rng):
    names = ("Wq", "Wk", "Wv", "Wo")
    X = rng.standard_normal((6, 8))
    params = {n: rng.standard_normal((4, 8) if n == "Wo" else (8, 4)) * 0.4 for n in names}
    G = rng.standard_normal((6, 8))

    def cost(p):
        out, _ = module.attention_forward(X, p["Wq"], p["Wk"], p["Wv"], p["Wo"])
        return np.sum(out * G)

    def grad(p):
        out, cache = module.attention_forward(X, p["Wq"], p["Wk"], p["Wv"], p["Wo"])
        return dict(
            zip(names, module.attention_backward(G, cache, p["Wq"], p["Wk"], p["Wv"], p["Wo"]), strict=True)
        )

    return cost, grad, params


def embedding(module, rng):
    idx = np.array([0, 2, 2, 5, 1, 2, 4, 0, 3, 3])  # repeated rows, as a sentence repeats words
    params = {"W": rng.standard_normal((6, 3))}
    G = rng.standard_normal((10, 3))

    def cost(p):
        out, _ = module.embed_forward(p["W"], idx)
        return np.sum(out * G)

    def grad(p):
        out, cache = module.embed_forward(p["W"], idx)
        return {"W": module.embed_backward(G, cache)}

    return cost, grad, params


GLUE = {
    "embedding.py": embedding,
    "course_helpers.py": course,
    "layers_cache.py": layers,
    "oo_layers.py": objects,
    "rnn.py": rnn,
    "lstm.py": lstm,
    "conv_naive.py": conv,
    "attention.py": attention,
}


def checked(module, style: str, seed: int):
    cost, grad, params = GLUE[style](module, np.random.default_rng(seed))
    return check(cost, grad, params, seed=seed)


# ---------------------------------------------------------------------------------------------
# every style, correct: passes, and the recording leaves the verdict alone


@pytest.mark.parametrize("style", sorted(GLUE))
def test_each_style_as_written_passes(tmp_path, style):
    module, _ = planted(tmp_path, style, "import numpy as np")
    report = checked(module, style, 0)
    assert report.ok, str(report)
    assert report.methods["autograd"].available, str(report)


# ---------------------------------------------------------------------------------------------
# slips at known lines: (style, the line as written, the slip, the tensor to look at, what the
# finding about it must also say: the iteration)

SLIPS = [
    # the course's per-layer helper loses its 1/m: every W is m times the reference, every b right
    ("course_helpers.py", "dW = 1 / m * np.dot(dZ, A_prev.T)", "dW = np.dot(dZ, A_prev.T)", "W1", "l = 0"),
    # a ReLU mask the wrong way round, in a layer function with a cache
    ("layers_cache.py", "dx = dout * (x > 0)", "dx = dout * (x < 0)", "W1", ""),
    # the weights' gradient of an object's layer divided by the batch twice
    (
        "oo_layers.py",
        "self.dweights = np.dot(self.inputs.T, dvalues)",
        "self.dweights = np.dot(self.inputs.T, dvalues) / len(dvalues)",
        "W2",
        "",
    ),
    # a tanh derivative that forgets the square, in an object's activation
    (
        "oo_layers.py",
        "self.dinputs = dvalues * (1 - self.output**2)",
        "self.dinputs = dvalues * (1 - self.output)",
        "W1",
        "",
    ),
    # `=` for `+=` over time steps: only the last step's contribution survives
    ("rnn.py", "dWaa += dWaat", "dWaa = dWaat", "Waa", "t = 0"),
    # an off-by-one cache index
    ("rnn.py", "caches[t])", "caches[t - 1])", "Wax", "t = 4"),
    # a wrong tanh derivative in the cell
    ("rnn.py", "dtanh = (1 - a_next**2) * da_next", "dtanh = (1 - a_next) * da_next", "Wax", "t = 4"),
    # the LSTM's gradient never carried back through time
    (
        "lstm.py",
        "lstm_cell_backward(da[:, :, t] + da_prevt, dc_prevt, caches[t])",
        "lstm_cell_backward(da[:, :, t], dc_prevt, caches[t])",
        "Wf",
        "t = 3",
    ),
    # a naive convolution's filter gradient reading dout transposed
    (
        "conv_naive.py",
        "dw[f] += window * dout[n, f, i, j]",
        "dw[f] += window * dout[n, f, j, i]",
        "w",
        "n = 0",
    ),
    # the scatter written as a subscript write: a repeated row gets one of its gradients only
    ("embedding.py", "np.add.at(dW, idx, dout)", "dW[idx] += dout", "W", ""),
    # the attention scores' scale divided by d instead of sqrt(d)
    ("attention.py", "dS = dS / np.sqrt(d)", "dS = dS / d", "Wq", ""),
]


@pytest.mark.parametrize(("style", "correct", "slipped", "tensor", "iteration"), SLIPS)
def test_a_planted_slip_is_named_at_its_line(tmp_path, style, correct, slipped, tensor, iteration):
    module, where = planted(tmp_path, style, correct, slipped)
    shown = 0
    for seed in DRAWS:
        report = checked(module, style, seed)
        assert report.status == "fail", str(report)
        if tensor not in report.wrong_tensors:
            continue  # the slip does not show in this tensor at this draw
        shown += 1
        text = about(report, tensor)
        assert where in text, f"{where} not named for {tensor}:\n{report}"
        assert iteration in text, f"{iteration!r} not named for {tensor}:\n{report}"
    assert shown, "the slip showed in no draw"


def test_the_lstm_says_which_time_steps_of_dx_are_right(tmp_path):
    module, _ = planted(
        tmp_path,
        "lstm.py",
        "lstm_cell_backward(da[:, :, t] + da_prevt, dc_prevt, caches[t])",
        "lstm_cell_backward(da[:, :, t], dc_prevt, caches[t])",
    )
    report = checked(module, "lstm.py", 0)
    regions = [f.message for f in report.findings if f.pattern == "region" and f.tensor == "x"]
    assert regions and "only the region written at t = 4 is right" in regions[0], str(report)
    assert "t = 3; t = 2; t = 1; t = 0 are wrong" in regions[0]


def test_a_helper_called_per_layer_is_named_for_each_layer(tmp_path):
    module, where = planted(
        tmp_path, "course_helpers.py", "dW = 1 / m * np.dot(dZ, A_prev.T)", "dW = np.dot(dZ, A_prev.T)"
    )
    report = checked(module, "course_helpers.py", 0)
    text = lines_of(report)
    assert sorted(report.wrong_tensors) == ["W1", "W2", "W3"], str(report)
    for tensor, loop in (("W1", "l = 0"), ("W2", "l = 1")):
        finding = next(f.message for f in report.findings if f.pattern == "line" and f.tensor == tensor)
        assert (
            finding.startswith(f"{tensor}: dZ is right, dW is wrong") and where in finding and loop in finding
        )
    assert "W1, W2, W3 are 6.0× the reference and b1, b2, b3 are right" in text, text
    assert SHARED_BY_ALL not in text


@pytest.mark.parametrize(
    ("style", "correct", "slipped", "right"),
    [
        # the bias gradient a mean where a sum is meant: the weights are right
        ("layers_cache.py", "db = np.sum(dout, axis=0)", "db = np.mean(dout, axis=0)", "W1, W2 are right"),
        # the scores' scale: Q and K are off, V and O right
        ("attention.py", "dS = dS / np.sqrt(d)", "dS = dS / d", "Wv, Wo are right"),
    ],
)
def test_no_shared_by_every_gradient_when_one_tensor_is_right(tmp_path, style, correct, slipped, right):
    module, where = planted(tmp_path, style, correct, slipped)
    for seed in DRAWS:
        report = checked(module, style, seed)
        text = lines_of(report)
        assert report.status == "fail" and SHARED_BY_ALL not in text, text
        assert right in text and where in text, text


def test_the_attention_hint_names_what_it_explains_and_what_it_does_not(tmp_path):
    module, where = planted(tmp_path, "attention.py", "dS = dS / np.sqrt(d)", "dS = dS / d")
    text = lines_of(checked(module, "attention.py", 0))
    explains = "Wq, Wk are 0.5 (1/2)× the reference and Wv, Wo are right"
    assert f"{explains}: the factor enters on the path to Wq, Wk only" in text, text
    assert f"look at the line that computes dS, {where} `dS = dS / d`" in text, text


def test_a_factor_shared_by_every_tensor_says_so(tmp_path):
    """Every tensor wrong by one factor: then, and only then, it is shared by every gradient."""
    module, where = planted(tmp_path, "layers_cache.py", "dx /= N", "dx /= N / 2")
    report = checked(module, "layers_cache.py", 0)
    text = lines_of(report)
    assert sorted(report.wrong_tensors) == ["W1", "W2", "b1", "b2"]
    # the two writes into dx cannot be told apart: both are named
    assert f"{SHARED_BY_ALL}, so it enters before them: look at the lines that compute dx" in text, text
    assert f"{where} `dx /= N / 2`" in text, text


def test_recording_follows_methods_buffers_and_iterations(tmp_path):
    module, _ = planted(tmp_path, "rnn.py", "import numpy as np")
    cost, grad, params = rnn(module, np.random.default_rng(0))
    layout, theta = layout_of(params)
    recording = record(grad, layout.unflatten(theta.copy()))
    assert recording is not None
    dx = recording.value["dx"]
    writes = recording.arrays[id(dx)].writes
    assert [w.target for w in writes] == ["dx[:, :, t]"] * 5
    assert [w.loops for w in writes] == [(("t", str(t)),) for t in reversed(range(5))]
    dWax = recording.arrays[id(recording.value["dWax"])]
    assert dWax.origin is not None and dWax.origin.statement.text == "dWax = np.zeros((n_a, n_x))"
    assert {w.statement.text for w in dWax.writes} == {"dWax += dWaxt"}


def test_recording_sees_np_add_at_and_attribute_gradients(tmp_path):
    module, line = planted(tmp_path, "embedding.py", "np.add.at(dW, idx, dout)")
    cost, grad, params = embedding(module, np.random.default_rng(0))
    layout, theta = layout_of(params)
    recording = record(grad, layout.unflatten(theta.copy()))
    assert recording is not None
    dW = recording.arrays[id(recording.value["W"])]
    assert [(w.target, w.statement.line) for w in dW.writes] == [("dW", int(line.split(":")[1]))]
    np.testing.assert_array_equal(dW.writes[0].region, [0, 2, 2, 5, 1, 2, 4, 0, 3, 3])
    module, line = planted(tmp_path, "oo_layers.py", "self.dweights = np.dot(self.inputs.T, dvalues)")
    cost, grad, params = objects(module, np.random.default_rng(0))
    recording = record(grad, layout_of(params)[0].unflatten(layout_of(params)[1]))
    assert recording is not None
    origin = recording.arrays[id(recording.value["W2"])].origin
    assert (
        origin is not None
        and origin.target == "self.dweights"
        and origin.statement.line == int(line.split(":")[1])
    )


def test_recording_changes_no_verdict_and_runs_only_on_failure(tmp_path, monkeypatch):
    """The backward is recorded only when a tensor is wrong; a passing check never pays."""
    import verifier.explain.lines as lines

    calls = []
    monkeypatch.setattr(lines, "record", lambda *a: calls.append(a) or None)
    module, _ = planted(tmp_path, "attention.py", "import numpy as np")
    assert checked(module, "attention.py", 0).ok and not calls
    (tmp_path / "slipped").mkdir()
    slipped, _ = planted(tmp_path / "slipped", "attention.py", "dS = dS / np.sqrt(d)", "dS = dS / d")
    report = checked(slipped, "attention.py", 0)
    assert len(calls) == 1 and sorted(report.wrong_tensors) == ["Wk", "Wq"]


def test_without_autograd_the_line_that_computed_the_tensor_is_named(tmp_path):
    module, where = planted(tmp_path, "attention.py", "dWo = H.T @ dout", "dWo = H.T @ dout * 2")
    cost, grad, params = attention(module, np.random.default_rng(0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = check(cost, grad, params, methods=("centered", "scipy"))
    assert report.wrong_tensors == ["Wo"]
    assert f"dWo is computed at {where}" in str(report), str(report)


def test_a_backward_past_the_recording_budget_says_its_lines_were_not_followed(tmp_path, monkeypatch):
    import verifier.explain.lines as lines
    import verifier.trace.provenance as provenance

    monkeypatch.setattr(provenance, "EVENT_BUDGET", 20)
    monkeypatch.setattr(lines, "EVENT_BUDGET", 20)
    module, _ = planted(
        tmp_path, "conv_naive.py", "dw[f] += window * dout[n, f, i, j]", "dw[f] += window * dout[n, f, j, i]"
    )
    report = checked(module, "conv_naive.py", 0)
    assert report.wrong_tensors == ["w"]  # the verdict stands
    assert not [f for f in report.findings if f.pattern == "line"]
    assert any("its lines were not followed" in f.message for f in report.findings if f.kind == "note")


def test_a_gradient_returned_all_zeros_is_said_to_be_zero_not_computed_from_the_data():
    """A backward that returns zeros (a gradient never filled in, or a submission faking one): its
    line says the tensor is all zeros and what that suggests, never that it was computed from the
    forward's values and the data."""
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((3, 5)), rng.standard_normal((2, 5))
    p = {"W1": rng.standard_normal((4, 3)), "W2": rng.standard_normal((2, 4))}

    def cost(q):
        return 0.5 * np.sum((np.dot(q["W2"], np.tanh(np.dot(q["W1"], X))) - Y) ** 2) / 5

    def zeros(q):
        W1, W2 = q["W1"], q["W2"]
        return {"dW1": np.zeros_like(W1), "dW2": np.zeros_like(W2)}

    def unfilled(q):
        A1 = np.tanh(np.dot(q["W1"], X))
        dW2 = np.dot((np.dot(q["W2"], A1) - Y) / 5, A1.T)
        dW1 = np.zeros_like(q["W1"])
        return {"dW1": dW1, "dW2": dW2}

    for backward, tensors, line in (
        (zeros, ["W1", "W2"], "return {"),
        (unfilled, ["W1"], "dW1 = np.zeros_like"),
    ):
        report = check(cost, backward, p)
        assert report.wrong_tensors == tensors, str(report)
        text = str(report)
        words = [f.message for f in report.findings if f.pattern == "line"]
        assert len(words) == 1 and "is all zeros, like a gradient never computed" in words[0], text
        assert line in words[0] and "computed from the forward's values" not in text, text
