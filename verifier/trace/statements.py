"""The statements of the user's source, read once per function: what each reads (names, attribute
chains, subscripts), which of its calls are pure, and the code to evaluate its reads before it
runs.
"""

from __future__ import annotations

import ast
import inspect
import linecache
import textwrap
import types
from dataclasses import dataclass
from typing import Any

#: Builtins a read may call and still be evaluated to find the array it reads.
_PURE_CALLS = frozenset({"str", "int", "len", "slice", "range", "abs", "min", "max", "tuple"})


@dataclass(frozen=True)
class Read:
    """An expression a statement reads: a name, an attribute chain or a subscript."""

    text: str
    code: Any  # compiled expression, or None when evaluating it could have effects
    root: str  # its first name


@dataclass(frozen=True)
class Statement:
    """One statement of the user's code, as the recorder needs it."""

    file: str
    line: int
    text: str
    kind: str  # "assign", "aug", "return", "call", "other"
    targets: tuple[ast.expr, ...] = ()
    reads: tuple[Read, ...] = ()
    loops: tuple[tuple[str, ...], ...] = ()  # the names bound by each enclosing ``for``, outermost first
    add_at: tuple[ast.expr, ast.expr] | None = None  # ``np.add.at(buffer, index, …)``
    scanned: ast.expr | None = None  # ``grads.update(…)``, ``cache.append(…)``: the container


def cite(where: str, text: str) -> str:
    """``file.py:12 `text```: a place in the user's code and its source text, or the place alone
    when there is none (code run from a string, with no file to read its lines from)."""
    return f"{where} `{text}`" if text else where


def _safe(node: ast.AST) -> bool:
    """Whether evaluating ``node`` only looks things up (names, attributes, subscripts, arithmetic)."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            if not (isinstance(sub.func, ast.Name) and sub.func.id in _PURE_CALLS) or sub.keywords:
                return False
        elif isinstance(sub, ast.Attribute):
            if sub.attr.startswith("_"):
                return False
        elif not isinstance(
            sub,
            (
                ast.Name,
                ast.Subscript,
                ast.Constant,
                ast.Slice,
                ast.Tuple,
                ast.BinOp,
                ast.UnaryOp,
                ast.Compare,
                ast.expr_context,
                ast.operator,
                ast.unaryop,
                ast.cmpop,
            ),
        ):
            return False
    return True


def compile_expression(node: ast.expr) -> Any:
    """``node`` compiled to be evaluated in a frame, or None if evaluating it could have effects."""
    if not _safe(node):
        return None
    try:  # from its text: a target's nodes are in Store context
        return compile(ast.unparse(node), "<provenance>", "eval")
    except (SyntaxError, ValueError, TypeError):
        return None


def root_name(node: ast.expr) -> str | None:
    """The name an attribute, subscript or starred expression starts from (``cache`` of ``cache["Z1"]``)."""
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _reads(nodes: list[ast.expr]) -> tuple[Read, ...]:
    """The maximal name/attribute/subscript chains read by ``nodes`` (not the functions called)."""
    out: list[Read] = []
    seen: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, (ast.Name, ast.Attribute, ast.Subscript)):
            # an attribute that makes a fresh view (``.T``) is read through its array
            base: ast.expr = node
            while isinstance(base, ast.Attribute) and base.attr in ("T", "real", "imag", "flat"):
                base = base.value
            root = root_name(base)
            text = ast.unparse(base)
            if root is not None and text not in seen:
                seen.add(text)
                out.append(Read(text, compile_expression(base), root))
            inner: ast.expr = node
            while isinstance(inner, (ast.Attribute, ast.Subscript)):
                if isinstance(inner, ast.Subscript):  # ``da[:, :, t]`` reads t as well
                    visit(inner.slice)
                inner = inner.value
            return
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute):  # ``x.dot(y)``, ``np.dot``: the object may be read
                visit(func.value)
            for arg in [*node.args, *(k.value for k in node.keywords)]:
                visit(arg)
            return
        if isinstance(node, (ast.Lambda, ast.FunctionDef)):
            return
        for child in ast.iter_child_nodes(node):
            visit(child)

    for n in nodes:
        visit(n)
    return tuple(
        r for r in out if r.root not in ("np", "numpy", "math", "self") or "." in r.text or "[" in r.text
    )


def functions_by_line(file: str) -> dict[int, ast.AST]:
    """The functions of a source file by their code's first line (a decorator's, if decorated)."""
    try:
        tree = ast.parse("".join(linecache.getlines(file)))
    except (SyntaxError, ValueError):
        return {}
    out: dict[int, ast.AST] = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out[min([node.lineno, *(d.lineno for d in node.decorator_list)])] = node
    return out


def statements_by_line(code: types.CodeType, function: ast.AST | None) -> dict[int, Statement]:
    """Each line of a function's source, mapped to the innermost statement that holds it."""
    if function is None:
        try:  # source without a file of its own (a notebook cell): read it through inspect
            lines, start = inspect.getsourcelines(code)
            tree = ast.parse(textwrap.dedent("".join(lines)))
        except (OSError, TypeError, SyntaxError, IndentationError):
            return {}
        offset = start - 1
    else:
        tree = ast.Module(body=[function], type_ignores=[])  # type: ignore[list-item]
        offset = 0
    file = code.co_filename
    out: dict[int, Statement] = {}

    def text_of(node: ast.stmt) -> str:
        number = node.lineno + offset
        text = linecache.getline(file, number).strip()
        if node.end_lineno and node.end_lineno > node.lineno:
            whole = " ".join(
                linecache.getline(file, n + offset).strip() for n in range(node.lineno, node.end_lineno + 1)
            )
            text = whole if len(whole) <= 120 else text
        return text or ast.unparse(node)

    def visit(body: list[ast.stmt], loops: tuple[tuple[str, ...], ...]) -> None:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                if node is not tree.body[0]:
                    continue
            nested = [
                getattr(node, name)
                for name in ("body", "orelse", "finalbody")
                if isinstance(getattr(node, name, None), list)
            ] + [h.body for h in getattr(node, "handlers", [])]
            if nested and not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                header = node.lineno + offset
                last = min((b[0].lineno for b in nested if b), default=node.lineno) + offset
                for n in range(header, max(header + 1, last)):
                    out[n] = Statement(file, header, text_of(node), "other", loops=loops)
                inner = loops
                if isinstance(node, (ast.For, ast.AsyncFor)):
                    names = tuple(n.id for n in ast.walk(node.target) if isinstance(n, ast.Name))
                    inner = (*loops, names)
                for b in nested:
                    visit(b, inner)
                continue
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                visit(node.body, loops)
                continue
            statement = _statement(node, file, offset, text_of(node), loops)
            for n in range(node.lineno, (node.end_lineno or node.lineno) + 1):
                out[n + offset] = statement

    visit(tree.body, ())
    return out


def _statement(
    node: ast.stmt, file: str, offset: int, text: str, loops: tuple[tuple[str, ...], ...]
) -> Statement:
    line = node.lineno + offset
    if isinstance(node, ast.Assign):
        # a write through an index reads what the index is made from (``dZ[Z <= 0] = 0`` reads Z)
        indices = [
            t.slice for target in node.targets for t in ast.walk(target) if isinstance(t, ast.Subscript)
        ]
        return Statement(
            file, line, text, "assign", tuple(node.targets), _reads([node.value, *indices]), loops
        )
    if isinstance(node, ast.AnnAssign) and node.value is not None:
        return Statement(file, line, text, "assign", (node.target,), _reads([node.value]), loops)
    if isinstance(node, ast.AugAssign):
        return Statement(file, line, text, "aug", (node.target,), _reads([node.value, node.target]), loops)
    if isinstance(node, ast.Return):
        return Statement(file, line, text, "return", (), _reads([node.value] if node.value else []), loops)
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        call = node.value
        func = call.func
        add_at = None
        scanned = None
        if isinstance(func, ast.Attribute) and func.attr == "at" and len(call.args) >= 2:
            add_at = (call.args[0], call.args[1])
        elif isinstance(func, ast.Attribute):
            scanned = func.value
        return Statement(file, line, text, "call", (), _reads([call]), loops, add_at, scanned)
    return Statement(file, line, text, "other", (), (), loops)
