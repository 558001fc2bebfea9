"""The exercise checkers pass the reference solutions shown in the notebooks and fail wrong ones."""

import json
import re
from pathlib import Path

import numpy as np
import pytest

from helpers import exercises

ROOT = Path(__file__).resolve().parent.parent


def solutions():
    """(notebook, code) for every ```python block inside a <details> solution in a notebook."""
    found = []
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            src = "".join(cell["source"])
            if cell["cell_type"] == "markdown" and "<details>" in src:
                found += [(path.name, code) for code in re.findall(r"```python\n(.*?)```", src, re.S)]
    return found


@pytest.mark.parametrize("notebook,code", solutions() or [("none", "")])
def test_notebook_solutions_pass(notebook, code, capsys):
    if notebook == "none":
        pytest.skip("no notebook has exercises yet")
    ns = {"np": np}
    exec(code, ns)  # noqa: S102 - our own notebook's solution text
    checks = [(name, getattr(exercises, f"check_{name}")) for name in ns if hasattr(exercises, f"check_{name}")]
    assert checks, f"{notebook}: the solution defines no checked function"
    for name, checker in checks:
        assert checker(ns[name]), capsys.readouterr().out


def test_checks_report_failures(capsys):
    def not_done(z):
        raise NotImplementedError

    assert not exercises.check_softmax_rows(not_done)
    assert "not done yet" in capsys.readouterr().out
    with np.errstate(over="ignore", invalid="ignore"):
        assert not exercises.check_softmax_rows(lambda z: np.exp(z) / np.exp(z).sum())  # unstable, not per row
    assert "[FAIL]" in capsys.readouterr().out
    assert not exercises.check_count_dense_params(lambda sizes: None)
    assert "return" in capsys.readouterr().out
    assert not exercises.check_cross_entropy_loss(lambda p, y: 1 / 0)
    assert "ZeroDivisionError" in capsys.readouterr().out
    assert not exercises.check_momentum_step(lambda w, v, g, lr, b: (w - lr * g, v))
