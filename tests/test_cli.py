"""`verifier run` as a user and a machine see it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import SUMMATION_RTOL

from verifier.cli import main


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
