"""Malformed input gets a clear error from the library, never a traceback from inside it, never
silent acceptance; the caller's arrays are never changed; the CLI's exit codes say what happened.

The tables name every kind of malformed call found by trying the library as a new user would;
the hypothesis tests (deterministic profile, see conftest) fuzz the API and the CLI.
"""

from __future__ import annotations

import collections
import concurrent.futures
import copy
import subprocess
import sys
import textwrap
import warnings

import autograd.numpy as anp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import verifier
from verifier import (
    CostError,
    GradientMonitor,
    InputError,
    PrecisionWarning,
    Report,
    check,
    check_network,
    load_reference,
    reference_gradients,
)
from verifier.frontends import published as seeds
from verifier.frontends.cli import main
from verifier.networks import DeepReLU, DropoutDeepReLU, Scalar, XORNet

X_NB, Y_NB, PARAMS_NB = seeds.notebook_test_case()
NET = DeepReLU()


def _cost(p):
    return anp.sum(p["w"] ** 2)


def _grad(p):
    return {"w": 2 * p["w"]}


def _forward_as_cost(p):
    return seeds.notebook_forward(X_NB, Y_NB, p)


def _raise(exc):
    raise exc


P = {"w": np.array([1.0, 2.0])}

#: (what, call, expected error, text the message must contain: the argument's name)
BAD_CALLS = [
    (
        "forward returning (cost, cache) as cost",
        lambda: check(_forward_as_cost, _grad, PARAMS_NB),
        CostError,
        "(cost, cache)",
    ),
    ("seed a string", lambda: check(_cost, _grad, P, seed="a"), InputError, "`seed`"),
    ("seed negative", lambda: check(_cost, _grad, P, seed=-1), InputError, "`seed`"),
    ("seed a float", lambda: check(_cost, _grad, P, seed=1.5), InputError, "`seed`"),
    ("budget a string", lambda: check(_cost, _grad, P, budget="x"), InputError, "`budget`"),
    ("budget None", lambda: check(_cost, _grad, P, budget=None), InputError, "`budget`"),
    ("budget negative", lambda: check(_cost, _grad, P, budget=-1), InputError, "`budget`"),
    ("budget NaN", lambda: check(_cost, _grad, P, budget=float("nan")), InputError, "`budget`"),
    ("methods None", lambda: check(_cost, _grad, P, methods=None), InputError, "`methods`"),
    ("methods an int", lambda: check(_cost, _grad, P, methods=5), InputError, "`methods`"),
    ("executor an object", lambda: check(_cost, _grad, P, executor=object()), InputError, "`executor`"),
    ("executor a string", lambda: check(_cost, _grad, P, executor="dask"), InputError, "`executor`"),
    ("context an int", lambda: check(_cost, _grad, P, context=5), InputError, "`context`"),
    (
        "context m a string",
        lambda: check(_cost, lambda p: {"w": 4 * p["w"]}, P, context={"m": "x"}),
        InputError,
        "`context['m']`",
    ),
    (
        "context unknown key",
        lambda: check(_cost, _grad, P, context={"n": 3}),
        InputError,
        "unknown keys ['n']",
    ),
    ("progress a string", lambda: check(_cost, _grad, P, progress="x"), InputError, "`progress`"),
    ("vectorized a string", lambda: check(_cost, _grad, P, vectorized="yes"), InputError, "`vectorized`"),
    ("points zero", lambda: check(_cost, _grad, P, points=0), InputError, "`points`"),
    ("ragged params", lambda: check(_cost, _grad, {"w": [[1.0, 2.0], [3.0]]}), InputError, "ragged"),
    ("ragged grad", lambda: check(_cost, lambda p: {"w": [[1.0], [2.0, 3.0]]}, P), InputError, "ragged"),
    ("object params", lambda: check(_cost, _grad, {"w": np.array([object()])}), InputError, "`params` ['w']"),
    ("monitor every=True", lambda: GradientMonitor(_cost, _grad, every=True), InputError, "`every`"),
    ("monitor iteration a string", lambda: GradientMonitor(_cost, _grad)("a", P), InputError, "`iteration`"),
    ("monitor options a list", lambda: GradientMonitor(_cost, _grad, options=[1]), InputError, "`options`"),
    (
        "monitor unknown option",
        lambda: GradientMonitor(_cost, _grad, options={"modes": "fast"}),
        InputError,
        "['modes']",
    ),
    (
        "check_network backward=5",
        lambda: check_network(NET, PARAMS_NB, X_NB, Y_NB, backward=5),
        InputError,
        "`backward`",
    ),
    (
        "check_network context=5",
        lambda: check_network(NET, PARAMS_NB, X_NB, Y_NB, context=5),
        InputError,
        "`context`",
    ),
    (
        "check_network unknown option",
        lambda: check_network(NET, PARAMS_NB, X_NB, Y_NB, budjet=1),
        InputError,
        "['budjet']",
    ),
    (
        "X with no columns",
        lambda: check_network(NET, PARAMS_NB, np.zeros((4, 0)), np.zeros((1, 0))),
        InputError,
        "`X`: the array is empty",
    ),
    (
        "a NaN in X",
        lambda: check_network(NET, PARAMS_NB, np.where(X_NB > 1, np.nan, X_NB), Y_NB),
        InputError,
        "`X`: contains NaN",
    ),
    (
        "strings as Y",
        lambda: check_network(NET, PARAMS_NB, X_NB, np.array([["a", "b", "c"]])),
        InputError,
        "`Y`",
    ),
    ("load_reference a folder", lambda: load_reference("."), InputError, "is a folder"),
    ("load_reference None", lambda: load_reference(None), InputError, "`path`"),
    ("load_reference a missing file", lambda: load_reference("nope.npz"), InputError, "no file"),
    ("load_reference a .npy", lambda: load_reference(__file__.replace(".py", ".npy")), InputError, "no file"),
    ("init_params None", lambda: NET.init_params(None), InputError, "`rng`"),
    ("init_params an int", lambda: XORNet().init_params(3), InputError, "`rng`"),
    ("example_data m=-1", lambda: NET.example_data(np.random.default_rng(0), m=-1), InputError, "`m`"),
    ("xor example_data m=0", lambda: XORNet().example_data(np.random.default_rng(0), m=0), InputError, "`m`"),
    ("dropout seed a string", lambda: DropoutDeepReLU(seed="x"), InputError, "`seed`"),
    ("dropout replay a string", lambda: DropoutDeepReLU(replay="no"), InputError, "`replay`"),
    ("scalar x a string", lambda: Scalar("2"), InputError, "`x`"),
    (
        "reference_gradients ragged",
        lambda: reference_gradients(_cost, {"w": [[1.0], [1.0, 2.0]]}),
        InputError,
        "ragged",
    ),
]


@pytest.mark.parametrize("what, call, error, text", BAD_CALLS, ids=[c[0] for c in BAD_CALLS])
def test_every_kind_of_bad_call_gets_a_clear_error(what, call, error, text):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(error) as info:
            call()
    assert text in str(info.value), str(info.value)


def test_corrupt_reference_file(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_text("not a zip file")
    with pytest.raises(InputError, match="is not a readable .npz file"):
        load_reference(bad)


def _module_level_cost(p):
    return anp.sum(p["w"] ** 2)


def test_a_lambda_with_a_process_pool_is_named_not_a_pickling_traceback():
    with concurrent.futures.ProcessPoolExecutor(1) as pool:
        with pytest.raises(InputError, match="`executor`.*define it with `def`"):
            check(lambda p: anp.sum(p["w"] ** 2), _grad, P, methods=("centered",), executor=pool)
        assert check(_module_level_cost, _grad, P, methods=("centered",), executor=pool).ok


def test_float128_warns_that_it_is_computed_in_float64():
    params = {"w": np.array([1.0, 2.0], dtype=np.longdouble)}
    if np.finfo(np.longdouble).eps >= np.finfo(np.float64).eps:
        pytest.skip("long double is float64 on this platform")
    with pytest.warns(PrecisionWarning, match="float128|longdouble"):
        assert check(_cost, _grad, params).ok
    assert params["w"].dtype == np.longdouble


# --- containers: the cost and gradient see the caller's own type ------------------------------

Params = collections.namedtuple("Params", "W b")


class AttrDict(dict):
    """A dict whose entries are attributes too, as users write ``p.W``."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _namedtuple_cost(p):
    return anp.sum(anp.tanh(p.W) ** 2) + anp.sum(p.b**3)


def _namedtuple_grad(p):
    t = np.tanh(p.W)
    return Params(2 * t * (1 - t**2), 3 * p.b**2)


@pytest.mark.parametrize(
    "params, cost, grad",
    [
        (Params(np.array([0.3, -0.7]), np.array([1.5])), _namedtuple_cost, _namedtuple_grad),
        (
            AttrDict(W=np.array([0.3, -0.7]), b=np.array([1.5])),
            _namedtuple_cost,
            lambda p: dict(_namedtuple_grad(p)._asdict()),
        ),
        (
            collections.OrderedDict(W=np.array([0.3]), b=np.array([1.5])),
            lambda p: anp.sum(p["W"] ** 2 * p["b"]),
            lambda p: {"W": 2 * p["W"] * p["b"], "b": p["W"] ** 2},
        ),
        (
            collections.defaultdict(list, W=np.array([0.3]), b=np.array([1.5])),
            lambda p: anp.sum(p["W"] ** 2 * p["b"]),
            lambda p: {"W": 2 * p["W"] * p["b"], "b": p["W"] ** 2},
        ),
    ],
    ids=["namedtuple", "attribute dict", "OrderedDict", "defaultdict"],
)
def test_container_subclasses_reach_the_cost_as_themselves(params, cost, grad):
    seen = []

    def watching(p):
        seen.append(type(p))
        return cost(p)

    before = copy.deepcopy(params)
    report = check(watching, grad, params)
    assert report.ok, report
    assert set(seen) == {type(params)}
    assert [t.name for t in report.tensors] == ["W", "b"]
    assert _same(params, before), "the caller's arrays were changed"
    assert reference_gradients(cost, params).__class__ is type(params)


def test_a_cost_that_rebinds_an_entry_does_not_leak_into_the_next_evaluation():
    def rebinding(p):
        p["w"] = p["w"].astype(float) * 1.0  # a fresh array bound into the container it was given
        return anp.sum(p["w"] ** 2)

    report = check(rebinding, _grad, {"w": np.array([0.5, -1.5, 2.0])})
    assert report.ok, report


# --- data: the caller's X and Y are never changed ---------------------------------------------


class CentringNet:
    """A user's network whose cost centres X in place, as `X -= X.mean(axis=1, keepdims=True)`."""

    def cost(self, params, X, Y):
        X -= X.mean(axis=1, keepdims=True)
        return anp.sum((params["w"] @ X - Y) ** 2)

    def backward(self, params, X, Y):
        Xc = X - X.mean(axis=1, keepdims=True)
        return {"w": 2 * (params["w"] @ Xc - Y) @ Xc.T}


def test_check_network_gives_the_cost_a_copy_of_the_data():
    X = np.array([[1.0, 2.0, 4.0], [0.5, -1.0, 3.0]])
    Y = np.array([[0.3, 0.1, -0.2]])
    X0, Y0 = X.copy(), Y.copy()
    report = check_network(CentringNet(), {"w": np.array([[0.2, -0.4]])}, X, Y)
    assert report.ok, report
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(Y, Y0)


def test_adapters_give_the_forward_a_copy_of_the_data():
    from verifier.frontends.adapters import from_notebook

    x, y = X_NB.copy(), Y_NB.copy()

    def forward(X, Y, parameters):
        X *= 1.0  # in place, harmless, but it writes
        return seeds.notebook_forward(X, Y, parameters)

    cost, grad = from_notebook(forward, seeds.notebook_backward, x, y)
    assert check(cost, grad, PARAMS_NB).ok
    np.testing.assert_array_equal(x, X_NB)


# --- the API, fuzzed -----------------------------------------------------------------------------

ODD_VALUES = [None, "x", "", -1, 0, 1.5, float("nan"), float("inf"), True, [], {}, (), object(), b"1"]


def _leaves(p):
    if isinstance(p, dict):
        return list(p.values())
    if isinstance(p, (list, tuple)):
        return list(p)
    return [p]


class Boom(Exception):
    """The user's own error, raised half-way through a check."""


def _costs():
    def good(p):
        return sum(anp.sum(anp.sin(anp.asarray(leaf, dtype=float))) for leaf in _leaves(p))

    def half_way(p, calls=[0]):  # noqa: B006 - a counter across calls, on purpose
        calls[0] += 1
        if calls[0] % 5 == 0:
            raise Boom("raised half-way")
        return good(p)

    def vandal(p):
        for leaf in _leaves(p):
            if isinstance(leaf, np.ndarray) and leaf.flags.writeable and leaf.dtype.kind == "f":
                leaf *= 2.0
        return good(p)

    return st.sampled_from(
        [
            good,
            half_way,
            vandal,
            lambda p: (good(p), {}),
            lambda p: np.ones(2),
            lambda p: "1",
            lambda p: None,
            lambda p: np.nan,
            lambda p: 1j,
            lambda p: True,
            lambda p: _raise(Boom("always")),
        ]
    )


def _grads():
    def right(p):
        return (
            type(p)(np.cos(leaf) for leaf in p)
            if isinstance(p, (list, tuple)) and not hasattr(p, "_fields")
            else (
                {k: np.cos(v) for k, v in p.items()}
                if isinstance(p, dict)
                else (np.cos(p) if isinstance(p, np.ndarray) else p)
            )
        )

    return st.sampled_from(
        [
            right,
            lambda p: None,
            lambda p: {},
            lambda p: [],
            lambda p: "g",
            lambda p: {"w": [[1.0], [1.0, 2.0]]},
            lambda p: [np.full(3, np.nan)],
            lambda p: np.ones(7),
            lambda p: {"w": np.ones((2, 2)), "extra": 1},
        ]
    )


_arrays = st.one_of(
    st.integers(0, 3).map(lambda n: np.linspace(-1.0, 1.0, n)),
    st.sampled_from(
        [
            np.array([1, 2]),
            np.array([True]),
            np.array(["a"]),
            np.array([np.nan, 1.0]),
            np.array([1.0, np.inf]),
            np.ones((2, 0)),
            np.array(0.5),
            np.ones(2, dtype=np.float32),
            [[1.0, 2.0], [3.0]],
            [1.0, 2.0],
            3.0,
            "w",
            None,
            object(),
        ]
    ),
)
_params = st.one_of(
    _arrays,
    st.dictionaries(st.sampled_from(["w", "W1", "b1", 3]), _arrays, max_size=3),
    st.lists(_arrays, max_size=3),
    st.lists(_arrays, max_size=3).map(tuple),
    st.sampled_from(ODD_VALUES),
)
_options = st.fixed_dictionaries(
    {},
    optional={
        "methods": st.sampled_from(
            [("centered",), ("centered", "scipy"), ("complex",), (), "scipy", None, 5, ["x"]]
        ),
        "seed": st.sampled_from([0, 7, -1, 1.5, "a", None, True]),
        "points": st.sampled_from([1, 2, 0, -1, 1.0, "2", None]),
        "mode": st.sampled_from(["full", "fast", "slow", None, 1]),
        "budget": st.sampled_from([0, 10, 10_000, 0.5, -1, float("nan"), "x", None]),
        "progress": st.sampled_from([False, None, "x", 1]),
        "context": st.sampled_from([None, {}, {"m": 3}, {"m": "x"}, {"loss": "l1"}, {"notes": [1]}, 5]),
        "executor": st.sampled_from([None, object(), "dask"]),
        "vectorized": st.sampled_from([False, "no"]),
    },
)


def _snapshot(value):
    return copy.deepcopy(value)


def _same(a, b):
    if isinstance(a, np.ndarray):
        return (
            isinstance(b, np.ndarray)
            and a.dtype == b.dtype
            and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
        )
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return True


#: The fuzz tests are cheap (tiny parameters), so they draw many more examples than the profile's 25.
FUZZ = settings(max_examples=200)


@FUZZ
@given(cost=_costs(), grad=_grads(), params=_params, options=_options)
def test_fuzz_check_ends_in_a_report_or_the_librarys_own_error(cost, grad, params, options):
    before = _snapshot(params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            outcome = check(cost, grad, params, **options)
        except (InputError, Boom):  # CostError is an InputError; Boom is the user's own error
            outcome = None
    assert outcome is None or isinstance(outcome, Report)
    if outcome is not None:
        assert outcome.status in ("pass", "fail", "inconclusive")
        str(outcome), outcome.to_dict()
    assert _same(params, before), "the caller's arrays were changed"


@given(
    params=st.sampled_from(
        [PARAMS_NB, {"W1": PARAMS_NB["W1"]}, {**PARAMS_NB, "W1": np.ones((5, 3))}, [1.0], None]
    ),
    X=st.sampled_from([X_NB, X_NB[:, :0], np.full((4, 3), np.nan), "x", X_NB.astype(int), X_NB[None]]),
    Y=st.sampled_from([Y_NB, Y_NB[:, :2], Y_NB.astype(float), np.array([["a", "b", "c"]]), None]),
    options=_options,
    backward=st.sampled_from([None, 5, lambda p, X, Y: {}]),
)
def test_fuzz_check_network(params, X, Y, options, backward):
    before = [_snapshot(v) for v in (params, X, Y)]
    options.pop("vectorized", None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            outcome = check_network(NET, params, X, Y, backward=backward, **options)
        except InputError:
            outcome = None
    assert outcome is None or isinstance(outcome, Report)
    assert all(_same(v, b) for v, b in zip((params, X, Y), before, strict=True))


# --- the CLI: exit codes, and fuzzed arguments -------------------------------------------------

USER_MODULE = textwrap.dedent(
    """
    import numpy as np
    from verifier.frontends.published import notebook_forward as forward_propagation_n
    from verifier.frontends.published import notebook_backward as backward_propagation_n
    from verifier.frontends.published import notebook_backward_planted as backward_buggy

    _rng = np.random.default_rng(0)

    def forward_dropout(X, Y, parameters):  # a fresh mask at every call: no verdict possible
        cost, cache = forward_propagation_n(X, Y, parameters)
        return cost * (1 + 1e-3 * _rng.random()), cache

    def backward_crashes(X, Y, cache):
        return undefined_name  # noqa: F821

    def cost_fn(params, X, Y):
        return forward_propagation_n(X, Y, params)[0]

    def backward_fn(params, X, Y):
        return backward_propagation_n(X, Y, forward_propagation_n(X, Y, params)[1])
    """
)


@pytest.fixture
def user_files(tmp_path):
    module = tmp_path / "mynet.py"
    module.write_text(USER_MODULE)
    data = tmp_path / "data.npz"
    np.savez(data, x=X_NB, y=Y_NB, **PARAMS_NB)  # the notebook's own names: lower-case x, y
    return module, data


@pytest.mark.parametrize(
    "functions, extra, code, text",
    [
        ("forward_propagation_n,backward_propagation_n", [], 0, "PASS"),
        ("forward_propagation_n,backward_buggy", [], 1, "W2 is exactly 2.0×"),
        ("forward_propagation_n,backward_propagation_n", ["--points", "0"], 2, "`--points`"),
        ("forward_dropout,backward_propagation_n", [], 3, "INCONCLUSIVE"),
        ("forward_propagation_n,backward_crashes", [], 4, "mynet.py:14 in backward_crashes"),
        ("cost_fn,backward_fn", [], 0, "PASS"),
        ("cost_fn,backward_fn", ["--style", "notebook"], 4, "pass --style functions"),
    ],
)
def test_check_exit_codes(user_files, capsys, functions, extra, code, text):
    module, data = user_files
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["check", f"{module}:{functions}", "--data", str(data), "--quiet", *extra]) == code
    captured = capsys.readouterr()
    assert text in captured.out + captured.err
    assert "Traceback" not in captured.err


def test_exit_codes_are_documented_in_help(capsys):
    assert main(["check", "--help"]) == 0
    out = capsys.readouterr().out
    for line in (
        "0  pass",
        "1  a bug found",
        "2  usage error or bad input",
        "3  inconclusive",
        "4  the check could not run",
    ):
        assert line in out


def test_reference_file_is_what_check_reads(tmp_path, user_files, capsys):
    module, _ = user_files
    for suffix in (".npz", ".json"):
        out = tmp_path / f"ref{suffix}"
        assert main(["reference", "--seed", "3", "--out", str(out)]) == 0
        target = f"{module}:forward_propagation_n,backward_propagation_n"
        assert main(["check", target, "--data", str(out), "--quiet"]) == 0
        assert (
            main(["check", f"{module}:forward_propagation_n,backward_buggy", "--data", str(out), "--quiet"])
            == 1
        )
    assert "W2 is exactly 2.0×" in capsys.readouterr().out


def test_check_knows_m_from_the_data(tmp_path, capsys):
    module = tmp_path / "net.py"
    module.write_text(
        textwrap.dedent(
            """
            import numpy as np

            def forward(X, Y, parameters):
                A = parameters["W"] @ X
                return float(np.mean((A - Y) ** 2)), (A, X, Y)

            def backward(X, Y, cache):  # the 1/m of the mean is missing
                A, X, Y = cache
                return {"dW": 2 * (A - Y) @ X.T}
            """
        )
    )
    rng = np.random.default_rng(0)
    data = tmp_path / "d.npz"
    np.savez(
        data, X=rng.standard_normal((3, 10)), Y=rng.standard_normal((1, 10)), W=rng.standard_normal((1, 3))
    )
    assert main(["check", f"{module}:forward,backward", "--data", str(data), "--quiet"]) == 1
    assert "1/m averaging is missing (m = 10)" in capsys.readouterr().out


def _cli_stubs(monkeypatch):
    """The long-running commands' work replaced by nothing: the fuzz tests the CLI's handling."""
    import verifier.frontends.bench
    import verifier.frontends.suite

    monkeypatch.setattr(verifier.frontends.bench, "bench", lambda *a, **k: iter(()))
    monkeypatch.setattr(verifier.frontends.suite, "run_suite", lambda *a, **k: iter(()))
    monkeypatch.setattr(verifier.frontends.suite, "reproductions", lambda: [])


_junk = st.sampled_from(
    [
        "",
        "a",
        "-1",
        "0",
        "1",
        "1.5",
        "nan",
        "4,,1",
        "a,b",
        "4,5,3,1",
        "47",
        "centered",
        "fast",
        "/nope/out.npz",
        "out.json",
        "x.npy",
        ".",
        "notebook",
        "functions",
        "deep-relu",
    ]
)
_flags = st.sampled_from(
    [
        "--dims",
        "--seed",
        "--m",
        "--out",
        "--sizes",
        "--methods",
        "--repeats",
        "--max-seconds",
        "--csv",
        "--png",
        "--network",
        "--style",
        "--mode",
        "--points",
        "--data",
        "--json",
        "--quick",
        "--quiet",
        "--inputs",
        "--const",
        "--wrt",
        "--cost",
        "--grad",
        "--bogus",
    ]
)


@FUZZ
@given(
    command=st.sampled_from(["run", "check", "layer", "reference", "sweep", "bench", "nope"]),
    pairs=st.lists(st.tuples(_flags, _junk), max_size=4),
)
def test_fuzz_cli_returns_a_documented_code_and_never_a_traceback(command, pairs, tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    argv = [command] + [
        item.replace("out.", f"{folder}/out.") if item.startswith("out.") else item
        for pair in pairs
        for item in pair
    ]
    if command in ("check", "layer"):
        argv.insert(1, "missing.py:f,b")
    with pytest.MonkeyPatch.context() as monkeypatch:
        _cli_stubs(monkeypatch)
        import io
        from contextlib import redirect_stderr, redirect_stdout

        err = io.StringIO()
        with redirect_stdout(io.StringIO()), redirect_stderr(err), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            code = main(argv)
    assert code in (0, 1, 2, 3, 4), argv
    assert "Traceback" not in err.getvalue() and "internal error" not in err.getvalue(), (
        argv,
        err.getvalue(),
    )


# --- frictions ------------------------------------------------------------------------------------


def test_testing_helpers_work_without_pytest():
    script = textwrap.dedent(
        """
        import sys
        sys.modules["pytest"] = None  # as if pytest were not installed
        import autograd.numpy as anp, numpy as np
        from verifier.testing import assert_gradients_ok
        cost = lambda p: anp.sum(anp.sin(p))
        assert assert_gradients_ok(cost, np.cos, np.array([0.1, 0.2])).ok
        try:
            assert_gradients_ok(cost, lambda p: -np.cos(p), np.array([0.1, 0.2]))
        except AssertionError as exc:
            assert "gradient check fail" in str(exc)
        else:
            raise SystemExit("no AssertionError")
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_png_without_matplotlib_fails_before_the_run(monkeypatch, capsys, tmp_path):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a)
    )
    monkeypatch.setattr("verifier.frontends.bench.bench", lambda *a, **k: pytest.fail("the run started"))
    assert main(["bench", "--sizes", "47", "--png", str(tmp_path / "b.png")]) == 2
    assert main(["sweep", "--png", str(tmp_path / "s.png")]) == 2
    assert capsys.readouterr().err.count("needs matplotlib") == 2


def test_fast_mode_json_lists_only_what_was_checked():
    w = np.linspace(-1.0, 1.0, 20_000)
    report = check(lambda p: anp.sum(anp.sin(p)), np.cos, w, mode="fast")
    doc = report.to_dict()
    assert (
        report.ok and doc["elements"]["index"] == [] and doc["elements"]["omitted"] == {"unchecked": 20_000}
    )
    wrong = check(
        lambda p: anp.sum(anp.sin(p)), lambda p: np.cos(p) + (np.arange(p.size) == 7), w, mode="fast"
    )
    doc = wrong.to_dict()
    assert (
        wrong.status == "fail" and doc["elements"]["index"] == [7] and doc["elements"]["verdict"] == ["wrong"]
    )


def test_report_repr_is_short():
    report = check(_cost, lambda p: {"w": -2 * p["w"]}, P)
    assert repr(report) == "<Report fail: 1 tensors, wrong: w>"


def test_import_is_lazy():
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, verifier;"
            " print(sorted(m for m in ('numpy', 'scipy', 'autograd') if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
    )
    assert done.stdout.strip() == "[]", "import verifier should not import numpy, scipy or autograd"
    assert callable(verifier.check) and verifier.networks.DeepReLU
