"""Rules every stored notebook follows (the notebooks themselves run under nbval)."""

import json
import re
from pathlib import Path

import pytest

from helpers.tools.solutions import paste_solutions

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


def _markdown(cells):
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]


LESSONS = [p for p in NOTEBOOKS if not p.name.startswith("00_")]
# the notebooks that rebuild a lecture demo written in Keras (the MNIST demo, the conv nets, the CIFAR-10
# CNN, the IMDb RNNs, the transfer-learning head)
KERAS_DEMO_NOTEBOOKS = [p for p in NOTEBOOKS if p.name.startswith(("02_", "03_", "04_", "05_", "06_", "07_"))]
KERAS_HEADER = "| Keras (lecture) | PyTorch (this notebook) |"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_each_lesson_asks_ten_questions_and_three_predictions(path):
    cells = _load(path)["cells"]
    text = "\n".join(_markdown(cells))
    start = text.find("## Check your understanding")
    assert start >= 0, f"{path.name} has no 'Check your understanding' section"
    questions = re.findall(r"^\d+\. ", text[start:], re.M)
    answers = re.findall(r"<details><summary>Answer", text[start:])
    assert len(questions) >= 10, f"{path.name}: {len(questions)} questions to check understanding, 10 wanted"
    assert len(answers) == len(questions), f"{path.name}: {len(questions)} questions, {len(answers)} answers"
    prompts = 0
    for i, cell in enumerate(cells):  # the cell that prints the number comes right after the prompt
        if cell["cell_type"] == "markdown" and "**Predict first" in "".join(cell["source"]):
            prompts += 1
            assert i + 1 < len(cells) and cells[i + 1]["cell_type"] == "code", (
                f"{path.name}: the 'Predict first' prompt in cell {i} must come just before the cell that "
                "prints the answer"
            )
    assert prompts >= 3, f"{path.name}: {prompts} 'Predict first' prompts, 3 wanted"


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
    rows = [row for md in _markdown(_load(path)["cells"]) for row in _table_rows(md, KERAS_HEADER)]
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


# the core exercises: the lecture's central code, which the student writes and the lesson then runs on
CORE_EXERCISES = {
    "02": ["softmax_ce_grad"],
    "03": ["numerical_gradient", "mlp_backward"],
    "04": ["conv2d"],
    "05": ["augment_batch"],
    "06": ["lstm_cell"],
    "07": ["extract_features"],
    "08": ["pgd_attack"],
    "09": ["mc_dropout_predict"],
    "12": ["gan_step"],
}


@pytest.mark.parametrize("number", sorted(CORE_EXERCISES))
def test_each_core_exercise_is_a_stub_a_check_and_a_solution_and_readme_names_it(number):
    path = next(p for p in NOTEBOOKS if p.name.startswith(f"{number}_"))
    nb = _load(path)
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    # the stubs each followed by a collapsed solution, as the solutions runner pastes them
    _, solved = paste_solutions(nb)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    row = next((line for line in readme.splitlines() if line.startswith(f"| `{path.name}` | ")), "")
    for name in CORE_EXERCISES[number]:
        assert name in solved, f"{path.name}: no stub of {name} followed by its collapsed solution"
        assert f"exercises.check_{name}({name})" in code, (
            f"{path.name}: the stub of {name} has no checker call"
        )
        assert f"{name} = exercises.use_or_reference({name})" in code, (
            f"{path.name}: the lesson never takes {name}"
        )
        assert f"`{name}`" in row, f"README's notebook table must name {path.name}'s exercise `{name}`"


def test_the_pytorch_defaults_the_keras_tables_state():
    """The PyTorch side of the defaults that 02's, 03's, 04's and 05's Keras tables compare."""
    import inspect

    import torch

    def default(cls, name):
        return inspect.signature(cls.__init__).parameters[name].default

    assert default(torch.optim.SGD, "lr") == 1e-3
    assert [default(torch.optim.RMSprop, k) for k in ("lr", "alpha", "eps")] == [1e-2, 0.99, 1e-8]
    assert default(torch.optim.Adam, "lr") == 1e-3 and default(torch.optim.Adam, "eps") == 1e-8
    assert default(torch.nn.Conv2d, "stride") == 1 and default(torch.nn.Conv2d, "padding") == 0
    assert default(torch.nn.BatchNorm2d, "momentum") == 0.1 and default(torch.nn.BatchNorm2d, "eps") == 1e-5
    with pytest.raises(ValueError, match="same"):
        torch.nn.Conv2d(1, 1, 2, stride=2, padding="same")
    torch.manual_seed(0)
    linear, bound = torch.nn.Linear(784, 10), 1 / 784**0.5  # weights and biases uniform in ±1/√784
    assert 0.9 * bound < linear.weight.abs().max() <= bound and 0 < linear.bias.abs().max() <= bound
