"""The verdict on code written the way people write it: the zoo (tests/zoo.py), correct and with
planted slips, in both modes; and the issue's own cases, one mechanism each.

The suite runs a seeded few hundred draws; benchmarks/zoo_verdicts.py runs thousands.
"""

from __future__ import annotations

import warnings

import autograd.numpy as anp
import numpy as np
import pytest
from zoo import FAMILIES, SLIPS, first_tensor, slip

from verifier import CostError, check, check_network
from verifier.networks import DeepReLU

#: Draws per family, mode and variant in the suite (the long sum's cost is 1e5 examples: fewer).
DRAWS = 4


def _status(cost, grad, params, mode, seed):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return check(cost, grad, params, mode=mode, seed=seed)


@pytest.mark.parametrize("mode", ["full", "fast"])
@pytest.mark.parametrize("family", FAMILIES, ids=[f.name for f in FAMILIES])
def test_zoo_never_cries_wolf_and_never_misses(family, mode):
    draws = 1 if "long sum" in family.name else DRAWS
    for seed in range(draws):
        cost, grad, params = family.make(np.random.default_rng(seed))
        report = _status(cost, grad, params, mode, seed)
        allowed = ("pass", "inconclusive") if family.limited else ("pass",)
        assert report.status in allowed, f"correct gradient, seed {seed}:\n{report}"
        for kind in SLIPS:
            report = _status(cost, slip(grad, kind), params, mode, seed)
            allowed = ("fail", "inconclusive") if family.limited else ("fail",)
            assert report.status in allowed, f"{kind}, seed {seed}:\n{report}"
            if report.status == "fail":
                assert first_tensor(params) in report.wrong_tensors, f"{kind}, seed {seed}:\n{report}"


# --- the mechanisms, each with a case that failed before its fix --------------------------------


def test_fast_mode_convicts_a_non_finite_gradient():
    report = check(lambda p: anp.sum(p**2), lambda p: np.array([np.nan, 2.0]), np.ones(2), mode="fast")
    assert report.status == "fail" and report.elements["verdict"][0] == "wrong"
    report = check(lambda p: anp.sum(p**2), lambda p: np.array([2.0, np.inf]), np.ones(2), mode="fast")
    assert report.status == "fail"


@pytest.mark.parametrize(
    "cost, grad",
    [
        (lambda w: 1e-30 * anp.sum(w**2), lambda w: np.zeros_like(w)),  # a cost of 1e-30, any gradient
        (lambda w: 1e12 + anp.sum(anp.sin(w)), lambda w: 2 * np.cos(w)),  # twice the gradient
        (lambda w: 1e-12 * anp.sum(anp.sin(w)), lambda w: -1e-12 * np.cos(w)),  # sign flipped
        (lambda w: 1e-12 * anp.sum(anp.sin(w)), lambda w: np.zeros_like(w)),  # zeros
    ],
)
def test_fast_mode_never_passes_what_its_bound_cannot_see(cost, grad):
    w = np.linspace(-1.0, 1.0, 7)
    for mode in ("fast", "full"):
        assert check(cost, grad, w, mode=mode).status != "pass", mode


@pytest.mark.parametrize(
    "cost",
    [
        lambda p: anp.sum(p[0] + p[1]),
        lambda p: anp.sum(p[0] - p[1]),
        lambda p: anp.sum(p[0] * p[1]),
        lambda p: anp.trace(p[0]) + anp.trace(p[1]),
    ],
    ids=["add", "sub", "mul", "trace"],
)
def test_fast_mode_catches_a_whole_gradient_scaled_by_1_01(cost):
    from verifier import reference_gradients

    rng = np.random.default_rng(3)
    params = [rng.standard_normal((2, 2)), rng.standard_normal((2, 2))]
    true = reference_gradients(cost, params)
    for seed in range(10):
        report = check(cost, lambda p: [1.01 * g for g in true], params, mode="fast", seed=seed)
        assert report.status == "fail", f"seed {seed}"
        assert check(cost, lambda p: true, params, mode="fast", seed=seed).ok


def test_fast_mode_measures_the_costs_round_off_before_it_convicts():
    """The built-in DeepReLU, the notebook's cost form (log(1 - A) loses digits when saturated),
    parameters drawn with scale 1: fast mode flagged 3.9% of correct draws."""
    net = DeepReLU([5, 10, 10, 1], cost_form="notebook")
    for seed in range(60):
        rng = np.random.default_rng(seed)
        params = net.init_params(rng, scale=1.0)
        X, Y = net.example_data(rng, m=8)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                report = check_network(net, params, X, Y, mode="fast", seed=seed)
            except CostError:  # a sigmoid output rounded to exactly 0 or 1: the cost is infinite
                continue
        assert report.status != "fail", f"seed {seed}\n{report}"


def _beyond_resolution(wrong: dict, true: dict) -> bool:
    """Whether a wrong gradient differs from the true one by more than a pass certifies at some
    element: 1e-5 of its value, or 1e-6 of its tensor's largest gradient (compare.RESOLUTION)."""
    for k, t in true.items():
        allowed = np.maximum(1e-5 * np.abs(t), 1e-6 * np.abs(t).max())
        if np.any(np.abs(wrong[k] - t) > allowed):
            return True
    return False


def test_a_dropped_example_is_never_passed():
    """A backward that leaves out the last example of the batch: caught, or inconclusive when
    the references cannot tell it from round-off; never a pass where it changes the gradient
    beyond what a pass certifies (on a saturated draw the example's share can be 1e-11 of it)."""
    net = DeepReLU([10, 20, 10, 1], cost_form="notebook")
    passed = []
    for seed in range(30):
        rng = np.random.default_rng(seed)
        params = net.init_params(rng, scale=1.0)
        X, Y = net.example_data(rng, m=16)

        def dropped(p, X, Y):
            # the batch's last example left out (its gradient terms lost), the 1/m kept
            m = X.shape[1]
            g = net.backward(p, X[:, :-1], Y[:, :-1])
            return {k: v * (m - 1) / m for k, v in g.items()}

        if not _beyond_resolution(dropped(params, X, Y), net.backward(params, X, Y)):
            continue  # its share is below what a pass certifies at this draw (dead or saturated)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                report = check_network(net, params, X, Y, backward=dropped, methods=("centered", "scipy"))
            except CostError:  # the cost is infinite at this draw
                continue
        if report.status == "pass":
            passed.append(seed)
    assert not passed


def test_the_report_does_not_depend_on_the_machines_speed(monkeypatch):
    """Whether a method checks every element or a sample is planned from counts: a clock that
    runs 10,000 times slower (a busy machine) gives the same verdicts on the same elements."""
    w = np.linspace(-2.0, 2.0, 100)

    def cost(p):
        return float(np.sum(np.sin(p["w"]) * np.arange(100)))

    def wrong(p):
        return {"w": -np.cos(p["w"]) * np.arange(100)}

    def run():
        fd = ("centered", "scipy")  # autograd covers every element whatever the plan
        reports = [
            check(cost, wrong, {"w": w}, seed=3, methods=fd),
            check(cost, wrong, {"w": w}, seed=3, budget=100, methods=fd),
        ]
        return [(r.status, r.wrong_tensors, r.elements["verdict"].tolist()) for r in reports]

    normal = run()
    import time as time_module

    real = time_module.perf_counter
    monkeypatch.setattr(time_module, "perf_counter", lambda: real() * 1e4)
    assert run() == normal  # a time-based plan sampled at the default budget on the slow clock
    (full, _, every), (sampled, _, some) = normal
    assert full == sampled == "fail" and "unchecked" not in every and "unchecked" in some


def test_the_backprops_own_round_off_bound_cannot_swallow_a_bug():
    """Re-run in long double, a backward can take another path (np.partition orders ties
    otherwise) and its measured round-off becomes as large as the gradient; a sign flip then
    passed within that bound. Now such an element cannot be certified: never a pass."""

    def cost(p):
        return anp.sum(anp.sin(p["w"]))

    def flipped(p):
        w = p["w"]
        if w.dtype == np.longdouble:  # the other path: here it happens to be right
            return {"w": np.cos(w)}
        return {"w": -np.cos(w)}

    report = check(cost, flipped, {"w": np.array([0.3, -0.8, 1.1])})
    assert report.status != "pass", str(report)


def test_messages_say_what_happened():
    # a sampled method's unevaluated elements are placeholders, not non-finite costs
    w = np.linspace(-2.0, 2.0, 100)
    report = check(lambda p: anp.sum(anp.sin(p)), lambda p: np.cos(p), w, budget=100)  # a sample of 32
    assert report.ok and not any("not finite" in f.message for f in report.findings)
    # a backward that returns its intermediates is not asked to return them
    from zoo import mlp_dot

    cost, grad, params = mlp_dot(np.random.default_rng(0))

    def with_intermediates(p):  # every tensor 1.01 times: the line that scales them is named
        return {**slip(grad, "scale 1.01")(p), "dZ1": np.zeros((6, 10)), "dA1": np.zeros((6, 10))}

    with pytest.warns(UserWarning, match=r"\['dZ1'\], which are not checked"):  # its forward has no Z1
        report = check(cost, with_intermediates, params)
    plain = check(cost, slip(grad, "scale 1.01"), params)
    for r in (report, plain):
        text = "\n".join(f.message for f in r.findings)
        assert r.status == "fail" and "return dZ/dA" not in text
        assert (
            "shared by every parameter gradient, so it enters before them: look at the line that computes out"
            in text
        )
    # elements at a kink are described as a kink, never as noise
    from zoo import relu_at_zero

    cost, grad, params = relu_at_zero(np.random.default_rng(0))
    report = check(cost, grad, params)
    kinked = {report.label(i) for i in np.flatnonzero(report.elements["verdict"] == "kink")}
    noisy = [f.message for f in report.findings if f.pattern == "noise"]
    assert report.ok and kinked and not any(label in m for m in noisy for label in kinked)
