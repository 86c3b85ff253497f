"""How fast autograd gives up on code it cannot trace, at 60,000 parameters (issue 11).

Run from the repository root, with the package installed: ``python benchmarks/trace_refusal.py``.
Plain-numpy costs that no trace can follow (``X.dot(w)`` with ``X`` a plain array; an
element-by-element fill of 60,000 numbers, past the in-place write budget), and one that
traces once numpy is resolved (``np.dot``), each timed as the user's call
``reference_gradients(cost, w)``, interleaved, ``ROUNDS`` times, one BLAS thread, beside one
plain evaluation of the same cost: medians, the refusal's multiple of one evaluation, and
the peak memory the call allocates (tracemalloc). Before issue 11, numpy turned the traced
values into an object array: 28-49 s and 600 MB at 5,500 parameters.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import statistics  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402

import numpy as np  # noqa: E402

from verifier import reference_gradients  # noqa: E402
from verifier.errors import ReferenceUnavailable  # noqa: E402

P = 60_000
ROUNDS = 5
X = np.random.default_rng(0).standard_normal((20, P))


def data_method(w):
    return float(np.sum(X.dot(w) ** 2))


def filled(w):
    out = np.zeros(w.size)
    for i in range(w.size):
        out[i] = w[i] ** 2
    return float(np.sum(out))


def np_dot(w):
    return float(np.sum(np.dot(X, w) ** 2))


COSTS = {"X.dot(w), refused": data_method, "element fill, refused": filled, "np.dot, traced": np_dot}


def _call(cost, w):
    try:
        reference_gradients(cost, w)
        return "traced"
    except ReferenceUnavailable:
        return "refused"


def main() -> None:
    w = np.ones(P)
    times: dict[str, list[float]] = {k: [] for k in COSTS}
    evals: dict[str, list[float]] = {k: [] for k in COSTS}
    peaks: dict[str, int] = {}
    outcome: dict[str, str] = {}
    for _ in range(ROUNDS):
        for name, cost in COSTS.items():  # interleaved: each round times every cost once
            start = time.perf_counter()
            cost(w)
            evals[name].append(time.perf_counter() - start)
            start = time.perf_counter()
            outcome[name] = _call(cost, w)
            times[name].append(time.perf_counter() - start)
    for name, cost in COSTS.items():
        tracemalloc.start()
        _call(cost, w)
        peaks[name] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    print(f"reference_gradients at {P:,} parameters, medians of {ROUNDS} interleaved rounds, one BLAS thread")
    print(f"{'cost':24} {'outcome':8} {'seconds':>9} {'x one eval':>11} {'peak MiB':>9}")
    for name in COSTS:
        t, e = statistics.median(times[name]), statistics.median(evals[name])
        print(f"{name:24} {outcome[name]:8} {t:9.3f} {t / e:11.1f} {peaks[name] / 2**20:9.1f}")


if __name__ == "__main__":
    main()
