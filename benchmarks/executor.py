"""When does an executor pay off? The centered check of a plain cost, serial against a process pool.

A plain cost (no batch stencil) is evaluated 4P times; workers share those evaluations.
Run: ``python benchmarks/executor.py`` (prints median seconds and the speed-up).
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

import numpy as np

from verifier import check
from verifier.bench import median_seconds
from verifier.networks import DeepReLU


class Cost:
    """A picklable cost: the network and its data."""

    def __init__(self, net: DeepReLU, X: np.ndarray, Y: np.ndarray) -> None:
        self.net, self.X, self.Y = net, X, Y

    def __call__(self, params: dict[str, np.ndarray]) -> float:
        return self.net.cost(params, self.X, self.Y)


def measure(dims: list[int], m: int) -> str:
    """One row: parameters, examples, one cost, serial and pooled seconds, speed-up."""
    net = DeepReLU(dims, cost_form="stable")
    rng = np.random.default_rng(0)
    params = net.init_params(rng)
    X, Y = net.example_data(rng, m=m)
    cost = Cost(net, X, Y)

    def grad(p: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return net.backward(p, X, Y)

    one = median_seconds(lambda: cost(params), 21)
    options = {"methods": ("centered",), "budget": 10**9}
    serial = median_seconds(lambda: check(cost, grad, params, **options))
    with ProcessPoolExecutor(max_workers=2) as pool:
        pooled = median_seconds(lambda: check(cost, grad, params, executor=pool, **options))
    speed_up = serial / pooled
    return f"{net.n_params:<7} {m:<9} {one * 1e3:<14.3f} {serial:<11.3f} {pooled:<16.3f} {speed_up:.2f}x"


def main() -> None:
    print("params  examples  one cost (ms)  serial (s)  2 processes (s)  speed-up")
    for dims, m in (([4, 5, 3, 1], 3), ([32, 64, 32, 1], 64), ([32, 64, 32, 1], 1024)):
        print(measure(dims, m))


if __name__ == "__main__":
    main()
