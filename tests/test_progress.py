"""Progress of a long check: evaluations done and an estimate, in a terminal and in Jupyter; quiet
where nobody watches; planned from counts, every element or a sample."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

import verifier.estimators.run as harness
from verifier import check
from verifier.core.progress import Progress, interactive
from verifier.networks import DeepReLU


class _Stream:
    def __init__(self, tty: bool):
        self.tty, self.text = tty, []

    def isatty(self):
        return self.tty

    def write(self, s):
        self.text.append(s)

    def flush(self):
        pass

    @property
    def out(self) -> str:
        return "".join(self.text)


def _sampled_network():
    net = DeepReLU([24, 64, 16, 1])  # 2,657 parameters: sampled at a budget of 2,000
    rng = np.random.default_rng(0)
    X, Y = net.example_data(rng, m=8)
    params = net.init_params(rng)
    return (lambda p: net.cost(p, X, Y)), (lambda p: net.backward(p, X, Y)), params


@pytest.fixture(autouse=True)
def _no_tqdm(monkeypatch):
    """The plain line, whether or not tqdm is installed here (the tqdm test puts its own)."""
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)


def test_a_sampled_plan_is_predicted_from_its_counts_not_at_zero(monkeypatch):
    cost, grad, params = _sampled_network()
    planned = []
    original = harness.planned_evaluations

    def spy(objective, options, plan):
        planned.append((original(objective, options, plan), plan))
        return planned[-1][0]

    monkeypatch.setattr(harness, "planned_evaluations", spy)
    report = check(cost, grad, params, budget=2000, progress=False)
    ((count, plan),) = planned
    assert not plan["centered"] and not plan["scipy"], plan  # a sample, not every element
    made = sum(report.methods[m].nfev for m in ("centered", "scipy", "directions"))
    assert 0.7 * made <= count <= 1.3 * made, (count, made)


def test_a_check_shows_evaluations_and_an_estimate_in_a_terminal(monkeypatch):
    term = _Stream(tty=True)
    monkeypatch.setattr(sys, "stderr", term)
    cost, grad, params = _sampled_network()
    monkeypatch.setattr("verifier.core.progress.REDRAW", 0.0)
    assert check(cost, grad, params, budget=2000, progress=True).ok
    assert "evaluations" in term.out and "centered: a sample of 2657" in term.out, term.out[-500:]
    assert term.out.endswith("\r\033[K")  # the line is cleared when the check ends


def test_a_notebook_gets_no_terminal_escapes(monkeypatch):
    notebook = _Stream(tty=False)
    shell = type("ZMQInteractiveShell", (), {})()
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))
    assert interactive(notebook)
    show = Progress(100, stream=notebook, unit="evaluation")
    show("centered: every element of 47", 0)
    show.advance(50, force=True)
    show.close()
    assert "50/100 evaluations" in notebook.out and "\033" not in notebook.out and "\r" in notebook.out


def test_quiet_where_nobody_watches(monkeypatch):
    pipe = _Stream(tty=False)
    monkeypatch.setattr(sys, "stderr", pipe)
    monkeypatch.setitem(sys.modules, "IPython", None)
    cost, grad, params = _sampled_network()
    assert check(cost, grad, params, budget=2000).ok  # progress=None: the default
    assert pipe.out == ""


def test_tqdm_auto_is_used_when_installed(monkeypatch):
    bars = []

    class FakeBar:
        def __init__(self, **kwargs):
            self.kwargs, self.n, self.desc = kwargs, 0, ""
            bars.append(self)

        def update(self, n):
            self.n += n

        def set_description_str(self, desc, refresh=True):
            self.desc = desc

        def clear(self):
            pass

        def close(self):
            pass

    monkeypatch.setitem(sys.modules, "tqdm.auto", types.SimpleNamespace(tqdm=FakeBar))
    monkeypatch.setattr(sys, "stderr", _Stream(tty=True))
    cost, grad, params = _sampled_network()
    report = check(cost, grad, params, budget=2000, progress=True)
    (bar,) = bars
    assert bar.kwargs["unit"] == "evaluation" and bar.kwargs["total"] > 100
    assert bar.n >= report.methods["centered"].nfev + report.methods["scipy"].nfev
