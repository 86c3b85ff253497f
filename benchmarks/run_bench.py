"""The reference benchmark run: ``verifier bench`` at every size, side by side, into results.csv.

Run from the repository root: ``python benchmarks/run_bench.py`` (a few minutes: the
notebook's loop, scipy's check_grad and torch's gradcheck at 99,073 parameters take about
a minute each). torch's gradcheck and fast mode run beside the verifier's methods where
torch is installed (rows marked "torch not installed" otherwise); jax's check_grads runs
in a process of its own (``verifier bench --methods jax-check-grads``), since the threads
XLA starts slow whatever is timed after them.
"""

from pathlib import Path

from verifier.frontends.bench import METHODS
from verifier.frontends.cli import main

if __name__ == "__main__":
    out = Path(__file__).with_name("results.csv")
    methods = ",".join((*METHODS, "torch-gradcheck", "torch-fast"))
    raise SystemExit(
        main(["bench", "--methods", methods, "--repeats", "3", "--max-seconds", "240", "--csv", str(out)])
    )
