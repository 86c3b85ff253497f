"""One submission's own process, seen from the grader: start it, ask it, time it, end it.

A :class:`Worker` is a fresh interpreter (``sys.executable -m verifier.frontends.grading.worker``, never
a fork of the grader, which would inherit its state) in its own session (so the grader can
end it and anything it started with one signal to the group), with a working directory of
its own, an address-space cap (``RLIMIT_AS``, set by the worker before numpy loads), and a
wall-clock budget: the time the grader spends waiting for its answers, loading included,
counted across requests. What it prints is read as it comes and kept up to a cap.

Failures are of two kinds. The submission's own exceptions (``sys.exit`` included) come back
as :class:`SubmissionRaised`, like an exception from code called in process, and the check
treats them as it would. The process itself failing (out of time, exited, killed, answering
what is not plain data) sets :attr:`Worker.failure`, ends the process, and raises
:class:`WorkerFailed`; the grader reads :attr:`Worker.failure` after the check, so a failure
that the check caught and stepped over still costs the submission the case.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from . import protocol

#: Bytes of the submission's printed output kept (the rest is read and counted, not kept).
OUTPUT_LIMIT = 8192


class SubmissionRaised(Exception):
    """The submission's code raised (the message says what, and where in the submitted file)."""


class WorkerFailed(Exception):
    """The submission's process failed: out of time, exited, killed, or answered malformed data."""


class Capture:
    """Reads a pipe to its end in a thread, keeping the first :data:`OUTPUT_LIMIT` bytes."""

    def __init__(self, stream: Any) -> None:
        self.kept = bytearray()
        self.dropped = 0
        self._stream = stream
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while True:
            chunk = self._stream.read1(65536)
            if not chunk:
                return
            room = OUTPUT_LIMIT - len(self.kept)
            self.kept += chunk[: max(room, 0)]
            self.dropped += max(len(chunk) - max(room, 0), 0)

    def text(self) -> str:
        """What was kept, and how much more there was."""
        self._thread.join(timeout=1.0)
        out = self.kept.decode("utf-8", errors="replace")
        return out + (f"\n[... {self.dropped} more bytes of output not kept]" if self.dropped else "")


class Worker:
    """A submission's process (see the module notes).

    Parameters
    ----------
    workdir : Path
        Its working directory (a temporary copy of the submission and the course's files).
    timeout : float
        Seconds of wall-clock time it may take to answer, over all its requests.
    memory : int
        Its address-space cap in bytes (0: none).
    where : callable
        ``where(line)``: the submitted file's place for a line of the script it runs.
    """

    def __init__(
        self, workdir: Path, *, timeout: float, memory: int, where: Callable[[int | None], str]
    ) -> None:
        self.timeout = timeout
        self.memory = memory
        self.left = timeout
        self.where = where
        self.failure: str | None = None
        self.kind: str | None = None
        package = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        if package not in _site_folders():  # run from a source folder: the worker imports it from there
            env["PYTHONPATH"] = (
                package + os.pathsep + env.get("PYTHONPATH", "") if env.get("PYTHONPATH") else package
            )
            env["VERIFIER_GRADING_SOURCE"] = package
        env.update({"PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "Agg", "PYTHONIOENCODING": "utf-8"})
        env.update(dict.fromkeys(("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"), "1"))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "verifier.frontends.grading.worker", str(memory)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=workdir,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self._requests = self.process.stdin.fileno()
        fcntl.fcntl(self._requests, fcntl.F_SETFL, fcntl.fcntl(self._requests, fcntl.F_GETFL) | os.O_NONBLOCK)
        self._answers = self.process.stdout.fileno()
        self.output = Capture(self.process.stderr)

    def request(self, header: dict[str, Any], value: Any = None) -> Any:
        """Send one request; its answer's value, or :class:`SubmissionRaised` / :class:`WorkerFailed`."""
        if self.failure is not None:
            raise WorkerFailed(self.failure)
        data = protocol.message(header, value)
        start = time.monotonic()
        try:
            deadline = start + self.left
            protocol.write(self._requests, data, deadline=deadline)
            answer, result = protocol.read(self._answers, deadline=deadline, limit=max(self.memory, 2**30))
        except TimeoutError:
            self._fail("timeout", f"did not finish within the time limit ({self.timeout:g} s)")
        except (EOFError, BrokenPipeError):
            self._fail("exit", self._ended())
        except protocol.ProtocolError as exc:
            self._fail("protocol", f"answered what is not plain data ({exc})")
        finally:
            self.left -= time.monotonic() - start
        if not answer.get("ok"):
            line = answer.get("line")
            where = f" at {self.where(line)}" if type(line) is int else ""
            error = str(answer.get("error", "raised"))[:2000]
            if error.startswith("raised "):
                head, _, message = error.partition(": ")
                error = f"{head}{where}" + (f": {message}" if message else "")
            else:
                error += where
            if error.startswith("raised MemoryError"):
                error += f" (the memory cap is {_size(self.memory)})"
            raise SubmissionRaised(error)
        return result

    def _ended(self) -> str:
        """Why the process stopped answering (it exited, or a signal ended it)."""
        try:
            code = self.process.wait(timeout=2.0)
        except subprocess.TimeoutExpired:
            return "closed its pipe to the grader without exiting"
        if code < 0:
            name = signal.Signals(-code).name
            hint = f", probably past the memory cap ({_size(self.memory)})" if -code == signal.SIGKILL else ""
            return f"was ended by {name}{hint}"
        return f"exited (code {code}) instead of answering: os._exit, or a crash"

    def _fail(self, kind: str, reason: str) -> NoReturn:
        self.kind = kind
        self.failure = reason
        self.close()
        raise WorkerFailed(reason)

    def close(self) -> None:
        """End the process and everything in its session; wait for it."""
        if self.process.returncode is None:  # not yet reaped: its pid still names its group
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            self.process.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            pass
        for stream in (self.process.stdin, self.process.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass


class Remote:
    """A function of the submission, called in its worker: what a check sees of the student's code."""

    def __init__(self, worker: Worker, name: str) -> None:
        self.worker = worker
        self.name = name
        self.__name__ = name

    def __call__(self, *args: Any) -> Any:
        return self.worker.request({"op": "call", "name": self.name}, list(args))


def _site_folders() -> set[str]:
    """The folders a fresh interpreter has its installed packages in."""
    import site

    folders = [*site.getsitepackages(), site.getusersitepackages()]
    return {str(Path(f).resolve()) for f in folders}


def parse_memory(value: int | str, argument: str) -> int:
    """``"2G"``, ``"512M"``, ``"800K"`` or a number of bytes -> bytes (``0``: no cap)."""
    from ...errors import InputError

    units = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise InputError(
            f"`{argument}`: expected bytes (int) or a size like '2G', got {type(value).__name__}."
        )
    text = str(value).strip().upper().removesuffix("B")
    unit = text[-1:] if text[-1:] in units else ""
    number = text[: len(text) - len(unit)]
    try:
        size = int(float(number) * units[unit])
    except ValueError:
        size = -1
    if size < 0 or (0 < size < 128 * 2**20):
        raise InputError(
            f"`{argument}`: expected a size like 2G or 512M (at least 128M: Python and numpy need"
            f" about 100M; 0 for no cap), got {value!r}."
        )
    return size


def _size(n: int) -> str:
    return "no cap" if n <= 0 else (f"{n / 2**30:g} GB" if n >= 2**30 else f"{n / 2**20:g} MB")
