"""The `verifier` command's arguments: one parser per subcommand, the exit codes, the help's formatting."""

from __future__ import annotations

import argparse
from typing import Any

from .. import __version__
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


def build_parser() -> argparse.ArgumentParser:
    common: dict[str, Any] = {"formatter_class": _Formatter, "epilog": EXIT_CODES}
    parser = argparse.ArgumentParser(
        prog="verifier",
        description="Check hand-written numpy backprop three ways: centered differences,"
        " scipy.optimize.check_grad, and autograd.",
        **common,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _run_parser(sub, common)
    _check_parser(sub, common)
    _layer_parser(sub, common)
    _objects_parser(sub, common)
    _reference_parser(sub, common)
    _sweep_parser(sub, common)
    _bench_parser(sub, common)
    _grade_parser(sub, common)
    return parser


def _run_parser(sub: Any, common: dict[str, Any]) -> None:
    """The `verifier run` subcommand's arguments."""
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


def _check_parser(sub: Any, common: dict[str, Any]) -> None:
    """The `verifier check` subcommand's arguments."""
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
    _methods_option(mine)
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


def _layer_parser(sub: Any, common: dict[str, Any]) -> None:
    """The `verifier layer` subcommand's arguments."""
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
    _methods_option(layer)
    layer.add_argument("--seed", type=int, default=0, help="seed of dout and of every random choice")
    layer.add_argument("--json", action="store_true", help="print the report as JSON instead of the table")
    _report_options(layer)


def _objects_parser(sub: Any, common: dict[str, Any]) -> None:
    """The `verifier objects` subcommand's arguments."""
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
    _methods_option(objects)
    objects.add_argument("--seed", type=int, default=0, help="seed of every random choice")
    objects.add_argument("--json", action="store_true", help="print the report as JSON instead of the table")
    objects.add_argument("--quiet", action="store_true", help="no progress line")


def _reference_parser(sub: Any, common: dict[str, Any]) -> None:
    """The `verifier reference` subcommand's arguments."""
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


def _sweep_parser(sub: Any, common: dict[str, Any]) -> None:
    """The `verifier sweep` subcommand's arguments."""
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


def _bench_parser(sub: Any, common: dict[str, Any]) -> None:
    """The `verifier bench` subcommand's arguments."""
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
        help=f"comma-separated parameter counts among {sizes} (default: up to 99,073, about half a minute)",
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
    _methods_option(grade)
    grade.add_argument("--jobs", type=int, help="submissions graded at once (default: the cores)")
    grade.add_argument("--json", metavar="PATH", help="write every submission's score, status and feedback")
    grade.add_argument(
        "--gradescope", metavar="DIR", help="write DIR/<submission>/results.json for Gradescope"
    )
    grade.add_argument("--quiet", action="store_true", help="no progress line")


def _methods_option(command: argparse.ArgumentParser) -> None:
    """``--methods`` of the commands that run a check."""
    command.add_argument(
        "--methods", default=DEFAULT_METHODS, help="comma-separated, among centered,scipy,autograd,complex"
    )


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
