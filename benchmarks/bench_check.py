"""Cost of a full check against the notebook's own loop, measured side by side in one run.

For DeepReLU networks of growing size, times (median of repeats):

* ``seed-loop``: the notebook's per-element loop (copy the whole vector, rebuild the dict,
  two forward passes per element), on the same cost;
* ``centered``, ``scipy``, ``autograd``: each of the verifier's methods on its own;
* ``check``: the full three-way check with comparison and diagnosis;
* ``forward``: one cost evaluation, the unit everything is expressed in.

Usage: ``python benchmarks/bench_check.py [--sizes 47,1089,6273] [--repeats 5]``.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np

import verifier
from verifier.estimators import autograd_ref, centered, scipy_fd
from verifier.networks import DeepReLU
from verifier.objective import Objective
from verifier.params import layout_of
from verifier.seeds import seed_loop

#: Layer sizes by parameter count; 47 is the notebook's network.
SIZES = {47: [4, 5, 3, 1], 1089: [16, 32, 16, 1], 6273: [64, 64, 32, 1]}


def median_time(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_size(dims: list[int], repeats: int) -> dict[str, float]:
    """Median seconds per method for one network size."""
    net = DeepReLU(dims, cost_form="stable")
    rng = np.random.default_rng(0)
    params = net.init_params(rng)
    X, Y = net.example_data(rng, m=8)

    def cost(p: object) -> float:
        return net.cost(p, X, Y)

    layout, theta = layout_of(params)
    return {
        "forward": median_time(lambda: cost(params), 50),
        "seed-loop": median_time(
            lambda: seed_loop(lambda v: cost(layout.unflatten(v)), theta, 1e-7), repeats
        ),
        "centered": median_time(lambda: centered(Objective(cost, layout, theta)), repeats),
        "scipy": median_time(lambda: scipy_fd(Objective(cost, layout, theta), theta), repeats),
        "autograd": median_time(lambda: autograd_ref(Objective(cost, layout, theta)), repeats),
        "check": median_time(lambda: verifier.check_network(net, params, X, Y), repeats),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    machine = platform.processor() or platform.machine()
    print(f"# {machine}, numpy {np.__version__}, python {platform.python_version()}")
    print("params  method     seconds      forward-multiple  vs seed-loop")
    for size in (int(s) for s in args.sizes.split(",")):
        repeats = args.repeats if size < 5000 else max(1, args.repeats // 2)
        timings = bench_size(SIZES[size], repeats)
        for method, seconds in timings.items():
            print(
                f"{size:<7} {method:<10} {seconds:<12.4g} {seconds / timings['forward']:<17.4g}"
                f" {timings['seed-loop'] / seconds:.3g}x"
            )


if __name__ == "__main__":
    main()
