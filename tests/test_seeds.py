"""The seeds' printed figures, recomputed with the seeds' own procedures."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SUMMATION_RTOL

from verifier.core.params import layout_of
from verifier.frontends import published as seeds
from verifier.networks import XORNet


def test_one_d_check_reproduces_the_notebook():
    assert seeds.one_d_gradient_check(x=2, theta=4, epsilon=1e-5) == pytest.approx(
        7.826683745609991e-12, abs=1e-15
    )


def _notebook_difference(backward):
    x, y, parameters = seeds.notebook_test_case()
    _, cache = seeds.notebook_forward(x, y, parameters)
    return seeds.notebook_gradient_check_n(parameters, backward(x, y, cache), x, y, epsilon=1e-7)


def test_notebook_check_of_correct_backprop_is_within_one_percent():
    assert _notebook_difference(seeds.notebook_backward) == pytest.approx(1.1885552035482147e-07, rel=0.01)


def test_notebook_check_of_planted_bugs_reproduces_the_figure():
    assert _notebook_difference(seeds.notebook_backward_planted) == pytest.approx(
        0.2850931567761623, rel=SUMMATION_RTOL
    )


def test_notebook_test_case_shapes_and_order():
    x, y, parameters = seeds.notebook_test_case()
    assert x.shape == (4, 3) and y.tolist() == [[1, 1, 0]]
    assert list(parameters) == ["W1", "b1", "W2", "b2", "W3", "b3"]
    layout, flat = layout_of(parameters)
    assert layout.size == 47
    # the recipe: seed 1, x first, then the parameters in order
    rs = np.random.RandomState(1)
    assert np.array_equal(x, rs.randn(4, 3))
    assert np.array_equal(parameters["W1"], rs.randn(5, 4))


def test_twenty_entries_are_exactly_zero_in_both_gradients():
    """The entries where the notebook's per-element loop divides 0 by 0."""
    x, y, parameters = seeds.notebook_test_case()
    _, cache = seeds.notebook_forward(x, y, parameters)
    layout, theta = layout_of(parameters)
    grad, _ = layout.flatten_like(seeds.notebook_backward(x, y, cache))
    approx = seeds.seed_loop(lambda v: seeds.notebook_forward(x, y, layout.unflatten(v))[0], theta, 1e-7)
    assert int(np.sum((grad == 0) & (approx == 0))) == 20


def test_blog_backprop_is_exactly_twice_the_true_gradient():
    X, y = seeds.xor_data()
    net = XORNet([2, 2, 2, 1])
    for seed in range(5):
        theta = net.init_params(np.random.default_rng(seed), low=0.0, high=1.0)
        for blog, true in zip(seeds.blog_backprop(theta, X, y), net.backward(theta, X, y), strict=True):
            np.testing.assert_allclose(blog / true, 2.0, rtol=1e-12)


def test_blog_factor_is_m_over_two_for_other_m():
    """With other m the factor changes: that is how a user finds the missing 2/m."""
    net = XORNet([2, 3, 1])
    rng = np.random.default_rng(0)
    theta = net.init_params(rng)
    X = rng.random((6, 2))
    y = rng.random((6, 1))
    for blog, true in zip(seeds.blog_backprop(theta, X, y), net.backward(theta, X, y), strict=True):
        np.testing.assert_allclose(blog / true, 3.0, rtol=1e-12)


def test_known_bugs_state_their_factors():
    for bug in seeds.KNOWN_BUGS.values():
        net, params, X, Y, backward = bug.make()
        layout, _ = layout_of(params)
        wrong, _ = layout.flatten_like(backward(params, X, Y))
        right, _ = layout.flatten_like(net.backward(params, X, Y))
        for t, name in enumerate(layout.names):
            part = slice(layout.offsets[t], layout.offsets[t + 1])
            factor = bug.factors.get(name, 1.0)
            np.testing.assert_allclose(wrong[part], factor * right[part], rtol=1e-12, atol=1e-300)
