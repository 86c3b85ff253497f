"""The small frictions a newcomer meets: help text, the repository's root, the docs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import verifier
from verifier.frontends.cli import main

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("command", ["run", "check", "layer", "reference", "sweep", "bench"])
def test_help_says_each_default_once_and_only_when_it_says_something(command, capsys):
    assert main([command, "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines anywhere
    assert "(default: None)" not in text and "(default: False)" not in text
    for option in re.split(r"\s(?=--?[a-z])", text):
        assert option.count("(default") <= 1, option


@pytest.mark.parametrize("command", ["reference", "sweep", "bench"])
def test_tools_list_their_own_exit_codes(command, capsys):
    assert main([command, "--help"]) == 0
    text = capsys.readouterr().out
    assert "exit codes:" in text and "a bug found" not in text and "inconclusive" not in text


def test_check_help_keeps_the_checks_exit_codes(capsys):
    assert main(["check", "--help"]) == 0
    assert "a bug found" in capsys.readouterr().out


def test_bench_help_and_readme_give_the_default_run_the_same_duration(capsys):
    """The default ``verifier bench`` took 30 s on this project's two shared cores (measured once):
    its help and the README say the same."""
    assert main(["bench", "--help"]) == 0
    help_text = " ".join(capsys.readouterr().out.split())
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert "99,073, about half a minute" in help_text and "minute or two" not in help_text
    assert "takes about half a minute" in readme and "minute or two" not in readme


def test_readme_grade_command_gives_the_time_limit_its_output_shows():
    readme = (ROOT / "README.md").read_text()
    output = readme.index("grading 11 submissions on 1 case (2 at a time, 5 s each per case)")
    command = readme[readme.rindex("verifier grade ", 0, output) : output]
    assert "--timeout 5" in command and "tests/grading_class/submissions" in command, command


def test_check_docstring_says_plain_numpy_gets_the_autograd_reference():
    doc = verifier.check.__doc__ or ""
    assert "reported unavailable" not in doc and "Plain numpy gets" in doc


def test_no_stray_file_at_the_root():
    assert not (ROOT / "centered").exists()


def test_readme_shows_executors():
    text = (ROOT / "README.md").read_text()
    for words in ("ProcessPoolExecutor", "LocalCluster", "client.get_executor()", "executor=pool"):
        assert words in text
