"""Each method against known derivatives, and each one's error bound held to account."""

from __future__ import annotations

import math

import autograd.numpy as anp
import numpy as np
import pytest

from verifier import ReferenceUnavailable, reference_gradients
from verifier.core.objective import Objective, step_sizes
from verifier.core.params import layout_of
from verifier.estimators import autograd_ref, centered, scipy_fd


def _objective(cost, params):
    layout, theta = layout_of(params)
    return Objective(cost, layout, theta, np.random.default_rng(0))


SMOOTH = [
    (
        lambda p: anp.sum(anp.sin(p["x"]) * anp.exp(p["x"] / 3)),
        lambda x: np.cos(x) * np.exp(x / 3) + np.sin(x) * np.exp(x / 3) / 3,
    ),
    (lambda p: anp.sum(p["x"] ** 3 - 2 * p["x"]), lambda x: 3 * x**2 - 2),
    (lambda p: anp.sum(anp.log1p(p["x"] ** 2)), lambda x: 2 * x / (1 + x**2)),
]


@pytest.mark.parametrize("cost, derivative", SMOOTH)
def test_centered_and_scipy_are_within_their_own_bounds(cost, derivative, rng):
    x = np.concatenate([rng.normal(size=20), [0.0, 1e-3, 50.0, -3e4]])
    true = derivative(x)
    objective = _objective(cost, {"x": x})
    for estimate in (centered(objective), scipy_fd(objective, true)):
        assert np.all(np.abs(estimate.values - true) <= estimate.error), estimate.method
        assert not estimate.kink.any() if estimate.kink is not None else True
    c = centered(objective)
    s = scipy_fd(objective, true)
    assert np.median(c.error) < np.median(s.error), "the centred bound is the tighter one"
    assert s.extra["check_grad"] == pytest.approx(np.linalg.norm(s.values - true), rel=1e-6, abs=1e-9)


def test_centered_step_scales_with_the_parameter():
    """An input of size 1e5 must move by a step it can feel (jax#7742)."""
    np.testing.assert_allclose(
        step_sizes(np.array([1e5, -1e-3])), np.cbrt(np.finfo(float).eps) * np.array([1e5, 1])
    )
    est = centered(_objective(lambda p: anp.sum(p**2), np.array([1e5])))
    np.testing.assert_allclose(est.values, [2e5], rtol=1e-9)
    # beside it, 1e-3 moves the cost (1e10) by less than its resolution: the bound must say so
    est = centered(_objective(lambda p: anp.sum(p**2), np.array([1e5, 1e-3])))
    assert np.all(np.abs(est.values - [2e5, 2e-3]) <= est.error)


def test_kink_is_flagged_and_bracketed():
    """ReLU with the pre-activation 1e-9 from zero: the step crosses the kink."""
    objective = _objective(lambda p: anp.sum(anp.where(p > 0, p, 0.0) * 3.0), np.array([1e-9, -1e-9, 0.5]))
    est = centered(objective)
    assert est.kink.tolist() == [True, True, False]
    # left and right slopes of the stencil: the true derivative (3 at +1e-9, 0 at -1e-9) lies between
    assert est.lo[0] < 1e-3 and est.hi[0] == pytest.approx(3.0, rel=1e-6)
    assert est.lo[1] == pytest.approx(0.0, abs=1e-12) and est.hi[1] > 3.0 - 1e-3
    true = np.array([3.0, 0.0, 3.0])
    assert np.all(np.abs(est.values - true) <= est.error), "the bound covers the kink"


def test_autograd_matches_and_bounds_itself():
    objective = _objective(
        lambda p: anp.sum(anp.tanh(p["a"]) * p["b"]), {"a": np.array([0.1, 2.0]), "b": np.array([3.0, -1.0])}
    )
    est = autograd_ref(objective)
    want = np.concatenate([(1 - np.tanh([0.1, 2.0]) ** 2) * [3.0, -1.0], np.tanh([0.1, 2.0])])
    np.testing.assert_allclose(est.values, want, rtol=1e-14)
    assert np.all(est.error < 1e-8) and est.available


def test_autograd_bound_covers_its_loss_of_precision():
    """log(1 - A) with A near 1: autograd's float64 gradient is off by ~1e-3.

    The reference is recomputed in long double, which is far closer, and its bound covers it.
    """
    cost = lambda p: -anp.log(1 - 1 / (1 + anp.exp(-p)))[0]  # noqa: E731
    est = autograd_ref(_objective(cost, np.array([30.0])))
    true = 1 / (1 + np.exp(-30.0))
    assert abs(float(reference_gradients(cost, np.array([30.0]))[0]) - true) > 1e-5
    assert abs(est.values[0] - true) <= est.error[0] < 1e-3


def test_autograd_long_double_rerun_only_where_a_verdict_needs_it():
    """Given the hand-written gradient, the long-double re-run is skipped where every element
    agrees with autograd's float64 gradient within the floor bound, and made where one does not
    (here the exact gradient, which float64 autograd misses by ~1e-3 in log(1 - A))."""
    cost = lambda p: -anp.log(1 - 1 / (1 + anp.exp(-p)))[0]  # noqa: E731
    float64 = np.asarray(reference_gradients(cost, np.array([30.0])), dtype=np.float64)
    skipped = autograd_ref(_objective(cost, np.array([30.0])), target=float64)
    assert not skipped.extra["extended"] and skipped.nfev == 1 and "not needed" in skipped.reason
    np.testing.assert_array_equal(skipped.values, float64)

    true = np.array([1 / (1 + np.exp(-30.0))])
    rerun = autograd_ref(_objective(cost, np.array([30.0])), target=true)
    assert rerun.extra["extended"] and rerun.nfev == 2
    assert abs(rerun.values[0] - true[0]) <= rerun.error[0] < 1e-3


def test_scipy_measures_the_noise_only_when_an_element_does_not_agree_at_the_floor():
    cost, derivative = SMOOTH[0]
    x = np.linspace(-1.0, 1.0, 6)
    right = _objective(cost, {"x": x})
    scipy_fd(right, derivative(x))
    assert "not measured" in right.noise(measure=False)[1]
    wrong = _objective(cost, {"x": x})
    slipped = derivative(x)
    slipped[2] *= 1.01
    est = scipy_fd(wrong, slipped)
    assert "not measured" not in wrong.noise(measure=False)[1] and np.isfinite(est.error).all()


def test_relative_errors_per_segment_match_the_one_at_a_time_rule(monkeypatch):
    """One vectorised pass over all tensors, chunked, gives each tensor's ||a - b|| / (||a|| +
    ||b||) over its finite entries: 0 for 0/0, NaN for an empty or all-NaN segment."""
    from verifier.core import params
    from verifier.judge.compare import relative_error, relative_errors

    rng = np.random.default_rng(5)
    sizes = [0, 5, 1, 0, 9, 3, 4]
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    a = rng.standard_normal(offsets[-1])
    b = a + 1e-3 * rng.standard_normal(a.size)
    a[offsets[2]] = np.nan  # the segment of size 1 is all NaN
    a[offsets[5] : offsets[6]] = b[offsets[5] : offsets[6]] = 0.0  # 0/0
    want = [
        relative_error(a[s:e], b[s:e]) if e > s else np.nan
        for s, e in zip(offsets[:-1], offsets[1:], strict=True)
    ]
    for chunk in (65_536, 4, 1):
        monkeypatch.setattr(params, "CHUNK_ELEMENTS", chunk)
        got = relative_errors([(a, b), (b, a)], offsets)
        np.testing.assert_array_equal(got[0], got[1])
        got = got[0]
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
    assert np.isnan(got[[0, 2, 3]]).all() and got[5] == 0.0


@pytest.mark.parametrize(
    "cost, reason",
    [
        (lambda p: math.fsum(v * v for v in p["w"]), "could not trace"),
        (lambda p: 3.0, "no dependence"),
        (lambda p: np.sum(np.asarray(p["w"].tolist()) ** 2), "could not trace"),
    ],
)
def test_autograd_unavailable_is_said_not_zeros(cost, reason):
    est = autograd_ref(_objective(cost, {"w": np.array([1.0, 2.0])}))
    assert not est.available and reason in est.reason and "finite differences ran without" in est.reason
    assert np.all(np.isnan(est.values))
    with pytest.raises(ReferenceUnavailable, match=reason):
        reference_gradients(cost, {"w": np.array([1.0, 2.0])})


def test_reference_gradients_keeps_the_container():
    got = reference_gradients(lambda p: anp.sum(p[0] ** 2) + p[1] * 3, [np.array([1.0, 2.0]), np.array(5.0)])
    assert isinstance(got, list) and got[0].tolist() == [2.0, 4.0] and float(got[1]) == 3.0


def test_along_equals_the_cost_at_each_point_and_puts_the_buffer_back():
    """The in-place walk along a direction gives the cost at theta + k w (to a rounding of
    theta), and the next evaluation sees theta again, for a slice and for an index array."""
    rng = np.random.default_rng(5)
    params = {"a": rng.standard_normal(40), "b": rng.standard_normal((3, 5))}
    cost = lambda p: anp.sum(anp.tanh(p["a"]) ** 2) + anp.sum(p["b"] ** 3)  # noqa: E731
    objective = _objective(cost, params)
    theta = objective.theta0.copy()
    steps = np.array([-2.0, -1.0, 1.0, 2.0])
    for support in (slice(10, 50), np.array([0, 3, 7, 41, 52])):
        w = 1e-3 * rng.standard_normal(theta[support].size)
        got = objective.along(support, w, steps)
        for k, s in enumerate(steps):
            x = theta.copy()
            x[support] += s * w
            assert got[k] == pytest.approx(cost(objective.layout.unflatten(x)), rel=1e-13, abs=1e-13)
        assert objective.repeat_differs() == 0.0
        assert objective(theta) == objective.value0
    np.testing.assert_array_equal(objective.theta0, theta)


def test_a_cost_that_writes_into_its_parameters_is_caught():
    """The repeat evaluation is made on the buffer as the first one left it."""

    def vandal(p):
        value = anp.sum(p["w"] ** 2)
        p["w"] += 1e-3
        return value

    objective = _objective(vandal, {"w": np.array([0.5, 1.0])})
    assert objective.repeat_differs() > 0


def test_the_centred_method_works_in_chunks_with_the_same_result(monkeypatch):
    """Its working memory is bounded by CHUNK_ELEMENTS, not by P: chunked, the estimate is the
    one made at once (a noisy cost, so that the noise level is raised after the first pass,
    and a target, so that three-point decisions and five-point elements mix)."""
    from verifier.core import params

    rng = np.random.default_rng(3)
    w = rng.standard_normal(300)
    jitter = 1e-11 * rng.standard_normal(300)

    def cost(p):
        v = p["w"]
        return float(np.sum(np.sin(v) * v) + np.dot(np.abs(v) > 2.5, jitter))  # kinks: |v| crossings

    target = np.sin(w) + w * np.cos(w)
    target[::7] *= 1.001  # wrong elements: five points there
    whole = centered(_objective(cost, {"w": w}), target=target)
    monkeypatch.setattr(params, "CHUNK_ELEMENTS", 64)
    chunked = centered(_objective(cost, {"w": w}), target=target)
    for field in ("values", "error", "lo", "hi", "curvature"):
        np.testing.assert_allclose(getattr(chunked, field), getattr(whole, field), rtol=1e-12, atol=0)
    np.testing.assert_array_equal(chunked.kink, whole.kink)
    assert chunked.nfev == whole.nfev and "decided on three points" in whole.reason
