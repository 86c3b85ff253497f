"""Parameters, data and gradients on disk: one format, written by ``verifier reference`` and
read by ``verifier check --data`` and :func:`load_reference`.

``.npz``: arrays named ``X``, ``Y``, ``param:<name>`` and ``grad:<name>`` (``<name>`` is
a dict key, or the position in a list of THETA matrices), and ``meta``, a JSON string with
the network, its sizes and the seed. ``.json``: the same as nested lists. On reading, the
notebook's lower-case ``x``, ``y`` and bare parameter names are accepted too.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from .. import validate
from ..errors import InputError
from ..estimators.autograd_ref import reference_gradients
from ..networks import DeepReLU, XORNet

NETWORKS = {"deep-relu": DeepReLU, "xor": XORNet}


def make_reference(network: str, dims: list[int], seed: int, m: int | None = None) -> dict[str, Any]:
    """Parameters, data and autograd's gradients for a built-in network drawn from ``seed``."""
    validate.choice(network, "network", list(NETWORKS))
    net = NETWORKS[network](dims)
    rng = np.random.default_rng(validate.seed(seed))
    params = net.init_params(rng)
    X, Y = net.example_data(rng, m=m) if m is not None else net.example_data(rng)
    grads = reference_gradients(lambda p: net.cost(p, X, Y), params)
    meta = {"network": network, "dims": list(dims), "seed": seed, "cost": float(net.cost(params, X, Y))}
    return {"meta": meta, "params": params, "X": X, "Y": Y, "gradients": grads}


def _named(values: Any) -> dict[str, np.ndarray]:
    if isinstance(values, dict):
        return {str(k): np.asarray(v) for k, v in values.items()}
    return {str(i): np.asarray(v) for i, v in enumerate(values)}


def save_reference(reference: dict[str, Any], path: str | Path) -> None:
    """Write a reference (from :func:`make_reference`) as ``.npz`` or ``.json`` (by the suffix)."""
    path = Path(validate.output_path(path, "out"))
    params, grads = _named(reference["params"]), _named(reference["gradients"])
    if path.suffix == ".json":
        doc = {
            "meta": reference["meta"],
            "X": np.asarray(reference["X"]).tolist(),
            "Y": np.asarray(reference["Y"]).tolist(),
            "params": {k: v.tolist() for k, v in params.items()},
            "gradients": {k: v.tolist() for k, v in grads.items()},
        }
        path.write_text(json.dumps(doc))
        return
    if path.suffix != ".npz":
        raise InputError(f"`out`: expected a path ending in .npz or .json, got {str(path)!r}.")
    arrays = {"X": reference["X"], "Y": reference["Y"], "meta": np.array(json.dumps(reference["meta"]))}
    arrays.update({f"param:{k}": v for k, v in params.items()})
    arrays.update({f"grad:{k}": v for k, v in grads.items()})
    np.savez(path, **arrays)


def load_reference(path: str | Path, *, argument: str = "path") -> dict[str, Any]:
    """Read parameters, data and (optionally) gradients: the one file format, both ways.

    Written by ``verifier reference`` (:func:`save_reference`), and read by
    ``verifier check --data`` as well as here.

    ``.npz``: the data under ``X`` and ``Y`` (or the notebook's ``x`` and ``y``); each
    parameter under ``param:<name>``, or under its bare name (``W1``, ``b1``, ... as the
    notebook's dict is saved by ``np.savez(path, x=x, y=y, **parameters)``); optionally
    gradients under ``grad:<name>`` and a JSON string under ``meta``. Parameters named
    ``0, 1, ...`` or ``THETA0, THETA1, ...`` (the blog's THETA list) become a list.
    ``.json``: an object with ``X``, ``Y``, ``params`` and optionally ``gradients`` and
    ``meta``, arrays as nested lists.

    Returns
    -------
    dict
        ``meta`` (dict, empty if the file has none), ``params`` and ``gradients`` (a dict
        of arrays, or a list for a THETA list; ``gradients`` is None when the file has
        none), ``X``, ``Y``.

    Raises
    ------
    verifier.errors.InputError
        No such file, a folder, a file that is not such a reference, or one without ``X``,
        ``Y`` or parameters (the message names the file and what is missing).
    """
    path = _existing(path, argument)
    if path.suffix == ".json":
        arrays, meta = _parse(path, argument, _read_json)
    else:
        arrays, meta = read_arrays(path, argument=argument)
    data_arrays = {}
    for key in ("X", "Y"):
        name = key if key in arrays else key.lower()
        if name not in arrays:
            raise InputError(
                f"`{argument}` {str(path)!r} has no array {key!r} (or {key.lower()!r});"
                f" it has {sorted(arrays)}."
            )
        data_arrays[key] = arrays.pop(name)
    grads = {k[5:]: v for k, v in arrays.items() if k.startswith("grad:")}
    params = {
        k[6:] if k.startswith("param:") else k: v for k, v in arrays.items() if not k.startswith("grad:")
    }
    if not params:
        raise InputError(f"`{argument}` {str(path)!r} has no parameter arrays besides X and Y.")
    return {
        "meta": meta if isinstance(meta, dict) else {},
        "params": _container(params),
        "gradients": _container(grads) if grads else None,
        **data_arrays,
    }


def _existing(path: Any, argument: str, suffixes: tuple[str, ...] = (".npz", ".json")) -> Path:
    """``path`` as a Path to an existing file with one of ``suffixes`` (else the error says which)."""
    if not isinstance(path, (str, Path)):
        raise InputError(
            f"`{argument}`: expected a file path (str or pathlib.Path), got {type(path).__name__}."
        )
    path = Path(path)
    if not path.exists():
        raise InputError(f"`{argument}`: no file {str(path)!r}.")
    if not path.is_file():
        raise InputError(f"`{argument}`: {str(path)!r} is a folder, not a file.")
    if path.suffix not in suffixes:
        raise InputError(
            f"`{argument}`: expected {' or '.join(suffixes)} file, got {str(path)!r}; save the arrays"
            " together, e.g. np.savez('data.npz', X=X, Y=Y, **parameters)."
        )
    return path


def _parse(path: Path, argument: str, reader: Any) -> Any:
    try:
        return reader(path)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(
            f"`{argument}`: {str(path)!r} is not a readable {path.suffix} file ({type(exc).__name__}: {exc})."
        ) from None


def read_arrays(path: str | Path, *, argument: str = "path") -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The arrays of an ``.npz`` file by name, and its JSON ``meta`` (empty if none): the one
    reader of array files. Nothing is ever unpickled."""
    path = _existing(path, argument, (".npz",))

    def read(p: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        with np.load(p) as data:  # allow_pickle stays False: a file never runs code
            arrays = {k: np.asarray(data[k]) for k in data.files}
        meta = json.loads(str(arrays.pop("meta"))) if "meta" in arrays else {}
        return arrays, meta if isinstance(meta, dict) else {}

    return _parse(path, argument, read)


def layer_inputs(path: str | None, constants: list[str]) -> dict[str, Any]:
    """A layer's inputs by name, for ``verifier layer``: from an ``.npz`` (arrays) or a ``.json``
    object (nested lists become arrays, integer ones stay integer labels; objects and numbers
    stay constants), then ``NAME=JSON`` constants."""
    given: dict[str, Any] = {}
    if path is not None:
        file = _existing(path, "--inputs")
        if file.suffix == ".npz":
            given.update(read_arrays(file, argument="--inputs")[0])
        else:
            doc = _parse(file, "--inputs", lambda p: json.loads(p.read_text()))
            if not isinstance(doc, dict):
                raise InputError(f"`--inputs`: {str(file)!r} must hold a JSON object of inputs by name.")
            given.update({k: np.asarray(v) if isinstance(v, list) else v for k, v in doc.items()})
    for item in constants:
        name, sep, text = item.partition("=")
        if not sep or not name.strip().isidentifier():
            raise InputError(f"`--const`: expected NAME=JSON, got {item!r}.")
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"`--const` {name}: not JSON ({exc.msg}): {text!r}.") from None
        given[name.strip()] = np.asarray(value) if isinstance(value, list) else value
    return given


def _read_json(path: Path) -> tuple[dict[str, np.ndarray], Any]:
    doc = json.loads(path.read_text())
    if not isinstance(doc, dict) or not isinstance(doc.get("params"), dict):
        raise InputError(f"`path` {str(path)!r}: expected a JSON object with X, Y and a dict `params`.")
    arrays = {k: np.asarray(doc[k], dtype=np.float64) for k in ("X", "Y", "x", "y") if k in doc}
    arrays.update({f"param:{k}": np.asarray(v, dtype=np.float64) for k, v in doc["params"].items()})
    grads = doc.get("gradients") or {}
    arrays.update({f"grad:{k}": np.asarray(v, dtype=np.float64) for k, v in grads.items()})
    return arrays, doc.get("meta", {})


def _container(named: dict[str, np.ndarray]) -> Any:
    """A dict of arrays, or a list when the names number them (``0, 1, ...`` or ``THETA0, THETA1, ...``)."""
    numbers = {}
    for key in named:
        match = re.fullmatch(r"(?i)(?:theta_?)?(\d+)", key)
        if match is None:
            return named
        numbers[int(match.group(1))] = key
    if sorted(numbers) != list(range(len(numbers))):
        return named
    return [named[numbers[i]] for i in range(len(numbers))]
