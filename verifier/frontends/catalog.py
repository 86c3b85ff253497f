"""What the commands can name: built-in networks, benchmark sizes and methods, adapter styles.

Data only, with no numerical import, so that ``verifier --help`` starts in a blink; the
modules that do the work take their names from here.
"""

from __future__ import annotations

#: The built-in networks ``verifier sweep`` and ``verifier reference`` can build.
NETWORK_NAMES = ("deep-relu", "xor")
#: The ways ``verifier bench`` times, and the optional peers (they need torch or jax).
BENCH_METHODS = (
    "seed-loop",
    "scipy",
    "default",
    "centered",
    "user-default",
    "user-centered",
    "autograd",
    "fast",
    "backward",
)
#: The sizes ``verifier bench`` measures by default (its default run takes a minute or two).
BENCH_DEFAULT_SIZES = (47, 6337, 99073)
BENCH_PEERS = ("torch-gradcheck", "torch-fast", "jax-check-grads")
#: The package each peer needs.
PEER_PACKAGE = {"torch-gradcheck": "torch", "torch-fast": "torch", "jax-check-grads": "jax"}
#: Layer sizes and examples by parameter count: the notebook's network, then the sizes FIELD.md measured.
BENCH_SIZES: dict[int, tuple[list[int], int]] = {
    47: ([4, 5, 3, 1], 3),
    6337: ([32, 64, 64, 1], 32),
    99073: ([128, 256, 256, 1], 32),
    394753: ([256, 512, 512, 1], 32),
    1050625: ([512, 1024, 512, 1], 32),
}
#: How ``verifier check`` calls the user's functions (see :mod:`verifier.frontends.adapters`).
STYLES = {
    "notebook": "FORWARD(X, Y, parameters) -> (cost, cache) and BACKWARD(X, Y, cache) -> gradients",
    "functions": "FORWARD(params, X, Y) -> cost and BACKWARD(params, X, Y) -> gradients",
}
