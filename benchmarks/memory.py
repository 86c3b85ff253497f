"""Peak memory of the default check, in parameter-sized float64 arrays (issue 15).

Run from the repository root: ``python benchmarks/memory.py [sizes]`` (default
99073,394753,1050625). ``check_network`` on the built-in DeepReLU network and, beside it,
``check`` on the same network written as a user writes it (``benchmarks/user_net.py``,
plain numpy, through ``from_functions``), traced by ``tracemalloc``: the peak
within each stage of the check, and what it holds when the stage returns, as multiples of
one array of P float64 numbers; beside it, the peak of one forward and backward pass alone.
The last column is each stage's transient working memory in MiB (its peak above what was
held before it and after it, so its own per-element outputs do not count): bounded by the
chunk, it stays put as P grows.
Counts of bytes, so they do not depend on the machine's speed.
"""

from __future__ import annotations

import sys
import tracemalloc
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import user_net  # noqa: E402

import verifier.api as harness  # noqa: E402
import verifier.estimators.run as estimate_stage  # noqa: E402
from verifier.frontends.adapters import from_functions  # noqa: E402
from verifier.frontends.bench import SIZES  # noqa: E402
from verifier.networks import DeepReLU  # noqa: E402

STAGES = ("autograd_ref", "centered", "scipy_fd", "run_directions", "compare", "diagnose", "verdict_report")
#: The modules that call the stages (the check's recipe, and its full mode's estimation step).
CALLERS = (harness, estimate_stage)


def measure(size: int, user: bool) -> None:
    dims, m = SIZES[size]
    net = DeepReLU(dims, cost_form="stable")
    if user:
        params, X, Y = user_net.make(dims, m)
        cost, grad = from_functions(
            lambda p, X, Y: user_net.forward(X, Y, p), lambda p, X, Y: user_net.backward(X, Y, p), X, Y
        )
    else:
        rng = np.random.default_rng(0)
        params = net.init_params(rng)
        X, Y = net.example_data(rng, m=m)
    array = 8 * sum(v.size for v in params.values())
    rows = []
    originals = {(mod, name): getattr(mod, name) for mod in CALLERS for name in STAGES if hasattr(mod, name)}

    def wrapped(mod, name):
        def run(*args, **kwargs):
            before = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            out = originals[(mod, name)](*args, **kwargs)
            now, peak = tracemalloc.get_traced_memory()
            rows.append((name, before / array, peak / array, now / array))
            return out

        return run

    tracemalloc.start()
    if user:
        cost(params)
        grad(params)
    else:
        net.cost(params, X, Y)
        net.backward(params, X, Y)
    alone = tracemalloc.get_traced_memory()[1] / array
    tracemalloc.reset_peak()
    for mod, name in originals:
        setattr(mod, name, wrapped(mod, name))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report = harness.check(cost, grad, params) if user else harness.check_network(net, params, X, Y)
    finally:
        for (mod, name), fn in originals.items():
            setattr(mod, name, fn)
    overall = max(r[2] for r in rows)
    tracemalloc.stop()
    what = "check on the plain-numpy user_net" if user else "check_network on DeepReLU"
    print(f"{size:,} parameters, {what} ({report.status}); forward and backward alone: {alone:.1f} arrays")
    print(f"  {'stage':16} {'held before':>11} {'peak':>7} {'held after':>10} {'transient MiB':>14}")
    for name, before, peak, after in rows:
        transient = (peak - max(before, after)) * array / 2**20
        print(f"  {name:16} {before:11.1f} {peak:7.1f} {after:10.1f} {transient:14.0f}")
    print(f"  peak of the check: {overall:.1f} arrays of P numbers ({overall * array / 2**20:.0f} MiB)")


if __name__ == "__main__":
    for s in sys.argv[1].split(",") if len(sys.argv) > 1 else ("99073", "394753", "1050625"):
        for user in (False, True):
            measure(int(s), user)
