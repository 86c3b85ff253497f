"""The ``verifier`` command: arguments in, library calls, rendered output, an exit code.

No numerics and no formatting here: those live in the library and in :mod:`verifier.report`.
The parser imports nothing numerical (``verifier --help`` starts at once); each command
imports what it needs when it runs. Values are checked by :mod:`verifier.validate`, so
the command line and the library say the same thing about the same mistake.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from .. import __version__
from ..errors import InputError, where_raised
from .catalog import BENCH_DEFAULT_SIZES, BENCH_METHODS, BENCH_PEERS, BENCH_SIZES, NETWORK_NAMES, STYLES

#: Exit codes, documented in ``--help`` and the README.
PASS, BUG, USAGE, INCONCLUSIVE, ERROR = 0, 1, 2, 3, 4
EXIT_CODES = f"""exit codes:
  {PASS}  pass: the backprop agrees with the references (run: every case came out as expected)
  {BUG}  a bug found: the backprop is wrong somewhere (run: some case did not come out as expected)
  {USAGE}  usage error or bad input: an unknown option, a missing file, malformed data
  {INCONCLUSIVE}  inconclusive: some elements could not be decided (the report says why)
  {ERROR}  the check could not run: the code under check raised (its file and line are named),
     or the verifier itself failed"""
#: The commands that measure or write rather than check: no verdict, so no 1 or 3.
TOOL_EXIT_CODES = f"""exit codes:
  {PASS}  done
  {USAGE}  usage error or bad input: an unknown option, a missing file, malformed data
  {ERROR}  the verifier itself failed"""
DEFAULT_METHODS = "centered,scipy,autograd"


class _Formatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Keeps the exit-code table's lines, and shows each option's default where it says something
    the help does not already (not None or False, not twice)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "(default" in text or action.default in (None, False, argparse.SUPPRESS):
            return text
        return super()._get_help_string(action)


def _parser() -> argparse.ArgumentParser:
    common: dict[str, Any] = {"formatter_class": _Formatter, "epilog": EXIT_CODES}
    parser = argparse.ArgumentParser(
        prog="verifier",
        description="Check hand-written numpy backprop three ways: centered differences,"
        " scipy.optimize.check_grad, and autograd.",
        **common,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = sub.add_parser(
        "run",
        help="run the verification suite: the seeds' networks and bugs, at several sizes and seeds",
        description="Run the verification suite. Correct backprops must pass; the seeds'"
        " known-buggy backprops must fail with the right tensors named.",
        **common,
    )
    run.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    run.add_argument("--quick", action="store_true", help="one random draw per network instead of three")
    run.add_argument(
        "--methods", default=DEFAULT_METHODS, help="comma-separated, among centered,scipy,autograd"
    )
    run.add_argument(
        "--html", metavar="FILE", help="also write the run as an HTML page, with the reports of the cases"
    )

    mine = sub.add_parser(
        "check",
        help="check your own forward/backward functions from a Python file",
        description="Check the backward pass of your own module. TARGET is"
        " path/to/module.py:FORWARD,BACKWARD. Styles: "
        + "; ".join(f"{name}: {sig}" for name, sig in STYLES.items())
        + ". --data is an .npz (or .json) with X and Y (or the notebook's x and y) and the"
        " parameters (W1, b1, ... or param:NAME; THETA0, THETA1, ... become a list), as"
        " `verifier reference` writes it. Parameters kept in a module global (the blog's"
        " THETA): TARGET is path/to/module.py:GLOBAL, with --cost and --grad expressions"
        " evaluated in the module (its own data; no --data).",
        **common,
    )
    mine.add_argument(
        "target", metavar="TARGET", help="path/to/module.py:FORWARD,BACKWARD, or path/to/module.py:GLOBAL"
    )
    mine.add_argument("--data", metavar="FILE", help=".npz or .json with X, Y and the parameters")
    mine.add_argument(
        "--cost",
        metavar="EXPR",
        help="with TARGET module.py:GLOBAL: the cost, an expression in the module's names, e.g."
        " 'cost(forward_propagation(X, initialize=False)[2], y)'",
    )
    mine.add_argument(
        "--grad",
        metavar="EXPR",
        help="with TARGET module.py:GLOBAL: the gradient, e.g."
        " '[d / -ETA for d in back_propagation(X, y, False, debug=True)[4]]'",
    )
    mine.add_argument(
        "--style",
        choices=sorted(STYLES),
        default=None,
        help="how FORWARD and BACKWARD are called (default: read from FORWARD's first parameter:"
        " `params`, `theta`, ... means functions, anything else notebook)",
    )
    mine.add_argument(
        "--methods", default=DEFAULT_METHODS, help="comma-separated, among centered,scipy,autograd,complex"
    )
    mine.add_argument(
        "--mode",
        choices=("full", "fast"),
        default="full",
        help="full: every element; fast: random directions",
    )
    mine.add_argument(
        "--points", type=int, default=1, help="check at this many points (more catch what dead units hide)"
    )
    mine.add_argument(
        "--seed", type=int, default=0, help="seed of every random choice, for a reproducible report"
    )
    mine.add_argument(
        "--rtol",
        type=float,
        default=0.0,
        help="accepted relative difference, for gradients approximate by design"
        " (as numpy.isclose; default 0)",
    )
    mine.add_argument(
        "--atol", type=float, default=0.0, help="accepted absolute difference (as numpy.isclose; default 0)"
    )
    mine.add_argument("--json", action="store_true", help="print the report as JSON instead of the table")
    _report_options(mine)

    layer = sub.add_parser(
        "layer",
        help="check a layer's backward(dout, cache), or a loss's (loss, dx), from a Python file",
        description="Check a layer written in the course's style: FORWARD(*inputs) -> (out, cache) and"
        " BACKWARD(dout, cache) -> (dx, dw, ...), with a seeded upstream gradient dout; or a loss"
        " FORWARD(x, y) -> (loss, dx) alone. TARGET is path/to/layers.py:FORWARD,BACKWARD or"
        " path/to/layers.py:LOSS. The inputs are read by the forward's parameter names from"
        " --inputs (.npz arrays, or a .json object of nested lists and constants) and --const;"
        " float arrays are differentiated, integer labels and mode dicts held constant.",
        **common,
    )
    layer.add_argument(
        "target", metavar="TARGET", help="path/to/layers.py:FORWARD,BACKWARD or path/to/layers.py:LOSS"
    )
    layer.add_argument(
        "--inputs", metavar="FILE", help=".npz or .json with the inputs by the forward's parameter names"
    )
    layer.add_argument(
        "--const",
        action="append",
        default=[],
        metavar="NAME=JSON",
        help='an input given inline, e.g. conv_param=\'{"stride": 1, "pad": 1}\' (repeatable)',
    )
    layer.add_argument("--wrt", help="comma-separated inputs to differentiate (default: every float array)")
    layer.add_argument(
        "--methods", default=DEFAULT_METHODS, help="comma-separated, among centered,scipy,autograd,complex"
    )
    layer.add_argument("--seed", type=int, default=0, help="seed of dout and of every random choice")
    layer.add_argument("--json", action="store_true", help="print the report as JSON instead of the table")
    _report_options(layer)

    objects = sub.add_parser(
        "objects",
        help="check layer objects or a model that set their own gradients, from a Python file",
        description="Check backprop kept in objects (layers with forward/backward methods, a model"
        " with self.params). TARGET is path/to/glue.py:FORWARD,BACKWARD: functions of no argument"
        " in that file, FORWARD running your forward pass and returning the loss, BACKWARD your"
        " backward pass; or path/to/glue.py:FORWARD returning (loss, grads). OBJECT names the"
        " file's objects that hold the parameters (dense1 dense2, or model).",
        **common,
    )
    objects.add_argument(
        "target", metavar="TARGET", help="path/to/glue.py:FORWARD,BACKWARD or path/to/glue.py:FORWARD"
    )
    objects.add_argument(
        "objects", metavar="OBJECT", nargs="+", help="the file's objects holding the parameters"
    )
    objects.add_argument(
        "--methods", default=DEFAULT_METHODS, help="comma-separated, among centered,scipy,autograd,complex"
    )
    objects.add_argument("--seed", type=int, default=0, help="seed of every random choice")
    objects.add_argument("--json", action="store_true", help="print the report as JSON instead of the table")
    objects.add_argument("--quiet", action="store_true", help="no progress line")

    ref = sub.add_parser(
        "reference",
        help="write parameters, data and autograd's gradients of a built-in network to a file",
        description="Write a reference for other tools: .npz (arrays X, Y, param:NAME, grad:NAME and meta)"
        " or .json; read it back with verifier.load_reference(path), or check against it with"
        " `verifier check --data`.",
        **{**common, "epilog": TOOL_EXIT_CODES},
    )
    ref.add_argument("--network", choices=NETWORK_NAMES, default="deep-relu", help="which built-in network")
    ref.add_argument("--dims", default="4,5,3,1", help="layer sizes, comma-separated positive integers")
    ref.add_argument("--seed", type=int, default=1, help="seed of the parameters and the data")
    ref.add_argument("--m", type=int, help="number of examples (default: the network's example data)")
    ref.add_argument("--out", required=True, metavar="PATH", help="the file to write: .npz or .json")

    sweep = sub.add_parser(
        "sweep",
        help="error of one-sided and centered differences against the step size",
        description="The step-size study on a built-in network: the V of truncation against"
        " round-off, the fitted orders (one-sided O(h), centered O(h^2)) and the step the"
        " centered method chooses.",
        **{**common, "epilog": TOOL_EXIT_CODES},
    )
    sweep.add_argument("--network", choices=NETWORK_NAMES, default="xor", help="xor is the blog's network")
    sweep.add_argument("--seed", type=int, default=0, help="seed of the parameters")
    sweep.add_argument("--png", metavar="PATH", help="also save a log-log plot (needs matplotlib)")
    sweep.add_argument("--json", action="store_true", help="print JSON instead of the table")

    bench = sub.add_parser(
        "bench",
        help="time each way of checking against network size",
        description="Time the notebook's loop, scipy's check_grad, the verifier's checks as a user"
        " calls them (check_network on the built-in network, check on the notebook's own"
        " plain-numpy cost), autograd, the fast mode and the backward pass itself on DeepReLU"
        " networks from 47 to about 1e6 parameters, on the same cost, interleaved, one BLAS"
        " thread; print times, multiples of one forward pass, growth exponents and ratios.",
        **{**common, "epilog": TOOL_EXIT_CODES},
    )
    sizes = ",".join(map(str, BENCH_SIZES))
    bench.add_argument(
        "--sizes",
        default=",".join(map(str, BENCH_DEFAULT_SIZES)),
        help=f"comma-separated parameter counts among {sizes} (default: up to 99,073, a minute or two)",
    )
    bench.add_argument(
        "--methods",
        default=",".join(BENCH_METHODS),
        help=f"comma-separated, among {', '.join(BENCH_METHODS + BENCH_PEERS)} (the peers need torch or jax)",
    )
    bench.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="runs per measurement (median), at least; sub-second ones repeat for ~0.3 s",
    )
    bench.add_argument(
        "--max-seconds", type=float, default=60.0, help="skip a measurement predicted to take longer"
    )
    bench.add_argument("--csv", metavar="PATH", help="write method,params,samples,seconds,forward_multiple")
    bench.add_argument("--png", metavar="PATH", help="save a log-log plot (needs matplotlib)")
    bench.add_argument("--quiet", action="store_true", help="no progress line")
    _grade_parser(sub, common)
    return parser


def _grade_parser(sub: Any, common: dict[str, Any]) -> None:
    grade = sub.add_parser(
        "grade",
        help="grade a class's backward passes against the instructor's reference, each in its own process",
        description="Grade every submission (a folder of .py files and notebooks, or one file) against"
        " the instructor's REFERENCE, path/to/reference.py:FORWARD,BACKWARD. The student's backward is"
        " checked three ways against the instructor's forward and cost, once per --data file and seed;"
        " each tensor right earns its share of the points, and the feedback is the report's findings."
        " Each submission runs in a fresh Python process of its own, in a temporary working directory,"
        " under --timeout and --memory; it is not sandboxed beyond that (no network or file-system"
        " isolation): run the grader inside the course's container for that. Exit code 0 once every"
        " submission has its grade, whatever the grades.",
        **common,
    )
    grade.add_argument("reference", metavar="REFERENCE", help="path/to/reference.py:FORWARD,BACKWARD")
    grade.add_argument("submissions", metavar="SUBMISSIONS", help="a folder of .py/.ipynb files, or one file")
    grade.add_argument(
        "--data",
        action="append",
        required=True,
        metavar="FILE",
        help=".npz or .json with X, Y and the parameters: one hidden case per file (repeatable)",
    )
    grade.add_argument(
        "--seeds", default="0", help="comma-separated seeds: each data file is graded once per seed"
    )
    grade.add_argument(
        "--check-points",
        type=int,
        default=2,
        help="points the check runs at per case: the data's parameters and perturbations drawn from the seed",
    )
    grade.add_argument("--timeout", type=float, default=20.0, help="seconds a submission may take per case")
    grade.add_argument(
        "--memory", default="2G", help="a submission's address-space cap, e.g. 2G or 512M (0: none)"
    )
    grade.add_argument("--points", type=float, default=10.0, help="the most a submission can score")
    grade.add_argument(
        "--weights", metavar="NAME=W,...", help="each tensor's share, e.g. dW1=2,db1=1 (default 1)"
    )
    grade.add_argument(
        "--student",
        choices=("backward", "forward,backward"),
        default="backward",
        help="the student's functions; the cost is always the instructor's",
    )
    grade.add_argument(
        "--files",
        action="append",
        default=[],
        metavar="FILE",
        help="a course file copied beside every submission (a helper it imports; repeatable)",
    )
    grade.add_argument("--style", choices=sorted(STYLES), default=None, help="as for `verifier check`")
    grade.add_argument(
        "--methods", default=DEFAULT_METHODS, help="comma-separated, among centered,scipy,autograd,complex"
    )
    grade.add_argument("--jobs", type=int, help="submissions graded at once (default: the cores)")
    grade.add_argument("--json", metavar="PATH", help="write every submission's score, status and feedback")
    grade.add_argument(
        "--gradescope", metavar="DIR", help="write DIR/<submission>/results.json for Gradescope"
    )
    grade.add_argument("--quiet", action="store_true", help="no progress line")


def _report_options(command: argparse.ArgumentParser) -> None:
    """The options of the commands that print one report."""
    command.add_argument("--quiet", action="store_true", help="no progress line")
    command.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also what changed no verdict: each method's how and why, every random direction,"
        " the references' artefacts one by one (the JSON always has them)",
    )
    command.add_argument(
        "--html", metavar="FILE", help="also write the report as an HTML page (what the text says, coloured)"
    )


def _print_report(report: Any, args: argparse.Namespace) -> int:
    """Print ``report`` as the options ask, write its HTML page if asked, and return the exit code."""
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.format(verbose=args.verbose))
    if args.html:
        with open(args.html, "w", encoding="utf-8") as page:
            page.write(report.to_html(verbose=args.verbose))
    return {"pass": PASS, "fail": BUG}.get(report.status, INCONCLUSIVE)


#: The thread-count variables of the BLAS libraries numpy may load.
BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")


def _pin_blas() -> bool:
    """One BLAS thread for the benchmark: set before numpy loads (False if it already has)."""
    if "numpy" in sys.modules:
        return all(os.environ.get(v) == "1" for v in BLAS_THREADS[:1])
    os.environ.update(dict.fromkeys(BLAS_THREADS, "1"))
    return True


def _names(text: str, argument: str) -> list[str]:
    """A comma-separated list of names; empty items are an error."""
    items = [item.strip() for item in text.split(",")]
    if not text.strip() or any(not item for item in items):
        raise InputError(f"`{argument}`: expected a comma-separated list without empty items, got {text!r}.")
    return items


def _integers(text: str, argument: str) -> list[int]:
    from .. import validate

    out = []
    for item in _names(text, argument):
        try:
            out.append(validate.integer(int(item), argument, minimum=1))
        except ValueError:
            raise InputError(
                f"`{argument}`: expected positive integers separated by commas, got {text!r}."
            ) from None
    return out


def _needs_matplotlib(path: str | None, argument: str) -> None:
    """Fail before a long run, not after it, when a plot is asked for and cannot be made."""
    if path is None:
        return
    from .. import validate

    validate.output_path(path, argument)
    if importlib.util.find_spec("matplotlib") is None:
        raise InputError(f"`{argument}` needs matplotlib: pip install 'backprop-verifier[plot]'.")


def _check(args: argparse.Namespace) -> int:
    from .. import validate
    from .adapters import STYLES as ADAPTERS
    from .adapters import from_globals, style_of
    from .loading import load_module
    from .store import load_reference

    if args.html:
        validate.output_path(args.html, "--html")
    path, sep, names = args.target.rpartition(":")
    functions = names.split(",")
    in_globals = args.cost is not None or args.grad is not None
    if in_globals:
        if not sep or not path or len(functions) != 1 or not names.strip().isidentifier():
            raise InputError(
                f"`TARGET`: with --cost and --grad, expected path/to/module.py:GLOBAL, got {args.target!r}."
            )
        if args.cost is None or args.grad is None or args.data is not None or args.style is not None:
            raise InputError(
                "`--cost` and `--grad` go together, without --data or --style (the module holds its data)."
            )
    elif not sep or not path or len(functions) != 2 or not all(f.strip() for f in functions):
        raise InputError(f"`TARGET`: expected path/to/module.py:FORWARD,BACKWARD, got {args.target!r}.")
    elif args.data is None:
        raise InputError(
            "`--data` is required with TARGET module.py:FORWARD,BACKWARD (X, Y and the parameters)."
        )
    methods = validate.methods(_names(args.methods, "--methods"), "--methods")
    points = validate.integer(args.points, "--points", minimum=1)
    seed = validate.seed(args.seed, "--seed")
    style = "globals"
    if in_globals:
        module = load_module(path)
        cost, grad, params = from_globals(module, names.strip(), args.cost, args.grad)
    else:
        data = load_reference(str(args.data), argument="--data")
        module = load_module(path)
        forward, backward = (_function(module, path, name.strip()) for name in functions)
        style = args.style or style_of(forward)
        cost, grad = ADAPTERS[style](forward, backward, data["X"], data["Y"])
        params = data["params"]
    from ..api import check

    try:
        report = check(
            cost,
            grad,
            params,
            methods=methods,
            mode=args.mode,
            points=points,
            seed=seed,
            progress=False if args.quiet else None,
            rtol=args.rtol,
            atol=args.atol,
        )
    except Exception as exc:
        add_note = getattr(exc, "add_note", None)  # Python 3.11 and newer
        if add_note is not None and style in STYLES:
            other = next(s for s in STYLES if s != style)
            add_note(
                f"(with --style {style}: {STYLES[style]}; if yours are {other}-style, pass --style {other})"
            )
        raise
    return _print_report(report, args)


def _layer(args: argparse.Namespace) -> int:
    import inspect

    from .. import validate
    from .layer_check import check_layer
    from .loading import load_module
    from .store import layer_inputs

    if args.html:
        validate.output_path(args.html, "--html")
    path, sep, names = args.target.rpartition(":")
    functions = [f.strip() for f in names.split(",")]
    if not sep or not path or len(functions) not in (1, 2) or not all(functions):
        raise InputError(
            "`TARGET`: expected path/to/layers.py:FORWARD,BACKWARD or path/to/layers.py:LOSS,"
            f" got {args.target!r}."
        )
    methods = validate.methods(_names(args.methods, "--methods"), "--methods")
    seed = validate.seed(args.seed, "--seed")
    given = layer_inputs(args.inputs, args.const)
    module = load_module(path)
    forward = _function(module, path, functions[0])
    backward = _function(module, path, functions[1]) if len(functions) == 2 else None
    inputs = []
    for p in inspect.signature(forward).parameters.values():
        if p.name in given:
            inputs.append(given.pop(p.name))
        elif p.default is inspect.Parameter.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            raise InputError(
                f"`--inputs`: {functions[0]} needs {p.name!r}; give it in --inputs or as"
                f" --const {p.name}=JSON."
            )
        else:
            break
    if given:
        raise InputError(f"`--inputs`: {sorted(given)} are not parameters of {functions[0]}.")
    wrt = None if args.wrt is None else _names(args.wrt, "--wrt")
    report = check_layer(
        forward,
        backward,
        *inputs,
        wrt=wrt,
        seed=seed,
        methods=methods,
        progress=False if args.quiet else None,
    )
    return _print_report(report, args)


def _objects(args: argparse.Namespace) -> int:
    from .. import validate
    from .loading import load_module
    from .objects import check_objects

    path, sep, names = args.target.rpartition(":")
    functions = [f.strip() for f in names.split(",")]
    if not sep or not path or len(functions) not in (1, 2) or not all(functions):
        raise InputError(
            "`TARGET`: expected path/to/glue.py:FORWARD,BACKWARD or path/to/glue.py:FORWARD,"
            f" got {args.target!r}."
        )
    methods = validate.methods(_names(args.methods, "--methods"), "--methods")
    seed = validate.seed(args.seed, "--seed")
    module = load_module(path)
    forward = _function(module, path, functions[0])
    backward = _function(module, path, functions[1]) if len(functions) == 2 else None
    held = {}
    for name in args.objects:
        if not hasattr(module, name):
            raise InputError(f"`OBJECT`: {path} has no {name!r}.")
        held[name] = getattr(module, name)
    report = check_objects(
        forward, backward, seed=seed, methods=methods, progress=False if args.quiet else None, **held
    )
    print(json.dumps(report.to_dict(), indent=2) if args.json else report)
    return {"pass": PASS, "fail": BUG}.get(report.status, INCONCLUSIVE)


def _function(module: Any, path: str, name: str) -> Callable[..., Any]:
    value = getattr(module, name, None)
    if not callable(value):
        found = sorted(k for k, v in vars(module).items() if callable(v) and not k.startswith("_"))
        raise InputError(f"`TARGET`: {path} has no function {name!r}; it has {found}.")
    return value


def _reference(args: argparse.Namespace) -> int:
    from .. import validate
    from .store import make_reference, save_reference

    dims = _integers(args.dims, "--dims")
    seed = validate.seed(args.seed, "--seed")
    m = None if args.m is None else validate.integer(args.m, "--m", minimum=1)
    validate.output_path(args.out, "--out")
    save_reference(make_reference(args.network, dims, seed, m), args.out)
    print(f"wrote {args.out}: {args.network} {dims}, seed {seed}")
    return PASS


def _bench(args: argparse.Namespace) -> int:
    pinned = _pin_blas()  # first: validate's import loads numpy, and with it BLAS's threads
    from .. import validate

    sizes = _integers(args.sizes, "--sizes")
    methods = tuple(_names(args.methods, "--methods"))
    bad = [s for s in sizes if s not in BENCH_SIZES] + [
        m for m in methods if m not in BENCH_METHODS + BENCH_PEERS
    ]
    if bad:
        raise InputError(f"`--sizes`/`--methods`: unknown {bad}; see `verifier bench --help`.")
    repeats = validate.integer(args.repeats, "--repeats", minimum=1)
    max_seconds = validate.number(args.max_seconds, "--max-seconds")
    if args.csv:
        validate.output_path(args.csv, "--csv")
    _needs_matplotlib(args.png, "--png")
    from .bench import bench, summarize
    from .progress import Progress
    from .views import BENCH_HEADER, plot_bench, render_bench_row, render_bench_summary

    # each row goes out as it is measured, to the terminal and the CSV: a long run shows its
    # progress, and an interrupted one keeps what it measured
    show = Progress(len(sizes) * (len(methods) + 4), enabled=False if args.quiet else None)
    csv = open(args.csv, "w", encoding="utf-8") if args.csv else None  # noqa: SIM115
    rows = []
    try:
        print(f"BLAS threads: {'1 (pinned)' if pinned else 'not pinned: numpy was loaded before'}")
        print(BENCH_HEADER, flush=True)
        if csv is not None:
            csv.write("method,params,samples,seconds,forward_multiple\n")
        for row in bench(sizes, methods, repeats=repeats, max_seconds=max_seconds, progress=show):
            rows.append(row)
            show.clear()
            print(render_bench_row(row), flush=True)
            if csv is not None and not row.skipped:
                csv.write(row.csv() + "\n")
                csv.flush()
    finally:
        show.close()
        if csv is not None:
            csv.close()
    print(render_bench_summary(*summarize(rows)))
    if args.png:
        plot_bench(rows, args.png)
    return PASS


def _sweep(args: argparse.Namespace) -> int:
    from .. import validate

    seed = validate.seed(args.seed, "--seed")
    _needs_matplotlib(args.png, "--png")
    from .suite import NETWORKS
    from .sweep import sweep
    from .views import plot_sweep, render_sweep

    label, cost, params = NETWORKS[args.network](seed)
    result = sweep(cost, params, label=label)
    print(json.dumps(result.to_dict(), indent=2) if args.json else render_sweep(result))
    if args.png:
        plot_sweep(result, args.png)
        if not args.json:
            print(f"saved {args.png}")
    return PASS


def _run(args: argparse.Namespace) -> int:
    from .. import validate

    methods = validate.methods(_names(args.methods, "--methods"), "--methods")
    if args.html:
        validate.output_path(args.html, "--html")
    from .suite import reproductions, run_suite
    from .views import render_case_line, render_reproductions, render_suite_html, render_suite_summary

    repros = reproductions()
    if not args.json:
        print(render_reproductions(repros), end="\n\n", flush=True)
    results = []
    for result in run_suite(quick=args.quick, methods=methods):
        results.append(result)
        if not args.json:
            print(render_case_line(result), flush=True)
    ok = all(r.as_expected for r in results)
    if args.json:
        doc = {
            "ok": ok,
            "reproductions": [r.to_dict() for r in repros],
            "cases": [r.to_dict() for r in results],
        }
        print(json.dumps(doc, indent=2))
    else:
        print(render_suite_summary(results))
    if args.html:
        with open(args.html, "w", encoding="utf-8") as page:
            page.write(render_suite_html(repros, results))
    return PASS if ok else BUG


def _grade(args: argparse.Namespace) -> int:
    from .. import validate
    from ..grading.grader import prepare, run
    from ..grading.scoring import grade_line, summary, write_gradescope, write_json
    from .progress import Progress

    weights: dict[str, float] = {}
    for item in _names(args.weights, "--weights") if args.weights is not None else []:
        key, sep, value = item.partition("=")
        try:
            weights[key.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not key.strip():
            raise InputError(
                f"`--weights`: expected NAME=WEIGHT pairs like dW1=2,db1=1, got {args.weights!r}."
            )
    try:
        seeds = [int(s) for s in _names(args.seeds, "--seeds")]
    except ValueError:
        raise InputError(f"`--seeds`: expected integers separated by commas, got {args.seeds!r}.") from None
    if args.json:
        validate.output_path(args.json, "--json")
    if args.gradescope and os.path.exists(args.gradescope) and not os.path.isdir(args.gradescope):
        raise InputError(f"`--gradescope`: {args.gradescope!r} is a file, not a folder.")
    names = {
        "reference": "REFERENCE",
        "submissions": "SUBMISSIONS",
        **{k: f"--{k}" for k in ("data", "seeds", "points", "weights", "student", "timeout", "memory")},
        **{k: f"--{k}" for k in ("files", "jobs", "style", "methods")},
        "check_points": "--check-points",
    }
    plan = prepare(
        args.reference,
        args.submissions,
        args.data,
        seeds=seeds,
        points=args.points,
        weights=weights or None,
        student=tuple(args.student.split(",")),
        timeout=args.timeout,
        memory=args.memory,
        files=args.files,
        check_points=args.check_points,
        jobs=args.jobs,
        style=args.style,
        methods=_names(args.methods, "--methods"),
        names=names,
    )
    show = Progress(len(plan.submissions), enabled=False if args.quiet else None)
    print(
        f"grading {len(plan.submissions)} submissions on {len(plan.cases)}"
        f" case{'s' if len(plan.cases) != 1 else ''}"
        f" ({plan.jobs} at a time, {plan.timeout:g} s each per case)",
        flush=True,
    )

    def progress(grade: Any, done: int, total: int) -> None:
        show.clear()
        print(f"  [{done}/{total}] {grade_line(grade)}", flush=True)
        show(f"graded {done} of {total}")

    try:
        grades = run(plan, progress)
    finally:
        show.close()
    print()
    print(summary(grades))
    if args.json:
        write_json(grades, args.json, [c.name for c in plan.cases])
        print(f"wrote {args.json}")
    if args.gradescope:
        write_gradescope(grades, args.gradescope)
        print(f"wrote {len(grades)} results.json under {args.gradescope}")
    return PASS


HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "run": _run,
    "check": _check,
    "layer": _layer,
    "objects": _objects,
    "reference": _reference,
    "bench": _bench,
    "sweep": _sweep,
    "grade": _grade,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``verifier`` command; returns the exit code (see ``EXIT_CODES``)."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse: 0 after --help, 2 on a usage error
        return int(exc.code or 0)
    command = f"verifier {args.command}"
    try:
        return HANDLERS[args.command](args)
    except InputError as exc:
        print(f"{command}: {exc}", file=sys.stderr)
        return USAGE
    except BrokenPipeError:  # `verifier run | head`: stop quietly, as Unix tools do
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        return ERROR
    except KeyboardInterrupt:
        print(f"{command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        where = where_raised(exc)
        notes = "".join(f" {n}" for n in getattr(exc, "__notes__", []))
        if where is not None:
            print(
                f"{command}: your code raised {type(exc).__name__} at {where}: {exc}{notes}", file=sys.stderr
            )
        else:
            traceback.print_exc()
            print(
                f"{command}: internal error ({type(exc).__name__}: {exc}); please report it.", file=sys.stderr
            )
        return ERROR
