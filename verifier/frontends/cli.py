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

from ..errors import InputError, where_raised
from .arguments import BUG, ERROR, INCONCLUSIVE, PASS, USAGE, build_parser
from .catalog import BENCH_METHODS, BENCH_PEERS, BENCH_SIZES, STYLES


def _print_report(report: Any, args: argparse.Namespace) -> int:
    """Print ``report`` as the options ask, write its HTML page if asked, and return the exit code."""
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.format(verbose=args.verbose))
    if args.html:
        with open(args.html, "w", encoding="utf-8") as page:
            page.write(report.to_html(verbose=args.verbose))
    return _exit_code(report)


def _exit_code(report: Any) -> int:
    """The exit code of a command that checked: pass, bug found, or inconclusive."""
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
    from .loading import function_of, load_module, split_target
    from .store import load_reference

    if args.html:
        validate.output_path(args.html, "--html")
    in_globals = args.cost is not None or args.grad is not None
    if in_globals:
        path, functions = split_target(
            args.target, (1,), "TARGET", "with --cost and --grad, path/to/module.py:GLOBAL"
        )
        if args.cost is None or args.grad is None or args.data is not None or args.style is not None:
            raise InputError(
                "`--cost` and `--grad` go together, without --data or --style (the module holds its data)."
            )
    else:
        path, functions = split_target(args.target, (2,), "TARGET", "path/to/module.py:FORWARD,BACKWARD")
    if not in_globals and args.data is None:
        raise InputError(
            "`--data` is required with TARGET module.py:FORWARD,BACKWARD (X, Y and the parameters)."
        )
    methods = validate.methods(_names(args.methods, "--methods"), "--methods")
    points = validate.integer(args.points, "--points", minimum=1)
    seed = validate.seed(args.seed, "--seed")
    style = "globals"
    if in_globals:
        module = load_module(path)
        cost, grad, params = from_globals(module, functions[0], args.cost, args.grad)
    else:
        data = load_reference(str(args.data), argument="--data")
        module = load_module(path)
        forward, backward = (function_of(module, path, name.strip(), "TARGET") for name in functions)
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
    from .loading import function_of, load_module, split_target
    from .store import layer_inputs

    if args.html:
        validate.output_path(args.html, "--html")
    path, functions = split_target(
        args.target, (1, 2), "TARGET", "path/to/layers.py:FORWARD,BACKWARD or path/to/layers.py:LOSS"
    )
    methods = validate.methods(_names(args.methods, "--methods"), "--methods")
    seed = validate.seed(args.seed, "--seed")
    given = layer_inputs(args.inputs, args.const)
    module = load_module(path)
    forward = function_of(module, path, functions[0], "TARGET")
    backward = function_of(module, path, functions[1], "TARGET") if len(functions) == 2 else None
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
    from .loading import function_of, load_module, split_target
    from .objects import check_objects

    path, functions = split_target(
        args.target, (1, 2), "TARGET", "path/to/glue.py:FORWARD,BACKWARD or path/to/glue.py:FORWARD"
    )
    methods = validate.methods(_names(args.methods, "--methods"), "--methods")
    seed = validate.seed(args.seed, "--seed")
    module = load_module(path)
    forward = function_of(module, path, functions[0], "TARGET")
    backward = function_of(module, path, functions[1], "TARGET") if len(functions) == 2 else None
    held = {}
    for name in args.objects:
        if not hasattr(module, name):
            raise InputError(f"`OBJECT`: {path} has no {name!r}.")
        held[name] = getattr(module, name)
    report = check_objects(
        forward, backward, seed=seed, methods=methods, progress=False if args.quiet else None, **held
    )
    print(json.dumps(report.to_dict(), indent=2) if args.json else report)
    return _exit_code(report)


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
    from ..core.progress import Progress
    from .bench import bench, summarize
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
    from ..core.progress import Progress
    from .grading.grader import run
    from .grading.plan import prepare
    from .grading.scoring import grade_line, summary, write_gradescope, write_json

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
        args = build_parser().parse_args(argv)
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
