"""The ``verifier`` command: arguments in, library calls, rendered output, an exit code.

No numerics and no formatting here: those live in the library and in :mod:`verifier.report`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from . import __version__
from .adapters import STYLES
from .bench import METHODS as BENCH_METHODS
from .bench import PEERS as BENCH_PEERS
from .bench import SIZES as BENCH_SIZES
from .bench import bench
from .errors import InputError
from .harness import check, validate_methods
from .loading import load_data, load_module
from .progress import Progress
from .reference import make_reference, save_reference
from .report import (
    plot_bench,
    plot_sweep,
    render_bench,
    render_case_line,
    render_reproductions,
    render_suite_summary,
    render_sweep,
)
from .suite import NETWORKS, reproductions, run_suite
from .sweep import sweep


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="verifier",
        description="Check hand-written numpy backprop three ways: centered differences,"
        " scipy.optimize.check_grad, and autograd.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = sub.add_parser(
        "run",
        help="run the verification suite: the seeds' networks and bugs, at several sizes and seeds",
        description="Run the verification suite. Correct backprops must pass; the seeds'"
        " known-buggy backprops must fail with the right tensors named. Exit 0 when every"
        " case comes out as expected, 1 otherwise, 2 on usage errors.",
    )
    run.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    run.add_argument("--quick", action="store_true", help="one random draw per network instead of three")
    run.add_argument(
        "--methods",
        default="centered,scipy,autograd",
        help="comma-separated subset of centered,scipy,autograd (default: all three)",
    )
    sweep = sub.add_parser(
        "sweep",
        help="error of one-sided and centered differences against the step size",
        description="The step-size study on a built-in network: the V of truncation against"
        " round-off, the fitted orders (one-sided O(h), centered O(h^2)) and the step the"
        " centered method chooses. A PNG too with --png (needs matplotlib).",
    )
    sweep.add_argument("--network", choices=sorted(NETWORKS), default="xor", help="default: xor (the blog's)")
    sweep.add_argument("--seed", type=int, default=0, help="seed of the parameters (default 0)")
    sweep.add_argument("--png", metavar="PATH", help="also save a log-log plot")
    sweep.add_argument("--json", action="store_true", help="print JSON instead of the table")
    bench = sub.add_parser(
        "bench",
        help="time each way of checking against network size",
        description="Time the notebook's loop, the verifier's centered check, scipy's check_grad,"
        " autograd, the fast mode and the backward pass itself on DeepReLU networks from 47"
        " to about 1e6 parameters, side by side; print times, multiples of one forward pass and"
        " growth exponents.",
    )
    bench.add_argument(
        "--sizes",
        default=",".join(map(str, BENCH_SIZES)),
        help=f"comma-separated parameter counts among {', '.join(map(str, BENCH_SIZES))}",
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
        help="runs per measurement (median), at least: sub-second ones repeat for about 0.3 s; default 3",
    )
    bench.add_argument(
        "--max-seconds",
        type=float,
        default=60.0,
        help="skip a measurement predicted to take longer (default 60)",
    )
    bench.add_argument("--csv", metavar="PATH", help="write method,params,samples,seconds,forward_multiple")
    bench.add_argument("--png", metavar="PATH", help="save a log-log plot (needs matplotlib)")
    bench.add_argument("--quiet", action="store_true", help="no progress line")
    mine = sub.add_parser(
        "check",
        help="check your own forward/backward functions from a Python file",
        description="Check the backward pass of your own module."
        " TARGET is path/to/module.py:FORWARD,BACKWARD."
        " --style notebook (default): FORWARD(X, Y, parameters) -> (cost, cache) and"
        " BACKWARD(X, Y, cache) -> gradients with dW1/db1 keys, as in the notebook; --style"
        " functions: FORWARD(params, X, Y) -> cost and BACKWARD(params, X, Y) -> gradients."
        " --data is an .npz with arrays X, Y and the parameters (THETA0, THETA1, ... become a"
        " list). Exit 0 on a pass, 1 on a failed or inconclusive check, 2 on usage errors.",
    )
    mine.add_argument("target", metavar="TARGET")
    mine.add_argument("--data", required=True, metavar="NPZ")
    mine.add_argument("--style", choices=sorted(STYLES), default="notebook")
    mine.add_argument("--mode", choices=("full", "fast"), default="full")
    mine.add_argument("--points", type=int, default=1)
    mine.add_argument("--json", action="store_true")
    mine.add_argument("--quiet", action="store_true", help="no progress line")
    ref = sub.add_parser(
        "reference",
        help="write parameters, data and autograd's gradients of a built-in network to a file",
        description="Write a reference for other tools: .npz (arrays X, Y, param:NAME, grad:NAME and meta)"
        " or .json; read it back with verifier.load_reference(path).",
    )
    ref.add_argument("--network", choices=("deep-relu", "xor"), default="deep-relu")
    ref.add_argument("--dims", default="4,5,3,1", help="layer sizes, comma-separated (default 4,5,3,1)")
    ref.add_argument("--seed", type=int, default=1)
    ref.add_argument("--m", type=int, help="number of examples (default: the network's example data)")
    ref.add_argument("--out", required=True, metavar="PATH")
    return parser


def _check(args: argparse.Namespace) -> int:
    try:
        path, names = args.target.rsplit(":", 1)
        forward_name, backward_name = names.split(",")
        module = load_module(path)
        forward, backward = getattr(module, forward_name), getattr(module, backward_name)
        data = load_data(args.data)
    except (ValueError, AttributeError, OSError, KeyError) as exc:
        print(f"verifier check: {exc} (TARGET is path/to/module.py:FORWARD,BACKWARD)", file=sys.stderr)
        return 2
    cost, grad = STYLES[args.style](forward, backward, data["X"], data["Y"])
    report = check(
        cost, grad, data["params"], mode=args.mode, points=args.points, progress=False if args.quiet else None
    )
    print(json.dumps(report.to_dict(), indent=2) if args.json else report)
    return 0 if report.ok else 1


def _reference(args: argparse.Namespace) -> int:
    dims = [int(d) for d in args.dims.split(",")]
    save_reference(make_reference(args.network, dims, args.seed, args.m), args.out)
    print(f"wrote {args.out}: {args.network} {dims}, seed {args.seed}")
    return 0


def _bench(args: argparse.Namespace) -> int:
    try:
        sizes = [int(s) for s in args.sizes.split(",")]
    except ValueError:
        sizes = []
    methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    known = BENCH_METHODS + BENCH_PEERS
    bad = [s for s in sizes if s not in BENCH_SIZES] + [m for m in methods if m not in known]
    if not sizes or not methods or bad:
        print(f"verifier bench: unknown sizes or methods {bad or args.sizes}", file=sys.stderr)
        return 2
    show = Progress(len(sizes) * len(methods), enabled=False if args.quiet else None)
    rows = list(bench(sizes, methods, repeats=args.repeats, max_seconds=args.max_seconds, progress=show))
    show.close()
    print(render_bench(rows))
    if args.csv:
        with open(args.csv, "w", encoding="utf-8") as fh:
            fh.write("method,params,samples,seconds,forward_multiple\n")
            fh.writelines(r.csv() + "\n" for r in rows if not r.skipped)
    if args.png:
        plot_bench(rows, args.png)
    return 0


def _sweep(args: argparse.Namespace) -> int:
    label, cost, params = NETWORKS[args.network](args.seed)
    result = sweep(cost, params, label=label)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(render_sweep(result))
    if args.png:
        plot_sweep(result, args.png)
        if not args.json:
            print(f"saved {args.png}")
    return 0


def _run(args: argparse.Namespace, methods: tuple[str, ...]) -> int:
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
    return 0 if ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``verifier`` command; returns the exit code."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    if args.command == "run":
        try:
            methods = validate_methods([m.strip() for m in args.methods.split(",") if m.strip()])
        except InputError as exc:
            print(f"verifier run: {exc}", file=sys.stderr)
            return 2
        try:
            return _run(args, methods)
        except BrokenPipeError:  # e.g. `verifier run | head`: stop quietly, as Unix tools do
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
            return 1
    handlers = {"check": _check, "reference": _reference, "bench": _bench, "sweep": _sweep}
    try:
        return handlers[args.command](args)
    except (InputError, ImportError) as exc:  # bad input, or an optional extra not installed
        print(f"verifier {args.command}: {exc}", file=sys.stderr)
        return 2
