"""What one BLAS thread during a check buys: the default check with BLAS left unpinned.

Run from the repository root: ``python benchmarks/blas_threads.py [sizes] [rounds]`` (default
``921,6337,99073`` and 7 rounds). The environment must leave BLAS unpinned (no
``OPENBLAS_NUM_THREADS`` etc.), as most users' does: the script refuses otherwise. On the
notebook-style plain-numpy network (``user_net.py``, 32 examples), interleaved round by round:

* ``check``: ``verifier.check(cost, grad, params)`` as shipped (one BLAS thread inside the
  check up to :data:`verifier.core.threads.ONE_THREAD_UP_TO` parameters);
* ``unlimited``: the same call with that limit switched off (``ONE_THREAD_UP_TO = -1``), BLAS
  at its default, a thread per core: the check as it ran before.

Medians, and each round's ratio; verdicts are printed to show they are the same.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import warnings
from pathlib import Path

if any(os.environ.get(v) for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")):
    raise SystemExit("unset OPENBLAS_NUM_THREADS, OMP_NUM_THREADS and MKL_NUM_THREADS first")

sys.path.insert(0, str(Path(__file__).resolve().parent))
import user_net  # noqa: E402
from threadpoolctl import threadpool_info  # noqa: E402

import verifier.core.threads  # noqa: E402
from verifier import check  # noqa: E402
from verifier.frontends.adapters import from_functions  # noqa: E402

DIMS = {
    47: ([4, 5, 3, 1], 3),
    921: ([20, 24, 16, 1], 32),
    6337: ([32, 64, 64, 1], 32),
    99073: ([128, 256, 256, 1], 32),
}


def main(sizes: list[int], rounds: int) -> None:
    warnings.simplefilter("ignore")
    blas = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
    load = os.getloadavg()[0]
    print(f"BLAS threads outside a check: {blas}; machine load {load:.1f} on {os.cpu_count()} cores")
    print(f"{'params':>7} {'check s':>8} {'unlimited s':>12} {'ratio':>6}  (per-round ratios)  status")
    limit = verifier.core.threads.ONE_THREAD_UP_TO
    for size in sizes:
        params, X, Y = user_net.make(*DIMS[size])
        cost, grad = from_functions(
            lambda p, X, Y: user_net.forward(X, Y, p), lambda p, X, Y: user_net.backward(X, Y, p), X, Y
        )
        times: dict[str, list[float]] = {"check": [], "unlimited": []}
        status = {}
        for r in range(rounds + 1):  # the first round warms up
            for name, up_to in (("check", limit), ("unlimited", -1)):
                verifier.core.threads.ONE_THREAD_UP_TO = up_to
                start = time.perf_counter()
                status[name] = check(cost, grad, params).status
                if r:
                    times[name].append(time.perf_counter() - start)
        verifier.core.threads.ONE_THREAD_UP_TO = limit
        ratios = [u / c for c, u in zip(times["check"], times["unlimited"], strict=True)]
        c, u = statistics.median(times["check"]), statistics.median(times["unlimited"])
        print(
            f"{size:7} {c:8.4f} {u:12.4f} {u / c:6.2f}  ({min(ratios):.2f}-{max(ratios):.2f})"
            f"  {status['check']} / {status['unlimited']}"
        )


if __name__ == "__main__":
    sizes = [int(s) for s in sys.argv[1].split(",")] if len(sys.argv) > 1 else [921, 6337, 99073]
    main(sizes, int(sys.argv[2]) if len(sys.argv) > 2 else 7)
