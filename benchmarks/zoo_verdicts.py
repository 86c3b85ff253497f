"""Verdicts on the zoo of plain-numpy costs (tests/zoo.py), thousands of draws: false alarms and
wrong passes, per family and mode.

Run from the repository root: ``python benchmarks/zoo_verdicts.py [draws]`` (default 50 draws
per family, mode and variant: 4,000 checks, several minutes). Every draw is seeded; the
figures are counts, so they do not depend on the machine.

Owed (see tests/zoo.py): a correct gradient never fails, and passes unless the family is
``limited`` (then inconclusive is allowed); a planted slip never passes, and fails naming
its tensor unless the family is ``limited``.
"""

from __future__ import annotations

import collections
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from zoo import FAMILIES, SLIPS, first_tensor, slip  # noqa: E402

from verifier import check  # noqa: E402

#: The long sum's cost spans 1e5 examples: a tenth of the draws.
SLOW = {"long sum, 1e5 examples": 10}


def outcome(report, kind: str, params) -> str:
    if report.status == "fail" and kind != "correct" and first_tensor(params) not in report.wrong_tensors:
        return "fail elsewhere"
    return report.status


def main(draws: int) -> int:
    warnings.simplefilter("ignore")
    bad_total, checks = 0, 0
    print(
        f"{'family':36} {'mode':4} {'draws':>5}  false alarms  wrong passes  inconclusive (correct / slips)"
    )
    for family in FAMILIES:
        n = max(1, draws // SLOW.get(family.name, 1))
        for mode in ("full", "fast"):
            counts: dict[str, collections.Counter[str]] = {
                k: collections.Counter() for k in ("correct", *SLIPS)
            }
            for seed in range(n):
                cost, grad, params = family.make(np.random.default_rng(seed))
                for kind in counts:
                    g = grad if kind == "correct" else slip(grad, kind)
                    counts[kind][outcome(check(cost, g, params, mode=mode, seed=seed), kind, params)] += 1
                    checks += 1
            alarms = counts["correct"]["fail"]
            passes = sum(counts[k]["pass"] + counts[k]["fail elsewhere"] for k in SLIPS)
            inc_c = counts["correct"]["inconclusive"]
            inc_s = sum(counts[k]["inconclusive"] for k in SLIPS)
            owed = alarms + passes + (0 if family.limited else inc_c + inc_s)
            bad_total += owed
            print(f"{family.name:36} {mode:4} {n:5}  {alarms:12}  {passes:12}  {inc_c:5} / {inc_s:<5}")
    print(f"\n{checks} checks; verdicts not as owed: {bad_total}")
    return 1 if bad_total else 0


if __name__ == "__main__":
    raise SystemExit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 50))
