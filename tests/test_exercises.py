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


def test_integer_answers_must_be_exact(capsys):
    def right(sizes):
        return sum(n_in * n_out + n_out for n_in, n_out in zip(sizes, sizes[1:]))

    # 407,053 for 407,050 is within np.allclose's rtol=1e-5, yet a wrong count
    off_by_3 = lambda sizes: right(sizes) + 3 * (len(sizes) == 3)  # noqa: E731
    assert not exercises.check_count_dense_params(off_by_3)
    assert "case 2: got 407053, expected exactly 407050" in capsys.readouterr().out
    assert exercises.check_count_dense_params(right)
    assert exercises.check_count_dense_params(lambda sizes: float(right(sizes)))  # 407050.0: exact
    assert not exercises.check("count", lambda: 407_053, [((), np.int64(407_050))])
    assert not exercises.check("mask", lambda: [True, False], [((), np.array([True, True]))])
    assert exercises.check("float", lambda: 407_053.0, [((), 407_050.0)])  # floats: a tolerance


def test_a_torch_tensor_answer_counts(capsys):
    torch = pytest.importorskip("torch")

    def softmax_rows(z):
        t = torch.tensor(z, requires_grad=True)  # tracks gradients, like a student's autograd code
        return torch.softmax(t, dim=1)

    assert exercises.check_softmax_rows(softmax_rows), capsys.readouterr().out
    assert exercises.check_count_dense_params(
        lambda sizes: torch.tensor(sum(a * b + b for a, b in zip(sizes, sizes[1:]))))
    assert exercises.check_momentum_step(lambda w, v, g, lr, b: (
        torch.tensor(w - lr * (b * v + g), requires_grad=True), torch.tensor(b * v + g)))
    assert not exercises.check_softmax_rows(lambda z: torch.ones(z.shape, requires_grad=True))
    assert "got [[1.0," in capsys.readouterr().out


@pytest.mark.parametrize("answer, why", [
    (lambda sizes: "407050", "returned a str ('407050'); expected a number"),
    (lambda sizes: [[1, 2], [3]], "returned a ragged list (rows of lengths [2, 1]); expected a "
                                  "number"),
    (lambda sizes: {"n": 1}, "returned a dict, not numbers; expected a number"),
])
def test_answers_that_are_not_numbers_fail_without_raising(answer, why, capsys):
    assert exercises.check_count_dense_params(answer) is False
    assert f"[FAIL] count_dense_params: case 1: {why}" in capsys.readouterr().out


def test_ragged_or_text_arrays_fail_without_raising(capsys):
    assert not exercises.check_softmax_rows(lambda z: [[0.5, 0.5], [1.0]])
    assert "ragged list (rows of lengths [2, 1]); expected an array of shape (1, 10)" in \
        capsys.readouterr().out
    assert not exercises.check_softmax_rows(lambda z: np.full(z.shape, "0.1"))
    assert "returned a ndarray of dtype <U3, not numbers" in capsys.readouterr().out
    assert not exercises.check_momentum_step(lambda w, v, g, lr, b: ("w", v))
    assert "must be arrays, got a str" in capsys.readouterr().out
