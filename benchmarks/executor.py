"""Does a slow cost's check scale with workers? The default check, locally and on a dask cluster.

Run from the repository root: ``python benchmarks/executor.py [rounds] [sleep,cpu]`` (default
3 rounds, both kinds; about a minute a round). A plain-numpy network of 57 parameters (4
examples) whose cost takes about 40 ms an evaluation, in two kinds:

* ``sleep``: ``time.sleep(0.04)`` beside the arithmetic, as a cost that waits (a simulator, a
  file, a remote model): it uses no core, so it shows scaling beyond the machine's cores;
* ``cpu``: a pure-Python loop of about 40 ms beside the arithmetic: it needs a core, so on
  this machine's 2 cores it cannot scale beyond 2.

Each kind runs ``verifier.check(cost, grad, params)`` (the default three-way check) locally
and with ``executor=client.get_executor()`` on a ``dask.distributed.LocalCluster`` of 2 and of
4 worker processes (one thread each), interleaved round by round, one BLAS thread; medians.
The overhead per task is a no-op task's round trip through each cluster's executor (200 of
them submitted at once, divided by 200), and the number of tasks a check sends is counted.
"""

from __future__ import annotations

import logging
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from verifier import check  # noqa: E402

SECONDS = 0.04
DIMS, M = [6, 5, 3, 1], 4


class SlowCost:
    """The notebook's kind of cost (ReLU, ReLU, sigmoid, cross-entropy), made slow."""

    def __init__(self, X: np.ndarray, Y: np.ndarray, kind: str, spin: int) -> None:
        self.X, self.Y, self.kind, self.spin = X, Y, kind, spin

    def __call__(self, p: dict[str, np.ndarray]) -> float:
        if self.kind == "sleep":
            time.sleep(SECONDS)
        else:
            acc = 0
            for i in range(self.spin):
                acc += i & 7
        A = self.X
        for l in (1, 2):
            A = np.maximum(np.dot(p[f"W{l}"], A) + p[f"b{l}"], 0.0)
        out = 1 / (1 + np.exp(-(np.dot(p["W3"], A) + p["b3"])))
        m = self.X.shape[1]
        return float(-np.sum(self.Y * np.log(out) + (1 - self.Y) * np.log(1 - out)) / m)


class Grad:
    """The hand-written backward pass of :class:`SlowCost`."""

    def __init__(self, X: np.ndarray, Y: np.ndarray) -> None:
        self.X, self.Y = X, Y

    def __call__(self, p: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        m = self.X.shape[1]
        Z1 = np.dot(p["W1"], self.X) + p["b1"]
        A1 = np.maximum(Z1, 0.0)
        Z2 = np.dot(p["W2"], A1) + p["b2"]
        A2 = np.maximum(Z2, 0.0)
        A3 = 1 / (1 + np.exp(-(np.dot(p["W3"], A2) + p["b3"])))
        dZ3 = A3 - self.Y
        g = {"W3": np.dot(dZ3, A2.T) / m, "b3": np.sum(dZ3, axis=1, keepdims=True) / m}
        dZ2 = np.dot(p["W3"].T, dZ3) * (Z2 > 0)
        g["W2"], g["b2"] = np.dot(dZ2, A1.T) / m, np.sum(dZ2, axis=1, keepdims=True) / m
        dZ1 = np.dot(p["W2"].T, dZ2) * (Z1 > 0)
        g["W1"], g["b1"] = np.dot(dZ1, self.X.T) / m, np.sum(dZ1, axis=1, keepdims=True) / m
        return g


class Counting:
    """An executor that counts the tasks submitted to the one it wraps."""

    def __init__(self, executor: Any) -> None:
        self.executor, self.tasks = executor, 0

    def submit(self, fn: Any, *args: Any) -> Any:
        self.tasks += 1
        return self.executor.submit(fn, *args)


def _noop() -> None:
    return None


def _spin_for(seconds: float) -> int:
    n = 200_000
    while True:
        start = time.perf_counter()
        acc = 0
        for i in range(n):
            acc += i & 7
        took = time.perf_counter() - start
        if took > 0.01:
            return int(n * seconds / took)
        n *= 4


def main(rounds: int, kinds: tuple[str, ...] = ("sleep", "cpu")) -> None:
    from dask.distributed import Client, LocalCluster

    warnings.simplefilter("ignore")
    rng = np.random.default_rng(0)
    params = {}
    for l in range(1, len(DIMS)):
        params[f"W{l}"] = rng.standard_normal((DIMS[l], DIMS[l - 1])) * np.sqrt(2 / DIMS[l - 1])
        params[f"b{l}"] = 0.1 * rng.standard_normal((DIMS[l], 1))
    X = rng.standard_normal((DIMS[0], M))
    Y = (rng.random((1, M)) > 0.5).astype(float)
    size = sum(v.size for v in params.values())
    spin = _spin_for(SECONDS)
    grad = Grad(X, Y)
    costs = {kind: SlowCost(X, Y, kind, spin) for kind in kinds}
    clusters = {
        w: LocalCluster(
            n_workers=w,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
        for w in (2, 4)
    }
    clients = {w: Client(c) for w, c in clusters.items()}
    try:
        overhead = {}
        for w, client in clients.items():
            ex = client.get_executor()
            [f.result() for f in [ex.submit(_noop) for _ in range(50)]]  # warm
            start = time.perf_counter()
            [f.result() for f in [ex.submit(_noop) for _ in range(200)]]
            overhead[w] = (time.perf_counter() - start) / 200
        times: dict[tuple[str, str], list[float]] = {}
        tasks: dict[tuple[str, str], int] = {}
        evals: dict[str, int] = {}
        one: dict[str, float] = {}
        for kind, cost in costs.items():
            one[kind] = statistics.median(_timed(lambda cost=cost: cost(params)) for _ in range(5))
        for _ in range(rounds):
            for kind, cost in costs.items():
                for where in ("local", "2 workers", "4 workers"):
                    executor = None if where == "local" else Counting(clients[int(where[0])].get_executor())
                    start = time.perf_counter()
                    report = check(cost, grad, params, executor=executor)
                    times.setdefault((kind, where), []).append(time.perf_counter() - start)
                    assert report.ok, str(report)
                    if executor is not None:
                        tasks[(kind, where)] = executor.tasks
                    else:
                        evals[kind] = sum(r.nfev for n, r in report.methods.items() if n != "autograd")
        print(f"default check, {size} parameters, {M} examples; medians of {rounds} interleaved rounds")
        for w in clients:
            print(f"  overhead of a task on {w} worker processes: {overhead[w] * 1e3:.2f} ms")
        print(f"{'cost':6} {'one eval':>9} {'where':10} {'seconds':>8} {'x local':>8} {'tasks':>6}")
        for kind in costs:
            local = statistics.median(times[(kind, "local")])
            for where in ("local", "2 workers", "4 workers"):
                t = statistics.median(times[(kind, where)])
                spread = f"({min(times[(kind, where)]):.2f}-{max(times[(kind, where)]):.2f})"
                print(
                    f"{kind:6} {one[kind] * 1e3:7.1f}ms {where:10} {t:8.2f} {local / t:7.2f}x"
                    f" {tasks.get((kind, where), ''):>6}  {spread}"
                )
            print(f"{'':6} finite-difference evaluations in a local check: {evals[kind]}")
    finally:
        for client in clients.values():
            client.close()
        for cluster in clusters.values():
            cluster.close()


def _timed(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


if __name__ == "__main__":
    kinds = tuple(sys.argv[2].split(",")) if len(sys.argv) > 2 else ("sleep", "cpu")
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3, kinds)
