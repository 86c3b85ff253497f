"""Progress on a terminal: a stage line on stderr, through tqdm when it is installed.

Quiet when stderr is not a terminal, or when asked to be.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO


class Progress:
    """Report stages of a long run.

    Parameters
    ----------
    total : int
        How many stages to expect (for the bar).
    enabled : bool or None
        None: only on a terminal.
    stream : file, optional
        Default ``sys.stderr``.
    """

    def __init__(self, total: int, enabled: bool | None = None, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = bool(self.stream.isatty()) if enabled is None else enabled
        self.bar: Any = None
        if self.enabled:
            try:
                from tqdm import tqdm
            except ImportError:
                self.bar = None
            else:
                self.bar = tqdm(total=total, file=self.stream, leave=False, unit="step")

    def __call__(self, line: str) -> None:
        """Show that ``line`` is under way."""
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.set_description_str(line)
            self.bar.update(1)
        else:
            self.stream.write("\r\033[K" + line)
            self.stream.flush()

    def clear(self) -> None:
        """Clear the stage line (before other output is printed), keeping the bar's count."""
        if self.bar is not None:
            self.bar.clear()
        elif self.enabled:
            self.stream.write("\r\033[K")
            self.stream.flush()

    def close(self) -> None:
        """Clear the line, and end the bar."""
        self.clear()
        if self.bar is not None:
            self.bar.close()
