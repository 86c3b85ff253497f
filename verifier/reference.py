"""Reference gradients on disk: parameters, data and autograd's gradients that other tools can read.

``.npz``: arrays named ``X``, ``Y``, ``param:<name>`` and ``grad:<name>`` (``<name>`` is
a dict key, or the position in a list of THETA matrices), and ``meta``, a JSON string with
the network, its sizes and the seed. ``.json``: the same as nested lists.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError
from .estimators.autograd_ref import reference_gradients
from .networks import DeepReLU, XORNet

NETWORKS = {"deep-relu": DeepReLU, "xor": XORNet}


def make_reference(network: str, dims: list[int], seed: int, m: int | None = None) -> dict[str, Any]:
    """Parameters, data and autograd's gradients for a built-in network drawn from ``seed``."""
    if network not in NETWORKS:
        raise InputError(f"`network`: expected one of {list(NETWORKS)}, got {network!r}.")
    net = NETWORKS[network](dims)
    rng = np.random.default_rng(seed)
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
    path = Path(path)
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


def load_reference(path: str | Path) -> dict[str, Any]:
    """Read a reference written by ``verifier reference`` or :func:`save_reference`.

    Returns
    -------
    dict
        ``meta`` (network, dims, seed, cost), ``params`` and ``gradients`` (dicts of
        arrays, or lists for the XOR network's THETA matrices), ``X``, ``Y``.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"`path`: no file {str(path)!r}.")
    if path.suffix == ".json":
        doc = json.loads(path.read_text())
        params = {k: np.asarray(v, dtype=np.float64) for k, v in doc["params"].items()}
        grads = {k: np.asarray(v, dtype=np.float64) for k, v in doc["gradients"].items()}
        meta, X, Y = (
            doc["meta"],
            np.asarray(doc["X"], dtype=np.float64),
            np.asarray(doc["Y"], dtype=np.float64),
        )
    else:
        with np.load(path) as data:
            meta = json.loads(str(data["meta"]))
            params = {k[6:]: data[k] for k in data.files if k.startswith("param:")}
            grads = {k[5:]: data[k] for k in data.files if k.startswith("grad:")}
            X, Y = data["X"], data["Y"]
    if meta.get("network") == "xor":
        return {"meta": meta, "params": [params[str(i)] for i in range(len(params))],
                "gradients": [grads[str(i)] for i in range(len(grads))], "X": X, "Y": Y}  # fmt: skip
    return {"meta": meta, "params": params, "gradients": grads, "X": X, "Y": Y}
