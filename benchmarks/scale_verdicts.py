"""Verdicts at scale, with their cost: the default check at ~1e5 parameters, the fast mode to ~1e6.

For each size: the default three-way check's time and status; the fast mode's time (as
forward passes) and status on the correct backward, and on one with a single planted
wrong element, which it must localise to its index.
Run: ``python benchmarks/scale_verdicts.py``.
"""

from __future__ import annotations

import statistics

import numpy as np

from verifier import check_network
from verifier.core.params import layout_of
from verifier.frontends.bench import SIZES, timed, timed_against
from verifier.networks import DeepReLU


def measure(size: int) -> str:
    """One row of the table for one network size."""
    dims, m = SIZES[size]
    net = DeepReLU(dims, cost_form="stable")
    rng = np.random.default_rng(0)
    params = net.init_params(rng)
    X, Y = net.example_data(rng, m=m)
    default_seconds, default = (
        timed(lambda: check_network(net, params, X, Y)) if size <= 99073 else (float("nan"), None)
    )
    check_network(net, params, X, Y, mode="fast", seed=99)  # warm-up, as verifier bench does
    multiples, fast = [], None
    for seed in range(9):
        seconds, forward, fast = timed_against(
            lambda seed=seed: check_network(net, params, X, Y, mode="fast", seed=seed),
            lambda: net.cost(params, X, Y),
        )
        multiples.append(seconds / forward)
    layout, _ = layout_of(params)
    target = layout.offsets[2] + 7  # W2[0, 7]

    def planted(p, X, Y):  # noqa: ANN001, ANN202
        g = net.backward(p, X, Y)
        g["W2"] = g["W2"].copy()
        g["W2"][0, 7] += 1e-3
        return g

    bad = check_network(net, params, X, Y, backward=planted, mode="fast")
    found = np.flatnonzero(bad.elements["verdict"] == "wrong").tolist() == [target]
    status = default.status if default is not None else "-"
    multiple = statistics.median(multiples)
    head = f"{size:<8} {default_seconds:>8.2f} s, {status:<16} {multiple:>8.1f}, {fast.status:<20}"
    return f"{head} {bad.status}, localised: {found}"


def main() -> None:
    print("params   default check (s, status)   fast: forward passes, status   planted element found")
    for size in (99073, 394753, 1050625):
        print(measure(size))


if __name__ == "__main__":
    main()
