"""Where users already are: pytest, notebooks, their own code, training loops, files, executors."""

from __future__ import annotations

import json
import textwrap
import warnings
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from html.parser import HTMLParser

import numpy as np
import pytest

import verifier
from verifier import GradientCheckFailed, GradientMonitor, check, check_network, load_reference
from verifier.frontends import published as seeds
from verifier.frontends.adapters import from_functions, from_notebook
from verifier.frontends.cli import main
from verifier.frontends.monitor import GradientCheckWarning
from verifier.networks import DeepReLU, XORNet
from verifier.testing import assert_gradients_ok, assert_network_ok

pytest_plugins = ["pytester"]


# --- pytest ---------------------------------------------------------------------------------


def test_assert_gradients_ok_message_is_the_report():
    x, y, parameters = seeds.notebook_test_case()
    cost, grad = from_notebook(seeds.notebook_forward, seeds.notebook_backward_planted, x, y)
    with pytest.raises(AssertionError) as info:
        assert_gradients_ok(cost, grad, parameters)
    message = str(info.value)
    assert message.startswith("gradient check fail") and "W2 is exactly 2.0× the reference" in message
    assert "tensor  shape" in message, "the table, not a bare False"
    good = from_notebook(seeds.notebook_forward, seeds.notebook_backward, x, y)
    assert assert_gradients_ok(*good, parameters).ok
    net = XORNet()
    X, Y = net.example_data()
    assert assert_network_ok(net, net.init_params(np.random.default_rng(0)), X, Y).ok


def test_plugin_fixture_with_pytester(pytester):
    pytester.makepyfile(
        textwrap.dedent(
            """
            import autograd.numpy as anp
            import numpy as np

            def cost(p):
                return anp.sum(anp.sin(p["w"]))

            def test_right(gradient_check):
                gradient_check(cost, lambda p: {"w": np.cos(p["w"])}, {"w": np.array([0.1, 0.2])})

            def test_wrong(gradient_check):
                gradient_check(cost, lambda p: {"w": -np.cos(p["w"])}, {"w": np.array([0.1, 0.2])})
            """
        )
    )
    from importlib.metadata import entry_points

    installed = any(ep.value == "verifier.pytest_plugin" for ep in entry_points(group="pytest11"))
    result = pytester.runpytest() if installed else pytester.runpytest("-p", "verifier.pytest_plugin")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*wrong sign everywhere*"])
    # the failure shows the user's line and the report, not the library's frames or a long repr
    shown = result.stdout.str()
    assert "verifier/testing.py" not in shown and "Report(" not in shown


# --- notebooks ------------------------------------------------------------------------------


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.text = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def test_html_view_is_well_formed_coloured_and_escaped():
    net, params, X, Y, backward = seeds.KNOWN_BUGS["notebook-planted"].make()
    report = check_network(net, params, X, Y, backward=backward)
    html = report._repr_html_()
    parser = _Collect()
    parser.feed(html)
    text = "".join(parser.text)
    assert parser.tags.count("table") == 2 and "#cf222e" in html, "the verdicts are coloured"
    assert "elements not agreeing" in text and "W2[0, 1]" in text or "W2[" in text
    assert "b1 is exactly 4.0× the reference" in text
    escaped = check(lambda p: p["<w>"] * 1.0, lambda p: {"<w>": 1.0}, {"<w>": np.array(2.0)})._repr_html_()
    assert "<w>" not in escaped and "&lt;w&gt;" in escaped


# --- your own network, in the seeds' styles -------------------------------------------------


def test_adapters_in_both_styles():
    x, y, parameters = seeds.notebook_test_case()
    report = check(*from_notebook(seeds.notebook_forward, seeds.notebook_backward, x, y), parameters)
    assert report.ok and report.methods["autograd"].available  # plain numpy, traced as written
    assert "traced from your numpy code" in report.methods["autograd"].reason
    net = XORNet()
    X, Y = seeds.xor_data()
    theta = net.init_params(np.random.default_rng(0))
    blog = check(*from_functions(net.cost, seeds.blog_backprop, X, Y), theta)
    assert blog.status == "fail" and blog.wrong_tensors == ["[0]", "[1]", "[2]"]
    assert "2/m is missing (m = 4)" in str(blog)  # m from the data the adapter holds
    with pytest.raises(ValueError, match="`forward` must be callable"):
        from_notebook(None, seeds.notebook_backward, x, y)


def test_cli_check_on_a_users_module(tmp_path, capsys):
    module = tmp_path / "mynet.py"
    module.write_text(
        textwrap.dedent(
            """
            from verifier.frontends.published import notebook_forward as forward_propagation_n
            from verifier.frontends.published import notebook_backward as backward_propagation_n
            from verifier.frontends.published import notebook_backward_planted as backward_buggy
            """
        )
    )
    x, y, parameters = seeds.notebook_test_case()
    data = tmp_path / "data.npz"
    np.savez(data, X=x, Y=y, **parameters)
    target = f"{module}:forward_propagation_n,backward_propagation_n"
    assert main(["check", target, "--data", str(data)]) == 0
    assert main(["check", f"{module}:forward_propagation_n,backward_buggy", "--data", str(data)]) == 1
    out = capsys.readouterr().out
    assert out.count("PASS") == 1 and "W2 is exactly 2.0×" in out
    assert main(["check", f"{module}:nope,backward_buggy", "--data", str(data)]) == 2
    assert main(["check", "missing.py:a,b", "--data", str(data)]) == 2


# --- during training ------------------------------------------------------------------------


def test_monitor_on_the_xor_training_loop():
    net = XORNet()
    X, y = net.example_data()
    monitor = GradientMonitor(lambda p: net.cost(p, X, y), lambda p: net.backward(p, X, y), every=500)
    params, _ = net.train(X, y, epochs=2000, callback=monitor)
    assert [e.iteration for e in monitor.history] == [0, 500, 1000, 1500]
    assert all(e.status == "pass" for e in monitor.history)
    buggy = GradientMonitor(lambda p: net.cost(p, X, y), lambda p: seeds.blog_backprop(p, X, y), every=100)
    with pytest.raises(GradientCheckFailed) as info:
        net.train(X, y, epochs=300, callback=buggy, backward=seeds.blog_backprop)
    assert info.value.iteration == 0 and "wrong in 3 of 3 tensors ([0], [1], [2])" in str(info.value)
    warn = GradientMonitor(
        lambda p: net.cost(p, X, y), lambda p: seeds.blog_backprop(p, X, y), every=100, on_failure="warn"
    )
    with pytest.warns(GradientCheckWarning):
        net.train(X, y, epochs=201, callback=warn, backward=seeds.blog_backprop)
    assert len(warn.history) == 3
    with pytest.raises(ValueError, match="`every`"):
        GradientMonitor(net.cost, net.backward, every=0)


# --- reference gradients on disk -------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".npz", ".json"])
def test_reference_round_trip(tmp_path, suffix, capsys):
    out = tmp_path / f"ref{suffix}"
    assert (
        main(["reference", "--network", "deep-relu", "--dims", "4,5,3,1", "--seed", "1", "--out", str(out)])
        == 0
    )
    ref = load_reference(out)
    net = DeepReLU([4, 5, 3, 1])
    assert ref["meta"]["network"] == "deep-relu" and ref["meta"]["seed"] == 1
    want = verifier.reference_gradients(lambda p: net.cost(p, ref["X"], ref["Y"]), ref["params"])
    for k in want:
        np.testing.assert_array_equal(ref["gradients"][k], want[k])
    if suffix == ".json":
        assert json.loads(out.read_text())["meta"]["dims"] == [4, 5, 3, 1]
    xor_out = tmp_path / f"xor{suffix}"
    assert main(["reference", "--network", "xor", "--dims", "2,2,2,1", "--out", str(xor_out)]) == 0
    assert isinstance(load_reference(xor_out)["params"], list)


# --- parallel -------------------------------------------------------------------------------


class _PicklableCost:
    """A cost a process pool can ship: a network and its data."""

    def __init__(self, net, X, Y):
        self.net, self.X, self.Y = net, X, Y

    def __call__(self, params):
        return self.net.cost(params, self.X, self.Y)


@pytest.mark.parametrize("pool", [ThreadPoolExecutor, ProcessPoolExecutor])
def test_executor_gives_identical_results(pool):
    net = DeepReLU([6, 8, 5, 1], cost_form="stable")
    rng = np.random.default_rng(4)
    params = net.init_params(rng)
    X, Y = net.example_data(rng, m=6)
    cost = _PicklableCost(net, X, Y)
    grad = lambda p: net.backward(p, X, Y)  # noqa: E731
    serial = check(cost, grad, params)
    with pool(max_workers=2) as executor, warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork in a threaded process, on some Pythons
        parallel = check(cost, grad, params, executor=executor)
    np.testing.assert_array_equal(parallel.elements["centered"], serial.elements["centered"])
    assert parallel.ok and serial.ok


def test_dask_cluster_executor():
    distributed = pytest.importorskip("dask.distributed")
    net = DeepReLU([4, 5, 3, 1])
    x, y, params = seeds.notebook_test_case()
    cost = _PicklableCost(net, x, y)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False) as cluster:
        with distributed.Client(cluster) as client:
            report = check(cost, lambda p: net.backward(p, x, y), params, executor=client.get_executor())
    assert report.ok


# --- progress -------------------------------------------------------------------------------


class _Terminal:
    def __init__(self):
        self.text = []

    def isatty(self):
        return True

    def write(self, s):
        self.text.append(s)

    def flush(self):
        pass


def test_progress_shows_stages_on_a_terminal_only():
    from verifier.core.progress import Progress

    term = _Terminal()
    show = Progress(2, stream=term)
    show.bar = None  # the plain line, whether or not tqdm is installed
    show("centered: every element of 47")
    show.close()
    assert "centered: every element of 47" in "".join(term.text)
    quiet = Progress(2, enabled=False, stream=term)
    quiet("nothing")
    assert "nothing" not in "".join(term.text)
    x, y, parameters = seeds.notebook_test_case()
    cost, grad = from_notebook(seeds.notebook_forward, seeds.notebook_backward, x, y)
    assert check(cost, grad, parameters, progress=True).ok
