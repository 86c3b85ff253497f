"""The seeds' code as published (examples/*_verbatim): three methods and the user's own lines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from verifier import check
from verifier.frontends import published as seeds
from verifier.frontends.adapters import from_functions, from_globals, from_notebook
from verifier.frontends.cli import main
from verifier.frontends.loading import load_module

ROOT = Path(__file__).resolve().parents[1]

NOTEBOOK = ROOT / "examples" / "notebook_verbatim"
BLOG = ROOT / "examples" / "blog_verbatim" / "xor_blog.py"
BLOG_COST = "cost(forward_propagation(X, initialize=False)[2], y)"
BLOG_GRAD = "[d / -ETA for d in back_propagation(X, y, False, debug=True)[4]]"


def _line_of(path, text):
    """``file:number`` of the line holding ``text`` in the user's file (read, not typed in)."""
    lines = path.read_text().splitlines()
    number = next(i for i, line in enumerate(lines, start=1) if text in line)
    return f"{path.name}:{number} `{lines[number - 1].strip()}`"


@pytest.fixture(scope="module")
def notebook():
    return load_module(str(NOTEBOOK / "gradient_checking.py"))


def test_the_committed_test_case_is_the_notebooks(tmp_path):
    stored = np.load(NOTEBOOK / "test_case.npz")
    x, y, parameters = seeds.notebook_test_case()
    np.testing.assert_array_equal(stored["x"], x)
    np.testing.assert_array_equal(stored["y"], y)
    for key, value in parameters.items():
        np.testing.assert_array_equal(stored[key], value)


def _assert_notebook_findings(text, path):
    assert "traced from your numpy code" in text and "gc_utils" in text
    assert (
        "intermediate gradients checked against autograd: dZ3: ok, dA2: ok, dZ2: ok, dA1: ok, dZ1: ok" in text
    )
    dw2 = _line_of(path, "dW2 = 1./m * np.dot(dZ2, A1.T) * 2")
    db1 = _line_of(path, "db1 = 4./m")
    assert f"dZ2 is right, dW2 is wrong: look at the line that computes dW2, {dw2}" in text, text
    assert f"dZ1 is right, db1 is wrong: look at the line that computes db1, {db1}" in text, text
    assert "W2 is exactly 2.0× the reference" in text and "b1 is exactly 4.0× the reference" in text


def test_the_notebook_cells_as_published_get_three_methods_and_their_lines(notebook):
    x, y, parameters = seeds.notebook_test_case()
    cost, grad = from_notebook(notebook.forward_propagation_n, notebook.backward_propagation_n_original, x, y)
    report = check(cost, grad, parameters)
    assert report.status == "fail" and sorted(report.wrong_tensors) == ["W2", "b1"]
    assert all(report.methods[m].available for m in ("autograd", "centered", "scipy"))
    _assert_notebook_findings(str(report), NOTEBOOK / "gradient_checking.py")
    cost, grad = from_notebook(notebook.forward_propagation_n, notebook.backward_propagation_n, x, y)
    report = check(cost, grad, parameters)
    assert report.ok and report.methods["autograd"].available, str(report)
    # a pass says what it could not see: the dead units, read from the forward's own Z1, A1
    assert "layer 2: 2 of 3 units are dead for this data" in str(report)


def test_the_notebook_cells_through_the_cli(capsys):
    target = f"{NOTEBOOK / 'gradient_checking.py'}:forward_propagation_n,backward_propagation_n_original"
    code = main(["check", target, "--data", str(NOTEBOOK / "test_case.npz"), "--quiet"])
    assert code == 1
    _assert_notebook_findings(capsys.readouterr().out, NOTEBOOK / "gradient_checking.py")


def _assert_blog_findings(text):
    assert "traced from your numpy code" in text and "xor_blog" in text
    assert "every wrong tensor is exactly 2.0× the reference: the mean-squared-error derivative's 2/m" in text
    assert "(m = 4)" in text and "THETA[0]" in text and "[0] (" not in text.replace("THETA[0] (", "")
    labels = _line_of(BLOG, "del_ = [(y_hat - y)")
    assert f"so it enters before them: look at the line that computes del_, {labels}" in text, text


def test_the_blogs_code_as_published_gets_three_methods_and_its_line(capsys):
    blog = load_module(str(BLOG))  # trains for 10,000 epochs at import, as published
    capsys.readouterr()
    own = blog.THETA
    before = [t.copy() for t in own]
    cost, grad, params = from_globals(blog, "THETA", BLOG_COST, BLOG_GRAD)
    report = check(cost, grad, params)
    assert report.status == "fail" and len(report.wrong_tensors) == 3
    assert all(report.methods[m].available for m in ("autograd", "centered", "scipy"))
    for t in report.tensors:
        assert t.name.startswith("THETA[")
    _assert_blog_findings(str(report))
    # the module's own THETA is back, untouched, although back_propagation writes into it
    assert blog.THETA is own and all(np.array_equal(a, b) for a, b in zip(own, before, strict=True))


def test_the_blogs_code_through_the_cli(capsys):
    code = main(["check", f"{BLOG}:THETA", "--cost", BLOG_COST, "--grad", BLOG_GRAD, "--quiet"])
    assert code == 1
    _assert_blog_findings(capsys.readouterr().out)


def test_m_is_read_from_the_data():
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((3, 10)), rng.standard_normal((1, 10))

    def cost(params, X, Y):
        return np.mean((np.dot(params["W"], X) - Y) ** 2) / 2

    def summed(params, X, Y):  # forgets the 1/m
        return {"W": np.dot(np.dot(params["W"], X) - Y, X.T)}

    report = check(*from_functions(cost, summed, X, Y), {"W": rng.standard_normal((1, 3))})
    assert report.status == "fail" and "the 1/m averaging is missing (m = 10)" in str(report)


def test_a_wrong_tensor_names_its_own_line_without_intermediates(tmp_path, monkeypatch):
    (tmp_path / "twolayer.py").write_text(
        "import numpy as np\n"
        "\n"
        "def cost(p, X, Y):\n"
        "    H = np.tanh(np.dot(p['W1'], X))\n"
        "    return float(np.sum((np.dot(p['W2'], H) - Y) ** 2))\n"
        "\n"
        "def backward(p, X, Y):\n"
        "    H = np.tanh(np.dot(p['W1'], X))\n"
        "    dout = 2 * (np.dot(p['W2'], H) - Y)\n"
        "    dW2 = np.dot(dout, H.T)\n"
        "    dH = np.dot(p['W2'].T, dout)\n"
        "    dW1 = np.dot(dH * (1 - H), X.T)\n"
        "    return {'dW1': dW1, 'dW2': dW2}\n"
    )
    module = load_module(str(tmp_path / "twolayer.py"))
    rng = np.random.default_rng(1)
    X, Y = rng.standard_normal((3, 5)), rng.standard_normal((2, 5))
    params = {"W1": rng.standard_normal((4, 3)), "W2": rng.standard_normal((2, 4))}
    report = check(*from_functions(module.cost, module.backward, X, Y), params)
    assert report.wrong_tensors == ["W1"]
    line = "twolayer.py:12 `dW1 = np.dot(dH * (1 - H), X.T)`"
    assert f"dH is right, dW1 is wrong: look at the line that computes dW1, {line}" in str(report), str(
        report
    )
