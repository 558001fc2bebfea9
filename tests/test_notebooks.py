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
