"""Grades from reports: points per tensor, feedback in the report's words, the class summary.

A case (one data file, one seed) is worth ``points / cases``. Its points are shared among the
parameter tensors by the instructor's weights (equal by default); a tensor earns its share when
the check found no wrong element in it at any point of the case. Elements the check could not
decide cost nothing, and the feedback says so. A case that could not run (the submission raised,
ran out of time or memory, exited, lacks the function) earns 0, with the reason.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...explain.findings import Finding, nice_factor

#: Statuses, best first: every tensor right; some undecided; some wrong; the case did not run.
STATUSES = ("pass", "inconclusive", "fail", "error")


@dataclass
class CaseGrade:
    """One submission on one case.

    Attributes
    ----------
    name : str
        ``"case 1: a.npz, seed 0"``.
    score, max_score : float
    status : {"pass", "inconclusive", "fail", "error"}
    right, wrong, undecided : list of str
        The parameter tensors by verdict (empty when the case did not run).
    findings : list of str
        The report's findings on the submission's gradient (bugs and what could not be
        decided), in its words, lines in the submitted file.
    labels : list of str
        Short names of what went wrong, for the class summary (``"W2 ×2"``, ``"timed out"``).
    reason : str
        Why the case did not run ("" when it did).
    """

    name: str
    score: float
    max_score: float
    status: str
    right: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    undecided: list[str] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    reason: str = ""

    @property
    def output(self) -> str:
        """The feedback for this case, in plain words."""
        if self.status == "error":
            return f"Not graded: your code {self.reason.rstrip('.')}."
        out = []
        if not self.wrong and not self.undecided:
            out.append(f"Every gradient is right ({', '.join(self.right)}).")
        else:
            if self.right:
                out.append(f"Right: {', '.join(self.right)}.")
            if self.wrong:
                out.append(f"Wrong: {', '.join(self.wrong)}.")
            if self.undecided:
                out.append(f"Could not be decided (no points lost): {', '.join(self.undecided)}.")
        out += [f"- {f}" for f in self.findings]
        return "\n".join(out)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "score": self.score,
            "max_score": self.max_score,
            "status": self.status,
            "right": self.right,
            "wrong": self.wrong,
            "undecided": self.undecided,
            "findings": self.findings,
            "reason": self.reason,
            "output": self.output,
        }


@dataclass
class Grade:
    """One submission's grade.

    Attributes
    ----------
    submission : str
        The submitted file's name.
    cases : list of CaseGrade
    output : str
        What the submission printed (the first part, capped), over all cases.
    """

    submission: str
    cases: list[CaseGrade]
    output: str = ""

    @property
    def score(self) -> float:
        return round(sum(c.score for c in self.cases), 6)

    @property
    def max_score(self) -> float:
        return round(sum(c.max_score for c in self.cases), 6)

    @property
    def status(self) -> str:
        """The worst case's status (see :data:`STATUSES`)."""
        return max((c.status for c in self.cases), key=STATUSES.index, default="pass")

    @property
    def feedback(self) -> str:
        """Every case's feedback, under its name and points."""
        return "\n\n".join(
            f"{c.name} ({_points(c.score)}/{_points(c.max_score)}):\n{c.output}" for c in self.cases
        )

    @property
    def labels(self) -> list[str]:
        """What went wrong, each once, in the order first met."""
        return list(dict.fromkeys(label for c in self.cases for label in c.labels))

    def to_dict(self) -> dict[str, Any]:
        return {
            "submission": self.submission,
            "score": self.score,
            "max_score": self.max_score,
            "status": self.status,
            "feedback": self.feedback,
            "tests": [c.to_dict() for c in self.cases],
            "output": self.output,
        }

    def gradescope(self) -> dict[str, Any]:
        """Gradescope's ``results.json``: the total and one test per case."""
        return {
            "score": self.score,
            "output": f"{_points(self.score)}/{_points(self.max_score)} points.",
            "tests": [
                {"name": c.name, "score": c.score, "max_score": c.max_score, "output": c.output}
                for c in self.cases
            ],
        }

    def __repr__(self) -> str:
        return f"<Grade {self.submission}: {_points(self.score)}/{_points(self.max_score)} {self.status}>"


def case_points(names: list[str], weights: dict[str, float], wrong: set[str], worth: float) -> float:
    """Points of a case worth ``worth``: the weights of the tensors not wrong over all weights."""
    total = sum(weights.get(n, 1.0) for n in names)
    return round(worth * sum(weights.get(n, 1.0) for n in names if n not in wrong) / total, 6)


def label(finding: Finding) -> str | None:
    """A short name of a bug finding for the class summary (``"W2 ×2"``), or None."""
    if finding.kind != "bug" or not finding.tensor or finding.pattern in ("line", "layer", "region"):
        return None
    if finding.pattern == "scale" and finding.factor is not None:
        return f"{finding.tensor} ×{nice_factor(finding.factor).split(' ')[0].removesuffix('.0')}"
    words = {"sign": "sign flipped", "transpose": "transposed", "zeros": "zero"}
    return f"{finding.tensor} {words.get(finding.pattern, 'wrong')}"


def summary(grades: list[Grade]) -> str:
    """The class at a glance: how many students got each score, and the commonest findings."""
    if not grades:
        return "no submissions"
    top = grades[0].max_score
    out = [f"{len(grades)} submissions, out of {_points(top)} points:", "", "  score  students"]
    counts = Counter(g.score for g in grades)
    width = max(len(_points(s)) for s in counts)
    for score in sorted(counts, reverse=True):
        out.append(f"  {_points(score).rjust(max(width, 5))}  {counts[score]:>3}  {'#' * counts[score]}")
    common = Counter(label for g in grades for label in g.labels)
    if common:
        out += ["", "most common findings:"]
        for text, n in common.most_common(10):
            out.append(f"  {text}: {n} student{'s' if n != 1 else ''}")
    return "\n".join(out)


def grade_line(grade: Grade) -> str:
    """One line per submission: name, points, status, and what went wrong."""
    what = "; ".join(grade.labels)
    return f"{grade.submission}: {_points(grade.score)}/{_points(grade.max_score)} {grade.status}" + (
        f" ({what})" if what else ""
    )


def write_json(grades: list[Grade], path: str | Path, cases: list[str]) -> None:
    """Every submission's score, maximum, status, feedback and tests, as one JSON document."""
    doc = {"cases": cases, "submissions": [g.to_dict() for g in grades]}
    Path(path).write_text(json.dumps(doc, indent=2), encoding="utf-8")


def write_gradescope(grades: list[Grade], folder: str | Path) -> None:
    """``folder/<submission>/results.json`` in Gradescope's format, one per submission."""
    for g in grades:
        target = Path(folder) / g.submission
        target.mkdir(parents=True, exist_ok=True)
        (target / "results.json").write_text(json.dumps(g.gradescope(), indent=2), encoding="utf-8")


def _points(x: float) -> str:
    return f"{x:.2f}".rstrip("0").rstrip(".")
