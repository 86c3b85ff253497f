"""What a report shows: short when passing (the detail behind a verbosity flag and in the JSON), and
the same in HTML (``Report.to_html``, ``--html FILE``) as in text."""

from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser

import numpy as np
import pytest

from verifier import check, check_network
from verifier.frontends import published as seeds
from verifier.frontends.cli import main
from verifier.networks import DeepReLU

VOID = {"meta", "br", "hr", "img", "input", "link"}


class _Page(HTMLParser):
    """Collects the text, and checks that every element opened is closed in order."""

    def __init__(self):
        super().__init__()
        self.stack, self.text, self.tags, self.errors = [], [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def _parse(page: str) -> _Page:
    parsed = _Page()
    parsed.feed(page)
    parsed.close()
    assert not parsed.errors and not parsed.stack, (parsed.errors, parsed.stack)
    return parsed


@pytest.fixture(scope="module")
def passing():
    x, y, parameters = seeds.notebook_test_case()
    return check_network(DeepReLU(), parameters, x, y, backward=seeds.notebook_style(seeds.notebook_backward))


@pytest.fixture(scope="module")
def planted():
    x, y, parameters = seeds.notebook_test_case()
    backward = seeds.notebook_style(seeds.notebook_backward_planted)
    return check_network(DeepReLU(), parameters, x, y, backward=backward, points=2)


@pytest.fixture(scope="module")
def sampled():
    net = DeepReLU([24, 64, 16, 1])
    rng = np.random.default_rng(0)
    X, Y = net.example_data(rng, m=8)
    params = net.init_params(rng)
    return check(lambda p: net.cost(p, X, Y), lambda p: net.backward(p, X, Y), params, budget=2000)


def test_a_passing_report_reads_short(passing, sampled):
    assert passing.ok and sampled.ok
    text = str(passing)
    artefacts = [f for f in passing.findings if f.kind == "artefact"]
    assert artefacts, "the notebook's case has scipy's noise artefact: the test needs one"
    # each artefact that changed nothing is one summary line, its detail behind the flag
    assert all(f.message not in text for f in artefacts) and "not a bug, changed no verdict" in text
    assert all(f.message in passing.format(verbose=True) for f in artefacts)
    assert all(f.message in f"{passing:v}" for f in artefacts)
    # the intermediates were checked: not "ignored" next to their verdicts
    assert "ignored gradient keys" not in text and "dZ1: ok" in text
    # the random directions: no column of "-", no time they never had, the agreeing ones counted
    short = str(sampled)
    assert "vs directions" not in short and "random directions: " not in short
    assert f"all {len(sampled.directions)} agree" in short
    verbose = sampled.format(verbose=True)
    assert "random directions: " in verbose and "evaluations; random-direction" in verbose
    assert "vs directions" not in verbose
    assert len(short.splitlines()) < len(verbose.splitlines())
    # the JSON keeps everything
    doc = passing.to_dict()
    assert [f["message"] for f in doc["findings"] if f["kind"] == "artefact"] == [
        f.message for f in artefacts
    ]
    with pytest.raises(ValueError, match="format spec"):
        format(passing, "x")


def test_a_failing_report_keeps_its_bugs_and_artefacts_that_matter(planted):
    text = str(planted)
    assert planted.status == "fail"
    for f in planted.findings:
        if f.kind == "bug" or (f.kind == "artefact" and not f.message.endswith("not a bug")):
            assert f.message in text


def test_html_has_everything_the_text_has(planted, passing):
    for report in (planted, passing):
        page = report.to_html()
        assert page.startswith("<!DOCTYPE html>")
        parsed = _parse(page)
        shown = " ".join(parsed.text)
        assert "size" in shown and "x a bug" not in shown and "a bug" in shown  # the legend
        assert "intermediate gradients checked against autograd" in shown
        for t in report.tensors:  # every tensor, with its size
            assert t.name in shown and str(int(np.prod(t.shape))) in shown
        for line in str(report).splitlines():  # every finding of the text, in the page
            if line.startswith("  x ") or line.startswith("  - "):
                assert line[4:].replace("  ", " ") in shown.replace("  ", " "), line
    assert "other points (1)" in " ".join(_parse(planted.to_html()).text)
    fragment = passing._repr_html_()
    assert not fragment.startswith("<!DOCTYPE") and 'class="verifier-report"' in fragment
    _parse(fragment)


def test_cli_html_and_verbose(tmp_path, capsys):
    module = tmp_path / "net.py"
    module.write_text(
        "import numpy as np\n\n"
        "def forward(X, Y, parameters):\n"
        "    A = parameters['W'] @ X\n"
        "    return float(np.mean((A - Y) ** 2)), (A, X, Y)\n\n"
        "def backward(X, Y, cache):\n"
        "    A, X, Y = cache\n"
        "    return {'dW': 2 * (A - Y) @ X.T / X.shape[1]}\n"
    )
    rng = np.random.default_rng(0)
    data = tmp_path / "d.npz"
    np.savez(
        data, X=rng.standard_normal((3, 10)), Y=rng.standard_normal((1, 10)), W=rng.standard_normal((1, 3))
    )
    page = tmp_path / "report.html"
    target = f"{module}:forward,backward"
    assert main(["check", target, "--data", str(data), "--quiet", "--html", str(page)]) == 0
    short = capsys.readouterr().out
    assert short.startswith("PASS") and page.read_text().startswith("<!DOCTYPE html>")
    _parse(page.read_text())
    assert main(["check", target, "--data", str(data), "--quiet", "-v"]) == 0
    assert len(capsys.readouterr().out) > len(short)
    assert main(["check", target, "--data", str(data), "--html", str(tmp_path / "no" / "r.html")]) == 2
    assert "`--html`" in capsys.readouterr().err


def test_run_writes_its_html_page(tmp_path, capsys):
    page = tmp_path / "run.html"
    assert main(["run", "--quick", "--html", str(page)]) == 0
    capsys.readouterr()
    parsed = _parse(page.read_text())
    shown = " ".join(parsed.text)
    assert "Seed reproductions" in shown and "all cases as expected" in shown
    assert "look at the line" in shown
    assert parsed.tags.count("table") >= 2  # the reports of the cases that must fail


@pytest.mark.skipif(
    not any(shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome")),
    reason="no headless Chromium on this machine (CI validates the HTML with html.parser above)",
)
def test_a_real_browser_renders_the_page(planted, tmp_path):
    browser = next(
        shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)
    )
    page = tmp_path / "report.html"
    page.write_text(planted.to_html())
    done = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    dom = done.stdout
    assert done.returncode == 0 and '<div class="verifier-report">' in dom, done.stderr[-2000:]
    assert "look at the line that computes dW2" in dom and "intermediate gradients checked" in dom
    assert dom.count("<tr>") >= len(planted.tensors) + 1


def test_one_evaluation_is_said_in_the_singular():
    """autograd's single gradient pass reads "1 evaluation", the others' counts stay plural."""
    w = np.random.default_rng(3).standard_normal((2, 3))

    def cost(p):
        return float(np.sum(np.tanh(p["W"]) ** 2))

    def grad(p):
        t = np.tanh(p["W"])
        return {"W": 2 * t * (1 - t**2)}

    report = check(cost, grad, {"W": w})
    assert report.ok and report.methods["autograd"].nfev == 1, str(report)
    text = report.format(verbose=True)
    assert "autograd: 1 evaluation, " in text and "1 evaluations" not in text, text
    assert f"centered differences: {report.methods['centered'].nfev} evaluations" in text, text
