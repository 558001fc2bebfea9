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


# --- 09, 10, 11: one reference answer, one wrong answer and one unfinished stub per checker -------

def _stub(*args):
    raise NotImplementedError


def _xor_relu_weights():
    return np.array([[1.0, 1.0], [1.0, 1.0]]), np.array([0.0, -1.0]), np.array([1.0, -2.0]), 0.0


def _xor_step_weights_without_the_output_step():
    return np.array([[1.0, -1.0], [-1.0, 1.0]]), np.array([-0.5, -0.5]), np.array([1.0, 1.0]), -0.5


def _randomise_labels(labels, frac, num_classes, seed):
    import torch

    g = torch.Generator().manual_seed(seed)
    k = round(frac * len(labels))
    where = torch.randperm(len(labels), generator=g)[:k]
    new = labels.clone()
    new[where] = (labels[where] + torch.randint(1, num_classes, (k,), generator=g)) % num_classes
    return new


def _fresh_random_labels(labels, frac, num_classes, seed):
    """Wrong: a fresh label from all classes is sometimes the old one, so fewer labels change."""
    import torch

    g = torch.Generator().manual_seed(seed)
    k = round(frac * len(labels))
    where = torch.randperm(len(labels), generator=g)[:k]
    new = labels.clone()
    new[where] = torch.randint(0, num_classes, (k,), generator=g)
    return new


def _discriminator_loss(d_real, d_fake):
    import torch.nn.functional as F

    return -F.logsigmoid(d_real).mean() - F.logsigmoid(-d_fake).mean()


def _generator_loss(d_on_fake):
    import torch.nn.functional as F

    return -F.logsigmoid(d_on_fake).mean()


NEW_CHECKS = {  # checker: (reference solution, wrong answer, what the wrong answer's report says)
    "xor_relu_weights": (_xor_relu_weights, _xor_step_weights_without_the_output_step,
                         "got [-0.5, 0.0, 0.0, -0.5], expected [0.0, 1.0, 1.0, 0.0]"),
    "one_hidden_layer_params": (lambda n_in, h, n_out: n_in * h + h + h * n_out + n_out,
                                lambda n_in, h, n_out: n_in * h + h * n_out,  # biases forgotten
                                "case 1: got 12, expected exactly 17"),
    "randomise_labels": (_randomise_labels, _fresh_random_labels, "expected exactly [500, 9]"),
    "shuffle_agreement": (lambda counts: np.sum((counts / counts.sum()) ** 2),
                          lambda counts: 1 / len(counts),  # right only for balanced classes
                          "case 3: got 0.5, expected 0.625"),
    "discriminator_loss": (_discriminator_loss,
                           lambda r, f: _generator_loss(r) + _generator_loss(f),  # fakes scored against 1
                           "[FAIL] discriminator_loss: case 1"),
    "generator_loss": (_generator_loss, lambda d: -_generator_loss(-d),  # the saturating log(1 − D)
                       "case 1: got -0.6931, expected 0.6931"),
}


@pytest.mark.parametrize("name", sorted(NEW_CHECKS))
def test_new_checks_pass_the_reference_and_fail_wrong_or_unfinished_answers(name, capsys):
    pytest.importorskip("torch")
    checker = getattr(exercises, f"check_{name}")
    reference, wrong, why = NEW_CHECKS[name]
    assert checker(reference) is True
    assert capsys.readouterr().out == f"[PASS] {name}\n"
    assert checker(wrong) is False
    out = capsys.readouterr().out
    assert out.startswith(f"[FAIL] {name}") and why in out and "hint:" in out, out
    assert checker(_stub) is False  # no exception escapes
    assert "not done yet" in capsys.readouterr().out


def test_randomise_labels_check_catches_shortcuts(capsys):
    torch = pytest.importorskip("torch")

    def first_ones(labels, frac, num_classes, seed):
        new = labels.clone()
        k = round(frac * len(labels))
        new[:k] = (new[:k] + 1) % num_classes
        return new

    def in_place(labels, frac, num_classes, seed):
        labels[:] = _randomise_labels(labels, frac, num_classes, seed)
        return labels

    def always_plus_one(labels, frac, num_classes, seed):
        g = torch.Generator().manual_seed(seed)
        where = torch.randperm(len(labels), generator=g)[:round(frac * len(labels))]
        new = labels.clone()
        new[where] = (labels[where] + 1) % num_classes
        return new

    assert not exercises.check_randomise_labels(first_ones)
    assert "pick them at random" in capsys.readouterr().out
    assert not exercises.check_randomise_labels(in_place)
    assert "input labels were modified" in capsys.readouterr().out
    assert not exercises.check_randomise_labels(always_plus_one)  # a different class, but never a random one
    assert "got [500, 1], expected exactly [500, 9]" in capsys.readouterr().out
    assert not exercises.check_randomise_labels(lambda labels, frac, k, seed: labels.clone() + k)
    assert "outside 0..9" in capsys.readouterr().out


def test_gan_loss_checks_need_a_stable_loss(capsys):
    torch = pytest.importorskip("torch")

    def naive(d_real, d_fake):  # log(1 − sigmoid(30)) is log 0 in float32
        return -torch.log(torch.sigmoid(d_real)).mean() - torch.log(1 - torch.sigmoid(d_fake)).mean()

    assert not exercises.check_discriminator_loss(naive)
    assert "case 4: got inf" in capsys.readouterr().out
    assert exercises.check_discriminator_loss(lambda r, f: float(_discriminator_loss(r, f)))  # a number
    assert not exercises.check_generator_loss(lambda d: -torch.nn.functional.logsigmoid(d))  # not averaged
    assert "case 1: shape (1, 1), expected ()" in capsys.readouterr().out
