"""The one flatten/unflatten helper."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from verifier import InputError, PrecisionWarning
from verifier.core.params import layout_of


def test_dict_round_trip_and_labels():
    params = {"W1": np.arange(6.0).reshape(2, 3), "b1": np.array([[7.0], [8.0]])}
    layout, flat = layout_of(params)
    assert flat.tolist() == [0, 1, 2, 3, 4, 5, 7, 8]
    back = layout.unflatten(flat)
    assert list(back) == ["W1", "b1"] and np.array_equal(back["W1"], params["W1"])
    assert layout.locate(4) == ("W1", (1, 1)) and layout.label(7) == "b1[1, 0]"
    flat[0] = 99.0
    assert params["W1"][0, 0] == 0.0, "the flat vector is a copy"
    assert back["W1"][0, 0] == 99.0, "unflatten gives views of the flat vector"


@pytest.mark.parametrize("container", [list, tuple])
def test_sequences_and_single_arrays(container):
    params = container([np.ones((2, 3)), np.zeros((1, 3))])
    layout, flat = layout_of(params)
    assert layout.names == ("[0]", "[1]") and flat.size == 9
    assert type(layout.unflatten(flat)) is container
    layout, flat = layout_of(np.array(4.0))
    assert layout.names == ("theta",) and layout.unflatten(flat).shape == ()
    assert layout.label(0) == "theta"


def test_gradient_with_notebook_keys_and_extras():
    params = {"W1": np.ones((2, 2)), "b1": np.ones((2, 1))}
    layout, _ = layout_of(params)
    grads = {"dW1": np.full((2, 2), 3.0), "db1": np.full((2, 1), 4.0), "dZ1": np.zeros(9), "dA0": 1, "dH1": 0}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        flat, extra = layout.flatten_like(grads)
    assert flat.tolist() == [3, 3, 3, 3, 4, 4] and extra == ["dZ1", "dA0", "dH1"]
    with pytest.warns(UserWarning, match="match no parameter.*'velocity'"):
        _, extra = layout.flatten_like({**grads, "velocity": 1.0})
    assert "velocity" in extra


def test_gradient_errors_name_the_key_and_shapes():
    layout, _ = layout_of({"W1": np.ones((2, 3)), "b1": np.ones((2, 1))})
    with pytest.raises(InputError, match=r"missing the gradient of parameter 'b1'"):
        layout.flatten_like({"dW1": np.ones((2, 3))})
    with pytest.raises(InputError, match=r"`grad\['W1'\]`: expected shape \(2, 3\).*got \(3, 2\)"):
        layout.flatten_like({"W1": np.ones((3, 2)), "b1": np.ones((2, 1))})
    with pytest.raises(InputError, match="expected a dict"):
        layout.flatten_like([np.ones((2, 3)), np.ones((2, 1))])
    seq, _ = layout_of([np.ones(2), np.ones(3)])
    with pytest.raises(InputError, match="list of 2 arrays"):
        seq.flatten_like([np.ones(2)])
    with pytest.raises(InputError, match=r"`grad\[1\]`: expected shape \(3,\)"):
        seq.flatten_like([np.ones(2), np.ones(4)])


@pytest.mark.parametrize(
    "params, match",
    [
        ({}, "empty dict"),
        ([], "empty list"),
        ({"w": np.arange(3)}, r"\['w'\].*dtype int64"),
        ({"w": np.array([True, False])}, "dtype bool"),
        ({"w": np.array(["a"])}, "expected a float array"),
        ({"w": np.zeros((0, 2))}, "empty"),
        ({"w": np.array([1.0, np.nan])}, "NaN"),
        ({"a": np.ones(2), "b": np.array([1.0, -np.inf])}, r"\['b'\]: contains NaN or infinite"),
    ],
)
def test_bad_params(params, match):
    with pytest.raises(InputError, match=match):
        layout_of(params)


def test_finite_values_whose_sum_overflows_are_accepted():
    """Finiteness is checked on the sum first (one read); an overflow only falls back to the exact test."""
    layout, flat = layout_of({"w": np.array([1e308, 1e308, -1e308])})
    np.testing.assert_array_equal(flat, [1e308, 1e308, -1e308])


def test_float32_is_upcast_with_a_warning():
    with pytest.warns(PrecisionWarning, match="float32"):
        layout, flat = layout_of({"w": np.ones(3, dtype=np.float32)})
    assert flat.dtype == np.float64
