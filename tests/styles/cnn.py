"""A numpy CNN written with loops, its ``conv(image, label, params, ...)`` running the forward
and the backward together and returning ``grads, loss`` (the parameters a list)."""

import numpy as np

SLIP = None  # "= for +=" in the filter gradient loop, "dense transposed"


def convolution(image, filt, bias, s=1):
    (n_f, n_c_f, f, _) = filt.shape
    n_c, in_dim, _ = image.shape
    out_dim = int((in_dim - f) / s) + 1
    out = np.zeros((n_f, out_dim, out_dim))
    for curr_f in range(n_f):
        curr_y = out_y = 0
        while curr_y + f <= in_dim:
            curr_x = out_x = 0
            while curr_x + f <= in_dim:
                out[curr_f, out_y, out_x] = (
                    np.sum(filt[curr_f] * image[:, curr_y : curr_y + f, curr_x : curr_x + f])
                    + bias[curr_f, 0]
                )
                curr_x += s
                out_x += 1
            curr_y += s
            out_y += 1
    return out


def maxpool(image, f=2, s=2):
    n_c, h_prev, w_prev = image.shape
    h = int((h_prev - f) / s) + 1
    w = int((w_prev - f) / s) + 1
    downsampled = np.zeros((n_c, h, w))
    for i in range(n_c):
        curr_y = out_y = 0
        while curr_y + f <= h_prev:
            curr_x = out_x = 0
            while curr_x + f <= w_prev:
                downsampled[i, out_y, out_x] = np.max(image[i, curr_y : curr_y + f, curr_x : curr_x + f])
                curr_x += s
                out_x += 1
            curr_y += s
            out_y += 1
    return downsampled


def softmax(X):
    out = np.exp(X - np.max(X))
    return out / np.sum(out)


def categoricalCrossEntropy(probs, label):
    return -np.sum(label * np.log(probs))


def convolutionBackward(dconv_prev, conv_in, filt, s):
    (n_f, n_c, f, _) = filt.shape
    (_, orig_dim, _) = conv_in.shape
    dout = np.zeros(conv_in.shape)
    dfilt = np.zeros(filt.shape)
    dbias = np.zeros((n_f, 1))
    for curr_f in range(n_f):
        curr_y = out_y = 0
        while curr_y + f <= orig_dim:
            curr_x = out_x = 0
            while curr_x + f <= orig_dim:
                if SLIP == "= for +=":
                    dfilt[curr_f] = (
                        dconv_prev[curr_f, out_y, out_x]
                        * conv_in[:, curr_y : curr_y + f, curr_x : curr_x + f]
                    )
                else:
                    dfilt[curr_f] += (
                        dconv_prev[curr_f, out_y, out_x]
                        * conv_in[:, curr_y : curr_y + f, curr_x : curr_x + f]
                    )
                dout[:, curr_y : curr_y + f, curr_x : curr_x + f] += (
                    dconv_prev[curr_f, out_y, out_x] * filt[curr_f]
                )
                curr_x += s
                out_x += 1
            curr_y += s
            out_y += 1
        dbias[curr_f] = np.sum(dconv_prev[curr_f])
    return dout, dfilt, dbias


def nanargmax(arr):
    idx = np.nanargmax(arr)
    idxs = np.unravel_index(idx, arr.shape)
    return idxs


def maxpoolBackward(dpool, orig, f, s):
    (n_c, orig_dim, _) = orig.shape
    dout = np.zeros(orig.shape)
    for curr_c in range(n_c):
        curr_y = out_y = 0
        while curr_y + f <= orig_dim:
            curr_x = out_x = 0
            while curr_x + f <= orig_dim:
                (a, b) = nanargmax(orig[curr_c, curr_y : curr_y + f, curr_x : curr_x + f])
                dout[curr_c, curr_y + a, curr_x + b] = dpool[curr_c, out_y, out_x]
                curr_x += s
                out_x += 1
            curr_y += s
            out_y += 1
    return dout


def conv(image, label, params, conv_s, pool_f, pool_s):
    [f1, w3, b1, b3] = params
    conv1 = convolution(image, f1, b1, conv_s)
    conv1[conv1 <= 0] = 0
    pooled = maxpool(conv1, pool_f, pool_s)
    (nf2, dim2, _) = pooled.shape
    fc = pooled.reshape((nf2 * dim2 * dim2, 1))
    out = w3.dot(fc) + b3
    probs = softmax(out)
    loss = categoricalCrossEntropy(probs, label)
    dout = probs - label
    if SLIP == "dense transposed":
        dw3 = fc.dot(dout.T).T
    else:
        dw3 = dout.dot(fc.T)
    db3 = np.sum(dout, axis=1).reshape(b3.shape)
    dfc = w3.T.dot(dout)
    dpool = dfc.reshape(pooled.shape)
    dconv1 = maxpoolBackward(dpool, conv1, pool_f, pool_s)
    dconv1[conv1 <= 0] = 0
    dimage, df1, db1 = convolutionBackward(dconv1, image, f1, conv_s)
    grads = [df1, dw3, db1, db3]
    return grads, loss
