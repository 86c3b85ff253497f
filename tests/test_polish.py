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


def test_check_docstring_says_plain_numpy_gets_the_autograd_reference():
    doc = verifier.check.__doc__ or ""
    assert "reported unavailable" not in doc and "Plain numpy gets" in doc


def test_no_stray_file_at_the_root():
    assert not (ROOT / "centered").exists()


def test_readme_shows_executors():
    text = (ROOT / "README.md").read_text()
    for words in ("ProcessPoolExecutor", "LocalCluster", "client.get_executor()", "executor=pool"):
        assert words in text
