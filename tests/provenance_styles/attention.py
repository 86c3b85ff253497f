"""One head of scaled dot-product self-attention with an output projection, forward and
backward written out by hand as a from-scratch tutorial does."""

import numpy as np


def softmax(x):
    e = np.exp(x - np.max(x, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def attention_forward(X, Wq, Wk, Wv, Wo):
    Q = X @ Wq
    K = X @ Wk
    V = X @ Wv
    d = Q.shape[-1]
    S = Q @ K.T / np.sqrt(d)
    P = softmax(S)
    H = P @ V
    out = H @ Wo
    cache = (X, Q, K, V, P, H, d)
    return out, cache


def attention_backward(dout, cache, Wq, Wk, Wv, Wo):
    X, Q, K, V, P, H, d = cache
    dWo = H.T @ dout
    dH = dout @ Wo.T
    dP = dH @ V.T
    dV = P.T @ dH
    dS = P * (dP - np.sum(dP * P, axis=-1, keepdims=True))
    dS = dS / np.sqrt(d)
    dQ = dS @ K
    dK = dS.T @ Q
    dWq = X.T @ dQ
    dWk = X.T @ dK
    dWv = X.T @ dV
    return dWq, dWk, dWv, dWo
