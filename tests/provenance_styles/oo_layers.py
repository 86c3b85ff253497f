"""Object-oriented layers, as "Neural Networks from Scratch" writes them: each layer keeps
its inputs in ``forward`` and sets ``self.dweights``, ``self.dbiases``, ``self.dinputs`` in
``backward``."""

import numpy as np


class Layer_Dense:
    def __init__(self, weights, biases):
        self.weights = weights
        self.biases = biases

    def forward(self, inputs):
        self.inputs = inputs
        self.output = np.dot(inputs, self.weights) + self.biases

    def backward(self, dvalues):
        self.dweights = np.dot(self.inputs.T, dvalues)
        self.dbiases = np.sum(dvalues, axis=0, keepdims=True)
        self.dinputs = np.dot(dvalues, self.weights.T)


class Activation_ReLU:
    def forward(self, inputs):
        self.inputs = inputs
        self.output = np.maximum(0, inputs)

    def backward(self, dvalues):
        self.dinputs = dvalues.copy()
        self.dinputs[self.inputs <= 0] = 0


class Activation_Tanh:
    def forward(self, inputs):
        self.inputs = inputs
        self.output = np.tanh(inputs)

    def backward(self, dvalues):
        self.dinputs = dvalues * (1 - self.output**2)


class Activation_Softmax_Loss_CategoricalCrossentropy:
    def forward(self, inputs, y_true):
        exp_values = np.exp(inputs - np.max(inputs, axis=1, keepdims=True))
        self.output = exp_values / np.sum(exp_values, axis=1, keepdims=True)
        samples = len(self.output)
        correct_confidences = self.output[range(samples), y_true]
        return np.mean(-np.log(correct_confidences))

    def backward(self, dvalues, y_true):
        samples = len(dvalues)
        self.dinputs = dvalues.copy()
        self.dinputs[range(samples), y_true] -= 1
        self.dinputs = self.dinputs / samples


class Model:
    def __init__(self, params):
        self.dense1 = Layer_Dense(params["W1"], params["b1"])
        self.activation1 = Activation_Tanh()
        self.dense2 = Layer_Dense(params["W2"], params["b2"])
        self.activation2 = Activation_ReLU()
        self.dense3 = Layer_Dense(params["W3"], params["b3"])
        self.loss_activation = Activation_Softmax_Loss_CategoricalCrossentropy()

    def forward(self, X, y):
        self.dense1.forward(X)
        self.activation1.forward(self.dense1.output)
        self.dense2.forward(self.activation1.output)
        self.activation2.forward(self.dense2.output)
        self.dense3.forward(self.activation2.output)
        return self.loss_activation.forward(self.dense3.output, y)

    def backward(self, y):
        self.loss_activation.backward(self.loss_activation.output, y)
        self.dense3.backward(self.loss_activation.dinputs)
        self.activation2.backward(self.dense3.dinputs)
        self.dense2.backward(self.activation2.dinputs)
        self.activation1.backward(self.dense2.dinputs)
        self.dense1.backward(self.activation1.dinputs)
