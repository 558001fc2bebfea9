"""Rules every stored notebook follows (the notebooks themselves run under nbval)."""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no notebook: the workbook is empty"
    assert NOTEBOOKS[0].name == "00_setup.ipynb"


def _load(path):
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_outputs_are_stripped(path):
    for i, cell in enumerate(_load(path)["cells"]):
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"{path.name} cell {i} has outputs: strip them"
            assert cell.get("execution_count") is None, f"{path.name} cell {i} has an execution count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_shape(path):
    nb = _load(path)
    assert re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", path.name), "name notebooks NN_topic.ipynb"
    code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    assert "google.colab" in code[0], "the first code cell must be the shared setup cell"
    assert any(re.search(r"^\s*assert ", src, re.M) for src in code), "a notebook needs check cells"
    assert nb["cells"][0]["cell_type"] == "markdown" and "".join(nb["cells"][0]["source"]).startswith("# ")
    assert float(nb["metadata"]["workbook"]["timeout_s"]) <= 600


def _setup_cells():
    """The first code cell of every notebook, as ``{name: source}``."""
    cells = {}
    for path in NOTEBOOKS:
        code = [c for c in _load(path)["cells"] if c["cell_type"] == "code"]
        assert code, f"{path.name} has no code cell"
        cells[path.name] = "".join(code[0]["source"])
    return cells


def test_setup_cell_is_shared_and_short():
    cells = _setup_cells()
    first_name, first = next(iter(cells.items()))
    for name, src in cells.items():
        assert src.encode("utf-8") == first.encode("utf-8"), (
            f"{name}: the first code cell (Colab setup) differs from {first_name}'s; copy it byte for byte"
        )
    assert len(first.splitlines()) <= 6, "the Colab setup cell must be at most six lines"


def test_setup_cell_does_nothing_outside_colab(monkeypatch):
    import os
    import subprocess
    import sys

    src = next(iter(_setup_cells().values()))
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)

    def refuse(*args, **kwargs):
        pytest.fail(f"the setup cell ran a command outside Colab: {args!r}")

    for name in ("run", "call", "check_call", "check_output", "Popen"):
        monkeypatch.setattr(subprocess, name, refuse)
    monkeypatch.setattr(os, "system", refuse)
    path_before = list(sys.path)
    namespace = {"__name__": "__main__"}
    exec(compile(src, "<setup cell>", "exec"), namespace)  # no SystemExit, no error, no command
    assert sys.path == path_before, "the setup cell changed sys.path outside Colab"


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    block = re.search(r"<!-- test-command -->\s*```bash\s*\n\s*(.+?)\n\s*```", readme, re.S)
    assert block, "README.md must mark its test command with <!-- test-command -->"
    command = block.group(1).strip()
    assert command in ci, f".ci/run must run the README's test command: {command}"
    for path in NOTEBOOKS:
        assert path.name in readme, f"README's notebook table misses {path.name}"


def _markdown(path):
    return ["".join(c["source"]) for c in _load(path)["cells"] if c["cell_type"] == "markdown"]


LESSONS = [p for p in NOTEBOOKS if not p.name.startswith("00_")]
# the notebooks that rebuild a lecture demo written in Keras (the MNIST demo, the conv nets, the CIFAR-10
# CNN, the IMDb RNNs, the transfer-learning head)
KERAS_DEMOS = ("02_", "03_", "04_", "05_", "06_", "07_")
KERAS_DEMO_NOTEBOOKS = [p for p in NOTEBOOKS if p.name.startswith(KERAS_DEMOS)]
KERAS_HEADER = "| Keras (lecture) | PyTorch (this notebook) |"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_each_lesson_asks_ten_questions_and_three_predictions(path):
    cells = _load(path)["cells"]
    text = "\n".join(_markdown(path))
    start = text.find("## Check your understanding")
    assert start >= 0, f"{path.name} has no 'Check your understanding' section"
    section = text[start:]
    questions = re.findall(r"^\d+\. ", section, re.M)
    answers = re.findall(r"<details><summary>Answer", section)
    assert len(questions) >= 10, f"{path.name}: {len(questions)} questions to check understanding, 10 wanted"
    assert len(answers) == len(questions), f"{path.name}: {len(questions)} questions, {len(answers)} answers"
    markdown = [c["cell_type"] == "markdown" and "".join(c["source"]) for c in cells]
    prompts = [i for i, md in enumerate(markdown) if md and "**Predict first" in md]
    assert len(prompts) >= 3, f"{path.name}: {len(prompts)} 'Predict first' prompts, 3 wanted"
    for i in prompts:  # the cell that prints the number comes right after the prompt, not an exercise first
        assert i + 1 < len(cells) and cells[i + 1]["cell_type"] == "code", (
            f"{path.name}: the 'Predict first' prompt in cell {i} must come just before the cell that "
            "prints the answer"
        )


def _resolve(name):
    """The object a dotted name in a table's PyTorch column names (``nn.Linear``, ``F.conv2d``,
    ``torch.optim.SGD``, ``train.fit``); None where its first part is a variable of the notebook."""
    import importlib

    import torch

    roots = {"nn": torch.nn, "F": torch.nn.functional, "torch": torch}
    first, *rest = name.split(".")
    if first in roots:
        obj = roots[first]
    elif (ROOT / "helpers" / f"{first}.py").is_file():
        obj = importlib.import_module(f"helpers.{first}")
    else:
        return None
    for part in rest:
        obj = getattr(obj, part)  # AttributeError: the table names something that does not exist
    return obj


def _table_rows(markdown, header):
    """The body rows of every table in ``markdown`` whose header line starts with ``header``."""
    rows, inside = [], False
    for line in markdown.split("\n"):
        if line.startswith(header):
            inside = True
        elif inside and line.startswith("|") and not line.startswith("|---"):
            rows.append(line)
        elif not line.startswith("|"):
            inside = False
    return rows


@pytest.mark.parametrize("path", KERAS_DEMO_NOTEBOOKS, ids=lambda p: p.name)
def test_lecture_demos_map_keras_to_pytorch(path):
    rows = [row for md in _markdown(path) for row in _table_rows(md, KERAS_HEADER)]
    assert len(rows) >= 3, f"{path.name} rebuilds a lecture demo: it needs a table '{KERAS_HEADER} … |'"
    resolved = 0
    for row in rows:
        cols = [c.strip() for c in row.strip().strip("|").split(" | ")]
        assert len(cols) == 3, f"{path.name}: a Keras table row needs three columns: {row[:80]}"
        for span in re.findall(r"`([^`]+)`", cols[1]):
            for name in re.findall(r"(?<![\w.])([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)", span):
                try:
                    found = _resolve(name)
                except AttributeError:
                    pytest.fail(f"{path.name}: the PyTorch column names {name}, which does not exist")
                resolved += found is not None
    assert resolved >= 3, f"{path.name}: the PyTorch column names only {resolved} real modules or functions"


def test_readme_names_each_notebooks_core_exercises():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for path in NOTEBOOKS:
        row = next((line for line in readme.splitlines() if line.startswith(f"| `{path.name}` | ")), None)
        assert row, f"README's notebook table has no row for {path.name}"
        code = "\n".join("".join(c["source"]) for c in _load(path)["cells"] if c["cell_type"] == "code")
        for name in re.findall(r"(\w+) = exercises\.use_or_reference\(", code):  # the lesson runs on these
            assert f"`{name}`" in row, f"README's row for {path.name} must name its exercise `{name}`"
