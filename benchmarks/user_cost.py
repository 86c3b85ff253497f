"""The check on a user's own cost, against the notebook's loop, side by side (issue 15).

Run from the repository root: ``python benchmarks/user_cost.py [sizes]`` (default
``47,921,6337``; add ``99073`` for the largest, where the loop alone takes a minute or more).
The network is ``benchmarks/user_net.py``: plain numpy as the notebook's readers write it.
Every method is the call a user makes, on the same cost, one BLAS thread, interleaved round
by round; medians and ratios to the loop:

* ``loop``: the notebook's ``gradient_check_n`` procedure (:func:`verifier.frontends.published.seed_loop`):
  a copy of the parameter vector and two costs per element;
* ``default``: ``verifier.check(cost, grad, params)``, the three-way check as shipped;
* ``centered``: ``check(..., methods=("centered",))``, every element (its evaluations per
  element are printed);
* ``vectorized``: the same with the stacked cost and ``vectorized=True``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import user_net  # noqa: E402

from verifier import check  # noqa: E402
from verifier.core.params import layout_of  # noqa: E402
from verifier.frontends import published as seeds  # noqa: E402
from verifier.frontends.adapters import from_functions  # noqa: E402

DIMS = {
    47: ([4, 5, 3, 1], 3),
    107: ([6, 8, 5, 1], 4),
    245: ([10, 12, 8, 1], 8),
    489: ([16, 16, 12, 1], 8),
    921: ([20, 24, 16, 1], 16),
    6337: ([32, 64, 64, 1], 32),
    99073: ([128, 256, 256, 1], 32),
}


def _methods(size: int):
    params, X, Y = user_net.make(*DIMS[size])
    cost, grad = from_functions(
        lambda p, X, Y: user_net.forward(X, Y, p), lambda p, X, Y: user_net.backward(X, Y, p), X, Y
    )
    stacked, _ = from_functions(lambda p, X, Y: user_net.forward_stacked(X, Y, p), lambda p, X, Y: None, X, Y)
    layout, theta = layout_of(params)

    def loop():
        seeds.seed_loop(lambda v: user_net.forward(X, Y, layout.unflatten(v)), theta, 1e-7)
        return None

    return {
        "loop": loop,
        "default": lambda: check(cost, grad, params),
        "centered": lambda: check(cost, grad, params, methods=("centered",), budget=10**9),
        "vectorized": lambda: check(stacked, grad, params, methods=("centered",), vectorized=True),
    }


def main(sizes: list[int]) -> None:
    warnings.simplefilter("ignore")
    print(f"{'params':>7} {'method':11} {'seconds':>9} {'x loop':>7}  notes")
    for size in sizes:
        methods = _methods(size)
        rounds = 1 if size >= 50_000 else 5 if size >= 5000 else 15
        times: dict[str, list[float]] = {k: [] for k in methods}
        notes: dict[str, str] = {}
        for name, run in methods.items():  # one warm-up each (imports, first traces)
            if name != "loop" or size < 50_000:
                run()
        for _ in range(rounds):
            for name, run in methods.items():
                start = time.perf_counter()
                report = run()
                times[name].append(time.perf_counter() - start)
                if report is not None:
                    c = report.methods.get("centered")
                    per = (
                        f"{c.nfev / size:.2f} evals/element"
                        if c is not None and "sampled" not in c.extra
                        else ""
                    )
                    notes[name] = f"{report.status}; {per}".rstrip("; ")
        loop = statistics.median(times["loop"])
        for name in methods:
            t = statistics.median(times[name])
            print(f"{size:7} {name:11} {t:9.4f} {t / loop:7.2f}  {notes.get(name, '')}")


if __name__ == "__main__":
    main([int(s) for s in sys.argv[1].split(",")] if len(sys.argv) > 1 else [47, 921, 6337])
