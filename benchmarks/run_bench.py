"""The reference benchmark run: ``verifier bench`` at every size, side by side, into results.csv.

Run from the repository root: ``python benchmarks/run_bench.py`` (a few minutes: the
notebook's loop and scipy's check_grad at 99,073 parameters take about a minute each).
"""

from pathlib import Path

from verifier.cli import main

if __name__ == "__main__":
    out = Path(__file__).with_name("results.csv")
    raise SystemExit(main(["bench", "--repeats", "3", "--max-seconds", "240", "--csv", str(out)]))
