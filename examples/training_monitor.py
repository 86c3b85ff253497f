"""Gradient checks during training: the blog's XOR loop with a monitor every 500 epochs.

With the correct backward the checks pass all along; with the blog's backprop the first
check stops training and names the bug.
"""

from verifier import GradientCheckFailed, GradientMonitor
from verifier.frontends import published as seeds
from verifier.networks import XORNet

if __name__ == "__main__":
    net = XORNet([2, 2, 2, 1])
    X, y = seeds.xor_data()
    monitor = GradientMonitor(lambda p: net.cost(p, X, y), lambda p: net.backward(p, X, y), every=500)
    theta, history = net.train(X, y, eta=0.1, epochs=3000, callback=monitor)
    print("correct backward:", [(e.iteration, e.status) for e in monitor.history])
    blog = GradientMonitor(lambda p: net.cost(p, X, y), lambda p: seeds.blog_backprop(p, X, y), every=500)
    try:
        net.train(X, y, eta=0.1, epochs=3000, callback=blog, backward=seeds.blog_backprop)
    except GradientCheckFailed as failure:
        print(f"blog's backprop: stopped at epoch {failure.iteration}")
        print("\n".join(line for line in str(failure.report).splitlines() if line.startswith("  x")))
