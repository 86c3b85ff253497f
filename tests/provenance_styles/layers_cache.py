"""A two-layer classifier from layer functions with caches, as the CS231n assignments write
them: ``affine_forward``/``affine_backward``, ``relu_*``, ``softmax_loss`` returning (loss, dx)."""

import numpy as np


def affine_forward(x, w, b):
    out = np.dot(x.reshape(x.shape[0], -1), w) + b
    cache = (x, w, b)
    return out, cache


def affine_backward(dout, cache):
    x, w, b = cache
    dx = np.dot(dout, w.T).reshape(x.shape)
    dw = np.dot(x.reshape(x.shape[0], -1).T, dout)
    db = np.sum(dout, axis=0)
    return dx, dw, db


def relu_forward(x):
    out = np.maximum(0, x)
    cache = x
    return out, cache


def relu_backward(dout, cache):
    x = cache
    dx = dout * (x > 0)
    return dx


def softmax_loss(x, y):
    shifted_logits = x - np.max(x, axis=1, keepdims=True)
    Z = np.sum(np.exp(shifted_logits), axis=1, keepdims=True)
    log_probs = shifted_logits - np.log(Z)
    probs = np.exp(log_probs)
    N = x.shape[0]
    loss = -np.sum(log_probs[np.arange(N), y]) / N
    dx = probs.copy()
    dx[np.arange(N), y] -= 1
    dx /= N
    return loss, dx


def two_layer_loss(params, X, y):
    h, cache1 = affine_forward(X, params["W1"], params["b1"])
    a, cache2 = relu_forward(h)
    scores, cache3 = affine_forward(a, params["W2"], params["b2"])
    loss, dscores = softmax_loss(scores, y)
    grads = {}
    da, grads["W2"], grads["b2"] = affine_backward(dscores, cache3)
    dh = relu_backward(da, cache2)
    dX, grads["W1"], grads["b1"] = affine_backward(dh, cache1)
    return loss, grads
