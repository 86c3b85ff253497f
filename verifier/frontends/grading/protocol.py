"""What passes between the grader and a submission's worker: plain data, never pickle.

A message is an 8-byte length, a JSON header, and the raw bytes of the arrays it carries.
Values are trees of ``None``, bool, int, float, str, tuples, lists, dicts with such keys,
and numeric arrays (``{"a": index, "dtype": "<f8", "shape": [5, 4]}`` pointing at a blob).
:func:`decode` rebuilds every array from its bytes as a base-class ``numpy.ndarray`` of a
numeric dtype: an ndarray subclass, an object array, or anything that runs code when
loaded cannot arrive, whatever the other side sends.
"""

from __future__ import annotations

import json
import os
import re
import select
import struct
import time
from typing import Any

import numpy as np

#: Array dtypes carried: booleans, integers, floats and complex numbers of fixed size.
DTYPE = re.compile(r"^[<>|=]?[biufc][0-9]{1,2}$")
MAX_DEPTH = 32
MAX_HEADER = 16 * 2**20
LENGTH = struct.Struct(">Q")


class ProtocolError(Exception):
    """A message is not plain data of the kinds carried (its text says where and what)."""


def encode(value: Any) -> tuple[Any, list[bytes]]:
    """``value`` as a JSON-ready tree and the bytes of its arrays (see the module notes)."""
    blobs: list[bytes] = []

    def walk(v: Any, depth: int, where: str) -> Any:
        if depth > MAX_DEPTH:
            raise ProtocolError(f"{where} is nested deeper than {MAX_DEPTH} levels")
        if v is None or isinstance(v, (bool, str)):
            return {"v": v}
        if isinstance(v, (np.ndarray, np.generic)):
            a = np.asarray(v)  # the base class; tobytes() is C order whatever the strides
            if not DTYPE.match(a.dtype.str):
                raise ProtocolError(f"{where} is an array of dtype {a.dtype}, not of numbers")
            blobs.append(a.tobytes())
            return {"a": len(blobs) - 1, "dtype": a.dtype.str, "shape": list(a.shape)}
        if isinstance(v, int):
            return {"v": int(v)}
        if isinstance(v, float):
            return {"v": float(v)}
        if isinstance(v, tuple):
            return {"t": [walk(x, depth + 1, f"{where}[{i}]") for i, x in enumerate(v)]}
        if isinstance(v, list):
            return {"l": [walk(x, depth + 1, f"{where}[{i}]") for i, x in enumerate(v)]}
        if isinstance(v, dict):
            return {
                "d": [
                    [walk(k, depth + 1, f"{where} key"), walk(x, depth + 1, f"{where}[{k!r}]")]
                    for k, x in v.items()
                ]
            }
        raise ProtocolError(
            f"{where} is of type {type(v).__name__}: only numbers, str, None, numpy arrays of numbers,"
            " and tuples, lists and dicts of them can be carried"
        )

    return walk(value, 0, "the result"), blobs


def decode(tree: Any, blobs: list[bytes]) -> Any:
    """The value :func:`encode` made ``tree`` and ``blobs`` from; :class:`ProtocolError` if malformed."""

    def walk(node: Any, depth: int) -> Any:
        if depth > MAX_DEPTH or not isinstance(node, dict) or len(node) not in (1, 3):
            raise ProtocolError("malformed value")
        if "v" in node:
            v = node["v"]
            if v is None or type(v) in (bool, int, float, str):
                return v
        elif "a" in node:
            return _array(node, blobs)
        elif "t" in node and isinstance(node["t"], list):
            return tuple(walk(x, depth + 1) for x in node["t"])
        elif "l" in node and isinstance(node["l"], list):
            return [walk(x, depth + 1) for x in node["l"]]
        elif "d" in node and isinstance(node["d"], list):
            out = {}
            for pair in node["d"]:
                if not (isinstance(pair, list) and len(pair) == 2):
                    raise ProtocolError("malformed dict")
                key = walk(pair[0], depth + 1)
                if not (key is None or type(key) in (bool, int, float, str)):
                    raise ProtocolError("a dict key that is not a number or str")
                out[key] = walk(pair[1], depth + 1)
            return out
        raise ProtocolError("malformed value")

    return walk(tree, 0)


def _array(node: dict[str, Any], blobs: list[bytes]) -> np.ndarray:
    index, dtype, shape = node.get("a"), node.get("dtype"), node.get("shape")
    if not (type(index) is int and 0 <= index < len(blobs)):
        raise ProtocolError("an array without its bytes")
    if not (isinstance(dtype, str) and DTYPE.match(dtype)):
        raise ProtocolError(f"an array of dtype {dtype!r}, not of numbers")
    if not (isinstance(shape, list) and len(shape) <= 32 and all(type(n) is int and n >= 0 for n in shape)):
        raise ProtocolError(f"an array of shape {shape!r}")
    kind = np.dtype(dtype)
    if int(np.prod(shape, dtype=np.int64)) * kind.itemsize != len(blobs[index]):
        raise ProtocolError(
            f"an array of shape {tuple(shape)} and dtype {kind} with {len(blobs[index])} bytes"
        )
    return np.frombuffer(blobs[index], dtype=kind).reshape(shape).copy()


def message(header: dict[str, Any], value: Any = None) -> bytes:
    """One message: ``header`` with ``value`` (encoded) under ``"tree"``."""
    tree, blobs = encode(value)
    head = json.dumps({**header, "tree": tree, "blobs": [len(b) for b in blobs]}).encode()
    return LENGTH.pack(len(head)) + head + b"".join(blobs)


def read(fd: int, *, deadline: float | None = None, limit: int | None = None) -> tuple[dict[str, Any], Any]:
    """The next message on ``fd``: its header and its decoded value.

    Parameters
    ----------
    deadline : float, optional
        ``time.monotonic()`` by which it must have arrived (:class:`TimeoutError` if not).
    limit : int, optional
        At most this many bytes of arrays (:class:`ProtocolError` beyond).

    Raises
    ------
    EOFError
        The other side closed the pipe (it exited).
    """
    (size,) = LENGTH.unpack(_read_exact(fd, LENGTH.size, deadline))
    if size > MAX_HEADER:
        raise ProtocolError(f"a header of {size} bytes")
    try:
        header = json.loads(_read_exact(fd, size, deadline))
    except ValueError:
        raise ProtocolError("a header that is not JSON") from None
    sizes = header.get("blobs") if isinstance(header, dict) else None
    if not (isinstance(sizes, list) and all(type(n) is int and n >= 0 for n in sizes)):
        raise ProtocolError("a header without its array sizes")
    if limit is not None and sum(sizes) > limit:
        raise ProtocolError(f"{sum(sizes)} bytes of arrays, more than the {limit} allowed")
    blobs = [_read_exact(fd, n, deadline) for n in sizes]
    return header, decode(header.get("tree"), blobs)


def write(fd: int, data: bytes, *, deadline: float | None = None) -> None:
    """Write all of ``data`` to ``fd`` (:class:`TimeoutError` past ``deadline``)."""
    view = memoryview(data)
    while view:
        _wait(fd, deadline, write=True)
        try:
            view = view[os.write(fd, view[: 1 << 20]) :]
        except BlockingIOError:  # a non-blocking pipe with less room than the chunk
            continue


def _read_exact(fd: int, n: int, deadline: float | None) -> bytes:
    chunks = bytearray()
    while len(chunks) < n:
        _wait(fd, deadline, write=False)
        chunk = os.read(fd, min(n - len(chunks), 1 << 20))
        if not chunk:
            raise EOFError
        chunks += chunk
    return bytes(chunks)


def _wait(fd: int, deadline: float | None, *, write: bool) -> None:
    if deadline is None:
        return
    left = deadline - time.monotonic()
    ready = (
        select.select([], [fd], [], max(left, 0.0))[1]
        if write
        else select.select([fd], [], [], max(left, 0.0))[0]
    )
    if not ready:
        raise TimeoutError
