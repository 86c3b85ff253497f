"""How often one wrong element is caught: the fast mode beside the full mode, same draws.

Run from the repository root: ``python benchmarks/slip_detection.py [draws]`` (default 40 per
network and size of slip). Each draw seeds its parameters, its data and which element is
wrong (one nonzero element of one tensor, chosen uniformly, multiplied by ``1 + rel``); both modes
check the same backward. Counts, not times: the figures do not depend on the machine.

A correct backward is checked too (the same draws): any ``fail`` there is a false alarm.
"""

from __future__ import annotations

import collections
import sys
import warnings
from typing import Any

import numpy as np

from verifier import check_network
from verifier.networks import DeepReLU, XORNet

NETWORKS: dict[str, Any] = {
    "XOR [2, 2, 2, 1] (13 parameters)": XORNet(),
    "DeepReLU [4, 5, 3, 1] (47 parameters)": DeepReLU([4, 5, 3, 1]),
    "DeepReLU [5, 10, 10, 1] stable (181 parameters)": DeepReLU([5, 10, 10, 1], cost_form="stable"),
}
SLIPS = (1e-4, 1e-6)


def one_element_off(net: Any, seed: int, rel: float) -> tuple[Any, Any, Any, Any]:
    """Parameters, data and a backward with one seeded element times ``1 + rel``."""
    rng = np.random.default_rng(seed)
    params = net.init_params(rng)
    X, Y = net.example_data(rng, m=8) if isinstance(net, DeepReLU) else net.example_data(rng)
    grads = net.backward(params, X, Y)
    keys = list(grads) if isinstance(grads, dict) else list(range(len(grads)))
    # one element of the gradient that is not zero (a zero times 1 + rel is no slip): a tensor
    # chosen uniformly among those with one, then one of its nonzero elements
    keys = [k for k in keys if np.any(np.asarray(grads[k]) != 0)]
    key = keys[int(rng.integers(len(keys)))]
    nonzero = np.flatnonzero(np.asarray(grads[key]).reshape(-1))
    index = int(nonzero[int(rng.integers(nonzero.size))])

    def backward(p: Any, X: Any, Y: Any) -> Any:
        out = net.backward(p, X, Y)
        out = (
            {k: np.array(v, dtype=float) for k, v in out.items()}
            if isinstance(out, dict)
            else [np.array(v, dtype=float) for v in out]
        )
        out[key].reshape(-1)[index] *= 1 + rel
        return out

    return params, X, Y, backward


def main(draws: int) -> int:
    warnings.simplefilter("ignore")
    print(f"{'network':48} {'slip':>6} {'mode':4}  caught  passed  inconclusive  (of {draws})")
    alarms = 0
    for name, net in NETWORKS.items():
        for seed in range(draws):  # false alarms on the correct backward, both modes
            params, X, Y, _ = one_element_off(net, seed, 0.0)
            for mode in ("full", "fast"):
                alarms += check_network(net, params, X, Y, mode=mode, seed=seed).status == "fail"
        for rel in SLIPS:
            for mode in ("full", "fast"):
                counts: collections.Counter[str] = collections.Counter()
                for seed in range(draws):
                    params, X, Y, backward = one_element_off(net, seed, rel)
                    report = check_network(net, params, X, Y, backward=backward, mode=mode, seed=seed)
                    counts[report.status] += 1
                print(
                    f"{name:48} {rel:6.0e} {mode:4}  {counts['fail']:6}  {counts['pass']:6}"
                    f"  {counts['inconclusive']:12}"
                )
    print(f"\nfalse alarms on the correct backward: {alarms}")
    return 1 if alarms else 0


if __name__ == "__main__":
    raise SystemExit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 40))
