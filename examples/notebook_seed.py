"""The notebook's network and test case, checked with its own forward/backward functions.

The notebook's backward returns ``dW1``-style keys plus ``dZ``/``dA`` intermediates; the
verifier accepts them as they are. The exercise's original backprop had two planted bugs.
"""

from verifier import check_network
from verifier.frontends import published as seeds
from verifier.networks import DeepReLU

if __name__ == "__main__":
    x, y, parameters = seeds.notebook_test_case()
    net = DeepReLU([4, 5, 3, 1])
    for name, backward in [
        ("correct backprop", seeds.notebook_backward),
        ("the exercise's original backprop", seeds.notebook_backward_planted),
    ]:
        report = check_network(net, parameters, x, y, backward=seeds.notebook_style(backward))
        print(f"== {name}: {report.status}\n{report}\n")
