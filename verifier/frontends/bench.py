"""``verifier bench``: the cost of each way of checking against network size.

Every method runs on the same DeepReLU network, point, data and cost (the notebook's own
form of the cross-entropy, written in plain numpy), side by side, one BLAS thread (the CLI
pins it before numpy loads), interleaved round by round:

============== ==========================================================================
seed-loop      the notebook's loop: a copy of the vector and a rebuilt dict per element, two
               forward passes each (epsilon 1e-7), with the notebook's plain-numpy forward
scipy          ``scipy.optimize.check_grad`` over every element, on the same forward
default        ``check_network(net, params, X, Y)``: the default three-way check (centred,
               SciPy's column and autograd) through the network's batch stencil
centered       ``check_network(net, ..., methods=("centered",))``: the call a user makes,
               report and diagnosis included, through the network's batch stencil
user-default   ``check(cost, grad, params)`` on the notebook's plain-numpy forward and
               backward (``verifier.frontends.adapters.from_notebook``): the default three-way check of
               a user's own cost
user-centered  the same with ``methods=("centered",)``
autograd       ``verifier.reference_gradients`` on the same plain cost
fast           ``check_network(..., mode="fast")``: a full verdict
backward       the hand-written backward pass itself
============== ==========================================================================

The per-element loops (seed-loop, scipy) cost the same for every element: above
:data:`LOOP_SAMPLE` parameters they are timed on that many seeded elements and scaled by
P / :data:`LOOP_SAMPLE` (their rows say so), so the default run reaches 99,073 parameters
in about half a minute (30 s measured on two shared cores).

Peers, where installed (optional; ``--methods`` names them): ``torch-gradcheck`` and
``torch-fast`` run ``torch.autograd.gradcheck`` (full, and ``fast_mode=True``), and
``jax-check-grads`` runs ``jax.test_util.check_grads`` (reverse mode, its default step), on
the same network written in torch or jax (float64, the same point, data and cost). A peer
that fails these correct gradients is marked as a false alarm.

Each size: every method runs once to warm up, then in :func:`rounds` rounds, each method in
turn (sub-50-ms methods several times per turn), each round also timing one forward pass;
a row is the median over rounds, and its forward multiple the median of the per-round
ratios. A method predicted (from its warm-up, or from the forward time and its evaluation
count) to exceed ``max_seconds`` is skipped and reported as such.
"""

from __future__ import annotations

import importlib.util
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..api import check_network
from ..core.params import layout_of
from ..estimators.autograd_ref import reference_gradients
from ..networks import DeepReLU
from .catalog import BENCH_METHODS as METHODS
from .catalog import BENCH_PEERS as PEERS
from .catalog import BENCH_SIZES as SIZES
from .catalog import PEER_PACKAGE
from .published import notebook_forward, seed_loop

__all__ = ["METHODS", "PEERS", "PEER_PACKAGE", "SIZES", "BenchRow", "bench", "summarize"]
#: Sub-second measurements repeat for about this long (the median of the runs is kept):
#: at a fraction of a millisecond three runs on a shared machine are mostly noise.
TARGET_SECONDS = 0.3
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


#: Above this many parameters the per-element loops are timed on this many elements, scaled.
LOOP_SAMPLE = 2000
#: Methods whose time is per element, the same for each (timed on a sample at large sizes).
PER_ELEMENT = ("seed-loop", "scipy")


def _runners(size: int) -> tuple[Callable[[], Any], dict[str, Callable[[], Any]], float]:
    """The forward pass, each method's call, and the factor scaling a per-element loop's time."""
    import warnings

    from ..api import check
    from .adapters import from_notebook
    from .published import notebook_backward

    dims, m = SIZES[size]
    net = DeepReLU(dims, cost_form="notebook")  # the notebook's cost, as the loop differentiates it
    rng = np.random.default_rng(0)
    params = net.init_params(rng)
    X, Y = net.example_data(rng, m=m)
    layout, theta = layout_of(params)
    elements = None
    scale = 1.0
    if size > LOOP_SAMPLE:
        elements = np.sort(rng.choice(size, LOOP_SAMPLE, replace=False))
        scale = size / LOOP_SAMPLE

    def notebook_cost(p: Any) -> float:
        # the seeds' own plain-numpy forward pass: every method differentiates this cost
        return notebook_forward(X, Y, p)[0]

    def forward() -> Any:
        return notebook_cost(params)

    from scipy.optimize import check_grad  # imported here: 0.7 s that only this runner needs

    g, _ = layout.flatten_like(net.backward(params, X, Y))
    cost, grad = from_notebook(notebook_forward, notebook_backward, X, Y)
    sub = theta if elements is None else theta[elements]

    def on_sample(x: np.ndarray) -> float:
        full = theta.copy()
        full[elements if elements is not None else slice(None)] = x
        return notebook_cost(layout.unflatten(full))

    def quietly(fn: Callable[[], Any]) -> Callable[[], Any]:
        def run() -> Any:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return fn()

        return run

    runners: dict[str, Callable[[], Any]] = {
        "seed-loop": lambda: seed_loop(lambda v: notebook_cost(layout.unflatten(v)), theta, 1e-7, elements),
        "scipy": lambda: check_grad(on_sample, lambda _v: g if elements is None else g[elements], sub),
        # progress=False: the bench's own line shows where it is, and a bar is not what it times
        "default": quietly(lambda: check_network(net, params, X, Y, progress=False)),
        "centered": quietly(lambda: check_network(net, params, X, Y, methods=("centered",), progress=False)),
        "user-default": quietly(lambda: check(cost, grad, params, progress=False)),
        "user-centered": quietly(lambda: check(cost, grad, params, methods=("centered",), progress=False)),
        "autograd": lambda: reference_gradients(cost, params),
        "fast": quietly(lambda: check_network(net, params, X, Y, mode="fast", progress=False)),
        "backward": lambda: net.backward(params, X, Y),
    }
    for name, fast in (("torch-gradcheck", False), ("torch-fast", True)):
        runners[name] = _torch_runner(net, params, X, Y, fast)
    runners["jax-check-grads"] = _jax_runner(net, params, X, Y)
    return forward, runners, scale


def _jax_runner(net: DeepReLU, params: dict[str, np.ndarray], X: Any, Y: Any) -> Callable[[], Any]:
    """``jax.test_util.check_grads`` on the same network in jax; returns False on its AssertionError."""

    def run() -> Any:
        import jax

        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
        from jax.test_util import check_grads as jax_check_grads

        layout, theta = layout_of(params)
        cost = _peer_cost(net, layout, jnp.asarray(X), jnp.asarray(Y), jax.nn.relu, jax.nn.sigmoid, jnp.log)
        try:
            jax_check_grads(cost, (jnp.asarray(theta),), order=1, modes=["rev"])
        except AssertionError:
            return False
        return True

    return run


def _peer_cost(
    net: DeepReLU, layout: Any, x: Any, y: Any, relu: Any, sigmoid: Any, log: Any
) -> Callable[[Any], Any]:
    """The notebook's cost of a flat parameter tensor, in a peer's array library."""

    def cost(flat: Any) -> Any:
        parts = layout.unflatten(flat)
        a = x
        for l in range(1, net.n_layers):
            a = relu(parts[f"W{l}"] @ a + parts[f"b{l}"])
        out = sigmoid(parts[f"W{net.n_layers}"] @ a + parts[f"b{net.n_layers}"])
        return (-log(out) * y - log(1 - out) * (1 - y)).sum() / x.shape[1]

    return cost


def _torch_runner(
    net: DeepReLU, params: dict[str, np.ndarray], X: Any, Y: Any, fast: bool
) -> Callable[[], Any]:
    """``torch.autograd.gradcheck`` on the same network in torch; returns gradcheck's bool."""

    def run() -> Any:
        import torch

        layout, theta = layout_of(params)
        x, y = torch.as_tensor(X), torch.as_tensor(Y)
        cost = _peer_cost(net, layout, x, y, torch.relu, torch.sigmoid, torch.log)
        start = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
        return torch.autograd.gradcheck(cost, (start,), fast_mode=fast, raise_exception=False)

    return run


def _predict(method: str, size: int, forward: float, done: list[BenchRow]) -> float:
    """Seconds a method is expected to take at ``size`` (over every element, for the loops).

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


def rounds(slot_seconds: float, repeats: int) -> int:
    """Interleaved rounds at one size: at least ``repeats``, more (up to 15) while a round of
    every method takes under a second, fewer seconds than ``2 * TARGET_SECONDS * 15``."""
    if slot_seconds <= 0:
        return repeats
    return max(repeats, min(15, int(10 * TARGET_SECONDS / slot_seconds)))


def bench(
    sizes: list[int],
    methods: tuple[str, ...] = METHODS,
    *,
    repeats: int = 3,
    max_seconds: float = 60.0,
    progress: Callable[[str], None] | None = None,
) -> Iterator[BenchRow]:
    """Time each method at each size, interleaved, yielding each size's rows as they are measured.

    Parameters
    ----------
    sizes : list of int
        Parameter counts, keys of :data:`SIZES`.
    methods : tuple of str
        Subset of :data:`METHODS` and :data:`PEERS`.
    repeats : int
        Interleaved rounds at least (median over them); more, up to 15, where a round is short.
    max_seconds : float
        Skip a method whose one run is predicted to take longer.
    progress : callable, optional
        Called with a line before each stage.
    """
    done: list[BenchRow] = []
    for s_i, size in enumerate(sizes):
        forward_pass, runners, scale = _runners(size)
        forward = median_seconds(forward_pass, 21)  # for predictions; rows use their own rounds
        rows: dict[str, BenchRow] = {}
        live: dict[str, tuple[Callable[[], Any], int]] = {}
        outcome: dict[str, Any] = {}
        for method in methods:
            predicted = _predict(method, size, forward, done) / (scale if method in PER_ELEMENT else 1.0)
            if progress:
                progress(f"[size {s_i + 1}/{len(sizes)}] warming up {method} at {size} parameters")
            if predicted > max_seconds:
                rows[method] = BenchRow(
                    method, size, 0, predicted, predicted / forward, f"predicted {predicted:.0f} s"
                )
            elif method in PEERS and importlib.util.find_spec(PEER_PACKAGE[method]) is None:
                rows[method] = BenchRow(
                    method, size, 0, float("nan"), float("nan"), f"{PEER_PACKAGE[method]} not installed"
                )
            else:
                first = median_seconds(runners[method], 1)  # the warm-up: imports, first traces
                inner = max(1, min(100, int(0.05 / max(first, 1e-6))))  # a turn of at least ~50 ms
                live[method] = (runners[method], inner)
        slot = sum(median_seconds(run, 1) * k for run, k in live.values()) if live else 0.0
        n = rounds(slot, repeats)
        own: dict[str, list[float]] = {m: [] for m in live}
        multiples: dict[str, list[float]] = {m: [] for m in live}
        for r in range(n):
            if progress:
                progress(f"[size {s_i + 1}/{len(sizes)}] round {r + 1}/{n} at {size} parameters")
            reference = median_seconds(forward_pass, 5)
            for method, (run, inner) in live.items():  # every method in turn: interleaved
                start = time.perf_counter()
                for _ in range(inner):
                    outcome[method] = run()
                seconds = (time.perf_counter() - start) / inner * (scale if method in PER_ELEMENT else 1.0)
                own[method].append(seconds)
                multiples[method].append(seconds / reference)
        for method in live:
            note = "false alarm" if method in PEERS and outcome[method] is False else ""
            if method in PER_ELEMENT and scale != 1.0:
                note = f"timed on {LOOP_SAMPLE} of its {size} elements, scaled"
            rows[method] = BenchRow(
                method,
                size,
                n,
                statistics.median(own[method]),
                statistics.median(multiples[method]),
                note=note,
            )
        for method in methods:
            done.append(rows[method])
            yield rows[method]


def summarize(rows: list[BenchRow]) -> tuple[dict[str, float], list[tuple[int, str, float, float | None]]]:
    """Growth exponent per method, and per size each check's speed-up over the notebook's loop
    and over scipy's check_grad (None where scipy was not measured at that size)."""
    exponents = {
        m: growth_exponent([r for r in rows if r.method == m]) for m in dict.fromkeys(r.method for r in rows)
    }
    by = {(r.method, r.params): r.seconds for r in rows if not r.skipped}
    ratios = []
    for size in sorted({r.params for r in rows}):
        for method in ("default", "centered", "user-default", "user-centered", "fast"):
            if ("seed-loop", size) in by and (method, size) in by:
                base = by[(method, size)]
                scipy = by[("scipy", size)] / base if ("scipy", size) in by else None
                ratios.append((size, method, by[("seed-loop", size)] / base, scipy))
    return exponents, ratios
