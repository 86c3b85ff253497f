"""What naming the first wrong line costs (issue 21), at about 1e3, 1e5 and 1e6 parameters.

Run from the repository root: ``python benchmarks/provenance_cost.py [rounds]`` (default 5).
The network is the course's L-layer model as its readers write it
(``tests/provenance_styles/course_helpers.py``: a helper per step, ``linear_backward`` called
once per layer), with the 1/m of ``linear_backward`` missing, so that every check fails and the
report names the line. One BLAS thread; the parts are timed side by side, interleaved round by
round, medians:

* ``backward``: one call of the hand-written backward (forward included, as the user's
  ``grad`` runs it): the unit the costs are counted in;
* ``record``: the same call under observation (:func:`verifier.trace.provenance.record`);
* ``trace``: the cost traced once more by autograd, every forward value and its gradient kept
  (:func:`verifier.explain.forward_table.forward_table`);
* ``walk``: the walk from the wrong tensors to their first wrong lines
  (:func:`verifier.explain.walk.first_wrong`).

None of these runs on a passing check: they run after the verdicts, once, when a tensor is wrong.
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

import numpy as np  # noqa: E402

from verifier.core.params import layout_of  # noqa: E402
from verifier.explain.forward_table import forward_table  # noqa: E402
from verifier.explain.walk import first_wrong  # noqa: E402
from verifier.frontends.loading import load_module  # noqa: E402
from verifier.trace.provenance import record  # noqa: E402

STYLE = Path(__file__).resolve().parent.parent / "tests" / "provenance_styles" / "course_helpers.py"
#: layer sizes (the first is the input's) and examples, per rough parameter count
DIMS = {
    "1e3": ([20, 30, 10, 1], 32),
    "1e5": ([200, 400, 50, 1], 32),
    "1e6": ([1000, 800, 250, 1], 32),
}


def _network(dims: list[int], m: int, module):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((dims[0], m))
    Y = (rng.random((1, m)) > 0.5).astype(float)
    params = {}
    for l in range(1, len(dims)):
        params[f"W{l}"] = rng.standard_normal((dims[l], dims[l - 1])) / np.sqrt(dims[l - 1])
        params[f"b{l}"] = np.zeros((dims[l], 1))

    def cost(p):
        AL, _ = module.L_model_forward(X, p)
        return module.compute_cost(AL, Y)

    def grad(p):
        AL, caches = module.L_model_forward(X, p)
        return module.L_model_backward(AL, Y, caches)

    return cost, grad, params


def main(rounds: int) -> None:
    text = STYLE.read_text().replace("dW = 1 / m * np.dot(dZ, A_prev.T)", "dW = np.dot(dZ, A_prev.T)")
    slipped = Path(os.environ.get("TMPDIR", "/tmp")) / "provenance_cost_course_helpers.py"
    slipped.write_text(text)
    module = load_module(str(slipped))
    warnings.simplefilter("ignore")
    head = f"{'size':>9}  {'backward':>9}  {'record':>9}  {'trace':>9}  {'walk':>9}"
    print(f"{head}  record/backward  all/backward")
    for dims, m in DIMS.values():
        cost, grad, params = _network(dims, m, module)
        layout, theta = layout_of(params)
        wrong = {
            n: np.ones(s, dtype=bool) for n, s in zip(layout.names, layout.shapes, strict=True) if n[0] == "W"
        }
        times: dict[str, list[float]] = {k: [] for k in ("backward", "record", "trace", "walk")}
        culprits = []
        for _ in range(rounds):
            structure = layout.unflatten(theta.copy())
            start = time.perf_counter()
            grad(structure)
            times["backward"].append(time.perf_counter() - start)
            start = time.perf_counter()
            recording = record(grad, layout.unflatten(theta.copy()))
            times["record"].append(time.perf_counter() - start)
            assert recording is not None
            shapes = {r.array.shape for r in recording.arrays.values() if r.array.dtype.kind == "f"}
            start = time.perf_counter()
            table = forward_table(cost, layout, theta, shapes | set(layout.shapes), True)
            times["trace"].append(time.perf_counter() - start)
            start = time.perf_counter()
            culprits = first_wrong(recording, layout, wrong, table, m)
            times["walk"].append(time.perf_counter() - start)
            del recording, table
        med = {k: statistics.median(v) for k, v in times.items()}
        named = {c.event.statement.line for c in culprits}
        assert named == {text[: text.index("dW = np.dot(dZ, A_prev.T)")].count("\n") + 1}, named
        every = med["record"] + med["trace"] + med["walk"]
        print(
            f"{layout.size:>9,}  {med['backward'] * 1e3:>7.2f}ms  {med['record'] * 1e3:>7.2f}ms"
            f"  {med['trace'] * 1e3:>7.2f}ms  {med['walk'] * 1e3:>7.2f}ms"
            f"  {med['record'] / med['backward']:>15.2f}  {every / med['backward']:>12.2f}"
        )
    slipped.unlink()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
