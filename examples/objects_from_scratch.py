"""Layer objects, written the way the "from scratch" book writes them, checked as they are.

Run: python examples/objects_from_scratch.py (or from the shell:
verifier objects examples/objects_from_scratch.py:forward,backward dense1 dense2)
"""

import numpy as np

import verifier


class Layer_Dense:
    def __init__(self, n_inputs, n_neurons, rng):
        self.weights = 0.5 * rng.standard_normal((n_inputs, n_neurons))
        self.biases = np.zeros((1, n_neurons))

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


class Activation_Softmax_Loss_CategoricalCrossentropy:
    def forward(self, inputs, y_true):
        exp_values = np.exp(inputs - np.max(inputs, axis=1, keepdims=True))
        self.output = exp_values / np.sum(exp_values, axis=1, keepdims=True)
        return np.mean(-np.log(np.clip(self.output[range(len(self.output)), y_true], 1e-7, 1 - 1e-7)))

    def backward(self, dvalues, y_true):
        samples = len(dvalues)
        self.dinputs = dvalues.copy()
        self.dinputs[range(samples), y_true] -= 1
        self.dinputs = self.dinputs / samples


class Forgot_The_Batch(Activation_Softmax_Loss_CategoricalCrossentropy):
    def backward(self, dvalues, y_true):  # the slip: not divided by the number of samples
        self.dinputs = dvalues.copy()
        self.dinputs[range(len(dvalues)), y_true] -= 1


rng = np.random.default_rng(0)
X, y = rng.standard_normal((30, 2)), rng.integers(0, 3, 30)
dense1, activation1, dense2 = Layer_Dense(2, 8, rng), Activation_ReLU(), Layer_Dense(8, 3, rng)
loss_activation = Activation_Softmax_Loss_CategoricalCrossentropy()


# the glue: your own calls, as you write them in the training loop
def forward():
    dense1.forward(X)
    activation1.forward(dense1.output)
    dense2.forward(activation1.output)
    return loss_activation.forward(dense2.output, y)


def backward():
    loss_activation.backward(loss_activation.output, y)
    dense2.backward(loss_activation.dinputs)
    activation1.backward(dense2.dinputs)
    dense1.backward(activation1.dinputs)


if __name__ == "__main__":
    import warnings

    warnings.simplefilter("ignore")  # the dinputs are named unchecked in the report too
    print(verifier.check_objects(forward, backward, dense1, dense2))
    print()
    loss_activation = Forgot_The_Batch()
    report = verifier.check_objects(forward, backward, dense1, dense2)
    print(f"with the slip: {report.status}: {report.findings[0].message}")
