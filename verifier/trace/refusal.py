"""Why a trace failed, in the user's words: the file, the line, the operation and the fix."""

from __future__ import annotations

import ast
from dataclasses import dataclass

import autograd.numpy as anp

from ..errors import user_frame
from .gaps import (
    DetachedError,
    PlainNumpyError,
)
from .statements import cite


@dataclass(frozen=True)
class Refusal:
    """Where and why autograd could not trace the user's code."""

    where: str  # "file.py:42" or ""
    source: str  # the line's text
    operation: str  # what it does that autograd cannot follow
    fix: str

    def __str__(self) -> str:
        at = f"{cite(self.where, self.source)}: " if self.where else ""
        return f"{at}{self.operation}; {self.fix}"


def refusal(exc: BaseException) -> Refusal:
    """Why a trace failed: the user's file and line, the operation, and the fix in one sentence."""
    frame = user_frame(exc)
    where = f"{frame.filename}:{frame.lineno}" if frame else ""
    source = (frame.line or "").strip() if frame else ""
    if len(source) > 70:
        source = source[:67] + "..."
    statement = _statement(source)
    text = str(exc)
    if "element-by-element writes" in text:
        return Refusal(
            where,
            source,
            text,
            "fill the array with whole-array operations (one np.stack or a vectorised expression)"
            " to get the autograd reference; the finite differences ran without it",
        )
    targets: list[ast.expr] = []
    if isinstance(statement, ast.Assign):
        targets = statement.targets
    elif isinstance(statement, ast.AugAssign):
        targets = [statement.target]
    if any(isinstance(t, ast.Subscript) for t in targets):
        return Refusal(
            where,
            source,
            "a write of a traced value into a preallocated numpy array, which autograd cannot trace",
            "build the array from whole-array operations (np.stack, np.where, sums over axes) to get"
            " the autograd reference; the finite differences ran without it",
        )
    if "np.add.at" in text:
        return Refusal(where, source, text, "the finite differences ran without the autograd reference")
    if isinstance(exc, DetachedError):
        said = _culprit(_statement(exc.source))
        return Refusal(
            exc.where,
            exc.source,
            f"{said or 'plain numpy took a traced value'}, before your function computed its loss",
            "use numpy functions (np.dot, not X.dot) in the forward half to get the autograd"
            " reference; the finite differences ran without it",
        )
    if isinstance(exc, PlainNumpyError):
        return Refusal(
            where,
            source,
            _culprit(statement)
            or "a numpy operation autograd has no derivative for, or a plain ndarray's method called"
            " with a traced argument (X.dot(W): write np.dot(X, W) or X @ W)",
            "rewrite that line with whole-array numpy functions to get the autograd reference; the"
            " finite differences ran without it",
        )
    if isinstance(exc, NotImplementedError) and "VJP of" in text:
        return Refusal(
            where,
            source,
            f"autograd has no derivative for this operation ({text})",
            "the finite differences ran without the autograd reference",
        )
    return Refusal(
        where,
        source,
        f"{type(exc).__name__}: {text}",
        "the finite differences ran without the autograd reference",
    )


def _culprit(statement: ast.stmt | None) -> str:
    """The operation of a line that handed a traced value to plain numpy, as precisely as its
    calls say (empty when they say nothing): a numpy function autograd lacks, a plain array's
    ``.dot``, or numpy left unresolved in that module."""
    if statement is None:
        return ""
    found: list[tuple[int, str]] = []
    for node in ast.walk(statement):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        name, owner = node.func.attr, node.func.value
        if isinstance(owner, ast.Name) and owner.id in ("np", "numpy"):
            if not hasattr(anp, name):
                found.append((0, f"np.{name}, which autograd.numpy does not have, was given a traced value"))
            else:
                found.append(
                    (
                        2,
                        f"np.{name} here is plain numpy: numpy was not resolved to autograd.numpy in"
                        " this code's module (the check did not reach it from what it was given)",
                    )
                )
        elif name == "dot":
            data = ast.unparse(owner)
            found.append(
                (
                    1,
                    f"`{data}.dot(...)`: a plain data array's .dot was given a traced array"
                    f" (write np.dot({data}, ...) or {data} @ ...)",
                )
            )
    return min(found)[1] if found else ""


def _statement(source: str) -> ast.stmt | None:
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return None
    return body[0] if len(body) == 1 else None
