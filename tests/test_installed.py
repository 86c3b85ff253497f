"""Installed as users install it: what is the user's code is decided by where a module comes from
(this package, the standard library, installed distributions), never by a substring of its path."""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import os
import sys
import textwrap
import types

import numpy as np
import pytest

import verifier
from verifier import errors
from verifier.errors import in_package_networks, is_user_file


def _fake_site(root, owned: str = "fakedist") -> str:
    """A site-packages folder holding a distribution ``owned`` (its files listed in RECORD) and a
    module no distribution owns."""
    site = root / "lib" / "python3" / "site-packages"
    (site / owned).mkdir(parents=True)
    (site / owned / "__init__.py").write_text("def f(x):\n    return x\n")
    info = site / f"{owned}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {owned}\nVersion: 1.0\n")
    (info / "RECORD").write_text(f"{owned}/__init__.py,,\n{owned}-1.0.dist-info/METADATA,,\n")
    return str(site)


def _install_site(monkeypatch, site: str) -> None:
    """Make ``site`` one of the interpreter's site directories, on ``sys.path``, for this test
    (as a virtual environment's ``site-packages`` is)."""
    monkeypatch.syspath_prepend(site)
    monkeypatch.setattr(errors, "_SITE_DIRS", errors._SITE_DIRS | {os.path.realpath(site)})


def test_origin_decides_on_synthetic_paths(tmp_path, monkeypatch):
    site = _fake_site(tmp_path)
    _install_site(monkeypatch, site)
    mine = os.path.join(site, "homework_net.py")
    open(mine, "w").close()
    # a distribution's file is a library's; a user's own module beside it is the user's
    assert not is_user_file(os.path.join(site, "fakedist", "__init__.py"))
    assert is_user_file(mine)
    # a user's project whose folder merely has "site-packages" in its name
    project = tmp_path / "site-packages-course" / "networks"
    project.mkdir(parents=True)
    assert is_user_file(str(project / "net.py"))
    assert not in_package_networks(str(project / "net.py"))  # the user's "networks" folder is not ours
    # the standard library, numpy (an installed distribution), the interpreter's frozen modules
    assert not is_user_file(json.__file__) and not is_user_file(os.__file__)
    assert not is_user_file(np.__file__)
    assert not is_user_file("<frozen importlib._bootstrap>")
    # notebooks and exec'd source
    assert is_user_file("<ipython-input-3-abc>") and is_user_file("<string>")


def test_the_same_distribution_outside_the_site_directories_owns_nothing(tmp_path, monkeypatch):
    """Only distributions installed into the interpreter's site directories own library files: the
    same folder reached through ``sys.path`` alone (a project folder, the current directory) does not."""
    site = _fake_site(tmp_path)
    monkeypatch.syspath_prepend(site)
    assert is_user_file(os.path.join(site, "fakedist", "__init__.py"))
    _install_site(monkeypatch, site)
    assert not is_user_file(os.path.join(site, "fakedist", "__init__.py"))


@pytest.mark.parametrize(
    "filename", ["<student>", "<exec>", "<submission 3>", "<string>", "<ipython-input-2-ab>"]
)
def test_source_exec_d_under_any_pseudo_file_name_is_the_user_s(filename):
    """Autograders exec a submission into a ``types.ModuleType`` under a name of their own: the
    autograd reference runs on it and a slip is named at its line. The interpreter's frozen
    modules, numpy's dispatchers and generated decorators are not the user's."""
    source = textwrap.dedent(
        """
        import numpy as np

        def sigmoid(z):
            return 1 / (1 + np.exp(-z))

        def cost(p):
            A = sigmoid(np.dot(p["W"], X) + p["b"])
            return float(-np.mean(Y * np.log(A) + (1 - Y) * np.log(1 - A)))

        def grad(p):
            m = X.shape[1]
            dZ = sigmoid(np.dot(p["W"], X) + p["b"]) - Y
            dW = np.dot(dZ, X.T) / m
            db = np.sum(dZ, axis=1, keepdims=True)  # slip: / m missing
            return {"dW": dW, "db": db}
        """
    )
    rng = np.random.default_rng(0)
    module = types.ModuleType("student_submission")
    module.X, module.Y = rng.standard_normal((3, 8)), (rng.random((1, 8)) > 0.5) * 1.0
    exec(compile(source, filename, "exec"), vars(module))
    assert is_user_file(filename)
    p = {"W": rng.standard_normal((1, 3)), "b": rng.standard_normal((1, 1))}
    want = np.dot(module.sigmoid(np.dot(p["W"], module.X) + p["b"]) - module.Y, module.X.T) / 8
    np.testing.assert_allclose(verifier.reference_gradients(module.cost, p)["W"], want, rtol=1e-10)
    report = verifier.check(module.cost, module.grad, p)
    assert report.methods["autograd"].available, str(report)
    assert report.wrong_tensors == ["b"] and f"{filename}:16" in str(report), str(report)
    for library in ("<frozen posixpath>", "<__array_function__ internals>", "<decorator-gen-12>", ""):
        assert not is_user_file(library)


def test_this_package_networks_and_seeds_are_user_code_its_machinery_is_not():
    import verifier.api
    import verifier.frontends.published
    import verifier.networks

    assert is_user_file(verifier.networks.__file__) and in_package_networks(verifier.networks.__file__)
    assert is_user_file(verifier.frontends.published.__file__) and not in_package_networks(
        verifier.frontends.published.__file__
    )
    assert not is_user_file(verifier.api.__file__) and not is_user_file(errors.__file__)


def test_a_project_with_its_own_egg_info_is_the_user_s_code(tmp_path, monkeypatch):
    """``pip install -e .`` with setuptools leaves ``homework.egg-info`` (listing every source
    file) beside the code; run from the project folder (``python -m pytest``, a notebook), that
    folder is on ``sys.path``. The project's code stays the user's: autograd's reference runs on it
    and a slip is named at its line."""
    project = tmp_path / "homework-project"
    (project / "homework").mkdir(parents=True)
    (project / "homework" / "__init__.py").write_text("")
    (project / "homework" / "net.py").write_text(
        textwrap.dedent(
            """
            import numpy as np


            def relu(Z):
                return np.maximum(0, Z)


            def cost(p, X, Y):
                A1 = relu(np.dot(p["W1"], X))
                return 0.5 * np.sum((np.dot(p["W2"], A1) - Y) ** 2) / X.shape[1]


            def backward(p, X, Y):
                m = X.shape[1]
                Z1 = np.dot(p["W1"], X)
                A1 = relu(Z1)
                dZ2 = (np.dot(p["W2"], A1) - Y) / m
                dW2 = np.dot(dZ2, A1.T)
                dZ1 = np.dot(p["W2"].T, dZ2) * (Z1 > 0)
                dW1 = 2 * np.dot(dZ1, X.T)  # slip: a stray factor 2
                return {"W1": dW1, "W2": dW2}
            """
        )
    )
    info = project / "homework.egg-info"
    info.mkdir()
    (info / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: homework\nVersion: 0.1\n")
    (info / "SOURCES.txt").write_text("homework/__init__.py\nhomework/net.py\nhomework.egg-info/PKG-INFO\n")
    (info / "top_level.txt").write_text("homework\n")
    monkeypatch.syspath_prepend(str(project))
    assert any(
        d.metadata["Name"] == "homework" for d in importlib.metadata.distributions(path=[str(project)])
    )
    net = importlib.import_module("homework.net")
    assert is_user_file(net.__file__)
    rng = np.random.default_rng(1)
    X, Y = rng.standard_normal((3, 6)), rng.standard_normal((2, 6))
    p = {"W1": rng.standard_normal((4, 3)), "W2": rng.standard_normal((2, 4))}
    report = verifier.check(lambda q: net.cost(q, X, Y), lambda q: net.backward(q, X, Y), p)
    assert report.methods["autograd"].available, str(report)
    assert report.wrong_tensors == ["W1"] and "dW1 = 2 * np.dot(dZ1, X.T)" in str(report), str(report)
    for name in ("homework.net", "homework"):
        sys.modules.pop(name, None)


def test_distributions_are_listed_once_per_sys_path(tmp_path, monkeypatch):
    site = _fake_site(tmp_path, "otherdist")
    _install_site(monkeypatch, site)
    entries = errors._site_entries(tuple(sys.path), errors._SITE_DIRS)
    assert entries[0] == site and errors._site_entries(tuple(sys.path), errors._SITE_DIRS) is entries
    roots = errors._distribution_roots(entries)
    assert errors._distribution_roots(entries) is roots  # cached, not rebuilt per frame
    assert os.path.realpath(os.path.join(site, "otherdist")) in roots


def test_user_code_kept_under_site_packages_is_traced_and_its_lines_named(tmp_path, monkeypatch):
    """A user's network saved into a site-packages folder (no distribution owns it): plain numpy
    gets the autograd reference, and a slip is named at its line."""
    site = _fake_site(tmp_path)
    (tmp_path / "lib" / "python3" / "site-packages" / "my_net.py").write_text(
        textwrap.dedent(
            """
            import numpy as np

            def forward(p, X):
                Z1 = np.dot(p["W1"], X) + p["b1"]
                A1 = np.tanh(Z1)
                return np.dot(p["W2"], A1) + p["b2"]

            def cost(p, X, Y):
                return 0.5 * np.sum((forward(p, X) - Y) ** 2) / X.shape[1]

            def backward(p, X, Y):
                m = X.shape[1]
                Z1 = np.dot(p["W1"], X) + p["b1"]
                A1 = np.tanh(Z1)
                dZ2 = (np.dot(p["W2"], A1) + p["b2"] - Y) / m
                dW2 = np.dot(dZ2, A1.T)
                db2 = np.sum(dZ2, axis=1, keepdims=True)
                dZ1 = np.dot(p["W2"].T, dZ2) * (1 - A1)  # slip: tanh' is 1 - A1 ** 2
                dW1 = np.dot(dZ1, X.T)
                db1 = np.sum(dZ1, axis=1, keepdims=True)
                return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2, "dZ1": dZ1}
            """
        )
    )
    _install_site(monkeypatch, site)
    my_net = importlib.import_module("my_net")
    assert is_user_file(my_net.__file__)
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((3, 5)), rng.standard_normal((2, 5))
    p = {"W1": rng.standard_normal((4, 3)), "b1": rng.standard_normal((4, 1))}
    p.update(W2=rng.standard_normal((2, 4)), b2=rng.standard_normal((2, 1)))
    report = verifier.check(lambda q: my_net.cost(q, X, Y), lambda q: my_net.backward(q, X, Y), p)
    assert report.status == "fail" and report.methods["autograd"].available, str(report)
    assert "look at the line" in str(report) and "my_net.py" in str(report), str(report)
    sys.modules.pop("my_net", None)


def test_a_non_editable_install_checks_like_the_source_tree(tmp_path):
    """The package copied into a site-packages folder with its distribution's RECORD, as
    ``pip install .`` lays it out: the built-in networks are still the user's code there, so
    the suite's line findings come out and nothing warns (CI also runs a real ``pip install .``)."""
    import shutil
    import subprocess

    site = tmp_path / "venv" / "lib" / "python3" / "site-packages"
    source = os.path.dirname(verifier.__file__)
    shutil.copytree(source, site / "verifier", ignore=shutil.ignore_patterns("__pycache__"))
    info = site / "backprop_verifier-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: backprop-verifier\nVersion: 0.1.0\n")
    files = sorted(p.relative_to(site).as_posix() for p in (site / "verifier").rglob("*.py"))
    (info / "RECORD").write_text("".join(f"{f},,\n" for f in files))
    script = textwrap.dedent(
        """
        import os
        import site
        import sys
        site.USER_SITE = sys.argv[1]  # the folder is a site directory, as after pip install --user .
        import verifier
        from verifier.frontends.cli import main
        assert verifier.__file__.startswith(sys.argv[1]), verifier.__file__
        assert os.path.realpath(sys.argv[1]) in verifier.errors._SITE_DIRS
        sys.exit(main(["run", "--quick"]))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    done = subprocess.run(
        [sys.executable, "-c", script, str(site)], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("look at the line") >= 2, done.stdout
    assert "Warning" not in done.stderr, done.stderr
