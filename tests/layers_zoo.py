"""The course's layer set, written the way its students write it (plain numpy, loops into
preallocated arrays, ``(out, cache)`` and ``backward(dout, cache)``), each with one slip.

``LAYERS[name] = (forward, backward, backward_with_slip, make_inputs, wrong)``: ``wrong`` is
the input whose gradient the slip breaks (``x`` for a broken ``dx``).
"""

from __future__ import annotations

import functools

import numpy as np


def affine_forward(x, w, b):
    out = x.reshape(x.shape[0], -1).dot(w) + b
    return out, (x, w, b)


def affine_backward(dout, cache, slip=False):
    x, w, b = cache
    x2 = x.reshape(x.shape[0], -1)
    dx = dout.dot(w.T).reshape(x.shape)
    dw = x2.T.dot(dout)
    if slip:
        dw = dw / x.shape[0]  # a stray average
    db = np.sum(dout, axis=0)
    return dx, dw, db


def relu_forward(x):
    return np.maximum(0, x), x


def relu_backward(dout, cache, slip=False):
    x = cache
    dx = dout.copy()
    dx[x <= 0] = 0
    if slip:
        dx = (x > 0).astype(float)  # forgot the upstream gradient
    return dx


def conv_forward_naive(x, w, b, conv_param):
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out = 1 + (H + 2 * pad - HH) // stride
    W_out = 1 + (W + 2 * pad - WW) // stride
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant")
    out = np.zeros((N, F, H_out, W_out))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    window = x_pad[n, :, i * stride : i * stride + HH, j * stride : j * stride + WW]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    return out, (x, w, b, conv_param)


def conv_backward_naive(dout, cache, slip=False):
    x, w, b, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    F, _, HH, WW = w.shape
    N, _, H_out, W_out = dout.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant")
    dx_pad = np.zeros_like(x_pad)
    dw = np.zeros_like(w)
    db = np.sum(dout, axis=(0, 2, 3))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    hs, ws = i * stride, j * stride
                    dw[f] += x_pad[n, :, hs : hs + HH, ws : ws + WW] * dout[n, f, i, j]
                    if slip:  # overwrites what the overlapping windows added
                        dx_pad[n, :, hs : hs + HH, ws : ws + WW] = w[f] * dout[n, f, i, j]
                    else:
                        dx_pad[n, :, hs : hs + HH, ws : ws + WW] += w[f] * dout[n, f, i, j]
    dx = dx_pad[:, :, pad : pad + x.shape[2], pad : pad + x.shape[3]]
    return dx, dw, db


def max_pool_forward_naive(x, pool_param):
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    H_out, W_out = 1 + (H - ph) // stride, 1 + (W - pw) // stride
    out = np.zeros((N, C, H_out, W_out))
    for i in range(H_out):
        for j in range(W_out):
            window = x[:, :, i * stride : i * stride + ph, j * stride : j * stride + pw]
            out[:, :, i, j] = np.max(window, axis=(2, 3))
    return out, (x, pool_param)


def max_pool_backward_naive(dout, cache, slip=False):
    x, pool_param = cache
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H_out, W_out = dout.shape
    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    window = x[n, c, i * stride : i * stride + ph, j * stride : j * stride + pw]
                    if slip:  # spreads the gradient over the whole window
                        dx[n, c, i * stride : i * stride + ph, j * stride : j * stride + pw] += dout[
                            n, c, i, j
                        ]
                        continue
                    a, b = np.unravel_index(np.argmax(window), window.shape)
                    dx[n, c, i * stride + a, j * stride + b] += dout[n, c, i, j]
    return dx


def batchnorm_forward(x, gamma, beta, bn_param):
    eps, momentum = bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.9)
    D = x.shape[1]
    running_mean = bn_param.get("running_mean", np.zeros(D))
    mu = np.mean(x, axis=0)
    var = np.var(x, axis=0)
    xhat = (x - mu) / np.sqrt(var + eps)
    out = gamma * xhat + beta
    bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mu
    return out, (x, xhat, mu, var, eps, gamma)


def batchnorm_backward(dout, cache, slip=False):
    x, xhat, mu, var, eps, gamma = cache
    N = x.shape[0]
    dgamma = np.sum(dout * xhat, axis=0)
    dbeta = np.sum(dout, axis=0)
    dxhat = dout * gamma
    if slip:  # the textbook shortcut without its mean terms
        dx = dxhat / np.sqrt(var + eps)
    else:
        dx = (N * dxhat - np.sum(dxhat, axis=0) - xhat * np.sum(dxhat * xhat, axis=0)) / (
            N * np.sqrt(var + eps)
        )
    return dx, dgamma, dbeta


def dropout_forward(x, dropout_param):
    p, mode = dropout_param["p"], dropout_param["mode"]
    if "seed" in dropout_param:
        np.random.seed(dropout_param["seed"])  # noqa: NPY002  (the course's code, as students write it)
    mask = None
    if mode == "train":
        mask = (np.random.rand(*x.shape) < p) / p  # noqa: NPY002
        out = x * mask
    else:
        out = x
    return out, (dropout_param, mask)


def dropout_backward(dout, cache, slip=False):
    dropout_param, mask = cache
    if dropout_param["mode"] != "train":
        return dout
    if slip:  # the mask without its 1/p
        return dout * (mask > 0)
    return dout * mask


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    next_h = np.tanh(x.dot(Wx) + prev_h.dot(Wh) + b)
    return next_h, (x, prev_h, Wx, Wh, next_h)


def rnn_step_backward(dnext_h, cache, slip=False):
    x, prev_h, Wx, Wh, next_h = cache
    dtanh = dnext_h * (1 - next_h**2)
    dx = dtanh.dot(Wx.T)
    dprev_h = dtanh.dot(Wh.T)
    dWx = x.T.dot(dtanh)
    dWh = (next_h if slip else prev_h).T.dot(dtanh)  # the slip: the new state for the old
    db = np.sum(dtanh, axis=0)
    return dx, dprev_h, dWx, dWh, db


def sigmoid(x):
    pos = x >= 0
    z = np.zeros_like(x)
    z[pos] = np.exp(-x[pos])
    z[~pos] = np.exp(x[~pos])
    top = np.ones_like(x)
    top[~pos] = z[~pos]
    return top / (1 + z)


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    H = prev_h.shape[1]
    a = x.dot(Wx) + prev_h.dot(Wh) + b
    i, f, o, g = (
        sigmoid(a[:, :H]),
        sigmoid(a[:, H : 2 * H]),
        sigmoid(a[:, 2 * H : 3 * H]),
        np.tanh(a[:, 3 * H :]),
    )
    next_c = f * prev_c + i * g
    next_h = o * np.tanh(next_c)
    return next_h, next_c, (x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c)


def lstm_step_backward(dnext_h, dnext_c, cache, slip=False):
    x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c = cache
    tc = np.tanh(next_c)
    dc = dnext_c + dnext_h * o * (1 - tc**2)
    di, df, do, dg = dc * g, dc * (next_c if slip else prev_c), dnext_h * tc, dc * i
    da = np.hstack((di * i * (1 - i), df * f * (1 - f), do * o * (1 - o), dg * (1 - g**2)))
    return da.dot(Wx.T), da.dot(Wh.T), dc * f, x.T.dot(da), prev_h.T.dot(da), np.sum(da, axis=0)


def softmax_loss(x, y, slip=False):
    shifted = x - np.max(x, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    N = x.shape[0]
    loss = -np.sum(log_probs[np.arange(N), y]) / N
    dx = np.exp(log_probs)
    dx[np.arange(N), y] -= 1
    if not slip:  # the slip: the 1/N forgotten
        dx /= N
    return loss, dx


def svm_loss(x, y, slip=False):
    N = x.shape[0]
    correct = x[np.arange(N), y]
    margins = np.maximum(0, x - correct[:, None] + 1.0)
    margins[np.arange(N), y] = 0
    loss = np.sum(margins) / N
    num_pos = np.sum(margins > 0, axis=1)
    dx = np.zeros_like(x)
    dx[margins > 0] = 1
    if not slip:  # the slip: the correct class's -num_pos forgotten
        dx[np.arange(N), y] -= num_pos
    dx /= N
    return loss, dx


def _rng(seed):
    return np.random.default_rng(seed)


def _affine(seed):
    r = _rng(seed)
    return r.standard_normal((3, 2, 3)), r.standard_normal((6, 4)), r.standard_normal(4)


def _relu(seed):  # integer data: inputs exactly at 0
    return (_rng(seed).integers(-2, 3, (4, 5)).astype(float),)


def _conv(seed):
    r = _rng(seed)
    return (
        r.standard_normal((2, 2, 5, 5)),
        r.standard_normal((3, 2, 3, 3)),
        r.standard_normal(3),
        {"stride": 1, "pad": 1},
    )


def _pool(seed):  # integer data: tied maxima in the windows
    return (
        _rng(seed).integers(-1, 2, (2, 2, 4, 4)).astype(float),
        {"pool_height": 2, "pool_width": 2, "stride": 2},
    )


def _batchnorm(seed):
    r = _rng(seed)
    return 2 + 3 * r.standard_normal((6, 4)), r.standard_normal(4), r.standard_normal(4), {"mode": "train"}


def _dropout(seed):
    return _rng(seed).standard_normal((5, 6)), {"mode": "train", "p": 0.6, "seed": 123}


def _rnn(seed):
    r = _rng(seed)
    N, D, H = 3, 4, 5
    return (
        r.standard_normal((N, D)),
        r.standard_normal((N, H)),
        0.5 * r.standard_normal((D, H)),
        0.5 * r.standard_normal((H, H)),
        0.1 * r.standard_normal(H),
    )


def _lstm(seed):
    r = _rng(seed)
    N, D, H = 3, 4, 5
    return (
        r.standard_normal((N, D)),
        r.standard_normal((N, H)),
        r.standard_normal((N, H)),
        0.5 * r.standard_normal((D, 4 * H)),
        0.5 * r.standard_normal((H, 4 * H)),
        0.1 * r.standard_normal(4 * H),
    )


def _loss(seed):
    r = _rng(seed)
    return r.standard_normal((6, 4)), r.integers(0, 4, 6)


def _slip(fn):
    @functools.wraps(fn)
    def with_slip(*args):
        return fn(*args, slip=True)

    return with_slip


LAYERS = {
    "affine": (affine_forward, affine_backward, _slip(affine_backward), _affine, "w"),
    "relu at 0": (relu_forward, relu_backward, _slip(relu_backward), _relu, "x"),
    "conv naive": (conv_forward_naive, conv_backward_naive, _slip(conv_backward_naive), _conv, "x"),
    "max-pool ties": (
        max_pool_forward_naive,
        max_pool_backward_naive,
        _slip(max_pool_backward_naive),
        _pool,
        "x",
    ),
    "batchnorm": (batchnorm_forward, batchnorm_backward, _slip(batchnorm_backward), _batchnorm, "x"),
    "dropout": (dropout_forward, dropout_backward, _slip(dropout_backward), _dropout, "x"),
    "rnn step": (rnn_step_forward, rnn_step_backward, _slip(rnn_step_backward), _rnn, "Wh"),
    "lstm step": (lstm_step_forward, lstm_step_backward, _slip(lstm_step_backward), _lstm, "x"),
}
#: Losses: ``(loss, loss_with_slip, make_inputs)``; the slip is in ``dx``.
LOSSES = {"softmax": (softmax_loss, _slip(softmax_loss), _loss), "svm": (svm_loss, _slip(svm_loss), _loss)}
