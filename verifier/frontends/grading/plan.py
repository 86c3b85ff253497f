"""What a grading run is: the reference, the cases, the submissions and the options, validated.

:func:`prepare` reads :func:`verifier.grade`'s arguments (errors name them as the caller
calls them), loads the instructor's reference and checks it on every case: a reference that
fails its own check is bad input, not a class of wrong submissions.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ... import validate
from ...errors import InputError
from ..adapters import STYLES as ADAPTERS
from ..adapters import style_of
from ..loading import function_of, load_module, split_target
from ..store import load_reference
from .runner import parse_memory
from .submissions import Submission, find

DEFAULT_METHODS = ("centered", "scipy", "autograd")


#: What each argument is called where the values came from (the command line renames them).
API_NAMES = {
    "reference": "reference",
    "submissions": "submissions",
    "data": "data",
    "seeds": "seeds",
    "points": "points",
    "weights": "weights",
    "student": "student",
    "timeout": "timeout",
    "memory": "memory",
    "files": "files",
    "check_points": "check_points",
    "jobs": "jobs",
    "style": "style",
    "methods": "methods",
}


@dataclass
class Case:
    """One hidden test case: the data (and parameters) of a file, and the check's seed."""

    name: str
    X: Any
    Y: Any
    params: Any
    seed: int


@dataclass
class Plan:
    """Everything a grading run needs, validated (see :func:`prepare`)."""

    forward: Callable[..., Any]
    backward: Callable[..., Any]
    source: Path
    names: tuple[str, str]
    style: str
    submissions: list[Submission]
    cases: list[Case]
    tensors: list[str]
    weights: dict[str, float]
    student: tuple[str, ...]
    points: float
    timeout: float
    memory: int
    files: list[Path]
    check_points: int
    jobs: int
    methods: tuple[str, ...]


def prepare(
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
    names: Mapping[str, str] = API_NAMES,
) -> Plan:
    """Validate :func:`grade`'s arguments (errors name them as ``names`` says) and check the reference."""
    arg = dict(names).__getitem__
    path, forward_name, backward_name = _target(reference, arg("reference"))
    datafiles = [data] if isinstance(data, (str, Path)) else list(data)
    if not datafiles:
        raise InputError(f"`{arg('data')}`: give at least one data file.")
    loaded = [(Path(d).name, load_reference(d, argument=arg("data"))) for d in datafiles]
    seed_list = [validate.seed(s, arg("seeds")) for s in seeds]
    if not seed_list:
        raise InputError(f"`{arg('seeds')}`: give at least one seed.")
    total = validate.number(points, arg("points"))
    limit = validate.number(timeout, arg("timeout"))
    cap = parse_memory(memory, arg("memory"))
    roles = tuple(student)
    if roles not in (("backward",), ("forward", "backward")):
        raise InputError(
            f"`{arg('student')}`: expected 'backward' or 'forward,backward', got {','.join(roles)!r}."
        )
    extra = _course_files(files, arg("files"))
    rounds = validate.integer(check_points, arg("check_points"), minimum=1)
    workers = validate.integer(jobs, arg("jobs"), minimum=1) if jobs is not None else _cores()
    chosen = validate.methods(list(methods), arg("methods"))
    found = find(submissions, arg("submissions"), exclude=[path, *datafiles, *extra])

    module = load_module(str(path))
    forward = function_of(module, path, forward_name, arg("reference"))
    backward = function_of(module, path, backward_name, arg("reference"))
    if style is not None and style not in ADAPTERS:
        raise InputError(f"`{arg('style')}`: expected one of {sorted(ADAPTERS)}, got {style!r}.")
    how = style or style_of(forward)
    if roles == ("forward", "backward") and how != "notebook":
        raise InputError(
            f"`{arg('student')}`: the student's forward makes the backward's cache in the notebook style"
            " only; in the functions style the backward takes the parameters, so grade the backward."
        )
    cases = _cases(loaded, seed_list)
    tensors = _reference_passes(forward, backward, how, cases, rounds, chosen, arg("reference"))
    return Plan(
        forward=forward,
        backward=backward,
        source=path.resolve(),
        names=(forward_name, backward_name),
        style=how,
        submissions=found,
        cases=cases,
        tensors=tensors,
        weights=_weights(weights, tensors, arg("weights")),
        student=roles,
        points=total,
        timeout=limit,
        memory=cap,
        files=extra,
        check_points=rounds,
        jobs=workers,
        methods=tuple(chosen),
    )


def _course_files(files: Sequence[str | Path], argument: str) -> list[Path]:
    """The course files copied beside every submission, each checked to exist."""
    extra = []
    for f in files:
        if not Path(f).is_file():
            raise InputError(f"`{argument}`: no file {str(f)!r}.")
        extra.append(Path(f))
    return extra


def _cases(loaded: list[tuple[str, dict[str, Any]]], seeds: list[int]) -> list[Case]:
    """One case per data file and seed, named for the feedback."""
    many = len(seeds) > 1 or len(loaded) > 1
    return [
        Case(
            f"case {k}: {name}, seed {seed}" if many else f"case: {name}, seed {seed}",
            d["X"],
            d["Y"],
            d["params"],
            seed,
        )
        for k, ((name, d), seed) in enumerate(((ld, s) for ld in loaded for s in seeds), start=1)
    ]


def _target(reference: Any, argument: str) -> tuple[Path, str, str]:
    """``path.py:FORWARD,BACKWARD`` -> (path, forward, backward)."""
    if not isinstance(reference, (str, Path)):
        raise InputError(f"`{argument}`: expected path/to/reference.py:FORWARD,BACKWARD, got {reference!r}.")
    path, functions = split_target(str(reference), (2,), argument, "path/to/reference.py:FORWARD,BACKWARD")
    if not Path(path).is_file():
        raise InputError(f"`{argument}`: no file {path!r}.")
    return Path(path), functions[0], functions[1]


def _reference_passes(
    forward: Callable[..., Any],
    backward: Callable[..., Any],
    style: str,
    cases: list[Case],
    check_points: int,
    methods: Sequence[str],
    argument: str,
) -> list[str]:
    """The reference's own check on every case (it must not fail); the parameter tensors' names."""
    from ...api import check

    tensors: list[str] = []
    for case in cases:
        cost, grad = ADAPTERS[style](forward, backward, case.X, case.Y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report = check(cost, grad, case.params, methods=methods, seed=case.seed, points=check_points)
        if report.status == "fail":
            bugs = "; ".join(f.message for f in report.findings if f.kind == "bug")
            raise InputError(
                f"`{argument}`: the reference's own backward fails the check on {case.name}: {bugs}"
            )
        names = [t.name for t in report.tensors]
        if tensors and names != tensors:
            raise InputError(f"`{argument}`: the cases have different parameters ({tensors} and {names}).")
        tensors = names
    return tensors


def _weights(weights: Mapping[str, float] | None, tensors: list[str], argument: str) -> dict[str, float]:
    """The instructor's weights by tensor name (``dW1`` is read as ``W1``); 1 where not given."""
    out = dict.fromkeys(tensors, 1.0)
    if weights is None:
        return out
    if not isinstance(weights, Mapping):
        raise InputError(
            f"`{argument}`: expected a mapping of tensor names to weights, got {type(weights).__name__}."
        )
    for key, value in weights.items():
        name = key if key in out else (key[1:] if isinstance(key, str) and key[1:] in out else None)
        if name is None:
            raise InputError(
                f"`{argument}`: no tensor {key!r}; the tensors are {tensors} (or d{tensors[0]}, ...)."
            )
        weight = validate.real(value, f"{argument}[{key!r}]")
        if weight < 0:
            raise InputError(f"`{argument}[{key!r}]`: expected a weight >= 0, got {value!r}.")
        out[name] = float(weight)
    if sum(out.values()) <= 0:
        raise InputError(f"`{argument}`: the weights add up to 0.")
    return out


def _cores() -> int:
    import os

    return max(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1), 1)
