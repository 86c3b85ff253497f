"""Start-up time: ``import verifier`` and ``verifier --help``, beside a bare interpreter and numpy.

Run from the repository root, with the package installed: ``python benchmarks/startup.py``.
Each command runs in a fresh process; the commands take turns (interleaved), ``ROUNDS``
times, and the median wall time of each is printed, with the verifier's as a multiple of
the bare interpreter's and of ``import numpy``'s measured in the same rounds. The target
(issue 14): ``import verifier`` and ``verifier --help`` within 0.3 s.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time

ROUNDS = 15
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "import numpy": [sys.executable, "-c", "import numpy"],
    "import verifier": [sys.executable, "-c", "import verifier"],
    "verifier --help": [shutil.which("verifier") or "verifier", "--help"],
    "python -m verifier --help": [sys.executable, "-m", "verifier", "--help"],
    "from verifier import check": [sys.executable, "-c", "from verifier import check"],
}


def main() -> None:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(ROUNDS):
        for name, command in COMMANDS.items():
            start = time.perf_counter()
            subprocess.run(command, env=env, stdout=subprocess.DEVNULL, check=True)
            times[name].append(time.perf_counter() - start)
    bare = statistics.median(times["python -c pass"])
    numpy = statistics.median(times["import numpy"])
    print(f"{'command':<28} {'median s':>9} {'x bare':>7} {'x numpy':>8}   ({ROUNDS} interleaved rounds)")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:<28} {median:9.3f} {median / bare:7.2f} {median / numpy:8.2f}")


if __name__ == "__main__":
    main()
