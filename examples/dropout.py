"""Why gradient checking "cannot be used with dropout", and how it can.

A finite difference compares the cost at two points. With the dropout mask redrawn at every
evaluation, the two costs come from two different networks, so their difference measures
the change of mask, not the slope. Replay the random state (the same masks in every cost
evaluation and in the backward pass) and the check works, and finds dropout bugs.
"""

import warnings

import numpy as np

from verifier import NonDeterministicCostWarning, check_network
from verifier.core.params import layout_of
from verifier.frontends import published as seeds
from verifier.networks import DropoutDeepReLU
from verifier.networks.dropout import DROPOUT_BUGS


def notebook_difference(net, params, X, Y):
    layout, theta = layout_of(params)
    grad, _ = layout.flatten_like(net.backward(params, X, Y))
    approx = seeds.seed_loop(lambda v: net.cost(layout.unflatten(v), X, Y), theta, 1e-7)
    return np.linalg.norm(grad - approx) / (np.linalg.norm(grad) + np.linalg.norm(approx))


if __name__ == "__main__":
    for replay in (False, True):
        net = DropoutDeepReLU([4, 5, 3, 1], keep_prob=0.8, replay=replay)
        rng = np.random.default_rng(1)
        params = net.init_params(rng)
        X, Y = net.example_data(rng, m=5)
        print(f"== {net!r}")
        print(f"notebook's check (threshold 2e-7): difference {notebook_difference(net, params, X, Y):.3g}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NonDeterministicCostWarning)
            report = check_network(net, params, X, Y)
        print(f"verifier: {report.status}")
        print("\n".join("  " + f.message for f in report.findings[:1]), end="\n\n")
    for name, (make, _) in DROPOUT_BUGS.items():
        report = check_network(net, params, X, Y, backward=make(net))
        print(f"== replayed masks, planted bug '{name}': {report.status}, wrong: {report.wrong_tensors}")
