"""``verifier.grade``: a class's backprop submissions checked against the instructor's reference.

The recipe, per submission and case (a data file and a seed):

1. a fresh worker process (:mod:`verifier.frontends.grading.runner`) loads the submission in a temporary
   working directory of its own, under a wall-clock budget and a memory cap;
2. the grader builds the check's ``cost`` from the instructor's forward (so the student cannot
   change what is differentiated) and its ``grad`` from the student's backward, a proxy that
   sends each call's arguments to the worker and gets plain arrays back (the instructor's
   forward's cache by default; with ``student=("forward", "backward")`` the student's forward
   feeds its own cache to its own backward, inside the worker);
3. the library's own check (:func:`verifier.check`, all three ways) decides, in the grader's
   process; the report's findings become the feedback, its tensors the points
   (:mod:`verifier.frontends.grading.scoring`).

Before any submission runs, the reference's own backward is checked on every case: a reference
that fails its own check is bad input, not a class of wrong submissions.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import warnings
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np

from ... import validate
from ...core.params import layout_of
from ...errors import InputError
from ..adapters import STYLES as ADAPTERS
from . import explaining
from .plan import DEFAULT_METHODS, Case, Plan, prepare
from .runner import Remote, SubmissionRaised, Worker, WorkerFailed
from .scoring import CaseGrade, Grade, case_points, label
from .submissions import Submission


def grade(
    reference: str | Path,
    submissions: str | Path,
    data: str | Path | Sequence[str | Path],
    *,
    seeds: Sequence[int] = (0,),
    points: float = 10.0,
    weights: Mapping[str, float] | None = None,
    student: Sequence[str] = ("backward",),
    timeout: float = 20.0,
    memory: int | str = "2G",
    files: Sequence[str | Path] = (),
    check_points: int = 2,
    jobs: int | None = None,
    style: str | None = None,
    methods: Sequence[str] = DEFAULT_METHODS,
    progress: Callable[[Grade, int, int], None] | None = None,
) -> list[Grade]:
    """Grade every submission against the instructor's reference, each in a process of its own.

    Parameters
    ----------
    reference : str
        ``"path/to/reference.py:FORWARD,BACKWARD"``: the instructor's solution, in the notebook's
        style (``FORWARD(X, Y, parameters) -> (cost, cache)``, ``BACKWARD(X, Y, cache)``) or the
        functions style (``FORWARD(params, X, Y) -> cost``, ``BACKWARD(params, X, Y)``).
    submissions : str or Path
        A folder of ``.py`` files and notebooks (``.ipynb``), or one such file. Each defines the
        functions named in ``reference``.
    data : path or sequence of paths
        The cases' data: ``.npz`` or ``.json`` with ``X``, ``Y`` and the parameters, as
        ``verifier check --data`` reads them. Each file, with each seed, is one graded case.
    seeds : sequence of int
        The check's seed per case: it draws the further points of the check (``check_points``).
    points : float
        The most a submission can score, shared equally among the cases.
    weights : mapping of str to float, optional
        Each tensor's share of a case's points (``{"dW1": 2, "db1": 1}``; ``W1`` or ``dW1``);
        a tensor not named weighs 1.
    student : sequence of str
        Which functions are the student's: ``("backward",)`` (the instructor's forward makes the
        cache) or ``("forward", "backward")`` (notebook style: the student's forward makes it).
        Either way the cost differentiated is the instructor's.
    timeout : float
        Seconds a submission may take per case (loading included), wall clock.
    memory : int or str
        Its address-space cap: bytes, or ``"2G"``, ``"512M"``; 0 for none.
    files : sequence of paths
        Course files copied into every submission's working directory (helpers it imports).
    check_points : int
        Points per case the check runs at: the data's parameters and ``check_points - 1``
        perturbations of them drawn from the seed (a bug that dead units hide shows at another).
    jobs : int, optional
        Submissions graded at once (default: the number of cores).
    style : {"notebook", "functions"}, optional
        How the functions are called (default: read from the forward's first parameter).
    methods : sequence of str
        The check's methods.
    progress : callable, optional
        ``progress(grade, done, total)`` as each submission is graded.

    Returns
    -------
    list of Grade
        One per submission, in file-name order: ``score``, ``max_score``, ``status``,
        ``feedback``, ``cases`` (per case: points, right and wrong tensors, the findings or
        the reason it did not run), ``to_dict()`` and ``gradescope()``.

    Raises
    ------
    InputError
        A missing or malformed reference, data file, folder or option; or a reference whose
        own backward fails the check.

    Notes
    -----
    A submission's code never runs in the calling process: see :mod:`verifier.frontends.grading.runner`
    for what the isolation is, and is not.
    """
    plan = prepare(
        reference,
        submissions,
        data,
        seeds=seeds,
        points=points,
        weights=weights,
        student=student,
        timeout=timeout,
        memory=memory,
        files=files,
        check_points=check_points,
        jobs=jobs,
        style=style,
        methods=methods,
    )
    return run(plan, progress)


def run(plan: Plan, progress: Callable[[Grade, int, int], None] | None = None) -> list[Grade]:
    """Grade every submission of ``plan``, up to ``plan.jobs`` at once (see :func:`grade`)."""
    # one check at a time in this process: autograd's tracing patches modules for the length of
    # a trace; the submissions' processes run side by side (loading, and between checks)
    lock = threading.Lock()
    grades: dict[int, Grade] = {}
    with ThreadPoolExecutor(max_workers=plan.jobs) as pool:
        futures = {pool.submit(grade_submission, plan, s, lock): i for i, s in enumerate(plan.submissions)}
        for done, future in enumerate(as_completed(futures), start=1):
            grades[futures[future]] = future.result()
            if progress is not None:
                progress(grades[futures[future]], done, len(futures))
    return [grades[i] for i in range(len(plan.submissions))]


def grade_submission(plan: Plan, submission: Submission, lock: threading.Lock) -> Grade:
    """One submission on every case, each case in a fresh worker (see the module notes)."""
    worth = round(plan.points / len(plan.cases), 6)
    if submission.problem is not None:
        tag = "syntax error" if submission.problem.startswith("has a syntax error") else "unreadable file"
        return Grade(submission.name, [_error(c, worth, submission.problem, tag) for c in plan.cases])
    outputs: list[str] = []
    cases: list[CaseGrade] = []
    with tempfile.TemporaryDirectory(prefix="verifier-grade-", ignore_cleanup_errors=True) as tmp:
        root = Path(tmp)
        stop: tuple[str, str] | None = None  # the load failed: the same for every case
        for k, case in enumerate(plan.cases, start=1):
            if stop is not None:
                cases.append(_error(case, worth, *stop))
                continue
            workdir = root / f"case{k}"
            workdir.mkdir()
            for f in plan.files:
                shutil.copy(f, workdir / f.name)
            shutil.copy(submission.path, workdir / submission.name)
            (workdir / submission.script_name).write_text(submission.script, encoding="utf-8")
            worker = Worker(workdir, timeout=plan.timeout, memory=plan.memory, where=submission.where)
            try:
                stop = _load(plan, submission, worker)
                if stop is not None:
                    cases.append(_error(case, worth, *stop))
                else:
                    cases.append(_grade_case(plan, case, submission, worker, lock, worth))
            finally:
                worker.close()
                text = worker.output.text()
                if text:
                    outputs.append(f"[{case.name}]\n{text}" if len(plan.cases) > 1 else text)
    return Grade(submission.name, cases, "\n".join(outputs))


def _load(plan: Plan, submission: Submission, worker: Worker) -> tuple[str, str] | None:
    """Load the submission in its worker: None, or why it cannot be graded, and a short tag."""
    try:
        defined = worker.request(
            {
                "op": "load",
                "script": submission.script_name,
                "module": submission.module,
            }
        )
    except SubmissionRaised as exc:
        head, sep, message = str(exc).partition(": ")
        return f"{head} while loading the file{sep}{message}", _tag(str(exc))
    except WorkerFailed as exc:
        return f"{exc} (while loading the file)", _failure_tag(worker)
    needed = [plan.names[0], plan.names[1]] if "forward" in plan.student else [plan.names[1]]
    missing = [n for n in needed if not (isinstance(defined, list) and n in defined)]
    if missing:
        return f"defines no function {missing[0]!r} (it defines {defined})", f"no {missing[0]}"
    return None


def _grade_case(
    plan: Plan, case: Case, submission: Submission, worker: Worker, lock: threading.Lock, worth: float
) -> CaseGrade:
    """The check of the submission's backward on one case, and its points; when it fails, the
    first wrong line, worked out in the worker (:mod:`verifier.frontends.grading.explaining`)."""
    from ...api import check

    adapter = ADAPTERS[plan.style]
    grad: Callable[[Any], Any]
    if "forward" in plan.student:
        cost, _ = adapter(plan.forward, plan.backward, case.X, case.Y)
        X, Y = validate.data(case.X, "X"), validate.data(case.Y, "Y")
        ops = {"op": "chain", "forward": plan.names[0], "backward": plan.names[1]}

        def grad(params: Any) -> Any:
            return worker.request(ops, [X, Y, params])[1]

    else:
        cost, grad = adapter(plan.forward, Remote(worker, plan.names[1]), case.X, case.Y)
    missing: dict[str, list[str]] = {}
    calls: list[tuple[np.ndarray, Any]] = []
    complete = _completed(grad, case.params, missing, calls)
    reason = tag = ""
    report = None
    with lock, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            report = check(
                cost,
                complete,
                case.params,
                methods=plan.methods,
                seed=case.seed,
                points=plan.check_points,
                progress=False,
            )
        except (SubmissionRaised, WorkerFailed) as exc:
            reason, tag = (
                str(exc),
                _tag(str(exc)) if isinstance(exc, SubmissionRaised) else _failure_tag(worker),
            )
        except InputError as exc:
            reason, tag = f"returned gradients the check cannot use: {exc}", "unusable gradients"
        except Exception as exc:
            reason, tag = (
                f"returned what the check cannot run on ({type(exc).__name__}: {exc})",
                "unusable gradients",
            )
    if worker.failure is not None:  # a failure the check stepped over still costs the case
        reason, tag = worker.failure, _failure_tag(worker)
    if report is None or reason:
        return _error(case, worth, reason, tag)
    # what the check made of the proxy's lines says nothing of the submission's: the worker's
    # explanation (feedback only, after the verdicts) takes its place
    report = explaining.without(report, ("line", "region"))
    if report.status == "fail":
        explained = explaining.request(
            worker, plan, case, report, calls, submission.script_name, submission.where
        )
        if explained is not None:
            report = explaining.merge(report, *explained)
    return _case_grade(plan, case.name, report, worth, missing)


def _completed(
    grad: Callable[[Any], Any],
    params: Any,
    missing: dict[str, list[str]],
    calls: list[tuple[np.ndarray, Any]] | None = None,
) -> Callable[[Any], Any]:
    """``grad`` with the parameters its dict leaves out filled with NaN (each then wrong, the
    others graded), and what was left out put in ``missing`` (name -> the keys it returned);
    each call's parameters (flat, a copy) and what it returned appended to ``calls``."""

    def complete(p: Any) -> Any:
        raw = grad(p)
        if calls is not None and _float64(p):  # not the check's long-double re-run
            try:
                calls.append((layout_of(p)[1], raw))
            except InputError:  # parameters that are not finite: no point to explain
                pass
        if not (isinstance(params, dict) and isinstance(raw, dict)):
            return raw
        absent = [k for k in params if k not in raw and f"d{k}" not in raw]
        if not absent or len(absent) == len(params):
            return raw
        for k in absent:
            missing[str(k)] = [str(key) for key in raw]
        return {**raw, **{f"d{k}": np.full(np.shape(params[k]), np.nan) for k in absent}}

    return complete


def _float64(params: Any) -> bool:
    """Whether ``params`` (the check's structure) holds float64 arrays only."""
    leaves = list(params.values()) if isinstance(params, dict) else params
    if not isinstance(leaves, (list, tuple)):
        leaves = [leaves]
    return all(isinstance(a, np.ndarray) and a.dtype == np.float64 for a in leaves)


def _case_grade(plan: Plan, name: str, report: Any, worth: float, missing: dict[str, list[str]]) -> CaseGrade:
    """Points, verdicts, findings and labels of a case from its report (a tensor the backward did
    not return is wrong, and said to be missing)."""
    names = [t.name for t in report.tensors]
    wrong = list(report.wrong_tensors)
    if report.status == "fail" and not wrong:  # a failure no tensor carries: nothing is credited
        wrong = names
    undecided = set()
    for r in [report, *(p.report for p in report.points)]:
        undecided |= {t.name for t in r.tensors if t.verdict == "undecided"}
    reports = [report, *(p.report for p in report.points if p.report.point_status == "fail")]
    findings: list[str] = []
    labels: list[str] = []
    said: set[str] = set()  # tensors the given point's findings speak of: another point's add nothing
    for r in reports:
        here = {f.tensor for f in r.findings if f.tensor}
        for f in r.findings:
            if f.tensor in said or f.tensor in missing or f.tensor.removeprefix("d") in missing:
                continue
            if f.kind in ("bug", "undecided") and f.message not in findings:
                findings.append(f.message)
            tag = label(f)
            if tag is not None and tag not in labels:
                labels.append(tag)
        said |= here
    for tensor, keys in missing.items():
        findings.append(
            f"d{tensor} is missing from what your backward returned (its keys: {', '.join(keys)})"
        )
        labels.append(f"{tensor} missing")
    labelled = {tag.split(" ")[0] for tag in labels}
    labels += [f"{t} wrong" for t in wrong if t not in labelled]
    same = {tag.partition(" ")[2] for tag in labels if tag.split(" ")[0] in names}
    if len(names) > 2 and set(wrong) == set(names) and len(same) == 1:  # "W1 zero", "b1 zero", ...
        labels = [f"every tensor {same.pop()}"]
    status = "fail" if wrong else ("inconclusive" if undecided else "pass")
    return CaseGrade(
        name=name,
        score=case_points(names, plan.weights, set(wrong), worth),
        max_score=worth,
        status=status,
        right=[n for n in names if n not in wrong and n not in undecided],
        wrong=[n for n in names if n in wrong],
        undecided=[n for n in names if n in undecided and n not in wrong],
        findings=findings,
        labels=labels,
    )


def _error(case: Case, worth: float, reason: str, tag: str) -> CaseGrade:
    return CaseGrade(case.name, 0.0, worth, "error", reason=reason, labels=[tag])


def _tag(error: str) -> str:
    """A short name of what the code did: ``"raised ValueError"``, ``"called sys.exit(0)"``."""
    words = error.split(" ")
    if words[0] == "raised" and len(words) > 1:
        return f"raised {words[1].rstrip(':')}"
    if words[0] == "called" and len(words) > 1:
        return f"called {words[1]}"
    return "unusable gradients"


def _failure_tag(worker: Worker) -> str:
    return {"timeout": "timed out", "exit": "exited", "protocol": "malformed answers"}.get(
        worker.kind or "", "failed"
    )
