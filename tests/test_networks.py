"""The built-in networks: oracle tests against autograd, training, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from verifier import InputError, reference_gradients
from verifier.core.params import layout_of
from verifier.networks import DeepReLU, Network, Scalar, XORNet


def _assert_oracle(net, params, X, Y):
    ref = reference_gradients(lambda p: net.cost(p, X, Y), params)
    layout, _ = layout_of(params)
    got, _ = layout.flatten_like(net.backward(params, X, Y))
    want, _ = layout.flatten_like(ref)
    scale = np.max(np.abs(want)) + 1e-300
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12 * scale)


dims = st.lists(st.integers(1, 7), min_size=2, max_size=5)


@given(
    dims=dims,
    seed=st.integers(0, 2**31 - 1),
    m=st.integers(1, 9),
    form=st.sampled_from(["notebook", "stable"]),
)
def test_deep_relu_backward_equals_autograd(dims, seed, m, form):
    net = DeepReLU(dims, cost_form=form)
    rng = np.random.default_rng(seed)
    params = net.init_params(rng)
    X, Y = net.example_data(rng, m=m)
    _assert_oracle(net, params, X, Y)


@given(layers=dims, seed=st.integers(0, 2**31 - 1), m=st.integers(1, 9))
def test_xor_backward_equals_autograd(layers, seed, m):
    net = XORNet(layers)
    rng = np.random.default_rng(seed)
    params = net.init_params(rng, low=-2, high=2)
    X, y = net.example_data(rng, m=m)
    _assert_oracle(net, params, X, y)


def test_scalar():
    net = Scalar(2.0)
    assert float(net.cost(np.asarray(4.0))) == 8.0
    assert float(net.backward(np.asarray(4.0))) == 2.0
    _assert_oracle(net, np.asarray(4.0), None, None)


def test_both_cost_forms_agree_where_both_are_accurate(rng):
    params = DeepReLU().init_params(rng)
    X, Y = DeepReLU().example_data(rng, m=5)
    a = DeepReLU(cost_form="notebook").cost(params, X, Y)
    b = DeepReLU(cost_form="stable").cost(params, X, Y)
    assert a == pytest.approx(b, rel=1e-12)


def test_stable_cost_stays_finite_where_the_notebook_cost_overflows():
    net = DeepReLU([1, 1], cost_form="notebook")
    params = {"W1": np.array([[50.0]]), "b1": np.array([[0.0]])}
    X, Y = np.array([[1.0]]), np.array([[0.0]])
    with np.errstate(divide="ignore"):
        assert not np.isfinite(net.cost(params, X, Y))
    assert DeepReLU([1, 1], cost_form="stable").cost(params, X, Y) == pytest.approx(50.0)


def test_networks_share_one_interface():
    for net in (DeepReLU(), XORNet(), Scalar(2.0)):
        assert isinstance(net, Network)


def test_default_sizes_match_the_seeds():
    assert DeepReLU().n_params == 47
    assert XORNet().n_params == 15
    assert [p.shape for p in XORNet().init_params(np.random.default_rng(0))] == [(2, 3), (2, 3), (1, 3)]


def test_xor_training_classifies_all_four_points():
    net = XORNet([2, 2, 2, 1])
    X, y = net.example_data()
    start = [p.copy() for p in net.init_params(np.random.default_rng(6), low=0.0, high=1.0)]
    params, history = net.train(X, y, eta=0.1, epochs=10000)
    assert history.shape == (10001,)
    assert history[-1] < history[0]
    assert np.array_equal((net.predict(params, X) > 0.5).astype(float), y)
    # the seed determines the start; training never touches a given start
    params2, _ = net.train(X, y, eta=0.1, epochs=10, params=start)
    assert np.array_equal(start[0], net.init_params(np.random.default_rng(6), low=0.0, high=1.0)[0])


@pytest.mark.parametrize(
    "dims, match",
    [
        ([], "at least two"),
        ([4], "at least two"),
        ([4, 0, 1], r"layer_dims\[1\]`: expected a positive integer, got 0"),
        ([4, -3, 1], "got -3"),
        ([4, 2.5, 1], "got 2.5"),
        ([4, True, 1], "got True"),
        (None, "expected a list of layer sizes"),
    ],
)
def test_invalid_layer_sizes(dims, match):
    with pytest.raises(InputError, match=match):
        DeepReLU(dims)
    with pytest.raises(ValueError):
        XORNet(dims)


def test_data_shape_mismatch_names_the_argument(rng):
    net = DeepReLU()
    params = net.init_params(rng)
    with pytest.raises(InputError, match=r"`X`: expected shape \(4, m\).*got \(3, 5\)"):
        net.cost(params, np.zeros((3, 5)), np.zeros((1, 5)))
    with pytest.raises(InputError, match=r"`Y`: expected shape \(1, 5\)"):
        net.backward(params, np.zeros((4, 5)), np.zeros((5,)))
    with pytest.raises(InputError, match=r"`params\['W2'\]`: expected shape \(3, 5\), got \(5, 3\)"):
        net.cost({**params, "W2": np.zeros((5, 3))}, np.zeros((4, 5)), np.zeros((1, 5)))
    with pytest.raises(InputError, match="missing 'b3'"):
        net.cost({k: v for k, v in params.items() if k != "b3"}, np.zeros((4, 5)), np.zeros((1, 5)))
    xor = XORNet()
    with pytest.raises(InputError, match=r"`X`: expected shape \(m, 2\)"):
        xor.cost(xor.init_params(rng), np.zeros((2, 4)), np.zeros((4, 1)))


def test_labels_outside_unit_interval_are_rejected(rng):
    net = DeepReLU()
    with pytest.raises(InputError, match=r"labels in \[0, 1\]"):
        net.cost(net.init_params(rng), np.zeros((4, 2)), np.array([[0.0, 2.0]]))


def test_no_module_level_mutable_state(rng):
    """Two networks and two draws never share arrays (the blog's global THETA is the anti-pattern)."""
    a, b = XORNet(), XORNet()
    pa, pb = a.init_params(np.random.default_rng(0)), b.init_params(np.random.default_rng(0))
    pa[0][0, 0] = 99.0
    assert pb[0][0, 0] != 99.0
