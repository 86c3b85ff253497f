"""Submissions as the grader sees them: files found, notebooks read as scripts, lines named.

Nothing here runs a submission. A notebook becomes the script of its code cells in order,
each IPython magic (``%...``, ``%%...``) and shell line (``!...``) replaced by ``pass`` so that
every other line keeps its number; a line of that script is named back to the notebook as
``name.ipynb cell 3:5`` (the 3rd code cell, its 5th line): the feedback's "look at the line
that computes dW2" (worked out in the submission's worker, :mod:`verifier.frontends.grading.explaining`)
names the submitted file's line so.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import InputError

SUFFIXES = (".py", ".ipynb")
#: Cell magics whose body is Python (run once, as written); any other cell magic's cell is skipped.
PYTHON_CELL_MAGICS = ("%%time", "%%timeit", "%%capture", "%%prun")


@dataclass
class Submission:
    """One submitted file, as a script.

    Attributes
    ----------
    path : Path
        The submitted file.
    script : str
        The Python source the worker runs (the file itself, or its notebook's code cells).
    cells : list of (int, int)
        For a notebook, per script line (from 1): its code cell and its line there.
    problem : str or None
        Why it cannot run at all (not a readable notebook, a syntax error), in words.
    """

    path: Path
    script: str
    cells: list[tuple[int, int]] = field(default_factory=list)
    problem: str | None = None

    @property
    def name(self) -> str:
        """The submitted file's name (``alice.ipynb``)."""
        return self.path.name

    @property
    def module(self) -> str:
        """The module name the worker gives it."""
        stem = "".join(c if c.isalnum() else "_" for c in self.path.stem)
        return stem if stem[:1].isalpha() else f"submission_{stem}"

    @property
    def script_name(self) -> str:
        """The file name the script is written under in the working directory."""
        return self.name if self.path.suffix == ".py" else f"{self.module}_ipynb.py"

    def where(self, line: int | None) -> str:
        """``alice.py:17``, or ``alice.ipynb cell 3:5``: the submitted file's place of a script line."""
        if line is None:
            return self.name
        if self.cells and 1 <= line <= len(self.cells):
            cell, number = self.cells[line - 1]
            return f"{self.name} cell {cell}:{number}"
        return f"{self.name}:{line}"


def find(
    path: str | Path, argument: str = "submissions", exclude: Iterable[str | Path] = ()
) -> list[Submission]:
    """The submissions at ``path``: one ``.py``/``.ipynb`` file, or those directly in a folder.

    The instructor's own files in that folder (``exclude``: the reference, the data, the course
    files copied beside each submission) are not submissions. A folder with no submission
    directly in it is refused, naming the subfolders that may hold them (a class folder that
    keeps the reference beside a ``submissions/`` folder).
    """
    if not isinstance(path, (str, Path)):
        raise InputError(f"`{argument}`: expected a folder or a file path, got {type(path).__name__}.")
    root = Path(path)
    if root.is_dir():
        own = {Path(f).resolve() for f in exclude}
        found = sorted(p for p in root.iterdir() if p.suffix in SUFFIXES and not p.name.startswith("."))
        files = [p for p in found if p.is_file() and p.resolve() not in own]
        if not files:
            skipped = [p.name for p in found if p.is_file() and p.resolve() in own]
            mine = f" but your own {', '.join(skipped)}" if skipped else ""
            folders = sorted(
                p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))
            )
            hint = (
                f"; the submissions are looked for directly in the folder, not in its subfolders"
                f" ({', '.join(f + '/' for f in folders)}): give the subfolder that holds them"
                if folders
                else ""
            )
            raise InputError(f"`{argument}`: no .py or .ipynb files in {str(path)!r}{mine}{hint}.")
    elif root.is_file():
        if root.suffix not in SUFFIXES:
            raise InputError(
                f"`{argument}`: expected a .py or .ipynb file or a folder of them, got {str(path)!r}."
            )
        files = [root]
    else:
        raise InputError(f"`{argument}`: no file or folder {str(path)!r}.")
    return [read(p) for p in files]


def read(path: Path) -> Submission:
    """One submitted file as a :class:`Submission` (its problem said, not raised)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return Submission(path, "", problem=f"cannot be read ({type(exc).__name__}: {exc})")
    if path.suffix == ".ipynb":
        try:
            script, cells = notebook_script(json.loads(text))
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            return Submission(path, "", problem=f"is not a readable notebook ({type(exc).__name__}: {exc})")
        submission = Submission(path, script, cells)
    else:
        submission = Submission(path, text)
    try:
        compile(submission.script, submission.name, "exec")
    except SyntaxError as exc:
        where = submission.where(exc.lineno)
        submission.problem = f"has a syntax error at {where}: {exc.msg}"
    except ValueError as exc:  # a null byte in the source
        submission.problem = f"cannot be compiled ({exc})"
    return submission


def notebook_script(notebook: dict) -> tuple[str, list[tuple[int, int]]]:
    """A notebook's code cells as one script, and each script line's (code cell, line in cell)."""
    lines: list[str] = []
    cells: list[tuple[int, int]] = []
    number = 0
    for cell in notebook["cells"]:
        if cell.get("cell_type") != "code":
            continue
        number += 1
        source = cell.get("source", "")
        text = "".join(source) if isinstance(source, list) else str(source)
        cell_lines = text.splitlines() or [""]
        first = cell_lines[0].strip()
        skip_cell = first.startswith("%%") and first.split()[0] not in PYTHON_CELL_MAGICS
        for i, line in enumerate(cell_lines, start=1):
            stripped = line.lstrip()
            if skip_cell:
                line = ""
            elif stripped.startswith(("%", "!")):
                line = line[: len(line) - len(stripped)] + "pass"
            lines.append(line)
            cells.append((number, i))
        lines.append("")  # a blank line between cells, as if they were run one after the other
        cells.append((number, len(cell_lines) + 1))
    return "\n".join(lines) + "\n", cells
