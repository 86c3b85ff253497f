"""Speed without new false alarms: batch stencil, vectorised costs, sampling at scale, fast mode, bench."""

from __future__ import annotations

import autograd.numpy as anp
import numpy as np
import pytest

from verifier import CostError, check, check_network
from verifier.core.objective import Objective
from verifier.core.params import layout_of
from verifier.estimators import centered
from verifier.frontends.bench import BenchRow, bench, growth_exponent
from verifier.frontends.cli import main
from verifier.networks import DeepReLU, DropoutDeepReLU
from verifier.networks.batched import BatchedStencil


def _point(net, seed=0, scale=1.0, m=5):
    rng = np.random.default_rng(seed)
    params = net.init_params(rng, scale=scale)
    X, Y = net.example_data(rng, m=m)
    return params, X, Y


@pytest.mark.parametrize(
    "net",
    [DeepReLU([4, 5, 3, 1]), DeepReLU([6, 7, 5, 4, 2], cost_form="stable"), DropoutDeepReLU([4, 6, 5, 1])],
    ids=repr,
)
def test_batch_stencil_equals_one_at_a_time(net):
    params, X, Y = _point(net)
    layout, theta = layout_of(params)
    plain = Objective(lambda p: net.cost(p, X, Y), layout, theta)
    batch = BatchedStencil(net, params, X, Y, layout, theta)
    idx = np.arange(layout.size)
    for scale in (6e-6, 1.0):  # small steps, and steps large enough to flip downstream ReLUs
        steps = scale * np.outer(np.maximum(1, np.abs(theta)), [-2.0, -1.0, 1.0, 2.0])
        a, b = plain.stencil(idx, steps), batch(idx, steps)
        np.testing.assert_allclose(b, a, rtol=0, atol=64 * np.finfo(float).eps * np.max(np.abs(a)))


def test_centered_through_the_batch_stencil_matches_within_its_bound():
    net = DeepReLU([5, 8, 6, 1], cost_form="stable")
    params, X, Y = _point(net, 3)
    layout, theta = layout_of(params)
    cost = lambda p: net.cost(p, X, Y)  # noqa: E731
    slow = centered(Objective(cost, layout, theta))
    fast = centered(Objective(cost, layout, theta, batch=net.batch_stencil(params, X, Y, layout, theta)))
    assert np.all(np.abs(slow.values - fast.values) <= slow.error + fast.error)
    assert np.array_equal(slow.kink, fast.kink)


def test_redrawn_dropout_gets_no_batch_stencil():
    net = DropoutDeepReLU(replay=False)
    params, X, Y = _point(net)
    assert net.batch_stencil(params, X, Y, *layout_of(params)) is None


def _batched_cost(p):
    """A cost that takes a stack of parameter sets (leading axis) or a single one."""
    w = p["w"]
    return anp.sum(anp.sin(w) * w, axis=-1)


def test_vectorized_cost_contract():
    params = {"w": np.array([0.3, -1.1, 2.0])}
    grad = lambda p: {"w": np.cos(p["w"]) * p["w"] + np.sin(p["w"])}  # noqa: E731
    plain = check(_batched_cost, grad, params)
    batched = check(_batched_cost, grad, params, vectorized=True)
    assert plain.ok and batched.ok
    np.testing.assert_allclose(batched.elements["centered"], plain.elements["centered"], rtol=1e-9)
    with pytest.raises(CostError, match=r"vectorized `cost`.*must return shape"):
        check(lambda p: anp.sum(p["w"]), grad, params, vectorized=True)


def test_sampling_at_scale_says_what_it_sampled_and_still_catches_bugs():
    net = DeepReLU([40, 30, 20, 1], cost_form="stable")
    params, X, Y = _point(net, 1, scale="he", m=8)
    # the plain cost (no batch stencil, which checks every element): a sample, 161 fit, not 1871
    report = check_network(net, params, X, Y, budget=500, stencil=None)
    assert report.ok
    assert "sampled 32 of 1200 in W1" in report.methods["scipy"].extra["sampled"]
    assert report.directions and all(d.agrees for d in report.directions)
    assert "random directions" in str(report)

    def one_wrong(p, X, Y):
        g = net.backward(p, X, Y)
        g["W1"] = g["W1"].copy()
        g["W1"][17, 33] += 0.05
        return g

    layout, _ = layout_of(params)
    target = layout.offsets[0] + 17 * 40 + 33
    found = check_network(net, params, X, Y, backward=one_wrong, budget=500, methods=("scipy",), stencil=None)
    assert found.status == "fail" and found.wrong_tensors == ["W1"]
    assert found.elements["verdict"][target] == "wrong", "localised by bisection when not sampled"


def test_fast_mode_verdicts():
    net = DeepReLU([128, 256, 256, 1], cost_form="stable")
    params, X, Y = _point(net, 0, scale="he", m=32)
    report = check_network(net, params, X, Y, mode="fast")
    assert report.ok and report.directions[0].label == "all parameters"
    assert sum(m.nfev for m in report.methods.values()) <= 20

    def planted(p, X, Y):
        g = net.backward(p, X, Y)
        g["W2"] = g["W2"].copy()
        g["W2"][100, 7] += 1e-3
        return g

    bad = check_network(net, params, X, Y, backward=planted, mode="fast")
    index = layout_of(params)[0].offsets[2] + 100 * 256 + 7
    assert bad.status == "fail" and bad.wrong_tensors == ["W2"]
    assert np.flatnonzero(bad.elements["verdict"] == "wrong").tolist() == [index]
    assert any("bisection localised it to W2[100, 7]" in f.message for f in bad.findings)


def test_fast_mode_is_not_fooled_by_kinks():
    """Many pre-activations within 1e-9 of zero: every direction crosses kinks; no false alarm."""
    net = DeepReLU([64, 128, 1], cost_form="stable")
    params, X, Y = _point(net, 2, scale="he", m=16)
    Z = params["W1"] @ X + params["b1"]
    params["b1"] = params["b1"] - Z[:, :1] + 1e-9  # each unit sits on a kink for example 0
    report = check_network(net, params, X, Y, mode="fast")
    assert report.status != "fail", str(report)


def test_modes_and_budget_are_validated():
    with pytest.raises(ValueError, match="`mode`"):
        check(_batched_cost, lambda p: p, {"w": np.ones(2)}, mode="quick")


def test_bench_rows_and_csv(tmp_path, capsys):
    rows = list(bench([47], ("seed-loop", "centered", "fast", "backward"), repeats=1))
    assert [r.method for r in rows] == ["seed-loop", "centered", "fast", "backward"]
    assert all(r.seconds > 0 and r.forward_multiple > 0 for r in rows)
    assert np.isnan(growth_exponent(rows[:1]))
    fake = [BenchRow("x", 10, 1, 1.0, 1.0), BenchRow("x", 100, 1, 100.0, 1.0)]
    assert growth_exponent(fake) == pytest.approx(2.0)
    path = tmp_path / "bench.csv"
    assert main(["bench", "--sizes", "47", "--repeats", "1", "--quiet", "--csv", str(path)]) == 0
    lines = path.read_text().splitlines()
    assert lines[0] == "method,params,samples,seconds,forward_multiple"
    assert {line.split(",")[0] for line in lines[1:]} == {
        "seed-loop",
        "scipy",
        "default",
        "centered",
        "user-default",
        "user-centered",
        "autograd",
        "fast",
        "backward",
    }
    out = capsys.readouterr().out
    assert "growth exponent" in out and "BLAS threads:" in out
    assert "47 params: user-default" in out and "the notebook's loop's speed" in out
    assert main(["bench", "--sizes", "12345"]) == 2


def test_bench_times_the_per_element_loops_on_a_sample_and_says_so(monkeypatch):
    """Above LOOP_SAMPLE parameters the loops are timed on that many elements and scaled:
    every element costs them the same (a copy of the vector and two forward passes)."""
    import verifier.frontends.bench as bench_module

    monkeypatch.setattr(bench_module, "LOOP_SAMPLE", 20)
    rows = {r.method: r for r in bench([47], ("seed-loop", "scipy", "backward"), repeats=1)}
    assert rows["seed-loop"].note == "timed on 20 of its 47 elements, scaled"
    assert rows["scipy"].note.startswith("timed on 20") and rows["backward"].note == ""
    assert rows["seed-loop"].seconds > 0


@pytest.mark.parametrize("peer, package", [("torch-fast", "torch"), ("jax-check-grads", "jax")])
def test_bench_peers_run_or_say_why_not(peer, package):
    import importlib.util

    (row,) = bench([47], (peer,), repeats=1)
    if importlib.util.find_spec(package) is None:
        assert row.skipped == f"{package} not installed"
    else:
        assert row.seconds > 0 and row.note == "", f"{peer} passes these correct gradients at 47 parameters"


def test_bench_streams_each_row_as_it_is_measured(tmp_path, capsys, monkeypatch):
    """Each row reaches the terminal and the CSV before the next is measured: a long run shows
    its progress, and an interrupted one keeps what it measured."""
    out = tmp_path / "rows.csv"
    seen = []

    def fake_bench(sizes, methods, **options):
        for k, method in enumerate(methods):
            if k:  # the rows before this one are out already
                seen.append((capsys.readouterr().out, out.read_text()))
            yield BenchRow(method, 47, 3, 0.001 * (k + 1), 10.0 * (k + 1))

    monkeypatch.setattr("verifier.frontends.bench.bench", fake_bench)
    assert (
        main(["bench", "--sizes", "47", "--methods", "centered,backward", "--csv", str(out), "--quiet"]) == 0
    )
    terminal, csv = seen[0]
    assert "centered" in terminal and "centered,47,3" in csv and "backward" not in csv
    assert "backward,47,3" in out.read_text()


def test_the_budget_is_a_ceiling_on_the_one_by_one_evaluations_also_when_sampled():
    """A method never spends more than `budget` evaluations on elements one by one: a budget
    below the default sample shrinks it, and at 0 the random directions speak alone (the user
    chooses the time, in evaluations, and it is honoured)."""
    net = DeepReLU([40, 30, 20, 1], cost_form="stable")
    params, X, Y = _point(net, 1, scale="he", m=8)
    cost = lambda p: net.cost(p, X, Y)  # noqa: E731  (a plain cost: no batch stencil)
    grad = lambda p: net.backward(p, X, Y)  # noqa: E731
    spent = {}
    for budget in (0, 60, 200, 500):
        report = check(cost, grad, params, budget=budget)
        assert report.ok, str(report)
        for method in ("centered", "scipy"):
            result = report.methods[method]
            assert result.nfev <= budget, (budget, method, result.nfev)
            spent[budget, method] = result.nfev
        assert report.directions and all(d.agrees for d in report.directions)
        if budget:
            k = 32 if budget == 500 else (budget / 2.2 - 1) // 5  # five tensors larger than k, and b3
            assert f"sampled {int(k)} of 1200 in W1" in report.methods["scipy"].extra["sampled"]
            assert f"(the {min(4, int(k) // 2)} largest" in report.methods["scipy"].extra["sampled"]
    zero = check(cost, grad, params, budget=0)
    assert not zero.methods["centered"].available and "budget 0" in zero.methods["centered"].reason
    assert 0 < spent[60, "centered"] < spent[200, "centered"] < spent[500, "centered"]
