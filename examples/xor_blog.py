"""The blog's XOR network: train it with its loop, then find the factor of 2 it could not explain."""

import numpy as np

from verifier import check_network
from verifier.frontends import published as seeds
from verifier.networks import XORNet

if __name__ == "__main__":
    net = XORNet([2, 2, 2, 1])
    X, y = seeds.xor_data()
    theta, history = net.train(X, y, eta=0.1, epochs=10000)
    print("cost every 1000 epochs:", np.round(history[::1000], 4))
    print("predictions:", net.predict(theta, X).ravel().round(3), "targets:", y.ravel())
    report = check_network(net, theta, X, y, backward=seeds.blog_backprop)
    print(report)
