"""The verification suite: which networks, sizes, seeds and known-buggy variants ``verifier run`` checks.

Every case states what must come out: correct backprops must pass, the seeds'
known-buggy variants must fail with the right tensors named. The seed
reproductions (the figures the two documents printed, recomputed with their
own procedures) come first.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..api import check_network
from ..core.params import layout_of
from ..networks import DeepReLU, Scalar, XORNet
from ..report import Report
from . import published


@dataclass(frozen=True)
class Case:
    """One check the suite runs, and what must come out of it.

    Attributes
    ----------
    name : str
    build : callable
        ``build() -> (net, params, X, Y, backward or None)``.
    expect : {"pass", "fail"}
    wrong : tuple of str
        For ``"fail"``: exactly the tensors that must be named.
    """

    name: str
    build: Callable[[], tuple[Any, Any, Any, Any, Any]]
    expect: str = "pass"
    wrong: tuple[str, ...] = ()


@dataclass
class CaseResult:
    """The outcome of one case."""

    name: str
    params: int
    expect: str
    status: str
    wrong: list[str]
    expected_wrong: list[str]
    seconds: float
    headlines: list[str]
    report: Report = field(repr=False)

    @property
    def as_expected(self) -> bool:
        """Did the case come out as it must?"""
        if self.expect == "pass":
            return self.status == "pass"
        return self.status == "fail" and sorted(self.wrong) == sorted(self.expected_wrong)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "params": self.params,
            "expect": self.expect,
            "status": self.status,
            "as_expected": self.as_expected,
            "wrong_tensors": self.wrong,
            "expected_wrong": self.expected_wrong,
            "seconds": self.seconds,
            "findings": self.headlines,
        }


@dataclass
class Reproduction:
    """A figure from a seed document, recomputed with the document's own procedure."""

    what: str
    printed: str
    value: float

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def reproductions() -> list[Reproduction]:
    """The seeds' printed figures, recomputed (never typed in)."""
    x, y, parameters = published.notebook_test_case()
    _, cache = published.notebook_forward(x, y, parameters)
    correct = published.notebook_gradient_check_n(parameters, published.notebook_backward(x, y, cache), x, y)
    planted_grads = published.notebook_backward_planted(x, y, cache)
    planted = published.notebook_gradient_check_n(parameters, planted_grads, x, y)
    X, Y = published.xor_data()
    net = XORNet()
    theta = net.init_params(np.random.default_rng(0), low=0.0, high=1.0)
    ratios = np.concatenate(
        [
            (b / t).ravel()
            for b, t in zip(published.blog_backprop(theta, X, Y), net.backward(theta, X, Y), strict=True)
        ]
    )
    return [
        Reproduction(
            "notebook 1-D check, x = 2, theta = 4, eps = 1e-5",
            "7.826683745609991e-12",
            published.one_d_gradient_check(),
        ),
        Reproduction("notebook N-D check, correct backprop, eps = 1e-7", "1.1885552035482147e-07", correct),
        Reproduction("notebook N-D check, planted bugs (dW2 x2, db1 4./m)", "0.2850931567761623", planted),
        Reproduction(
            "blog backprop / true gradient, XOR data (max over entries)",
            "2 (divided out by hand)",
            float(np.max(ratios)),
        ),
    ]


def _random(net: Any, seed: int, **init: Any) -> Callable[[], tuple[Any, ...]]:
    def build() -> tuple[Any, ...]:
        rng = np.random.default_rng(seed)
        params = net.init_params(rng, **init)
        X, Y = net.example_data(rng)
        return net, params, X, Y, None

    return build


def _notebook_correct() -> tuple[Any, ...]:
    x, y, parameters = published.notebook_test_case()
    return DeepReLU(), parameters, x, y, published.notebook_style(published.notebook_backward)


def _xor_blog_point() -> tuple[Any, ...]:
    net, params, X, Y, _ = published.KNOWN_BUGS["blog-missing-2/m"].make()
    return net, params, X, Y, None


def _known(name: str) -> Callable[[], tuple[Any, ...]]:
    return lambda: published.KNOWN_BUGS[name].make()


def cases(quick: bool = False) -> list[Case]:
    """The suite's cases; ``quick`` keeps the seeds' cases and one random draw per network."""
    out = [
        Case(
            "scalar J = theta * x (x = 2, theta = 4)",
            lambda: (Scalar(2.0), np.asarray(4.0), None, None, None),
        ),
        Case("notebook test case, correct backprop (dW keys, dZ/dA extras)", _notebook_correct),
        Case(
            "notebook test case, planted bugs",
            _known("notebook-planted"),
            "fail",
            published.KNOWN_BUGS["notebook-planted"].wrong,
        ),
        Case("blog XOR [2, 2, 2, 1], true gradient", _xor_blog_point),
        Case(
            "blog XOR [2, 2, 2, 1], blog's backprop",
            _known("blog-missing-2/m"),
            "fail",
            published.KNOWN_BUGS["blog-missing-2/m"].wrong,
        ),
    ]
    seeds_ = range(1) if quick else range(3)
    for dims in ([4, 5, 3, 1], [10, 20, 10, 1], [8, 16, 16, 8, 1], [16, 32, 16, 1]):
        for form in ("notebook", "stable"):
            for s in seeds_:
                net = DeepReLU(dims, cost_form=form)
                out.append(Case(f"DeepReLU {dims} {form} cost, seed {s}", _random(net, s, scale="he")))
    for s in seeds_:
        out.append(Case(f"DeepReLU [4, 5, 3, 1] randn init, seed {s}", _random(DeepReLU(), s, scale=1.0)))
    for layers in ([2, 2, 2, 1], [3, 6, 4, 2], [5, 10, 1]):
        for s in seeds_:
            out.append(Case(f"XORNet {layers}, seed {s}", _random(XORNet(layers), s)))
    return out


def run_case(case: Case, methods: tuple[str, ...] | None = None) -> CaseResult:
    """Build and check one case."""
    net, params, X, Y, backward = case.build()
    start = time.perf_counter()
    if methods:
        report = check_network(net, params, X, Y, backward=backward, methods=methods)
    else:
        report = check_network(net, params, X, Y, backward=backward)
    seconds = time.perf_counter() - start
    bugs = [f.message for f in report.findings if f.kind == "bug"]
    return CaseResult(
        case.name,
        layout_of(params)[0].size,
        case.expect,
        report.status,
        report.wrong_tensors,
        list(case.wrong),
        seconds,
        bugs or [f.message for f in report.findings[:1]],
        report,
    )


def run_suite(quick: bool = False, methods: tuple[str, ...] | None = None) -> Iterator[CaseResult]:
    """Run every case, yielding results as they come."""
    for case in cases(quick):
        yield run_case(case, methods)


def _xor_point(seed: int) -> tuple[str, Callable[[Any], Any], Any]:
    net = XORNet()
    X, y = published.xor_data()
    params = net.init_params(np.random.default_rng(seed), low=0.0, high=1.0)
    return f"{net!r} on the XOR data, U[0, 1) weights, seed {seed}", lambda p: net.cost(p, X, y), params


def _deep_relu_point(seed: int) -> tuple[str, Callable[[Any], Any], Any]:
    net = DeepReLU(cost_form="stable")
    rng = np.random.default_rng(seed)
    params = net.init_params(rng, scale=1.0)
    X, Y = net.example_data(rng, m=3)
    return f"{net!r}, randn weights, seed {seed}", lambda p: net.cost(p, X, Y), params


#: Built-in points for the step-size study: name -> (seed -> (label, cost, params)).
NETWORKS: dict[str, Callable[[int], tuple[str, Callable[[Any], Any], Any]]] = {
    "xor": _xor_point,
    "deep-relu": _deep_relu_point,
}
