"""``verifier bench``: the cost of each way of checking against network size.

Every method runs on the same DeepReLU network, point and data, side by side in one run:

========== ==========================================================================
seed-loop  the notebook's loop: a copy of the vector and a rebuilt dict per element, two
           forward passes each (epsilon 1e-7), with the notebook's own plain-numpy forward
centered   the verifier's full per-element centred check (four points per element, with
           its error bound), through the layered network's batch stencil
scipy      ``scipy.optimize.check_grad`` over every element, on the same plain forward
autograd   ``verifier.reference_gradients`` (autograd)
fast       ``verifier.check_network(..., mode="fast")``: a full verdict
backward   the hand-written backward pass itself
========== ==========================================================================

Peers, where installed (optional; ``--methods`` names them): ``torch-gradcheck`` and
``torch-fast`` run ``torch.autograd.gradcheck`` (full, and ``fast_mode=True``), and
``jax-check-grads`` runs ``jax.test_util.check_grads`` (reverse mode, its default step), on
the same network written in torch or jax (float64, the same point and data). A peer that
fails these correct gradients is marked as a false alarm.

Times are medians of ``repeats`` runs; the forward multiple is the time over the median
of one cost evaluation, timed five times before each run (:func:`timed_against`). A
method whose predicted time (from the sizes already measured, or
from the forward time and its evaluation count) exceeds ``max_seconds`` is skipped and
reported as such, so the benchmark finishes on a small machine.
"""

from __future__ import annotations

import importlib.util
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from .catalog import BENCH_METHODS as METHODS
from .catalog import BENCH_PEERS as PEERS
from .catalog import BENCH_SIZES as SIZES
from .catalog import PEER_PACKAGE
from .estimators.autograd_ref import reference_gradients
from .estimators.centered import centered
from .harness import check_network
from .networks import DeepReLU
from .objective import Objective
from .params import layout_of
from .seeds import notebook_forward, seed_loop

__all__ = ["METHODS", "PEERS", "PEER_PACKAGE", "SIZES", "BenchRow", "bench", "summarize"]
#: Sub-second measurements repeat for about this long (median of at most MAX_REPEATS runs):
#: at a fraction of a millisecond three runs on a shared machine are mostly noise.
TARGET_SECONDS = 0.3
MAX_REPEATS = 101
#: Evaluations per parameter of the methods whose cost grows with P, for predictions.
EVALS_PER_PARAM = {"seed-loop": 2.0, "scipy": 1.0, "torch-gradcheck": 2.0}


@dataclass
class BenchRow:
    """One measurement: a method at a size."""

    method: str
    params: int
    samples: int
    seconds: float
    forward_multiple: float
    skipped: str = ""
    note: str = ""

    def csv(self) -> str:
        return f"{self.method},{self.params},{self.samples},{self.seconds:.6g},{self.forward_multiple:.6g}"


def timed(fn: Callable[[], Any], repeats: int = 1) -> tuple[float, Any]:
    """Median seconds of ``repeats`` runs, and what the last run returned."""
    results: list[Any] = []
    seconds = median_seconds(lambda: results.append(fn()), repeats)
    return seconds, results[-1]


def timed_against(
    fn: Callable[[], Any], reference: Callable[[], Any], repeats: int = 1, *, warm: bool = False
) -> tuple[float, float, Any]:
    """Median seconds of ``fn`` and of ``reference`` (a forward pass), timed in turn.

    Before each run of ``fn``, ``reference`` is timed five times: on a shared machine whose
    load drifts, the ratio of the two medians is steadier than either time. With ``warm``,
    ``fn`` also runs once untimed just before each timed run, so that a method of a fraction
    of a millisecond is timed as the loop it is compared with runs, warm, and not after
    other code has had the caches. Returns both medians and what the last run of ``fn``
    returned.
    """
    results: list[Any] = []
    own, ref = [], []
    for _ in range(repeats):
        ref.append(median_seconds(reference, 5))
        if warm:
            fn()
        own.append(median_seconds(lambda: results.append(fn()), 1))
    return statistics.median(own), statistics.median(ref), results[-1]


def median_seconds(fn: Callable[[], Any], repeats: int = 3) -> float:
    """Median wall time of ``repeats`` calls of ``fn`` (the benchmarks' one timer)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _runners(size: int) -> tuple[Callable[[], Any], dict[str, Callable[[], Any]]]:
    dims, m = SIZES[size]
    net = DeepReLU(dims, cost_form="stable")
    rng = np.random.default_rng(0)
    params = net.init_params(rng)
    X, Y = net.example_data(rng, m=m)
    layout, theta = layout_of(params)

    def cost(p: Any) -> Any:
        return net.cost(p, X, Y)

    def notebook_cost(p: Any) -> float:
        # the seeds' own plain-numpy forward pass: the baselines run the notebook's code
        return notebook_forward(X, Y, p)[0]

    def forward() -> Any:
        return cost(params)

    from scipy.optimize import check_grad  # imported here: 0.7 s that only this runner needs

    g, _ = layout.flatten_like(net.backward(params, X, Y))
    runners: dict[str, Callable[[], Any]] = {
        "seed-loop": lambda: seed_loop(lambda v: notebook_cost(layout.unflatten(v)), theta, 1e-7),
        "centered": lambda: centered(
            Objective(
                cost, layout, theta, batch=net.batch_stencil(params, X, Y, layout, theta), extended=False
            )
        ),
        "scipy": lambda: check_grad(lambda v: notebook_cost(layout.unflatten(v)), lambda _v: g, theta),
        "autograd": lambda: reference_gradients(cost, params),
        "fast": lambda: check_network(net, params, X, Y, mode="fast"),
        "backward": lambda: net.backward(params, X, Y),
    }
    for name, fast in (("torch-gradcheck", False), ("torch-fast", True)):
        runners[name] = _torch_runner(net, params, X, Y, fast)
    runners["jax-check-grads"] = _jax_runner(net, params, X, Y)
    return forward, runners


def _jax_runner(net: DeepReLU, params: dict[str, np.ndarray], X: Any, Y: Any) -> Callable[[], Any]:
    """``jax.test_util.check_grads`` on the same network in jax; returns False on its AssertionError."""

    def run() -> Any:
        import jax

        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
        from jax.test_util import check_grads as jax_check_grads

        layout, theta = layout_of(params)
        cost = _peer_cost(net, layout, jnp.asarray(X), jnp.asarray(Y), jax.nn.relu, jax.nn.softplus)
        try:
            jax_check_grads(cost, (jnp.asarray(theta),), order=1, modes=["rev"])
        except AssertionError:
            return False
        return True

    return run


def _peer_cost(net: DeepReLU, layout: Any, x: Any, y: Any, relu: Any, softplus: Any) -> Callable[[Any], Any]:
    """The DeepReLU stable cost of a flat parameter tensor, in a peer's array library."""

    def cost(flat: Any) -> Any:
        parts = layout.unflatten(flat)
        a = x
        for l in range(1, net.n_layers):
            a = relu(parts[f"W{l}"] @ a + parts[f"b{l}"])
        z = parts[f"W{net.n_layers}"] @ a + parts[f"b{net.n_layers}"]
        return (y * softplus(-z) + (1 - y) * softplus(z)).sum() / x.shape[1]

    return cost


def _torch_runner(
    net: DeepReLU, params: dict[str, np.ndarray], X: Any, Y: Any, fast: bool
) -> Callable[[], Any]:
    """``torch.autograd.gradcheck`` on the same network in torch; returns gradcheck's bool."""

    def run() -> Any:
        import torch

        layout, theta = layout_of(params)
        x, y = torch.as_tensor(X), torch.as_tensor(Y)
        cost = _peer_cost(net, layout, x, y, torch.relu, torch.nn.functional.softplus)
        start = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
        return torch.autograd.gradcheck(cost, (start,), fast_mode=fast, raise_exception=False)

    return run


def _predict(method: str, size: int, forward: float, done: list[BenchRow]) -> float:
    """Seconds a method is expected to take at ``size``.

    The per-element loops (seed-loop, scipy): evaluations per parameter times one forward
    pass plus a copy of the vector. The others: extrapolated from the sizes measured.
    """
    if method in EVALS_PER_PARAM:
        return EVALS_PER_PARAM[method] * size * (forward + 2e-9 * size)
    mine = [r for r in done if r.method == method and not r.skipped]
    if len(mine) >= 2:
        return mine[-1].seconds * (size / mine[-1].params) ** max(growth_exponent(mine), 1.0)
    return mine[-1].seconds * size / mine[-1].params if mine else 0.0


def growth_exponent(rows: list[BenchRow]) -> float:
    """Slope of log(seconds) against log(params) over the measured rows (NaN if fewer than two)."""
    pts = [(r.params, r.seconds) for r in rows if not r.skipped and r.seconds > 0]
    if len(pts) < 2:
        return float("nan")
    p, s = np.log(np.array(pts, dtype=float)).T
    return float(np.polyfit(p, s, 1)[0])


def bench(
    sizes: list[int],
    methods: tuple[str, ...] = METHODS,
    *,
    repeats: int = 3,
    max_seconds: float = 60.0,
    progress: Callable[[str], None] | None = None,
) -> Iterator[BenchRow]:
    """Time each method at each size, yielding rows as they are measured.

    Parameters
    ----------
    sizes : list of int
        Parameter counts, keys of :data:`SIZES`.
    methods : tuple of str
        Subset of :data:`METHODS` and :data:`PEERS`.
    repeats : int
        Runs per measurement (median), at least; more for runs far under a second (about
        :data:`TARGET_SECONDS` of them, at most :data:`MAX_REPEATS`), one for runs longer
        than a few seconds.
    max_seconds : float
        Skip a measurement predicted to take longer.
    progress : callable, optional
        Called with a line before each measurement.
    """
    done: list[BenchRow] = []
    steps = len(sizes) * len(methods)
    for s_i, size in enumerate(sizes):
        forward_pass, runners = _runners(size)
        forward = median_seconds(forward_pass, 21)  # for predictions; rows use their own
        for m_i, method in enumerate(methods):
            predicted = _predict(method, size, forward, done)
            if progress:
                progress(f"[{s_i * len(methods) + m_i + 1}/{steps}] {method} at {size} parameters")
            if predicted > max_seconds:
                row = BenchRow(
                    method, size, 0, predicted, predicted / forward, f"predicted {predicted:.0f} s"
                )
            elif method in PEERS and importlib.util.find_spec(PEER_PACKAGE[method]) is None:
                row = BenchRow(
                    method, size, 0, float("nan"), float("nan"), f"{PEER_PACKAGE[method]} not installed"
                )
            else:
                seconds, reference, outcome = timed_against(runners[method], forward_pass)  # also warms up
                n = 1
                if seconds < 2.0:
                    n = max(repeats, min(MAX_REPEATS, int(TARGET_SECONDS / max(seconds, 1e-6))))
                    seconds, reference, outcome = timed_against(runners[method], forward_pass, n, warm=True)
                note = "false alarm" if method in PEERS and outcome is False else ""
                row = BenchRow(method, size, n, seconds, seconds / reference, note=note)
            done.append(row)
            yield row


def summarize(rows: list[BenchRow]) -> tuple[dict[str, float], list[tuple[int, float, float | None]]]:
    """Growth exponent per method, and per size the centered check's speed-up over the
    notebook's loop and over scipy (None where scipy was not measured at that size)."""
    exponents = {
        m: growth_exponent([r for r in rows if r.method == m]) for m in dict.fromkeys(r.method for r in rows)
    }
    by = {(r.method, r.params): r.seconds for r in rows if not r.skipped}
    ratios = []
    for size in sorted({r.params for r in rows}):
        if ("seed-loop", size) in by and ("centered", size) in by:
            base = by[("centered", size)]
            scipy = by[("scipy", size)] / base if ("scipy", size) in by else None
            ratios.append((size, by[("seed-loop", size)] / base, scipy))
    return exponents, ratios
