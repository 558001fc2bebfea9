"""With every solution pasted in, each notebook with a core exercise runs to the end on the student's code."""

import json
from pathlib import Path

import pytest

from helpers.tools.solutions import USES, paste_solutions, problems, run_solved

ROOT = Path(__file__).resolve().parent.parent


def _nb(*cells):
    return {"cells": [{"cell_type": kind, "source": src, "metadata": {}} for kind, src in cells]}


STUB = ("code", "def double(x):\n    # your code here\n    raise NotImplementedError")
CHECK = ("code", "exercises.check_double(double);")


def test_a_stub_gets_its_own_solution():
    solved, names = paste_solutions(
        _nb(
            STUB,
            CHECK,
            (
                "markdown",
                "<details><summary><b>Solution</b> (try first!)</summary>\n\n```python\n"
                "def double(x):\n    return 2 * x\n```\n</details>",
            ),
        )
    )
    assert names == ["double"]
    assert solved["cells"][0]["source"] == "def double(x):\n    return 2 * x"
    assert solved["cells"][1]["source"] == CHECK[1]


def test_one_block_solving_two_stubs_is_split():
    half = ("code", "def half(x):\n    raise NotImplementedError")
    block = (
        "<details><summary><b>Solutions</b></summary>\n\n```python\nimport math\n\n"
        "def double(x):\n    return 2 * x\n\ndef half(x):\n    return x / 2\n```\n</details>"
    )
    solved, names = paste_solutions(_nb(STUB, CHECK, half, ("markdown", block)))
    assert names == ["double", "half"]
    first, third = solved["cells"][0]["source"], solved["cells"][2]["source"]
    assert "def double" in first and "def half" not in first and "import math" in first
    assert "def half" in third and "def double" not in third


def test_a_stub_without_its_solution_is_named():
    other = (
        "markdown",
        "<details><summary><b>Solution</b></summary>\n\n```python\ndef triple(x):\n"
        "    return 3 * x\n```\n</details>",
    )
    for cells in [(STUB, CHECK), (STUB, CHECK, other)]:
        with pytest.raises(ValueError, match="stub of double has no solution"):
            paste_solutions(_nb(*cells))


def test_problems_read_from_the_record():
    good = "[PASS] double\nThe lesson uses your double: it passed its check.\n"
    assert problems(good, ["double"], ["double"]) == []
    assert problems("[FAIL] double: case 1\n", ["double"], [])[0].startswith("a checker failed")
    assert problems("", ["double"], []) == ["no [PASS] for double"]
    # a lesson's own check printing [PASS] does not stand in for the exercise's
    assert problems("[PASS] padding does not leak\n", ["double"], []) == ["no [PASS] for double"]
    fallback = "[PASS] double\nThe lesson uses the workbook's double (yours has not passed its check yet).\n"
    assert problems(fallback, ["double"], ["double"]) == ["the lesson did not run on the pasted double"]


def lesson_notebooks():
    """The notebooks whose lesson runs on an exercise (``exercises.use_or_reference``)."""
    return [
        p.name
        for p in sorted((ROOT / "notebooks").glob("*.ipynb"))
        if any(USES.search("".join(c["source"])) for c in json.loads(p.read_text(encoding="utf-8"))["cells"])
    ]


def test_the_core_exercises_drive_their_lessons():
    assert len(lesson_notebooks()) == 9  # 02, 03, 04, 05, 06, 07, 08, 09, 12


@pytest.mark.solutions
@pytest.mark.parametrize("notebook", lesson_notebooks())
def test_notebook_runs_on_the_pasted_solutions(notebook, tmp_path):
    row = run_solved(ROOT / "notebooks" / notebook, "quick", timeout=600, out_dir=tmp_path)
    assert row["status"] == "ok", (
        row["status"],
        (tmp_path / f"{Path(notebook).stem}.txt").read_text()[-3000:],
    )
    assert row["lesson_runs_on"], "the lesson should run on at least one exercise"
