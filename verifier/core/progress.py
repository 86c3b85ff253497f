"""Progress of a long run: the stage under way, how much of it is done, and an estimate of what is left.

Through ``tqdm.auto`` when tqdm is installed (the ``progress`` extra): a bar on a terminal, a
widget in Jupyter. Without it, a plain line: redrawn in place on a terminal, and in Jupyter
with a carriage return only (a notebook shows no terminal escapes). Quiet where nobody
watches (neither a terminal nor a notebook), or when asked to be.

Only what is shown depends on the clock: never a verdict.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

#: Seconds between redraws of the plain line.
REDRAW = 0.2


def interactive(stream: TextIO) -> bool:
    """Whether someone watches ``stream``: a terminal, or a Jupyter kernel's output."""
    try:
        if stream.isatty():
            return True
    except (AttributeError, ValueError):  # a closed or odd stream
        return False
    return _in_notebook()


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    get = getattr(shell, "get_ipython", None)
    kernel = get() if callable(get) else None
    # Jupyter's shell, or one derived from it (Colab's)
    return kernel is not None and any(c.__name__ == "ZMQInteractiveShell" for c in type(kernel).__mro__)


class Progress:
    """Report the stages and the work done of a long run.

    Parameters
    ----------
    total : int
        How much work to expect, in ``unit`` (stages, or cost evaluations).
    enabled : bool or None
        None: only where someone watches (:func:`interactive`).
    stream : file, optional
        Default ``sys.stderr``.
    unit : str, optional
        What ``total`` counts (``"step"`` by default; ``"evaluation"`` for a check).
    """

    def __init__(
        self, total: int, enabled: bool | None = None, stream: TextIO | None = None, unit: str = "step"
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = interactive(self.stream) if enabled is None else enabled
        self.total, self.unit, self.done = max(int(total), 1), unit, 0
        self.stage = ""
        self.start = self.drawn = time.perf_counter()
        self.width = 0
        self.bar: Any = None
        if self.enabled:
            self.bar = _tqdm(self.total, self.stream, unit)

    def __call__(self, line: str, advance: int = 1) -> None:
        """Show that ``line`` is under way, counting ``advance`` more units done."""
        if not self.enabled:
            return
        self.stage = line
        if self.bar is not None:
            self.bar.set_description_str(line, refresh=False)
        self.advance(advance, force=True)

    def advance(self, n: int = 1, force: bool = False) -> None:
        """Count ``n`` more units done (cheap: the plain line is redrawn at most every 0.2 s)."""
        if not self.enabled:
            return
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
            return
        now = time.perf_counter()
        if not force and now - self.drawn < REDRAW:
            return
        self.drawn = now
        self._write(self._line(now))

    def _line(self, now: float) -> str:
        elapsed = now - self.start
        done = min(self.done, self.total)
        text = f"{self.stage}: {done}/{self.total} {self.unit}s" if self.stage else f"{done}/{self.total}"
        if 0 < done < self.total and elapsed > 0.5:
            text += f", about {elapsed * (self.total - done) / done:.0f} s left"
        return text

    def _write(self, text: str) -> None:
        if self.stream.isatty():
            self.stream.write("\r\033[K" + text)
        else:  # a notebook: a carriage return, and spaces over what the last line left
            self.stream.write("\r" + text.ljust(self.width))
        self.width = len(text)
        self.stream.flush()

    def clear(self) -> None:
        """Clear the line (before other output is printed), keeping the count."""
        if self.bar is not None:
            self.bar.clear()
        elif self.enabled and self.width:
            self._write("")

    def close(self) -> None:
        """Clear the line, and end the bar."""
        self.clear()
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _tqdm(total: int, stream: TextIO, unit: str) -> Any:
    """A ``tqdm.auto`` bar (a widget in Jupyter where ipywidgets is installed, else tqdm's text
    bar), or None without tqdm."""
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    try:
        return tqdm(total=total, file=stream, leave=False, unit=unit, dynamic_ncols=True)
    except ImportError:  # tqdm.notebook without ipywidgets
        from tqdm import tqdm as text_tqdm

        return text_tqdm(total=total, file=stream, leave=False, unit=unit, dynamic_ncols=True)
