"""The instructor's grader (``verifier grade``, :func:`verifier.grade`) on a class written for it.

tests/grading_class/ holds the instructor's reference and a class: correct code (a .py with
helpers, a notebook with magics and a shell line), a slip (dW2 counted twice), and code that
loops, exhausts memory, exits the interpreter (``os._exit`` and ``sys.exit``), raises, prints
without end, or patches the checkers in its own process and returns a wrong gradient.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

import verifier
from verifier import InputError
from verifier.frontends import published as seeds
from verifier.frontends.cli import main
from verifier.frontends.grading import protocol
from verifier.frontends.grading.runner import OUTPUT_LIMIT
from verifier.frontends.grading.submissions import find, notebook_script, read
from verifier.frontends.loading import load_module

CLASS = Path(__file__).parent / "grading_class"
REFERENCE = f"{CLASS / 'reference.py'}:forward_propagation_n,backward_propagation_n"
TIMEOUT = 5.0
SHAPES = {"W1": (5, 4), "b1": (5, 1), "W2": (3, 5), "b2": (3, 1), "W3": (1, 3), "b3": (1, 1)}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two hidden cases: the notebook's test case, and another drawn with more examples."""
    folder = tmp_path_factory.mktemp("data")
    x, y, parameters = seeds.notebook_test_case()
    np.savez(folder / "case.npz", x=x, y=y, **parameters)
    rng = np.random.default_rng(3)
    other = {k: rng.standard_normal(s) for k, s in SHAPES.items()}
    x2, y2 = rng.standard_normal((4, 6)), (rng.random((1, 6)) > 0.5).astype(float)
    np.savez(folder / "hidden.npz", x=x2, y=y2, **other)
    return [folder / "case.npz", folder / "hidden.npz"]


@pytest.fixture(scope="module")
def graded(data: list[Path]) -> tuple[dict[str, verifier.frontends.grading.scoring.Grade], float]:
    start = time.monotonic()
    grades = verifier.grade(REFERENCE, CLASS / "submissions", data[0], timeout=TIMEOUT, memory="1G", jobs=2)
    return {g.submission: g for g in grades}, time.monotonic() - start


def test_exactly_the_correct_submissions_get_full_marks(graded):
    grades, _ = graded
    full = sorted(name for name, g in grades.items() if g.score == g.max_score)
    assert full == ["alice_correct.py", "bob_correct.ipynb"]
    for name in full:
        assert grades[name].status == "pass"
        assert grades[name].max_score == 10
        assert "Every gradient is right" in grades[name].feedback


def test_the_slip_gets_partial_credit_naming_the_tensor_and_its_line(graded):
    carol = graded[0]["carol_slip.py"]
    assert carol.status == "fail"
    assert carol.score == pytest.approx(10 * 5 / 6, abs=1e-4)
    (case,) = carol.cases
    assert case.wrong == ["W2"]
    assert case.right == ["W1", "b1", "b2", "W3", "b3"]
    assert "W2 is exactly 2.0× the reference" in carol.feedback
    assert "carol_slip.py:15 `dW2 = 1.0 / m * np.dot(dZ2, A1.T) * 2`" in carol.feedback
    assert carol.labels == ["W2 ×2"]


def test_a_slip_in_a_notebook_is_named_by_its_cell_and_line(graded):
    nina = graded[0]["nina_slip.ipynb"]
    assert nina.score == pytest.approx(10 * 5 / 6, abs=1e-4)
    assert nina.cases[0].wrong == ["b1"]
    assert "b1 is exactly 4.0× the reference: a 4./m where 1./m was meant" in nina.feedback
    assert "nina_slip.ipynb cell 2:14 `db1 = 4./m * np.sum(dZ1, axis=1, keepdims = True)`" in nina.feedback
    assert nina.labels == ["b1 ×4"]


@pytest.mark.parametrize(
    ("name", "reason", "tag"),
    [
        ("dave_loops.py", f"did not finish within the time limit ({TIMEOUT:g} s)", "timed out"),
        (
            "erin_memory.py",
            "raised MemoryError at erin_memory.py:4 while loading the file",
            "raised MemoryError",
        ),
        ("frank_exits.py", "exited (code 0) instead of answering: os._exit", "exited"),
        (
            "henry_sysexit.py",
            "called sys.exit(3) at henry_sysexit.py:11 while loading the file",
            "called sys.exit(3)",
        ),
        (
            "ivan_raises.py",
            "raised ValueError at ivan_raises.py:6: too many values to unpack",
            "raised ValueError",
        ),
        ("judy_prints.py", "did not finish within the time limit", "timed out"),
    ],
)
def test_code_that_cannot_be_graded_gets_zero_with_its_reason(graded, name, reason, tag):
    grade = graded[0][name]
    assert grade.score == 0 and grade.max_score == 10
    assert grade.status == "error"
    assert reason in grade.cases[0].reason
    assert grade.feedback.count("Not graded: your code") == 1
    assert grade.labels == [tag]


def test_the_memory_cap_is_named_and_printing_without_end_is_capped(graded):
    grades, _ = graded
    assert "(the memory cap is 1 GB)" in grades["erin_memory.py"].cases[0].reason
    judy = grades["judy_prints.py"].output
    assert judy.startswith("debugging output")
    assert len(judy.split("\n[...")[0].encode()) <= OUTPUT_LIMIT
    assert "more bytes of output not kept" in judy
    assert "backward done" in grades["alice_correct.py"].output  # what a submission prints is kept
    assert "4.0" in grades["bob_correct.ipynb"].output  # the notebook's display() ran as a print


def test_patching_the_checkers_changes_nothing_but_the_returned_arrays(graded):
    grace = graded[0]["grace_cheats.py"]
    assert grace.score == 0 and grace.status == "fail"
    assert grace.cases[0].wrong == list(SHAPES)
    assert "W1 is all zeros where the reference is not" in grace.feedback
    assert grace.labels == ["every tensor zero"]
    # and the grader's own process was never touched
    assert not np.allclose(1.0, 2.0)
    assert verifier.check.__module__ == "verifier.api"


def test_the_class_finishes_within_the_time_limits(graded):
    # two submissions outlast the 5 s limit (one in its backward, under the check, one while
    # loading), two at a time: the limits plus the others' few seconds, not a hang
    _, seconds = graded
    assert seconds < 4 * TIMEOUT


def test_json_gradescope_and_the_summary_from_the_command_line(data, tmp_path, capsys):
    folder = tmp_path / "class"
    folder.mkdir()
    for name in ("alice_correct.py", "carol_slip.py", "henry_sysexit.py"):
        shutil.copy(CLASS / "submissions" / name, folder)
    out_json, out_gs = tmp_path / "grades.json", tmp_path / "gradescope"
    argv = ["grade", REFERENCE, str(folder), "--data", str(data[0]), "--data", str(data[1]), "--seeds", "0,1"]
    argv += ["--timeout", str(TIMEOUT), "--memory", "1G", "--points", "20", "--json", str(out_json)]
    argv += ["--gradescope", str(out_gs), "--weights", "dW2=2,b3=0.5", "--quiet"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "grading 3 submissions on 4 cases" in printed
    assert "carol_slip.py: " in printed and "W2 ×2: 1 student" in printed
    assert "score  students" in printed

    doc = json.loads(out_json.read_text())
    assert len(doc["cases"]) == 4
    records = {r["submission"]: r for r in doc["submissions"]}
    assert set(records) == {"alice_correct.py", "carol_slip.py", "henry_sysexit.py"}
    assert records["alice_correct.py"]["score"] == 20 and records["alice_correct.py"]["status"] == "pass"
    carol = records["carol_slip.py"]
    weights = {"W1": 1, "b1": 1, "W2": 2, "b2": 1, "W3": 1, "b3": 0.5}
    assert carol["score"] == pytest.approx(20 * (6.5 - 2) / 6.5, abs=1e-4)
    assert carol["max_score"] == 20 and carol["status"] == "fail"
    assert [t["wrong"] for t in carol["tests"]] == [["W2"]] * 4
    assert "carol_slip.py:15" in carol["feedback"]
    assert records["henry_sysexit.py"]["score"] == 0 and records["henry_sysexit.py"]["status"] == "error"
    assert sum(weights.values()) == 6.5

    for name, record in records.items():
        result = json.loads((out_gs / name / "results.json").read_text())
        assert result["score"] == pytest.approx(record["score"])
        assert len(result["tests"]) == 4
        for test in result["tests"]:
            assert set(test) == {"name", "score", "max_score", "output"}
            assert test["max_score"] == 5
        assert sum(t["score"] for t in result["tests"]) == pytest.approx(result["score"], abs=1e-4)
    names = [t["name"] for t in json.loads((out_gs / "carol_slip.py" / "results.json").read_text())["tests"]]
    assert names == [
        "case 1: case.npz, seed 0",
        "case 2: case.npz, seed 1",
        "case 3: hidden.npz, seed 0",
        "case 4: hidden.npz, seed 1",
    ]


def test_the_students_forward_feeds_the_students_backward(data, tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    shutil.copy(CLASS / "reference.py", folder / "kim_both.py")
    source = (CLASS / "reference.py").read_text()
    # her forward's cache holds half of A2 (its cost would be right, but the cost is not hers)
    slipped = source.replace("cache = (Z1, A1, W1, b1, Z2, A2,", "cache = (Z1, A1, W1, b1, Z2, 0.5 * A2,")
    assert slipped != source
    (folder / "leo_forward_slip.py").write_text(slipped)
    shutil.copy(CLASS / "submissions" / "alice_correct.py", folder)
    grades = verifier.grade(
        REFERENCE, folder, data[0], student=("forward", "backward"), timeout=TIMEOUT, memory="1G", points=4
    )
    by = {g.submission: g for g in grades}
    assert by["kim_both.py"].score == 4
    assert 0 < by["leo_forward_slip.py"].score < 4
    assert by["leo_forward_slip.py"].cases[0].wrong == ["W3"]
    assert by["alice_correct.py"].score == 0
    assert "defines no function 'forward_propagation_n'" in by["alice_correct.py"].cases[0].reason


def test_what_comes_back_is_checked_and_a_missing_tensor_costs_only_its_share(data, tmp_path):
    unpack = "    (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3) = cache\n"
    sources = {
        "transposed.py": "    return {'dW1': np.zeros((4, 5))}\n",
        "object.py": "    return {'dW1': object()}\n",
        "forgot_db1.py": "".join(
            (CLASS / "reference.py").read_text().partition("    dZ3 = A3 - Y\n")[1:]
        ).replace('"db1": db1}', "}"),
    }
    head = "import numpy as np\n\n\ndef backward_propagation_n(X, Y, cache):\n    m = X.shape[1]\n"
    for name, body in sources.items():
        (tmp_path / name).write_text(head + unpack + body)
    by = {g.submission: g for g in verifier.grade(REFERENCE, tmp_path, data[0], timeout=TIMEOUT, memory="1G")}
    # a gradient of the wrong shape is a finding about that tensor (issue 23), the others still graded
    transposed = by["transposed.py"]
    assert "W1: the gradient has shape (4, 5), the parameter (5, 4); it is transposed" in transposed.feedback
    assert transposed.labels[0] == "W1 wrong" and "b1 missing" in transposed.labels
    assert "the result['dW1'] is of type object" in by["object.py"].cases[0].reason
    assert by["transposed.py"].score == by["object.py"].score == 0
    forgot = by["forgot_db1.py"]
    assert forgot.score == pytest.approx(10 * 5 / 6, abs=1e-4)
    assert forgot.cases[0].wrong == ["b1"]
    assert "db1 is missing from what your backward returned (its keys: dZ3, dW3" in forgot.feedback
    assert forgot.labels == ["b1 missing"]


def test_bad_input_names_the_argument(data, tmp_path, capsys):
    subs = CLASS / "submissions"
    with pytest.raises(InputError, match=r"`reference`: .*reference.py has no function 'backward_n'"):
        verifier.grade(f"{CLASS / 'reference.py'}:forward_propagation_n,backward_n", subs, data[0])
    with pytest.raises(InputError, match=r"`data`: no file '.*missing.npz'"):
        verifier.grade(REFERENCE, subs, tmp_path / "missing.npz")
    with pytest.raises(InputError, match=r"`weights`: no tensor 'dW9'"):
        verifier.grade(REFERENCE, subs, data[0], weights={"dW9": 2})
    with pytest.raises(InputError, match=r"`submissions`: no .py or .ipynb files"):
        verifier.grade(REFERENCE, tmp_path, data[0])
    with pytest.raises(InputError, match=r"`memory`: expected a size like 2G"):
        verifier.grade(REFERENCE, subs, data[0], memory="lots")
    assert main(["grade", REFERENCE, str(subs), "--data", str(tmp_path / "missing.npz")]) == 2
    assert "`--data`: no file" in capsys.readouterr().err
    assert (
        main(["grade", f"{CLASS / 'reference.py'}:forward_propagation_n", str(subs), "--data", str(data[0])])
        == 2
    )
    assert "`REFERENCE`: expected path/to/reference.py:FORWARD,BACKWARD" in capsys.readouterr().err


def test_the_instructor_s_files_are_not_submissions_and_subfolders_are_named(data, tmp_path):
    """A class folder keeping the reference beside ``submissions/``: the reference is not graded as
    a student, and the error says the submissions are in the subfolder instead of skipping it."""
    with pytest.raises(
        InputError,
        match=r"`submissions`: no .py or .ipynb files in .*grading_class'"
        r" but your own reference.py; .* \(submissions/\): give the subfolder",
    ):
        verifier.grade(REFERENCE, CLASS, data[0])
    with pytest.raises(InputError, match=r"no .py or .ipynb files in .*; the submissions .* \(a/, b/\)"):
        (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
        find(tmp_path)
    course = tmp_path / "course"
    course.mkdir()
    for name in ("reference.py", "gc_utils.py", "student.py", "student2.ipynb", "case.npz"):
        (course / name).write_text("{}" if name.endswith("ipynb") else "x = 1\n")
    found = find(course, exclude=[course / "reference.py", course / "gc_utils.py", course / "case.npz"])
    assert [s.name for s in found] == ["student.py", "student2.ipynb"]


def test_a_reference_that_fails_its_own_check_is_refused(data, tmp_path):
    wrong = (CLASS / "reference.py").read_text().replace("dW1 = 1.0 / m", "dW1 = 3.0 / m")
    (tmp_path / "bad_reference.py").write_text(wrong)
    with pytest.raises(
        InputError, match=r"`reference`: the reference's own backward fails the check on case"
    ):
        verifier.grade(
            f"{tmp_path / 'bad_reference.py'}:forward_propagation_n,backward_propagation_n",
            CLASS / "submissions",
            data[0],
        )


def test_a_notebook_is_its_code_cells_with_magics_skipped_and_lines_named_in_cells(tmp_path):
    cells = [
        {"cell_type": "markdown", "source": "# title"},
        {"cell_type": "code", "source": ["%matplotlib inline\n", "import numpy as np\n", "!ls"]},
        {"cell_type": "code", "source": ["%%bash\n", "echo hi\n"]},
        {
            "cell_type": "code",
            "source": [
                "def backward(X, Y, cache):\n",
                "    if X is None:\n",
                "        %time pass\n",
                "    dW = X * 2\n",
                "    return {'dW': dW}",
            ],
        },
    ]
    script, where = notebook_script({"cells": cells})
    lines = script.splitlines()
    assert lines[0] == "pass" and lines[1] == "import numpy as np" and lines[2] == "pass"
    assert lines[4:6] == ["", ""]  # the %%bash cell is not Python
    assert lines[9] == "        pass"  # a magic in a block keeps the block
    compile(script, "nb", "exec")
    path = tmp_path / "nina.ipynb"
    path.write_text(json.dumps({"cells": cells}))
    submission = read(path)
    assert submission.problem is None
    number = submission.script.splitlines().index("    dW = X * 2") + 1
    assert submission.where(number) == "nina.ipynb cell 3:4"

    path.write_text("{not json")
    assert "is not a readable notebook" in read(path).problem
    broken = tmp_path / "oscar.py"
    broken.write_text("def backward(X, Y, cache):\n    return {\n")
    assert read(broken).problem.startswith("has a syntax error at oscar.py:")


def test_the_protocol_carries_plain_data_only():
    class Lying(np.ndarray):
        def __eq__(self, other):  # a comparison that always says "equal"
            return True

    lie = np.arange(3.0).view(Lying)
    value = {"dW1": lie, "b": (1, 2.5, None, "s"), 3: [np.int64(4), True]}
    tree, blobs = protocol.encode(value)
    back = protocol.decode(json.loads(json.dumps(tree)), blobs)
    assert type(back["dW1"]) is np.ndarray and back["dW1"].flags.writeable
    assert back["b"] == (1, 2.5, None, "s") and back[3][1] is True and back[3][0].shape == ()
    with pytest.raises(protocol.ProtocolError, match="dtype object"):
        protocol.encode(np.array([object()]))
    with pytest.raises(protocol.ProtocolError, match="is of type builtin_function_or_method"):
        protocol.encode([len])
    forged = {"a": 0, "dtype": "|O8", "shape": [1]}
    with pytest.raises(protocol.ProtocolError, match="not of numbers"):
        protocol.decode(forged, [b"\0" * 8])
    with pytest.raises(protocol.ProtocolError, match="with 7 bytes"):
        protocol.decode({"a": 0, "dtype": "<f8", "shape": [1]}, [b"\0" * 7])


HELPER_SLIP = """\
import numpy as np


def linear_backward(dZ, A_prev, W, m):
    dW = np.dot(dZ, A_prev.T)
    db = np.sum(dZ, axis=1, keepdims=True)
    dA_prev = np.dot(W.T, dZ)
    return dA_prev, dW, db


def backward_propagation_n(X, Y, cache):
    m = X.shape[1]
    (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3) = cache
    dZ3 = (A3 - Y) / m
    dA2, dW3, db3 = linear_backward(dZ3, A2, W3, m)
    dZ2 = dA2 * (A2 > 0)
    dA1, dW2, db2 = linear_backward(dZ2, A1, W2, m)
    dZ1 = dA1 * (A1 > 0)
    _, dW1, db1 = linear_backward(dZ1, X, W1, m)
    return {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2, "dW3": dW3, "db3": db3}
"""


def test_a_slip_in_a_helper_the_backward_calls_is_named_at_the_helpers_line(data, tmp_path):
    """The line is found by running the student's backward under observation in its worker, so a
    helper called once per layer is followed into: its line, in the submitted file."""
    folder = tmp_path / "class"
    folder.mkdir()
    right = (
        HELPER_SLIP.replace("dZ3 = (A3 - Y) / m", "dZ3 = A3 - Y")
        .replace("dW = np.dot(dZ, A_prev.T)", "dW = np.dot(dZ, A_prev.T) / m")
        .replace("db = np.sum(dZ, axis=1, keepdims=True)", "db = np.sum(dZ, axis=1, keepdims=True) / m")
    )
    (folder / "olga_helper.py").write_text(right)
    # the 1/m moved into dZ3 (so every gradient is right) but then forgotten in dW alone: dW1..dW3
    # are m times the reference, the biases right
    slipped = HELPER_SLIP.replace("dZ3 = (A3 - Y) / m", "dZ3 = A3 - Y").replace(
        "db = np.sum(dZ, axis=1, keepdims=True)", "db = np.sum(dZ, axis=1, keepdims=True) / m"
    )
    (folder / "pat_helper_slip.py").write_text(slipped)
    graded = verifier.grade(REFERENCE, folder, data[0], timeout=TIMEOUT, memory="1G")
    grades = {g.submission: g for g in graded}
    assert grades["olga_helper.py"].score == grades["olga_helper.py"].max_score
    pat = grades["pat_helper_slip.py"]
    assert pat.cases[0].wrong == ["W1", "W2", "W3"]
    assert pat.score == pytest.approx(5.0, abs=1e-4)
    assert "pat_helper_slip.py:5 `dW = np.dot(dZ, A_prev.T)`" in pat.feedback
    assert "each goes wrong at pat_helper_slip.py:5 `dW = np.dot(dZ, A_prev.T)`" in pat.feedback
    assert "(in linear_backward, called from pat_helper_slip.py:19)" in pat.feedback  # dW1's call
    assert pat.feedback.count("the factor enters on the path to W1, W2, W3 only") == 1
    for leak in ("/tmp", "verifier-grade-", "runner.py", "grader.py", "explaining.py", "_ipynb.py"):
        assert leak not in pat.feedback


def test_a_worker_failing_while_its_line_is_worked_out_keeps_its_grade(data, tmp_path):
    """The explanation is feedback only: a worker that crashes in it, or answers what is not
    findings (here, its own patch of the explanation), keeps the grade its check gave."""
    folder = tmp_path / "class"
    folder.mkdir()
    carol = (CLASS / "submissions" / "carol_slip.py").read_text()
    start = "    m = X.shape[1]\n"
    assert carol.count(start) == 1
    # only the explanation runs the backward under a trace (the recording of its lines)
    crashes = carol.replace("import numpy as np\n", "import os\nimport sys\nimport numpy as np\n").replace(
        start, "    if sys.gettrace() is not None:\n        os._exit(3)\n" + start
    )
    (folder / "quinn_crashes.py").write_text(crashes)
    forges = carol + (
        "\n\nimport verifier.frontends.grading.explaining as _explaining\n"
        "_explaining.run_explain = lambda *a: [['bug', 'W2', 'full marks ' * 1000, 'line']]\n"
    )
    (folder / "rita_forges.py").write_text(forges)
    shutil.copy(CLASS / "submissions" / "carol_slip.py", folder)
    graded = verifier.grade(REFERENCE, folder, data[0], timeout=TIMEOUT, memory="1G")
    grades = {g.submission: g for g in graded}
    assert "carol_slip.py:15 `dW2 = 1.0 / m * np.dot(dZ2, A1.T) * 2`" in grades["carol_slip.py"].feedback
    for name in ("quinn_crashes.py", "rita_forges.py"):
        g = grades[name]
        (case,) = g.cases
        assert (g.score, case.status, case.wrong) == (grades["carol_slip.py"].score, "fail", ["W2"])
        assert not case.reason
        assert g.labels == ["W2 ×2"]
        assert "W2 is exactly 2.0× the reference" in g.feedback
        assert "look at" not in g.feedback and "full marks" not in g.feedback


def test_a_case_failing_only_at_its_perturbed_point_is_explained_there():
    """The explanation runs at the point that failed: the parameters the check called the
    backward with there, found by the gradient that point's report holds."""
    from verifier.core.params import layout_of
    from verifier.frontends.adapters import from_notebook
    from verifier.frontends.grading.explaining import _failing_point
    from verifier.frontends.grading.grader import _completed

    reference = load_module(str(CLASS / "reference.py"))
    x, y, parameters = seeds.notebook_test_case()
    given = parameters["W1"].copy()

    def backward(X, Y, cache):  # right at the data's parameters only (as dead units can make it)
        grads = reference.backward_propagation_n(X, Y, cache)
        if not np.array_equal(cache[2], given):
            grads["dW2"] = 2 * grads["dW2"]
        return grads

    cost, grad = from_notebook(reference.forward_propagation_n, backward, x, y)
    calls: list = []
    report = verifier.check(cost, _completed(grad, parameters, {}, calls), parameters, points=2, seed=0)
    assert report.point_status == "pass" and report.points[0].report.point_status == "fail"
    layout, theta = layout_of(parameters)
    failing, at = _failing_point(report, layout, theta, calls)
    assert failing is report.points[0].report
    assert not np.array_equal(at, theta)
    assert not np.array_equal(layout.unflatten(at)["W1"], given)
