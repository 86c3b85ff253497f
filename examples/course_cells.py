"""The sequence-models course's RNN cell, with its parameters dict and gradients dict,
checked as it is; then a transposed dWaa, which the check names.

Run: python examples/course_cells.py
"""

import numpy as np

import verifier


def softmax(x):
    e_x = np.exp(x - np.max(x, axis=0, keepdims=True))
    return e_x / e_x.sum(axis=0, keepdims=True)


def rnn_cell_forward(xt, a_prev, parameters):
    Wax, Waa, Wya = parameters["Wax"], parameters["Waa"], parameters["Wya"]
    ba, by = parameters["ba"], parameters["by"]
    a_next = np.tanh(np.dot(Wax, xt) + np.dot(Waa, a_prev) + ba)
    yt_pred = softmax(np.dot(Wya, a_next) + by)
    cache = (a_next, a_prev, xt, parameters)
    return a_next, yt_pred, cache


def rnn_cell_backward(da_next, cache):
    (a_next, a_prev, xt, parameters) = cache
    dtanh = (1 - a_next**2) * da_next
    dxt = np.dot(parameters["Wax"].T, dtanh)
    dWax = np.dot(dtanh, xt.T)
    da_prev = np.dot(parameters["Waa"].T, dtanh)
    dWaa = np.dot(dtanh, a_prev.T)
    dba = np.sum(dtanh, axis=1, keepdims=True)
    return {"dxt": dxt, "da_prev": da_prev, "dWax": dWax, "dWaa": dWaa, "dba": dba}


def rnn_cell_backward_slipped(da_next, cache):
    gradients = rnn_cell_backward(da_next, cache)
    (a_next, a_prev, xt, parameters) = cache
    gradients["dWaa"] = np.dot(a_prev, ((1 - a_next**2) * da_next).T)  # the slip: transposed
    return gradients


rng = np.random.default_rng(1)
xt, a_prev = rng.standard_normal((3, 10)), rng.standard_normal((5, 10))
parameters = {
    "Wax": rng.standard_normal((5, 3)),
    "Waa": rng.standard_normal((5, 5)),
    "Wya": rng.standard_normal((2, 5)),
    "ba": rng.standard_normal((5, 1)),
    "by": rng.standard_normal((2, 1)),
}

if __name__ == "__main__":
    print(verifier.check_layer(rnn_cell_forward, rnn_cell_backward, xt, a_prev, parameters))
    print()
    report = verifier.check_layer(rnn_cell_forward, rnn_cell_backward_slipped, xt, a_prev, parameters)
    print(f"with the slip: {report.status}, wrong: {', '.join(report.wrong_tensors)}")
