"""The fast paths give what the slow ones give: SciPy's column through the one perturbation loop
(batched where a network offers a batch stencil), every method on an executor's workers, and
one BLAS thread during a check of a small cost, the caller's threads restored afterwards."""

from __future__ import annotations

import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from scipy.optimize import approx_fprime, check_grad
from threadpoolctl import threadpool_info, threadpool_limits

import verifier.core.threads
from verifier import check, check_network
from verifier.core.objective import Objective
from verifier.core.params import layout_of
from verifier.errors import CostError
from verifier.estimators.scipy_fd import SCIPY_STEP, scipy_fd, scipy_steps
from verifier.networks import DeepReLU


def _plain_net(seed: int = 3):
    """The notebook's kind of network, in plain numpy, with its backward."""
    net = DeepReLU([5, 6, 4, 1], cost_form="stable")
    rng = np.random.default_rng(seed)
    params = net.init_params(rng)
    X, Y = net.example_data(rng, m=7)
    return net, params, X, Y


def test_scipy_column_is_approx_fprimes_bit_for_bit_and_check_grads_norm():
    net, params, X, Y = _plain_net()
    layout, theta = layout_of(params)

    def flat_cost(v):
        return net.cost(layout.unflatten(v), X, Y)

    g, _ = layout.flatten_like(net.backward(params, X, Y), argument="grad")
    g = g * (1 + 1e-6 * np.arange(g.size) / g.size)  # a gradient check_grad's norm sees
    estimate = scipy_fd(Objective(lambda p: net.cost(p, X, Y), layout, theta), g)
    # without a batch, every evaluation is the one approx_fprime makes, at the same point
    np.testing.assert_array_equal(estimate.values, approx_fprime(theta, flat_cost, SCIPY_STEP))
    expected = check_grad(flat_cost, lambda v: g, theta, epsilon=SCIPY_STEP)
    assert estimate.extra["check_grad"] == pytest.approx(expected, rel=1e-12, abs=0)


def test_scipy_steps_are_approx_fprimes_including_its_fallback_for_huge_values():
    x0 = np.array([0.0, 0.5, -3.0, 1e-30, 2e9, -7e20, 1e300])
    seen: list[np.ndarray] = []

    def f(x):
        seen.append(x.copy())
        return float(np.sum(np.sin(x)))

    approx_fprime(x0, f, SCIPY_STEP)
    taken = np.array([p[i] - x0[i] for i, p in enumerate(seen[1:])])  # seen[0] is f(x0)
    np.testing.assert_array_equal(x0 + scipy_steps(x0), x0 + taken)
    assert np.all(scipy_steps(x0) != 0)


def test_scipy_through_a_networks_batch_stencil_matches_approx_fprime_within_roundoff():
    net, params, X, Y = _plain_net(5)
    layout, theta = layout_of(params)
    calls = []
    batch = net.batch_stencil(params, X, Y, layout, theta)

    def counted(indices, steps):
        calls.append(indices.size)
        return batch(indices, steps)

    objective = Objective(lambda p: net.cost(p, X, Y), layout, theta, batch=counted)
    g, _ = layout.flatten_like(net.backward(params, X, Y), argument="grad")
    estimate = scipy_fd(objective, g)
    plain = approx_fprime(theta, lambda v: net.cost(layout.unflatten(v), X, Y), SCIPY_STEP)
    assert sum(calls) == layout.size + layout.size  # F(h), then F(2h): no curvature given
    assert len(calls) == 2
    # the batch's costs equal the plain ones to within round-off: a few ulps of J over the step
    roundoff = 64 * np.finfo(float).eps * abs(objective.value0) / SCIPY_STEP
    np.testing.assert_allclose(estimate.values, plain, rtol=0, atol=roundoff)
    assert np.all(np.abs(estimate.values - g) <= estimate.error)


def test_default_check_of_a_network_runs_scipy_on_every_element_through_its_batch():
    net = DeepReLU([32, 64, 64, 1], cost_form="stable")  # 6,337 parameters
    rng = np.random.default_rng(0)
    params = net.init_params(rng)
    X, Y = net.example_data(rng, m=32)
    report = check_network(net, params, X, Y)
    assert report.ok
    scipy = report.methods["scipy"]
    assert np.isfinite(report.elements["scipy"]).all()  # every element, not a sample
    assert "sampled" not in scipy.reason


class _ThreadCounter:
    """A cost that records, at each evaluation, the thread it ran on."""

    def __init__(self, net, X, Y):
        self.net, self.X, self.Y = net, X, Y
        self.threads: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, params):
        with self.lock:
            self.threads.append(threading.current_thread().name)
        return self.net.cost(params, self.X, self.Y)


def test_every_methods_evaluations_go_to_the_executor_with_identical_results():
    net, params, X, Y = _plain_net(7)
    grad = lambda p: net.backward(p, X, Y)  # noqa: E731
    size = layout_of(params)[0].size
    serial_cost = _ThreadCounter(net, X, Y)
    serial = check(serial_cost, grad, params, methods=("centered", "scipy"))
    cost = _ThreadCounter(net, X, Y)
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="worker") as pool:
        parallel = check(cost, grad, params, methods=("centered", "scipy"), executor=pool)
    for method in ("centered", "scipy"):
        np.testing.assert_array_equal(parallel.elements[method], serial.elements[method])
    assert parallel.methods["scipy"].extra["check_grad"] == serial.methods["scipy"].extra["check_grad"]
    assert parallel.ok and serial.ok
    on_workers = sum(name.startswith("worker") for name in cost.threads)
    # the centred method's 2 per element and SciPy's 1: on the workers; here only the value at
    # the point, its repeat and the measurement of round-off against long double
    assert on_workers >= 3 * size
    assert len(cost.threads) - on_workers <= 2 + 2 * 9
    assert len(cost.threads) == len(serial_cost.threads)


def _blas_threads() -> int:
    return max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")


@pytest.fixture
def unpinned(monkeypatch):
    """The caller's environment leaves BLAS at two threads (as on a 2-core machine, unpinned)."""
    for name in verifier.core.threads.PINNING:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    with threadpool_limits(limits=2, user_api="blas"):
        yield


def _recording_cost(seen: list[int], fail: bool = False):
    net, params, X, Y = _plain_net(2)

    def cost(p):
        seen.append(_blas_threads())
        if fail and len(seen) > 3:
            raise RuntimeError("the cost's own error")
        return net.cost(p, X, Y)

    return cost, lambda p: net.backward(p, X, Y), params


def test_a_small_cost_sees_one_blas_thread_during_a_check_and_the_callers_after(unpinned):
    if not threadpool_info():
        pytest.skip("no BLAS threadpoolctl can see")
    assert _blas_threads() == 2
    seen: list[int] = []
    cost, grad, params = _recording_cost(seen)
    assert check(cost, grad, params).ok
    assert seen and set(seen) == {1}
    assert _blas_threads() == 2


def test_the_callers_blas_threads_come_back_when_the_cost_raises(unpinned):
    if not threadpool_info():
        pytest.skip("no BLAS threadpoolctl can see")
    seen: list[int] = []
    cost, grad, params = _recording_cost(seen, fail=True)
    with pytest.raises((RuntimeError, CostError)):
        check(cost, grad, params, methods=("centered",))
    assert set(seen) == {1}
    assert _blas_threads() == 2


def test_a_large_check_leaves_blas_threads_alone(unpinned, monkeypatch):
    if not threadpool_info():
        pytest.skip("no BLAS threadpoolctl can see")
    monkeypatch.setattr(verifier.core.threads, "ONE_THREAD_UP_TO", 10)  # "large": more than 10 parameters
    seen: list[int] = []
    cost, grad, params = _recording_cost(seen)
    assert check(cost, grad, params).ok
    assert set(seen) == {2}


def _buffered(p):
    """Writes its terms into a float buffer: on complex input the imaginary parts are dropped
    (numpy's ComplexWarning), so the complex step must refuse it, on a worker as here."""
    out = np.zeros(3)
    for i in range(3):
        out[i] = p["w"][i] ** 2
    return out.sum()


def test_the_complex_step_refuses_a_cost_that_drops_its_imaginary_part_on_a_process_worker():
    from concurrent.futures import ProcessPoolExecutor

    params = {"w": np.array([0.7, -1.3, 2.1])}
    grad = lambda p: {"w": 2 * p["w"]}  # noqa: E731
    serial = check(_buffered, grad, params, methods=("centered", "complex"))
    with ProcessPoolExecutor(max_workers=2) as pool, warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork in a threaded process, on some Pythons
        pooled = check(_buffered, grad, params, methods=("centered", "complex"), executor=pool)
    for report in (serial, pooled):
        assert report.ok and not report.methods["complex"].available, str(report)
    assert pooled.methods["complex"].reason == serial.methods["complex"].reason


def test_the_nearby_points_check_at_kinks_goes_through_the_batch_stencil_too():
    """ReLU exactly at 0 (a zero bias and a zero input column) without autograd: the kinks
    are decided at a nearby point, whose stencil is the network's batch moved there."""
    net = DeepReLU([5, 6, 4, 1], cost_form="stable")
    rng = np.random.default_rng(1)
    params = net.init_params(rng)
    params["b1"] = np.zeros_like(params["b1"])
    X, Y = net.example_data(rng, m=7)
    X[:, 2] = 0.0
    layout, theta = layout_of(params)
    calls = []

    def cost(p):
        calls.append(1)
        return net.cost(p, X, Y)

    grad = lambda p: net.backward(p, X, Y)  # noqa: E731
    methods = ("centered", "scipy")
    batched = check(
        cost, grad, params, methods=methods, stencil=net.batch_stencil(params, X, Y, layout, theta)
    )
    one_by_one = len(calls)
    plain = check(cost, grad, params, methods=methods)
    assert batched.ok and plain.ok
    kinks = batched.elements["verdict"] == "kink"
    assert kinks.sum() == 6 and np.array_equal(kinks, plain.elements["verdict"] == "kink")
    # the value at the point, its repeat, the long-double noise measurement, the nearby values
    assert one_by_one <= 25 < len(calls) - one_by_one


def test_a_vectorized_cost_is_batched_at_every_point():
    calls = {"stacked": 0, "one": 0}

    def cost(p):
        w = p["w"]
        calls["stacked" if w.ndim == 2 else "one"] += 1
        return np.sum(np.sin(w) * w, axis=-1)

    params = {"w": np.linspace(-1.0, 1.0, 40)}
    report = check(
        cost,
        lambda p: {"w": np.cos(p["w"]) * p["w"] + np.sin(p["w"])},
        params,
        methods=("centered", "scipy"),
        vectorized=True,
        points=3,
    )
    assert report.ok and len(report.points) == 2
    assert calls["one"] <= 30  # per point its value and repeat (246 when points 2, 3 were not batched)
    assert calls["stacked"] >= 3
