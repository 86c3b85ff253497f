"""`verifier run` as a user and a machine see it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import SUMMATION_RTOL

from verifier.frontends.cli import main


def test_run_quick_text(capsys):
    assert main(["run", "--quick"]) == 0
    out = capsys.readouterr().out
    assert "Seed reproductions" in out and "7.826683745609991e-12" in out
    assert "notebook test case, planted bugs: fail" in out
    assert "W2 is exactly 2.0× the reference" in out and "b1 is exactly 4.0× the reference" in out
    assert "2/m is missing (m = 4)" in out
    assert "all cases as expected" in out


def test_run_json(capsys):
    assert main(["run", "--quick", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is True
    by_name = {c["name"]: c for c in doc["cases"]}
    planted = by_name["notebook test case, planted bugs"]
    assert planted["status"] == "fail" and sorted(planted["wrong_tensors"]) == ["W2", "b1"]
    assert all(c["as_expected"] for c in doc["cases"])
    figures = {r["printed"]: r["value"] for r in doc["reproductions"]}
    # recomputed with the notebook's procedure: equal to the printed figure up to summation order
    assert figures["0.2850931567761623"] == pytest.approx(0.2850931567761623, rel=SUMMATION_RTOL)


def test_usage_errors_exit_2(capsys):
    assert main([]) == 2
    assert main(["run", "--methods", "centered,fast"]) == 2
    assert "`--methods`" in capsys.readouterr().err
    assert main(["frobnicate"]) == 2


def test_python_dash_m():
    done = subprocess.run([sys.executable, "-m", "verifier", "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("verifier ")


def test_bench_pins_blas_to_one_thread_in_a_fresh_process():
    """`verifier bench` sets one BLAS thread before anything of its own loads numpy (the
    variables are read once, when numpy loads)."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    done = subprocess.run(
        [sys.executable, "-m", "verifier", "bench", "--sizes", "47", "--methods", "backward", "--quiet"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert "BLAS threads: 1 (pinned)" in done.stdout


def test_objects_command_checks_the_glue_files_objects(capsys):
    from pathlib import Path

    glue = Path(__file__).resolve().parents[1] / "examples" / "objects_from_scratch.py"
    with pytest.warns(UserWarning, match="dense1.dinputs"):
        code = main(["objects", f"{glue}:forward,backward", "dense1", "dense2", "--quiet", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert [t["name"] for t in out["tensors"]][:2] == ["dense1.weights", "dense1.biases"]
    assert any(u.startswith("dense2.dinputs") for u in out["unchecked"])
    assert main(["objects", f"{glue}:forward,backward", "dense9"]) == 2
    assert "has no 'dense9'" in capsys.readouterr().err
