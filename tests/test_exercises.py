"""The exercise checkers pass the reference solutions shown in the notebooks and fail wrong ones."""

import json
import re
from pathlib import Path

import numpy as np
import pytest

from helpers import exercises, references

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


@pytest.mark.parametrize("notebook,code", solutions())
def test_notebook_solutions_pass(notebook, code, capsys):
    ns = {"np": np}
    exec(code, ns)  # noqa: S102 - our own notebook's solution text
    checks = [
        (name, getattr(exercises, f"check_{name}")) for name in ns if hasattr(exercises, f"check_{name}")
    ]
    assert checks, f"{notebook}: the solution defines no checked function"
    for name, checker in checks:
        assert checker(ns[name]), capsys.readouterr().out


def test_checks_report_failures(capsys):
    def not_done(z):
        raise NotImplementedError

    assert not exercises.check_softmax_rows(not_done)
    assert "not done yet" in capsys.readouterr().out
    with np.errstate(over="ignore", invalid="ignore"):
        assert not exercises.check_softmax_rows(
            lambda z: np.exp(z) / np.exp(z).sum()
        )  # unstable, not per row
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
        lambda sizes: torch.tensor(sum(a * b + b for a, b in zip(sizes, sizes[1:])))
    )
    assert exercises.check_momentum_step(
        lambda w, v, g, lr, b: (
            torch.tensor(w - lr * (b * v + g), requires_grad=True),
            torch.tensor(b * v + g),
        )
    )
    assert not exercises.check_softmax_rows(lambda z: torch.ones(z.shape, requires_grad=True))
    assert "got [[1.0," in capsys.readouterr().out


def test_bfloat16_and_huge_int_answers_are_numbers(capsys):
    """A right answer in bfloat16 (NumPy has no such dtype) or as a Python int beyond int64 is judged
    on its value, not rejected as "not numbers"."""
    torch = pytest.importorskip("torch")
    assert exercises.check(
        "bf16", lambda: torch.tensor([0.5, 0.25], dtype=torch.bfloat16), [((), [0.5, 0.25])]
    )
    assert exercises.check("huge", lambda: 2**70, [((), float(2**70))])
    assert not exercises.check("huge", lambda: 2**70, [((), 5.0)])
    assert "not numbers" not in capsys.readouterr().out
    assert not exercises.check("huger", lambda: 10**400, [((), 5.0)])  # beyond float64: a [FAIL], no raise
    assert "too large for a float" in capsys.readouterr().out
    assert not exercises.check("bf16", lambda: torch.tensor(1 / 3, dtype=torch.bfloat16), [((), 1 / 3)])
    assert "bfloat16" in capsys.readouterr().out


@pytest.mark.parametrize(
    "answer, why",
    [
        (lambda sizes: "407050", "returned a str ('407050'); expected a number"),
        (lambda sizes: [[1, 2], [3]], "returned a ragged list (rows of lengths [2, 1]); expected a number"),
        (lambda sizes: {"n": 1}, "returned a dict, not numbers; expected a number"),
    ],
)
def test_answers_that_are_not_numbers_fail_without_raising(answer, why, capsys):
    assert exercises.check_count_dense_params(answer) is False
    assert f"[FAIL] count_dense_params: case 1: {why}" in capsys.readouterr().out


def test_ragged_or_text_arrays_fail_without_raising(capsys):
    assert not exercises.check_softmax_rows(lambda z: [[0.5, 0.5], [1.0]])
    assert (
        "ragged list (rows of lengths [2, 1]); expected an array of shape (1, 10)" in capsys.readouterr().out
    )
    assert not exercises.check_softmax_rows(lambda z: np.full(z.shape, "0.1"))
    assert "returned a ndarray of dtype <U3, not numbers" in capsys.readouterr().out
    assert not exercises.check_momentum_step(lambda w, v, g, lr, b: ("w", v))
    assert "must be arrays, got a str" in capsys.readouterr().out


# --- 10, 11, 12: one reference answer, one wrong answer and one unfinished stub per checker -------


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


CHECKS_10_12 = {  # checker: (reference solution, wrong answer, what the wrong answer's report says)
    "xor_relu_weights": (
        _xor_relu_weights,
        _xor_step_weights_without_the_output_step,
        "got [-0.5, 0.0, 0.0, -0.5], expected [0.0, 1.0, 1.0, 0.0]",
    ),
    "one_hidden_layer_params": (
        lambda n_in, h, n_out: n_in * h + h + h * n_out + n_out,
        lambda n_in, h, n_out: n_in * h + h * n_out,  # biases forgotten
        "case 1: got 12, expected exactly 17",
    ),
    "randomise_labels": (_randomise_labels, _fresh_random_labels, "expected exactly [500, 9]"),
    "shuffle_agreement": (
        lambda counts: np.sum((counts / counts.sum()) ** 2),
        lambda counts: 1 / len(counts),  # right only for balanced classes
        "case 3: got 0.5, expected 0.625",
    ),
    "discriminator_loss": (
        _discriminator_loss,
        lambda r, f: _generator_loss(r) + _generator_loss(f),  # fakes scored against 1
        "[FAIL] discriminator_loss: case 1",
    ),
    "generator_loss": (
        _generator_loss,
        lambda d: -_generator_loss(-d),  # the saturating log(1 − D)
        "case 1: got -0.6931, expected 0.6931",
    ),
}


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
        where = torch.randperm(len(labels), generator=g)[: round(frac * len(labels))]
        new = labels.clone()
        new[where] = (labels[where] + 1) % num_classes
        return new

    assert not exercises.check_randomise_labels(first_ones)
    assert "pick them at random" in capsys.readouterr().out

    def last_ones(labels, frac, num_classes, seed):  # k positions, but always the last k
        new = labels.clone()
        k = round(frac * len(labels))
        if k:
            new[-k:] = (new[-k:] + torch.randint(1, num_classes, (k,))) % num_classes
        return new

    def every_other(labels, frac, num_classes, seed):  # spread out, but by a fixed stride
        new = labels.clone()
        k = round(frac * len(labels))
        step = max(1, len(labels) // max(k, 1))
        where = torch.arange(0, len(labels), step)[:k]
        new[where] = (new[where] + torch.randint(1, num_classes, (len(where),))) % num_classes
        return new

    def random_in_first_half(labels, frac, num_classes, seed):  # random, but not over all positions
        g = torch.Generator().manual_seed(seed)
        k = round(frac * len(labels))
        where = torch.randperm(max(k, len(labels) // 2), generator=g)[:k]
        new = labels.clone()
        new[where] = (new[where] + torch.randint(1, num_classes, (k,), generator=g)) % num_classes
        return new

    for wrong in (last_ones, every_other, random_in_first_half):
        assert not exercises.check_randomise_labels(wrong), wrong.__name__
        assert "pick them at random" in capsys.readouterr().out
    for seed in range(20):  # a right answer never fails by bad luck, whatever its random numbers
        assert exercises.check_randomise_labels(
            lambda lab, f, k, s, offset=100 * seed: _randomise_labels(lab, f, k, s + offset)
        )
    capsys.readouterr()
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


# --- notebooks 08-09: one reference answer, one wrong answer and one unfinished stub per checker ---


def _fgsm_step(x, grad, eps):
    return (x + eps * grad.sign()).clamp(0, 1)


def _project_linf(x_adv, x, eps):
    import torch

    return torch.min(torch.max(x_adv, x - eps), x + eps).clamp(0, 1)


def _entropy(p):
    import torch

    return -(p * torch.log(p.clamp_min(1e-12))).sum(-1)


def _predictive_entropy(probs):
    return _entropy(probs.mean(0))


def _mutual_information(probs):
    return _entropy(probs.mean(0)) - _entropy(probs).mean(0)


def _calibration_error(confidence, correct, n_bins):
    edges = np.linspace(0, 1, n_bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        in_bin = (confidence > lo) & (confidence <= hi)
        if in_bin.any():
            total += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return total


CHECKS_08_09 = {  # checker: (reference solution, wrong answer, what the wrong answer's report says)
    "fgsm_step": (
        _fgsm_step,
        lambda x, grad, eps: x + eps * grad.sign(),  # the clamp forgotten
        "case 1: got [[-0.1, 0.6, 1.1], [1.05, -0.05, 0.3]]",
    ),
    "project_linf": (
        _project_linf,
        lambda x_adv, x, eps: x + (x_adv - x).clamp(-eps, eps),  # not [0, 1]
        "case 1: got [0.6, 0.4, 0.55, -0.05, 1.07, 0.3]",
    ),
    "predictive_entropy": (
        _predictive_entropy,
        lambda probs: _entropy(probs).mean(0),  # mean of entropies
        "case 1: got [0.0, 0.6931, 0.0], expected [0.0, 0.6931, 0.6931]",
    ),
    "mutual_information": (
        _mutual_information,
        lambda probs: -_mutual_information(probs),  # sign flipped
        "expected [0.0, 0.0, 0.6931]",
    ),
    "calibration_error": (
        _calibration_error,
        lambda conf, correct, n_bins: abs(correct.mean() - conf.mean()),  # no bins
        "case 3: got 0.05, expected 0.175",
    ),
}


def test_checks_08_09_catch_typical_slips(capsys):
    torch = pytest.importorskip("torch")

    assert not exercises.check_fgsm_step(lambda x, grad, eps: (x + eps * grad).clamp(0, 1))  # no sign
    assert "[FAIL] fgsm_step: case 1" in capsys.readouterr().out
    assert not exercises.check_project_linf(lambda x_adv, x, eps: x_adv.clamp(0, 1))  # no ε-ball
    assert "expected [0.6, 0.4, 0.55, 0.0, 1.0, 0.3]" in capsys.readouterr().out

    def naive_entropy(p):  # 0 · log 0 = 0 · (−inf) = NaN
        return -(p * torch.log(p)).sum(-1)

    assert not exercises.check_predictive_entropy(lambda probs: naive_entropy(probs.mean(0)))
    assert "case 1: got [nan, 0.6931, 0.6931]" in capsys.readouterr().out
    assert not exercises.check_mutual_information(
        lambda probs: naive_entropy(probs.mean(0)) - naive_entropy(probs).mean(0)
    )
    assert "got [nan," in capsys.readouterr().out
    assert not exercises.check_predictive_entropy(
        lambda probs: _predictive_entropy(probs) / np.log(2)
    )  # bits
    assert "[FAIL] predictive_entropy" in capsys.readouterr().out

    def unweighted(conf, correct, n_bins):  # every non-empty bin counts the same
        which = np.minimum((conf * n_bins).astype(int), n_bins - 1)
        return np.mean([abs(correct[which == b].mean() - conf[which == b].mean()) for b in np.unique(which)])

    def no_last_bin(conf, correct, n_bins):  # a confidence of 1.0 lands in a bin of its own
        which = (conf * n_bins).astype(int)
        return sum(
            (which == b).mean() * abs(correct[which == b].mean() - conf[which == b].mean())
            for b in np.unique(which)
        )

    def floor_bins(conf, correct, n_bins):  # bins [lo, hi) with 1.0 in the last: fine away from the edges
        which = np.minimum((conf * n_bins).astype(int), n_bins - 1)
        return sum(
            (which == b).mean() * abs(correct[which == b].mean() - conf[which == b].mean())
            for b in np.unique(which)
        )

    assert not exercises.check_calibration_error(unweighted)
    assert "case 3: got 0.2, expected 0.175" in capsys.readouterr().out
    assert not exercises.check_calibration_error(no_last_bin)
    assert "case 5: got 0.4667, expected 0.4333" in capsys.readouterr().out
    assert exercises.check_calibration_error(floor_bins)
    assert exercises.check_calibration_error(lambda c, y, m: torch.tensor(_calibration_error(c, y, m)))


# --- notebooks 05-07: one reference answer, one wrong answer and one unfinished stub per checker ---


def _conv_block_output(c_in, c_out, k, padding, size):
    return c_out, (size + 2 * padding - k + 1) // 2, c_out * (c_in * k * k + 1)


def _label_smoothing_targets(labels, num_classes, eps):
    return np.eye(num_classes)[labels] * (1 - eps) + eps / num_classes


def _masked_mean(outputs, lengths):
    import torch

    mask = torch.arange(outputs.shape[1])[None, :] < lengths[:, None]
    return (outputs * mask[..., None]).sum(1) / lengths[:, None]


def _rnn_params(cell, n_in, hidden):
    return {"rnn": 1, "gru": 3, "lstm": 4}[cell] * (hidden * (n_in + hidden) + 2 * hidden)


def _trainable(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _freeze_all_but(model, name):
    model.requires_grad_(False)
    getattr(model, name).requires_grad_(True)
    return _trainable(model)


def _freeze_the_rest_only(model, name):
    """Wrong: freezes the others but never unfreezes the kept part, which may have been frozen."""
    for param_name, p in model.named_parameters():
        if not param_name.startswith(f"{name}."):
            p.requires_grad = False
    return _trainable(model)


CHECKS_05_07 = {  # checker: (reference solution, wrong answer, what the wrong answer's report says)
    "conv_block_output": (
        _conv_block_output,
        lambda c_in, c_out, k, p, n: (c_out, (n + 2 * p - k + 1) // 2, c_out * c_in * k * k),
        "case 1: got [16, 16, 432], expected exactly [16, 16, 448]",
    ),  # biases forgotten
    "label_smoothing_targets": (
        _label_smoothing_targets,  # ε spread over the other K − 1 classes only
        lambda y, k, eps: np.where(np.eye(k)[y] == 1, 1 - eps, eps / (k - 1)),
        "case 1: got [[0.7, 0.15, 0.15], [0.15, 0.15, 0.7]]",
    ),
    "masked_mean": (
        _masked_mean,
        lambda outputs, lengths: outputs.mean(1),  # the padding counted
        "case 1: got [[5.0]], expected [[2.0]]",
    ),
    "rnn_params": (
        _rnn_params,
        lambda cell, n_in, h: {"rnn": 1, "gru": 3, "lstm": 4}[cell] * (h * (n_in + h) + h),
        "case 1: got 7360, expected exactly 7424",
    ),  # one bias per gate, as in Keras
    "freeze_all_but": (
        _freeze_all_but,
        _freeze_the_rest_only,
        "case 4 raised ValueError: requires_grad is wrong for classifier.weight",
    ),
    "majority_rate": (
        lambda labels: np.bincount(labels).max() / len(labels),
        lambda labels: labels.mean(),  # the rate of class 1, right only when 1 is the majority
        "case 2: got 0.25, expected 0.75",
    ),
}


# --- notebook 01: one reference answer, one wrong answer and one unfinished stub per checker ---
CHECKS_01 = {
    "matmul_flops": (
        lambda n, m, p: n * p * (2 * m - 1),
        lambda n, m, p: n * m * p,  # the multiplications only
        "case 2: got 2, expected exactly 3",
    ),
    "saliency_share": (
        lambda s, m: (s * m).sum(axis=(1, 2)) / s.sum(axis=(1, 2)),
        lambda s, m: np.full(len(s), (s * m).sum() / s.sum()),  # one ratio of totals for all
        "case 1: got",
    ),
}

CHECKS_01_AND_05_12 = {**CHECKS_10_12, **CHECKS_08_09, **CHECKS_05_07, **CHECKS_01}


@pytest.mark.parametrize("name", sorted(CHECKS_01_AND_05_12))
def test_checker_passes_the_reference_and_fails_wrong_or_unfinished_answers(name, capsys):
    pytest.importorskip("torch")
    checker = getattr(exercises, f"check_{name}")
    reference, wrong, why = CHECKS_01_AND_05_12[name]
    assert checker(reference) is True
    assert capsys.readouterr().out == f"[PASS] {name}\n"
    assert checker(wrong) is False
    out = capsys.readouterr().out
    assert out.startswith(f"[FAIL] {name}") and why in out and "hint:" in out, out
    assert checker(_stub) is False  # no exception escapes
    assert "not done yet" in capsys.readouterr().out


def test_checks_05_07_catch_typical_slips(capsys):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional

    # the expected conv-block answers are PyTorch's own shapes and counts
    for c_in, c_out, k, p, n in [(3, 16, 3, 1, 32), (1, 6, 5, 0, 28), (4, 4, 3, 0, 9)]:
        block = torch.nn.Sequential(
            torch.nn.Conv2d(c_in, c_out, k, padding=p), torch.nn.ReLU(), torch.nn.MaxPool2d(2)
        )
        shape = block(torch.zeros(1, c_in, n, n)).shape
        assert (shape[1], shape[2], sum(q.numel() for q in block.parameters())) == _conv_block_output(
            c_in, c_out, k, p, n
        )
    assert not exercises.check_conv_block_output(
        lambda c_in, c_out, k, p, n: (c_out, n + 2 * p - k + 1, c_out * (c_in * k * k + 1))
    )
    assert "case 1: got [16, 32, 448]" in capsys.readouterr().out  # the pool forgotten

    # the smoothed targets are the ones F.cross_entropy(label_smoothing=ε) scores against
    logits, y = torch.randn(5, 10, generator=torch.Generator().manual_seed(0)), torch.tensor([3, 0, 9, 3, 1])
    targets = torch.tensor(_label_smoothing_targets(y.numpy(), 10, 0.2), dtype=torch.float32)
    assert torch.allclose(
        F.cross_entropy(logits, y, label_smoothing=0.2), -(targets * logits.log_softmax(1)).sum(1).mean()
    )

    assert not exercises.check_masked_mean(lambda outputs, lengths: outputs.sum(1) / lengths[:, None])
    assert "case 1: got [[10.0]], expected [[2.0]]" in capsys.readouterr().out  # the padding summed

    def zero_the_padding_in_place(outputs, lengths):
        outputs[torch.arange(outputs.shape[1])[None, :] >= lengths[:, None]] = 0
        return outputs.sum(1) / lengths[:, None]

    assert not exercises.check_masked_mean(zero_the_padding_in_place)
    assert "outputs were modified" in capsys.readouterr().out
    assert exercises.check_masked_mean(lambda o, n: _masked_mean(o.double(), n).numpy())  # float64, NumPy

    assert exercises.check_freeze_all_but(lambda model, name: torch.tensor(_freeze_all_but(model, name)))
    capsys.readouterr()
    assert not exercises.check_freeze_all_but(
        lambda model, name: (_freeze_all_but(model, name), sum(p.numel() for p in model.parameters()))[1]
    )
    assert "case 1: got 58, expected exactly 18" in capsys.readouterr().out  # all parameters counted
    assert not exercises.check_freeze_all_but(lambda model, name: model.requires_grad_(False) and 0)
    assert "requires_grad is wrong for 2.weight, 2.bias" in capsys.readouterr().out  # the head frozen too

    assert not exercises.check_majority_rate(
        lambda labels: 1 / len(np.unique(labels))
    )  # balanced classes assumed
    assert "case 1: got 0.5, expected 0.6667" in capsys.readouterr().out


# --- the checker harness: never raises, never hangs, hints in tiers --------------------------------


def test_a_function_that_exits_or_loops_forever_fails_without_stopping_the_notebook(capsys, monkeypatch):
    import threading

    monkeypatch.setattr(exercises, "TIME_LIMIT_S", 0.5)

    def exits(n, m, p):
        raise SystemExit("bye")

    stop = threading.Event()  # ends the abandoned loop after the test: it would burn a core for the whole run

    def loops(n, m, p):
        while not stop.is_set():
            pass

    assert not exercises.check_matmul_flops(exits)
    assert "raised SystemExit: bye" in capsys.readouterr().out
    assert not exercises.check_matmul_flops(loops)  # the main thread: an alarm stops it
    assert "took longer than 0.5 s" in capsys.readouterr().out
    verdict = []
    worker = threading.Thread(target=lambda: verdict.append(exercises.check_matmul_flops(loops)))
    worker.start()  # another thread: no alarm there, the loop is abandoned after the limit
    worker.join(10)
    stop.set()
    assert verdict == [False] and "abandoned" in capsys.readouterr().out


def test_hints_come_in_tiers_and_a_pass_starts_again(capsys):
    def todo(*args):
        raise NotImplementedError

    printed = []
    for _ in range(4):
        assert not exercises.check_conv2d(todo)
        printed.append(capsys.readouterr().out.split("hint: ", 1)[1])
    assert printed[0] != printed[1] != printed[2] and printed[3] == printed[2]  # the last tier stays
    assert exercises.check_conv2d(references.conv2d)
    assert not exercises.check_conv2d(todo)
    assert capsys.readouterr().out.split("hint: ", 1)[1] == printed[0]


def test_use_or_reference_hands_the_lesson_a_passed_function_only(capsys):
    def conv2d(x, k, stride=1, padding=0):
        return references.conv2d(x, k, stride, padding)

    def broken(x, k, stride=1, padding=0):
        return references.conv2d(x, k[:, :, ::-1, ::-1], stride, padding)

    broken.__name__ = "conv2d"
    assert exercises.use_or_reference(broken) is references.conv2d  # never checked
    assert not exercises.check_conv2d(broken)
    assert exercises.use_or_reference(broken) is references.conv2d
    assert "workbook's conv2d" in capsys.readouterr().out
    assert exercises.check_conv2d(conv2d)
    assert exercises.use_or_reference(conv2d) is conv2d
    assert "your conv2d" in capsys.readouterr().out
    with pytest.raises(ValueError, match="no exercise called"):
        exercises.use_or_reference(lambda: 0, name="nonsense")


# telltale pieces of each exercise's answer (its collapsed solution in the notebook): no hint may print them
ANSWERS = {
    "augment_batch": [
        "torch.randint(-max_shift, max_shift + 1",
        "max(dy, 0)",
        "h + min(dy, 0)",
        "torch.zeros_like(x)",
    ],
    "extract_features": ["backbone.eval()", "m.training = was", "torch.cat(parts)", "x[i : i + batch_size]"],
    "pgd_attack": ["alpha * grad.sign()", "x - eps), x + eps)", "requires_grad_(True)", "x.clone().detach()"],
    "lstm_cell": ["chunk(4", "@ W_ih.T", "@ W_hh.T", "torch.tanh(c_new)", "sigmoid(f) * c"],
    "mc_dropout_predict": ["m.train()", "probs.mean(0)", "m.training = was", "isinstance(m, nn.Dropout)"],
    "gan_step": ["fake.detach()", "ones_like(d_real)", "zeros_like(d_fake)", "opt_D.step()", "D(fake)"],
    "softmax_ce_grad": ["X.T @", "X.T@", ".max(axis=1", ".max(1", "np.arange(", "-= 1", "/ len(X)", "/ n"],
    "numerical_gradient": ["(2 * eps)", "/ (2*eps)", "f(x) - f(", "x[i] = ", "x[idx]"],
    "mlp_backward": ["X.T @", "h1.T @", "@ W3.T", "@ W2.T", "(z1 > 0)", "(z2 > 0)", "* (z"],
    "conv2d": ["np.pad(", "r * stride", "r*stride", "np.sum(window", "// stride + 1"],
    # 01
    "matmul_flops": ["n * p * (2", "2 * m - 1", "2m - 1", "2m − 1", "2·m − 1", "(m - 1)"],
    "saliency_share": ["axis=(1, 2)", ".sum((1, 2))", "(-2, -1)", "* mask).sum", "(s * mask)"],
    # 02
    "softmax_rows": ["Z - Z.max(", "Z.max(axis=1", "keepdims=True", "E / E.sum(", "np.exp(Z -"],
    "cross_entropy_loss": [
        "[np.arange(",
        "np.arange(len(",
        "probs[np.arange",
        "np.log(1 /",
        "np.mean(np.log(",
    ],
    # 03
    "count_dense_params": ["n_in * n_out + n_out", "n_in * n_out", "zip(sizes", "sizes[1:]", "sizes[:-1]"],
    "momentum_step": ["beta * v + grad", "w - lr * v", "v = beta", "lr * v", "w − lr"],
    # 04
    "conv_output_size": ["// s + 1", "2 * p - k", "2p - k", "2p − k", "/ s) + 1", "⌋ + 1"],
    # 05
    "conv_block_output": [
        "2 * padding - k + 1",
        "c_in * k * k + 1",
        "c_in·k·k",
        "2·padding − k + 1",
        "conv_side // 2",
    ],
    "label_smoothing_targets": ["np.eye(", "* (1 - eps)", "eps / num_classes", "one_hot *", "(1 − ε) +"],
    # 06
    "masked_mean": ["torch.arange(", "< lengths[:, None]", "/ lengths[:, None]", "[..., None]", "[None, :]"],
    "rnn_params": ["hidden * n_in", "hidden * hidden", "2 * hidden", '"lstm": 4', "sets *", "h × h"],
    # 07
    "freeze_all_but": [
        "requires_grad = False",
        "requires_grad = True",
        "requires_grad_(",
        "if p.requires_grad",
        "getattr(model, name).parameters()",
    ],
    "majority_rate": ["np.bincount(", "counts.max()", "/ len(labels)", "return_counts"],
    # 08
    "fgsm_step": ["grad.sign()", "torch.sign(grad)", ".clamp(0, 1)", "eps * grad", "x + eps *"],
    "project_linf": ["torch.min(torch.max(", "x - eps", "x + eps", ".clamp(0, 1)", "clamp(-eps, eps)"],
    # 09
    "predictive_entropy": ["probs.mean(0)", "clamp_min(1e-12)", "(p * torch.log", "-(p *", ".sum(-1)"],
    "mutual_information": [
        "h_each",
        "predictive_entropy(probs) -",
        "probs.mean(0)",
        "clamp_min(1e-12)",
        ".mean(0)",
    ],
    "calibration_error": [
        "np.linspace(0, 1",
        "(confidence > lo) & (confidence <= hi)",
        "> lo",
        "<= hi",
        "in_bin.mean() *",
        "correct[in_bin].mean()",
    ],
    # 10
    "xor_relu_weights": [
        "[[1.0, 1.0], [1.0, 1.0]]",
        "[0.0, -1.0]",
        "[1.0, -2.0]",
        "[0, -1]",
        "0 and −1",
        "h₁ − 2·h₂",
    ],
    "one_hidden_layer_params": ["n_in * h + h", "h * n_out + n_out", "n_in * h", "h * n_out", "n_in·h"],
    # 11
    "randomise_labels": ["torch.randperm(", "torch.randint(1,", "% num_classes", "[:k]", "labels[where] +"],
    "shuffle_agreement": ["counts / counts.sum()", "np.sum(p", "p ** 2", "** 2", "p²", "/ N)²"],
    # 12
    "discriminator_loss": [
        "binary_cross_entropy_with_logits(",
        "ones_like(d_real)",
        "zeros_like(d_fake)",
        "logsigmoid(d_real)",
        "logsigmoid(-d_fake)",
        "softplus(",
    ],
    "generator_loss": [
        "logsigmoid(d_on_fake)",
        "binary_cross_entropy_with_logits(",
        "ones_like(d_on_fake)",
        "softplus(-",
    ],
}


@pytest.mark.parametrize("name", sorted(ANSWERS))
def test_no_hint_gives_the_answer(name, capsys, monkeypatch):
    def todo(*args, **kwargs):
        raise NotImplementedError

    monkeypatch.setattr(exercises, "_failures", {})  # start at the first tier, whatever ran before
    checker = getattr(exercises, f"check_{name}")
    for _ in range(6):  # every tier
        checker(todo)
    out = capsys.readouterr().out
    assert out.count("hint: ") == 6
    hints = [line.split("hint: ", 1)[1] for line in out.splitlines() if "hint: " in line]
    assert len(set(hints)) == 3, f"{name}: expected three tiers of hints, got {len(set(hints))}"
    leaked = [a for a in ANSWERS[name] if a.replace(" ", "") in out.replace(" ", "")]
    assert not leaked, f"{name}'s hints print the answer: {leaked}"


def _core_slips():
    """(checker name, a typical wrong answer) for the four core exercises of 02–04."""
    R = references

    def sce_unstable(X, W, b, y):
        z = X @ W + b
        p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
        d = p.copy()
        d[np.arange(len(X)), y] -= 1
        return -np.log(p[np.arange(len(X)), y]).mean(), X.T @ d / len(X), d.mean(0)

    def sce_no_mean(X, W, b, y):
        loss, dW, db = R.softmax_ce_grad(X, W, b, y)
        return loss, dW * len(X), db * len(X)

    def sce_transposed(X, W, b, y):
        loss, dW, db = R.softmax_ce_grad(X, W, b, y)
        return loss, dW.T, db

    def sce_no_one_hot(X, W, b, y):
        z = X @ W + b
        z = z - z.max(1, keepdims=True)
        p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
        d = (p - y[:, None]) / len(X)  # subtracts the label's value, not a one-hot row
        return -np.log(p[np.arange(len(X)), y]).mean(), X.T @ d, d.sum(0)

    def sce_sum_loss(X, W, b, y):
        loss, dW, db = R.softmax_ce_grad(X, W, b, y)
        return loss * len(X), dW, db

    def ng_forward(f, x, eps=1e-5):
        g = np.zeros_like(x)
        for i in np.ndindex(x.shape):
            old = x[i]
            base = f(x)
            x[i] = old + eps
            g[i] = (f(x) - base) / eps
            x[i] = old
        return g

    def ng_not_restored(f, x, eps=1e-5):
        g = np.zeros_like(x)
        for i in np.ndindex(x.shape):
            x[i] += eps
            up = f(x)
            x[i] -= 2 * eps
            g[i] = (up - f(x)) / (2 * eps)
        return g

    def ng_one_eps(f, x, eps=1e-5):
        return R.numerical_gradient(f, x, eps) * 2

    def ng_all_at_once(f, x, eps=1e-5):
        return np.full(x.shape, (f(x + eps) - f(x - eps)) / (2 * eps))

    def mlp(relu_prime_at_zero=0.0, mean=True, db_mean=False, mask_after=False):
        def backward(X, y, W1, b1, W2, b2, W3, b3):
            z1 = X @ W1 + b1
            h1 = np.maximum(z1, 0)
            z2 = h1 @ W2 + b2
            h2 = np.maximum(z2, 0)
            z3 = h2 @ W3 + b3
            p = np.exp(z3 - z3.max(1, keepdims=True))
            p /= p.sum(1, keepdims=True)
            loss = -np.log(p[np.arange(len(X)), y]).mean()
            d3 = p.copy()
            d3[np.arange(len(X)), y] -= 1
            d3 /= len(X) if mean else 1

            def relu_grad(z):
                return (z > 0) + relu_prime_at_zero * (z == 0)

            d2 = (d3 @ W3.T) * relu_grad(z2) if not mask_after else (d3 @ W3.T) * relu_grad(z3[:, :1])
            d1 = (d2 @ W2.T) * relu_grad(z1)
            red = (lambda d: d.mean(0)) if db_mean else (lambda d: d.sum(0))
            return loss, (X.T @ d1, red(d1), h1.T @ d2, red(d2), h2.T @ d3, red(d3))

        return backward

    def conv_flipped(x, k, stride=1, padding=0):
        return R.conv2d(x, k[:, :, ::-1, ::-1].copy(), stride, padding)

    def conv_first_channel(x, k, stride=1, padding=0):
        return R.conv2d(x[:1], k[:, :1], stride, padding)

    def conv_pad_one_side(x, k, stride=1, padding=0):
        xp = np.pad(x, ((0, 0), (0, 2 * padding), (0, 2 * padding)))
        return R.conv2d(xp, k, stride, 0)

    def conv_ceil(x, k, stride=1, padding=0):
        xp = np.pad(x, ((0, 0), (padding, padding + stride - 1), (padding, padding + stride - 1)))
        return R.conv2d(xp, k, stride, 0)

    def conv_stride_ignored_in_input(x, k, stride=1, padding=0):
        full = R.conv2d(x, k, 1, padding)
        h, w = R.conv2d(x, k, stride, padding).shape[1:]
        return full[:, :h, :w]

    return (
        [
            ("softmax_ce_grad", f)
            for f in (sce_unstable, sce_no_mean, sce_transposed, sce_no_one_hot, sce_sum_loss)
        ]
        + [("numerical_gradient", f) for f in (ng_forward, ng_not_restored, ng_one_eps, ng_all_at_once)]
        + [
            ("mlp_backward", mlp(relu_prime_at_zero=1.0)),
            ("mlp_backward", mlp(mean=False)),
            ("mlp_backward", mlp(db_mean=True)),
            ("mlp_backward", mlp(mask_after=True)),
        ]
        + [
            ("conv2d", f)
            for f in (
                conv_flipped,
                conv_first_channel,
                conv_pad_one_side,
                conv_ceil,
                conv_stride_ignored_in_input,
            )
        ]
    )


@pytest.mark.parametrize("name, wrong", _core_slips(), ids=lambda v: getattr(v, "__qualname__", str(v)))
def test_core_checkers_fail_typical_slips(name, wrong, capsys):
    with np.errstate(all="ignore"):
        assert not getattr(exercises, f"check_{name}")(wrong), capsys.readouterr().out
    assert getattr(exercises, f"check_{name}")(getattr(references, name)), capsys.readouterr().out


def _core_slips_06_09_12():
    """(checker name, a typical wrong answer) for lstm_cell, mc_dropout_predict and gan_step."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    R = references

    def lstm_wrong_order(x, h, c, Wi, Wh, bi, bh):
        g = x @ Wi.T + bi + h @ Wh.T + bh
        i, f, o, gg = g.chunk(4, 1)
        cn = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(gg)
        return torch.sigmoid(o) * torch.tanh(cn), cn

    def lstm_sigmoid_g(x, h, c, Wi, Wh, bi, bh):
        g = x @ Wi.T + bi + h @ Wh.T + bh
        i, f, gg, o = g.chunk(4, 1)
        cn = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.sigmoid(gg)
        return torch.sigmoid(o) * torch.tanh(cn), cn

    def lstm_no_tanh_c(x, h, c, Wi, Wh, bi, bh):
        hn, cn = R.lstm_cell(x, h, c, Wi, Wh, bi, bh)
        g = x @ Wi.T + bi + h @ Wh.T + bh
        return torch.sigmoid(g.chunk(4, 1)[3]) * cn, cn

    def lstm_transposed(x, h, c, Wi, Wh, bi, bh):
        return R.lstm_cell(x, h, c, Wi.T.T, Wh, bi, bh) if False else (x @ Wi + bi, c)

    def lstm_one_bias(x, h, c, Wi, Wh, bi, bh):
        return R.lstm_cell(x, h, c, Wi, Wh, bi, torch.zeros_like(bh))

    def mc_eval(model, x, T):
        model.eval()
        with torch.no_grad():
            p = torch.stack([torch.softmax(model(x), -1) for _ in range(T)])
        m = p.mean(0)
        H = -(m * m.clamp_min(1e-12).log()).sum(-1)
        return m, H, H - (-(p * p.clamp_min(1e-12).log()).sum(-1)).mean(0)

    def mc_train_all(model, x, T):
        before = {m: m.training for m in model.modules()}
        model.train()
        with torch.no_grad():
            p = torch.stack([torch.softmax(model(x), -1) for _ in range(T)])
        for m, w in before.items():
            m.training = w
        mm = p.mean(0)
        H = -(mm * mm.clamp_min(1e-12).log()).sum(-1)
        return mm, H, H - (-(p * p.clamp_min(1e-12).log()).sum(-1)).mean(0)

    def mc_logits(model, x, T):
        before = {m: m.training for m in model.modules()}
        model.eval()
        for m in model.modules():
            if isinstance(m, nn.Dropout):
                m.train()
        with torch.no_grad():
            lg = torch.stack([model(x) for _ in range(T)])
        for m, w in before.items():
            m.training = w
        p = torch.softmax(lg, -1)
        mm = torch.softmax(lg.mean(0), -1)
        H = -(mm * mm.clamp_min(1e-12).log()).sum(-1)
        return mm, H, H - (-(p * p.clamp_min(1e-12).log()).sum(-1)).mean(0)

    def mc_sign(model, x, T):
        m, H, mi = R.mc_dropout_predict(model, x, T)
        return m, H, -mi

    def mc_not_restored(model, x, T):
        out = R.mc_dropout_predict(model, x, T)
        model.eval()
        return out

    def mc_log2(model, x, T):
        m, H, mi = R.mc_dropout_predict(model, x, T)
        return m, H / np.log(2), mi / np.log(2)

    def mc_flag_restore(model, x, T):
        was = model.training
        out = R.mc_dropout_predict(model, x, T)
        model.train(was)
        return out

    def mc_extra_pass(model, x, T):
        model(x) if False else None
        return R.mc_dropout_predict(model, x, T + 1)

    def gan_no_detach(G, D, oG, oD, real, z):
        fake = G(z)
        dr, df = D(real), D(fake)
        dl = F.binary_cross_entropy_with_logits(dr, torch.ones_like(dr)) + F.binary_cross_entropy_with_logits(
            df, torch.zeros_like(df)
        )
        oD.zero_grad()
        dl.backward()
        oD.step()
        gl = F.binary_cross_entropy_with_logits(D(fake), torch.ones_like(df))
        oG.zero_grad()
        gl.backward()
        oG.step()
        return dl.item(), gl.item()

    def gan_minimax(G, D, oG, oD, real, z):
        fake = G(z)
        dr, df = D(real), D(fake.detach())
        dl = F.binary_cross_entropy_with_logits(dr, torch.ones_like(dr)) + F.binary_cross_entropy_with_logits(
            df, torch.zeros_like(df)
        )
        oD.zero_grad()
        dl.backward()
        oD.step()
        d = D(fake)
        gl = -F.binary_cross_entropy_with_logits(d, torch.zeros_like(d))
        oG.zero_grad()
        gl.backward()
        oG.step()
        return dl.item(), gl.item()

    def gan_old_D(G, D, oG, oD, real, z):
        fake = G(z)
        dr, df = D(real), D(fake.detach())
        d_on = D(fake)
        dl = F.binary_cross_entropy_with_logits(dr, torch.ones_like(dr)) + F.binary_cross_entropy_with_logits(
            df, torch.zeros_like(df)
        )
        gl = F.binary_cross_entropy_with_logits(d_on, torch.ones_like(d_on))
        oD.zero_grad()
        dl.backward(retain_graph=True)
        oD.step()
        oG.zero_grad()
        gl.backward()
        oG.step()
        return dl.item(), gl.item()

    def gan_no_zero_grad(G, D, oG, oD, real, z):
        fake = G(z)
        dr, df = D(real), D(fake.detach())
        dl = F.binary_cross_entropy_with_logits(dr, torch.ones_like(dr)) + F.binary_cross_entropy_with_logits(
            df, torch.zeros_like(df)
        )
        dl.backward()
        oD.step()
        d = D(fake)
        gl = F.binary_cross_entropy_with_logits(d, torch.ones_like(d))
        gl.backward()
        oG.step()
        return dl.item(), gl.item()

    def gan_mean(G, D, oG, oD, real, z):
        fake = G(z)
        dr, df = D(real), D(fake.detach())
        dl = (
            F.binary_cross_entropy_with_logits(dr, torch.ones_like(dr))
            + F.binary_cross_entropy_with_logits(df, torch.zeros_like(df))
        ) / 2
        oD.zero_grad()
        dl.backward()
        oD.step()
        d = D(fake)
        gl = F.binary_cross_entropy_with_logits(d, torch.ones_like(d))
        oG.zero_grad()
        gl.backward()
        oG.step()
        return dl.item(), gl.item()

    def gan_sigmoid_bce(G, D, oG, oD, real, z):
        fake = G(z)
        dr, df = torch.sigmoid(D(real)), torch.sigmoid(D(fake.detach()))
        dl = F.binary_cross_entropy_with_logits(dr, torch.ones_like(dr)) + F.binary_cross_entropy_with_logits(
            df, torch.zeros_like(df)
        )
        oD.zero_grad()
        dl.backward()
        oD.step()
        d = torch.sigmoid(D(fake))
        gl = F.binary_cross_entropy_with_logits(d, torch.ones_like(d))
        oG.zero_grad()
        gl.backward()
        oG.step()
        return dl.item(), gl.item()

    def gan_after(G, D, oG, oD, real, z):
        fake = G(z)
        dr, df = D(real), D(fake.detach())
        dl = F.binary_cross_entropy_with_logits(dr, torch.ones_like(dr)) + F.binary_cross_entropy_with_logits(
            df, torch.zeros_like(df)
        )
        oD.zero_grad()
        dl.backward()
        oD.step()
        d = D(fake)
        gl = F.binary_cross_entropy_with_logits(d, torch.ones_like(d))
        oG.zero_grad()
        gl.backward()
        oG.step()
        dr2 = D(real)
        return F.binary_cross_entropy_with_logits(dr2, torch.ones_like(dr2)).item() * 2, gl.item()

    return [
        *[
            ("lstm_cell", f)
            for f in (lstm_wrong_order, lstm_sigmoid_g, lstm_no_tanh_c, lstm_transposed, lstm_one_bias)
        ],
        *[
            ("mc_dropout_predict", f)
            for f in (
                mc_eval,
                mc_train_all,
                mc_logits,
                mc_sign,
                mc_not_restored,
                mc_log2,
                mc_flag_restore,
                mc_extra_pass,
            )
        ],
        *[
            ("gan_step", f)
            for f in (
                gan_no_detach,
                gan_minimax,
                gan_old_D,
                gan_no_zero_grad,
                gan_mean,
                gan_sigmoid_bce,
                gan_after,
            )
        ],
    ]


@pytest.mark.parametrize("name, wrong", _core_slips_06_09_12(), ids=lambda v: getattr(v, "__name__", str(v)))
def test_core_checkers_06_09_12_fail_typical_slips(name, wrong, capsys):
    assert not getattr(exercises, f"check_{name}")(wrong), capsys.readouterr().out


@pytest.mark.parametrize("name", ["lstm_cell", "mc_dropout_predict", "gan_step"])
def test_core_checkers_06_09_12_pass_the_reference(name, capsys):
    assert getattr(exercises, f"check_{name}")(getattr(references, name)), capsys.readouterr().out


def _core_slips_05_07_08():
    """(checker name, a typical wrong answer) for augment_batch, extract_features and pgd_attack."""
    import torch
    import torch.nn.functional as F

    R = references

    def aug_roll(x, s, g):
        n = len(x)
        flip = torch.rand(n, generator=g) < 0.5
        sh = torch.randint(-s, s + 1, (n, 2), generator=g).tolist()
        return torch.stack(
            [(x[i].flip(-1) if flip[i] else x[i]).roll(tuple(sh[i]), (-2, -1)) for i in range(n)]
        )

    def aug_same_for_batch(x, s, g):
        flip = torch.rand(1, generator=g) < 0.5
        dy, dx = torch.randint(-s, s + 1, (2,), generator=g).tolist()
        y = x.flip(-1) if flip else x
        o = torch.zeros_like(x)
        h, w = x.shape[-2:]
        o[..., max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = y[
            ..., max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
        ]
        return o

    def aug_global_rng(x, s, g):
        return R.augment_batch(x, s, torch.Generator().manual_seed(int(torch.randint(0, 10**6, (1,)))))

    def aug_vertical(x, s, g):
        return _vert(x, s, g)  # flips up–down instead of left–right

    def _vert(x, s, g):
        n, _, h, w = x.shape
        flip = torch.rand(n, generator=g) < 0.5
        sh = torch.randint(-s, s + 1, (n, 2), generator=g).tolist()
        o = torch.zeros_like(x)
        for i in range(n):
            im = x[i].flip(-2) if flip[i] else x[i]
            dy, dx = sh[i]
            o[i, :, max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = im[
                :, max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
            ]
        return o

    def aug_exclusive(x, s, g):
        n, _, h, w = x.shape
        flip = torch.rand(n, generator=g) < 0.5
        sh = torch.randint(-s, s, (n, 2), generator=g).tolist()
        o = torch.zeros_like(x)
        for i in range(n):
            im = x[i].flip(-1) if flip[i] else x[i]
            dy, dx = sh[i]
            o[i, :, max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = im[
                :, max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
            ]
        return o

    def aug_in_place(x, s, g):
        out = R.augment_batch(x, s, g)
        x.mul_(0).add_(out)
        return x

    def aug_same_dy_dx(x, s, g):
        n, _, h, w = x.shape
        flip = torch.rand(n, generator=g) < 0.5
        d = torch.randint(-s, s + 1, (n,), generator=g).tolist()
        o = torch.zeros_like(x)
        for i in range(n):
            im = x[i].flip(-1) if flip[i] else x[i]
            dy = dx = d[i]
            o[i, :, max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = im[
                :, max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
            ]
        return o

    def ef_no_eval(b, x, bs):
        with torch.no_grad():
            return torch.cat([b(x[i : i + bs]) for i in range(0, len(x), bs)])

    def ef_eval_no_restore(b, x, bs):
        b.eval()
        with torch.no_grad():
            return torch.cat([b(x[i : i + bs]) for i in range(0, len(x), bs)])

    def ef_flag_restore(b, x, bs):
        was = b.training
        b.eval()
        with torch.no_grad():
            out = torch.cat([b(x[i : i + bs]) for i in range(0, len(x), bs)])
        b.train(was)
        return out

    def ef_grad(b, x, bs):
        before = {m: m.training for m in b.modules()}
        b.eval()
        out = torch.cat([b(x[i : i + bs]) for i in range(0, len(x), bs)])
        for m, w in before.items():
            m.training = w
        return out

    def ef_one_batch(b, x, bs):
        return R.extract_features(b, x, len(x))

    def ef_pooled(b, x, bs):
        return F.adaptive_avg_pool2d(R.extract_features(b, x, bs), 1).flatten(1)

    def pgd_no_project(m, x, y, eps, a, steps):
        xa = x.clone()
        for _ in range(steps):
            xa.requires_grad_(True)
            (g,) = torch.autograd.grad(F.cross_entropy(m(xa), y), xa)
            xa = (xa + a * g.sign()).clamp(0, 1).detach()
        return xa

    def pgd_descent(m, x, y, eps, a, steps):
        return R.pgd_attack(m, x, y, eps, -a, steps)

    def pgd_project_around_current(m, x, y, eps, a, steps):
        xa = x.clone()
        for _ in range(steps):
            xa.requires_grad_(True)
            (g,) = torch.autograd.grad(F.cross_entropy(m(xa), y), xa)
            with torch.no_grad():
                new = xa + a * g.sign()
                xa = torch.min(torch.max(new, xa - eps), xa + eps).clamp(0, 1)
        return xa.detach()

    def pgd_random_start(m, x, y, eps, a, steps):
        return R.pgd_attack(
            m, (x + torch.empty_like(x).uniform_(-eps, eps)).clamp(0, 1), y, eps, a, steps
        ).clamp(0, 1)

    def pgd_raw_grad(m, x, y, eps, a, steps):
        xa = x.clone()
        for _ in range(steps):
            xa.requires_grad_(True)
            (g,) = torch.autograd.grad(F.cross_entropy(m(xa), y), xa)
            with torch.no_grad():
                xa = torch.min(torch.max(xa + a * g, x - eps), x + eps).clamp(0, 1)
        return xa.detach()

    def pgd_grad_pileup(m, x, y, eps, a, steps):
        xa = x.clone().requires_grad_(True)
        acc = torch.zeros_like(x)
        for _ in range(steps):
            (g,) = torch.autograd.grad(F.cross_entropy(m(xa), y), xa)
            acc = acc + g
            with torch.no_grad():
                nxt = torch.min(torch.max(xa + a * acc.sign(), x - eps), x + eps).clamp(0, 1)
            xa = nxt.requires_grad_(True)
        return xa.detach()

    def pgd_no_clip(m, x, y, eps, a, steps):
        xa = x.clone()
        for _ in range(steps):
            xa.requires_grad_(True)
            (g,) = torch.autograd.grad(F.cross_entropy(m(xa), y), xa)
            with torch.no_grad():
                xa = torch.min(torch.max(xa + a * g.sign(), x - eps), x + eps)
        return xa.detach()

    return [
        *[
            ("augment_batch", f)
            for f in (
                aug_roll,
                aug_same_for_batch,
                aug_global_rng,
                aug_vertical,
                aug_exclusive,
                aug_in_place,
                aug_same_dy_dx,
            )
        ],
        *[
            ("extract_features", f)
            for f in (ef_no_eval, ef_eval_no_restore, ef_flag_restore, ef_grad, ef_one_batch, ef_pooled)
        ],
        *[
            ("pgd_attack", f)
            for f in (
                pgd_no_project,
                pgd_descent,
                pgd_project_around_current,
                pgd_random_start,
                pgd_raw_grad,
                pgd_grad_pileup,
                pgd_no_clip,
            )
        ],
    ]


@pytest.mark.parametrize("name, wrong", _core_slips_05_07_08(), ids=lambda v: getattr(v, "__name__", str(v)))
def test_core_checkers_05_07_08_fail_typical_slips(name, wrong, capsys):
    assert not getattr(exercises, f"check_{name}")(wrong), capsys.readouterr().out


@pytest.mark.parametrize("name", ["augment_batch", "extract_features", "pgd_attack"])
def test_core_checkers_05_07_08_pass_the_reference(name, capsys):
    assert getattr(exercises, f"check_{name}")(getattr(references, name)), capsys.readouterr().out
