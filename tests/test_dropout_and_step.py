"""Dropout made checkable by replaying the random state; the step-size study."""

from __future__ import annotations

import numpy as np
import pytest

import verifier
from verifier import NonDeterministicCostWarning, check_network
from verifier.core.params import layout_of
from verifier.frontends import published as seeds
from verifier.frontends.cli import main
from verifier.frontends.sweep import STEPS, fitted_order, sweep
from verifier.networks import DeepReLU, DropoutDeepReLU
from verifier.networks.dropout import DROPOUT_BUGS


def _point(net, seed=1):
    rng = np.random.default_rng(seed)
    params = net.init_params(rng)
    X, Y = net.example_data(rng, m=5)
    return params, X, Y


def _seed_difference(net, params, X, Y):
    """The notebook's procedure: whole-vector relative difference, epsilon 1e-7."""
    layout, theta = layout_of(params)
    grad, _ = layout.flatten_like(net.backward(params, X, Y))
    approx = seeds.seed_loop(lambda v: net.cost(layout.unflatten(v), X, Y), theta, 1e-7)
    return np.linalg.norm(grad - approx) / (np.linalg.norm(grad) + np.linalg.norm(approx))


def test_redrawn_masks_make_the_seed_check_nonsense():
    net = DropoutDeepReLU(keep_prob=0.8, replay=False)
    params, X, Y = _point(net)
    assert _seed_difference(net, params, X, Y) > 0.1


@pytest.mark.parametrize("mode", ["full", "fast"])
def test_check_detects_redrawn_masks_and_gives_the_remedy(mode):
    """The fast mode too, though it makes its repeat evaluation only when its first
    direction does not pass decisively: redrawn masks never let it."""
    net = DropoutDeepReLU(keep_prob=0.8, replay=False)
    params, X, Y = _point(net)
    with pytest.warns(NonDeterministicCostWarning):
        report = check_network(net, params, X, Y, mode=mode)
    assert report.status == "inconclusive"
    assert "not deterministic" in str(report) and "Fix the random state" in str(report)


def test_replayed_masks_make_the_check_pass():
    net = DropoutDeepReLU(keep_prob=0.8, replay=True)
    params, X, Y = _point(net)
    assert _seed_difference(net, params, X, Y) < 2e-7
    for seed in range(10):
        params, X, Y = _point(net, seed)
        assert check_network(net, params, X, Y).ok


@pytest.mark.parametrize("name", sorted(DROPOUT_BUGS))
def test_replayed_masks_find_dropout_backward_bugs(name):
    net = DropoutDeepReLU([4, 5, 3, 1], keep_prob=0.7, replay=True)
    make, _ = DROPOUT_BUGS[name]
    params, X, Y = _point(net, 2)
    report = check_network(net, params, X, Y, backward=make(net))
    assert report.status == "fail"
    assert set(report.wrong_tensors) <= {"W1", "b1", "W2", "b2"} and report.wrong_tensors
    assert "W3" not in report.wrong_tensors and "b3" not in report.wrong_tensors


def test_keep_prob_one_is_the_plain_network():
    params, X, Y = _point(DeepReLU())
    plain = DeepReLU(cost_form="stable").cost(params, X, Y)
    assert DropoutDeepReLU(keep_prob=1.0).cost(params, X, Y) == pytest.approx(plain, rel=1e-15)
    with pytest.raises(verifier.InputError, match="keep_prob"):
        DropoutDeepReLU(keep_prob=0.0)


def test_sweep_fits_the_orders_the_blog_swapped():
    net = verifier.networks.XORNet()
    X, y = seeds.xor_data()
    params = net.init_params(np.random.default_rng(0), low=0.0, high=1.0)
    result = sweep(lambda p: net.cost(p, X, y), params, label="xor")
    assert result.orders["one_sided"] == pytest.approx(1.0, abs=0.15)
    assert result.orders["centered"] == pytest.approx(2.0, abs=0.15)
    assert 1e-9 <= result.best["one_sided"] <= 1e-6 and 1e-6 <= result.best["centered"] <= 1e-4
    # the V: error rises again to the left of each minimum (round-off)
    assert result.centered[0] > 100 * result.centered.min()
    assert result.chosen == pytest.approx(np.cbrt(np.finfo(float).eps))


def test_fitted_order_on_a_synthetic_curve():
    errors = 1e-16 / STEPS + 3 * STEPS**2
    assert fitted_order(STEPS, errors) == pytest.approx(2.0, abs=0.05)
    assert np.isnan(fitted_order(STEPS, np.full(STEPS.size, np.nan)))


def test_sweep_command(capsys, tmp_path):
    assert main(["sweep", "--network", "deep-relu"]) == 0
    out = capsys.readouterr().out
    assert "fitted order on the truncation side" in out and "centered method's step" in out
    pytest.importorskip("matplotlib")
    png = tmp_path / "sweep.png"
    assert main(["sweep", "--png", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
