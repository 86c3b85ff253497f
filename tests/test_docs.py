"""The README's example and the examples/ scripts run as written."""

from __future__ import annotations

import os
import re
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_readme_python_example_runs(capsys):
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    assert blocks, "README has a python example"
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert out.startswith("PASS") and "'W': array" in out


def test_readme_shows_the_two_commands():
    text = (ROOT / "README.md").read_text()
    commands = re.findall(r"^python3 -m venv .*$", text, flags=re.M)
    assert len(commands) == 2
    assert commands[0].endswith("verifier run") and commands[1].endswith("pytest")


#: What each example must show.
EXAMPLES = {
    "check_your_own.py": "W equals the transpose of the reference",
    "notebook_seed.py": "b1 is exactly 4.0× the reference",
    "xor_blog.py": "2/m is missing (m = 4)",
    "dropout.py": "planted bug 'mask not applied in backward': fail",
    "step_size.py": "fitted order on the truncation side",
    "notebook_view.py": "wrote notebook_view.html: fail",
    "training_monitor.py": "blog's backprop: stopped at epoch 0",
    "objects_from_scratch.py": "the 1/m averaging is missing (m = 30)",
    "course_cells.py": "with the slip: fail, wrong: Waa",
    "loss_and_grads.py": "(grads, loss) function: pass; autograd available: True",
}


def test_every_example_is_tested():
    assert sorted(p.name for p in (ROOT / "examples").glob("*.py")) == sorted(EXAMPLES)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_examples_run(name, tmp_path):
    script = ROOT / "examples" / name
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env
    )
    assert done.returncode == 0, done.stderr
    assert EXAMPLES[name] in done.stdout


def test_benchmark_scripts_import_and_measure():
    """The scripts load; the expensive runs are theirs, not the tests' (bench itself is tested)."""
    for name, entry in (("executor.py", "main"), ("scale_verdicts.py", "measure")):
        assert callable(runpy.run_path(str(ROOT / "benchmarks" / name))[entry])
    runpy.run_path(str(ROOT / "benchmarks" / "run_bench.py"))
    assert (
        (ROOT / "benchmarks" / "results.csv")
        .read_text()
        .startswith("method,params,samples,seconds,forward_multiple")
    )
