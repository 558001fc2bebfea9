import math

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from helpers import data, plots, train  # noqa: E402


@pytest.fixture(scope="module")
def mnist_small():
    import os

    if not os.environ.get("WORKBOOK_DATA"):
        pytest.skip("needs the data mirror: set WORKBOOK_DATA")
    m = data.load_mnist()
    xtr, ytr = data.subset(3000, m.x_train, m.y_train, seed=0)
    xte, yte = data.subset(1000, m.x_test, m.y_test, seed=0)
    return ((data.to_tensor(xtr), torch.from_numpy(ytr)), (data.to_tensor(xte), torch.from_numpy(yte)))


def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))


def test_fit_learns_real_mnist(mnist_small):
    torch.manual_seed(0)
    model = mlp()
    train_set, val_set = mnist_small
    hist = train.fit(
        model,
        train_set,
        val_set,
        epochs=3,
        batch_size=64,
        lr=2e-3,
        seed=0,
        device=torch.device("cpu"),
        progress=False,
    )
    assert hist["epoch"] == [1, 2, 3]
    assert all(len(v) == 3 for v in hist.values())
    assert hist["train_loss"][-1] < hist["train_loss"][0]
    assert hist["val_acc"][-1] > 0.85  # chance is 0.10
    loss, acc = train.evaluate(model, val_set)
    assert acc == pytest.approx(hist["val_acc"][-1]) and loss == pytest.approx(hist["val_loss"][-1])
    logits = train.predict(model, val_set[0], batch_size=100)
    assert logits.shape == (1000, 10)
    assert (logits.argmax(1) == val_set[1]).float().mean().item() == pytest.approx(acc)
    assert "3 epochs" in train.summarize(hist) and "| validation loss" in train.summarize(hist)


def test_fit_names_its_second_set(mnist_small):
    """eval_name="test" records test_loss/test_acc (no val_* keys), with the same numbers as "val"."""
    runs = {}
    for name in ("val", "test"):
        torch.manual_seed(0)
        runs[name] = train.fit(
            mlp(),
            mnist_small[0],
            mnist_small[1],
            epochs=1,
            batch_size=100,
            seed=0,
            device=torch.device("cpu"),
            progress=False,
            eval_name=name,
        )
    assert "val_acc" not in runs["test"] and "test_loss" not in runs["val"]
    assert runs["test"]["test_acc"] == runs["val"]["val_acc"]
    assert runs["test"]["test_loss"] == runs["val"]["val_loss"]
    line = train.summarize(runs["test"])
    assert "| test loss" in line and "val" not in line
    for bad in ("train", "", "my set"):
        with pytest.raises(ValueError, match="eval_name"):
            train.fit(mlp(), mnist_small[0], epochs=1, progress=False, eval_name=bad)


def test_fit_rejects_float_targets_that_broadcast():
    """Output (B, 1) against targets (B,) with mse_loss would broadcast to (B, B): an error naming the fix."""
    x, y = torch.randn(32, 3), torch.randn(32)
    torch.manual_seed(0)
    with pytest.raises(ValueError, match=r"unsqueeze\(1\)"):
        train.fit(nn.Linear(3, 1), (x, y), epochs=1, loss_fn=F.mse_loss, progress=False)
    with pytest.raises(ValueError, match="shape"):
        train.evaluate(nn.Linear(3, 1), (x, y), loss_fn=F.mse_loss)
    hist = train.fit(nn.Linear(3, 1), (x, y.unsqueeze(1)), epochs=2, loss_fn=F.mse_loss, progress=False)
    assert hist["train_loss"][1] < hist["train_loss"][0] and math.isnan(hist["train_acc"][0])


def test_fit_with_scheduler_and_augment(mnist_small):
    model = mlp()
    calls = []

    def augment(x):
        calls.append(x.shape[0])
        return torch.flip(x, dims=[3])

    hist = train.fit(
        model,
        mnist_small[0],
        epochs=1,
        batch_size=500,
        progress=False,
        augment=augment,
        scheduler=lambda opt, n: torch.optim.lr_scheduler.OneCycleLR(opt, 0.01, total_steps=n),
    )
    assert sum(calls) == 3000 and len(calls) == 6
    assert "val" not in train.summarize(hist)  # no validation set: no NaN columns
    assert math.isnan(hist["val_acc"][0]) and hist["lr"][0] < 0.01


def test_fit_rejects_bad_input():
    model = mlp()
    with pytest.raises(ValueError, match="rows"):
        train.fit(model, (torch.zeros(4, 1, 28, 28), torch.zeros(3, dtype=torch.long)))
    with pytest.raises(TypeError, match="pair"):
        train.fit(model, torch.zeros(4, 1, 28, 28))
    with pytest.raises(ValueError, match="epochs"):
        train.fit(model, (torch.zeros(4, 1, 28, 28), torch.zeros(4, dtype=torch.long)), epochs=0)


def test_count_parameters():
    model = mlp()
    assert train.count_parameters(model) == 784 * 64 + 64 + 64 * 10 + 10
    model[1].weight.requires_grad_(False)
    assert train.count_parameters(model, trainable_only=True) == 64 + 64 * 10 + 10


def test_confusion_matrix_and_most_confused():
    cm = plots.confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 1, 1, 2], 3)
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [0, 2, 1]]
    assert plots.most_confused(cm, ["a", "b", "c"], k=1) == [("c", "b", 2)]
    assert plots.plot_confusion([0, 1], [0, 0], ["a", "b"]).sum() == 2


def test_show_images_titles_mark_errors():
    imgs = torch.rand(3, 1, 8, 8)
    fig = plots.show_images(imgs, labels=[1, 2, 3], preds=[1, 0, 3], ncols=3)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["1 → 1", "2 → 0", "3 → 3"]
    assert fig.axes[1].title.get_color() == "crimson"
    with pytest.raises(ValueError, match="batch of images"):
        plots.show_images(np.zeros(5))


def test_plot_history_draws_each_run():
    h = {
        "epoch": [1, 2],
        "train_loss": [1.0, 0.5],
        "val_loss": [1.1, 0.7],
        "train_acc": [0.5, 0.8],
        "val_acc": [0.4, 0.7],
        "seconds": [1, 1],
        "lr": [1e-3, 1e-3],
    }
    fig = plots.plot_history({"a": h, "b": h})
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == 4
    assert [line.get_label() for line in fig.axes[0].lines] == [
        "a train",
        "a validation",
        "b train",
        "b validation",
    ]
    h = {k.replace("val_", "test_"): v for k, v in h.items()}  # fit(..., eval_name="test")
    fig = plots.plot_history(h)  # the legend names the set that was evaluated
    assert [line.get_label() for line in fig.axes[1].lines] == ["train", "test"]


def _fake_gpu(monkeypatch, native_bf16: bool):
    """A CUDA GPU that does bf16 natively (Ampere+), or only by emulation (e.g. a T4)."""
    calls = []

    def is_bf16_supported(including_emulation: bool = True):
        calls.append(including_emulation)
        return native_bf16 or including_emulation

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", is_bf16_supported)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    return calls


class _ScalerMade(Exception):
    pass


class _StaysOnCPU(torch.Tensor):
    """A tensor that ignores ``.to(device)``: code for a faked GPU runs on the CPU with it."""

    def to(self, *args, **kwargs):
        return self


@pytest.mark.parametrize("native_bf16, dtype", [(True, torch.bfloat16), (False, torch.float16)])
def test_amp_dtype_and_scaler_agree(monkeypatch, native_bf16, dtype):
    calls = _fake_gpu(monkeypatch, native_bf16)
    cuda = torch.device("cuda")
    assert train.amp_dtype(cuda) is dtype
    assert calls and calls[0] is False, "bf16 must be asked for natively, not by emulation"
    assert train.amp_dtype(cuda, amp=False) is None
    assert train.amp_dtype(torch.device("cpu")) is None
    assert train.amp_dtype(torch.device("cpu"), amp=False) is None
    # the forward pass runs under autocast to that dtype
    seen = []

    class AutocastSpy(nn.Module):
        def forward(self, x):
            seen.append((torch.is_autocast_enabled("cuda"), torch.get_autocast_dtype("cuda")))
            return x.as_subclass(torch.Tensor)

    train.predict(AutocastSpy(), torch.zeros(2, 3).as_subclass(_StaysOnCPU), device=cuda)
    assert seen == [(True, dtype)]

    # fit builds its GradScaler from the same decision: enabled exactly for fp16
    made = []

    def recorder(device="cuda", *args, enabled=True, **kwargs):
        made.append((device, enabled))
        raise _ScalerMade  # stop before any CUDA work

    monkeypatch.setattr(torch.amp, "GradScaler", recorder)
    model = nn.Flatten()  # no parameters: moving it "to CUDA" touches no GPU
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    xy = (torch.zeros(4, 2), torch.zeros(4, dtype=torch.long))
    for amp in (True, False):
        with pytest.raises(_ScalerMade):
            train.fit(model, xy, optimizer=opt, device=cuda, amp=amp, progress=False)
    assert made == [("cuda", dtype is torch.float16), ("cuda", False)]


def test_amp_dtype_without_emulation_keyword(monkeypatch):
    # an older torch: is_bf16_supported() takes no keyword and answers for native bf16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert train.amp_dtype(torch.device("cuda")) is torch.float16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert train.amp_dtype(torch.device("cuda")) is torch.bfloat16


# --- no silent wrong results: NaN losses, empty sets, labels outside 0…C−1 ----------------------

CPU = torch.device("cpu")
NEEDS_CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def deep_net():
    return nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3))


def small_set(n=64, classes=3):
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, 4, generator=g), torch.randint(0, classes, (n,), generator=g)


def _diverge(device=CPU, **kwargs):
    """A too-high learning rate: SGD at lr 1e6 on a 3-layer ReLU net; the error it raises."""
    torch.manual_seed(0)
    model = deep_net()
    with pytest.raises(train.NonFiniteLossError) as err:
        train.fit(
            model,
            small_set(),
            epochs=5,
            batch_size=8,
            device=device,
            progress=False,
            seed=0,
            optimizer=torch.optim.SGD(model.parameters(), lr=1e6),
            **kwargs,
        )
    return err.value


def test_fit_stops_when_the_learning_rate_is_too_high():
    exc = _diverge()
    # checked once per epoch (a GPU's default: no sync per step), the error names the same step
    late = _diverge(check_each_step=False)
    assert (late.epoch, late.step) == (exc.epoch, exc.step) and "weights may be NaN" in str(late)
    assert isinstance(exc, FloatingPointError) and exc.epoch == 1 and 1 < exc.step <= 8
    msg = str(exc)
    assert f"epoch 1, step {exc.step} of 8" in msg
    assert "lower learning rate" in msg and "1e+06" in msg and "x and y hold no NaN/inf" in msg


@NEEDS_CUDA
def test_fit_on_a_gpu_names_the_same_diverging_step():
    # the GPU way (no sync per step: the first bad step is kept on the device) names the same step
    exc = _diverge()
    late = _diverge(torch.device("cuda"), amp=False)  # float32 like the CPU run
    assert (late.epoch, late.step) == (exc.epoch, exc.step)


@pytest.mark.parametrize(
    "device, each_step",
    [
        pytest.param(CPU, True, id="cpu-each-step"),
        pytest.param(CPU, False, id="cpu-once-per-epoch"),
        pytest.param(torch.device("cuda"), None, id="cuda-default", marks=NEEDS_CUDA),
    ],
)  # None: once per epoch
def test_fit_stops_at_the_batch_with_a_nan_pixel(device, each_step):
    x, y = torch.rand(40, 1, 4, 4), torch.randint(0, 3, (40,))
    x[17, 0, 2, 3] = math.nan
    has_nan = []  # per step of epoch 1: does its batch hold the NaN pixel?

    def spy(xb):
        has_nan.append(bool(xb.isnan().any()))
        return xb

    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    with pytest.raises(train.NonFiniteLossError, match="torch.isfinite") as err:
        train.fit(
            model,
            (x, y),
            epochs=3,
            batch_size=8,
            augment=spy,
            device=device,
            progress=False,
            seed=0,
            check_each_step=each_step,
        )
    step = has_nan.index(True) + 1
    assert (err.value.epoch, err.value.step) == (1, step)
    assert f"epoch 1, step {step} of 5" in str(err.value)
    assert "1 NaN/inf value(s), the first in row 17" in str(err.value)
    if each_step:  # on the CPU it stops before that batch's update: the weights stay finite
        assert len(has_nan) == step
        assert all(torch.isfinite(p).all() for p in model.parameters())
        assert "afresh" not in str(err.value)
    else:
        assert len(has_nan) == 5  # the rest of the epoch ran; the check came at its end
        assert "build the model afresh" in str(err.value)


def test_evaluate_rejects_a_nan_loss():
    x, y = small_set(10)
    x[7, 1] = math.inf
    with pytest.raises(train.NonFiniteLossError, match=r"batch 2 \(rows 4…7\)"):
        train.evaluate(deep_net(), (x, y), batch_size=4)


def test_empty_sets_are_rejected_by_name():
    x, y = small_set()
    empty = (x[:0], y[:0])
    with pytest.raises(ValueError, match="train is empty.*at least one example"):
        train.fit(deep_net(), empty, device=CPU, progress=False)
    with pytest.raises(ValueError, match=r"val is empty.*val=None"):
        train.fit(deep_net(), (x, y), empty, device=CPU, progress=False)
    with pytest.raises(ValueError, match="data is empty"):
        train.evaluate(deep_net(), empty)


def test_predict_on_empty_input_has_the_output_shape():
    model = deep_net()
    assert train.predict(model, torch.zeros(0, 4)).shape == (0, 3)
    assert train.predict(model, torch.zeros(5, 4)).shape == (5, 3)

    class NeedsRows(nn.Module):  # cannot run on an empty batch
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.ones(()))

        def forward(self, x):
            return self.w * x.view(len(x), -1)

    with pytest.raises(ValueError, match="empty batch"):
        train.predict(NeedsRows(), torch.zeros(0, 4))


@pytest.mark.parametrize("bad, pos", [(12, 37), (-1, 0), (3, 63)])
def test_fit_checks_labels_before_training(bad, pos):
    x, y = small_set()
    y[pos] = bad
    model = deep_net()
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(
        ValueError,
        match=f"train labels must be class indices 0…2 for a model with "
        f"3 outputs; found {bad} at index {pos}",
    ):
        train.fit(model, (x, y), epochs=1, batch_size=8, device=CPU, progress=False)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters())), "no step was taken"
    with pytest.raises(ValueError, match=f"val labels .* found {bad} at index {pos}"):
        train.fit(model, small_set(), (x, y), epochs=1, device=CPU, progress=False)
    with pytest.raises(ValueError, match=f"data labels .* found {bad} at index {pos}"):
        train.evaluate(model, (x, y))


def test_other_integer_labels_and_float_targets_still_train():
    x, y = small_set()
    runs = {}
    for dtype in (torch.int64, torch.int32, torch.uint8):
        torch.manual_seed(0)
        runs[dtype] = train.fit(
            deep_net(),
            (x, y.to(dtype)),
            (x, y.to(dtype)),
            epochs=2,
            batch_size=16,
            device=CPU,
            progress=False,
            seed=0,
        )
    del runs[torch.int64]["seconds"], runs[torch.int32]["seconds"], runs[torch.uint8]["seconds"]
    assert runs[torch.int32] == runs[torch.int64] == runs[torch.uint8]
    assert 0 <= runs[torch.uint8]["val_acc"][-1] <= 1
    # regression (float targets, MSE): no label check, accuracy NaN
    torch.manual_seed(0)
    reg = nn.Linear(4, 1)
    hist = train.fit(
        reg,
        (x, x.sum(1)),
        (x, x.sum(1)),
        epochs=30,
        batch_size=16,
        lr=0.05,
        loss_fn=lambda out, t: F.mse_loss(out.squeeze(1), t),
        device=CPU,
        progress=False,
        seed=0,
    )
    assert hist["val_loss"][-1] < 0.1 * hist["train_loss"][0]
    assert math.isnan(hist["train_acc"][-1]) and math.isnan(hist["val_acc"][-1])


def test_divergence_seen_at_evaluation_is_called_divergence():
    """SGD at lr 1e6: the weights grow until the outputs overflow at evaluation with every training loss
    finite; the error says training diverged instead of blaming the val inputs."""
    x, y = small_set()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
    with pytest.raises(train.NonFiniteLossError, match=r"training diverged in epoch \d") as err:
        train.fit(
            model,
            (x, y),
            (x, y),
            epochs=8,
            batch_size=64,
            device=CPU,
            progress=False,
            optimizer=torch.optim.SGD(model.parameters(), lr=1e6),
        )
    assert "lower learning rate (now 1e+06)" in str(err.value) and "not to blame" in str(err.value)
    # evaluate alone says what is not finite: the outputs here, the inputs there
    with pytest.raises(
        train.NonFiniteLossError, match="inputs are finite but the model's outputs are NaN/inf"
    ):
        train.evaluate(model, (x, y))
    x_bad = x.clone()
    x_bad[3, 0] = math.nan
    with pytest.raises(train.NonFiniteLossError, match="inputs hold NaN/inf"):
        train.evaluate(deep_net(), (x_bad, y))
    with pytest.raises(train.NonFiniteLossError, match="inputs hold NaN/inf"):  # fit: the val inputs' error
        train.fit(deep_net(), (x, y), (x_bad, y), epochs=1, device=CPU, progress=False)
    # not divergence either: NaN float targets, or a loss that is inf on finite outputs
    reg = nn.Linear(4, 1)
    t = x.sum(1, keepdim=True)
    t_bad = t.clone()
    t_bad[2] = math.nan
    with pytest.raises(train.NonFiniteLossError, match="targets hold NaN/inf") as err:
        train.fit(reg, (x, t), (x, t_bad), epochs=1, loss_fn=F.mse_loss, device=CPU, progress=False)
    assert err.value.reason == "targets"
    with pytest.raises(train.NonFiniteLossError, match="check the loss") as err:
        train.evaluate(reg, (x, t), loss_fn=lambda out, y: (out - y).pow(2).mean() / 0.0)
    assert err.value.reason == "loss"


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda x, y: ((x * 255).to(torch.uint8), y), r"train: x is uint8.*helpers.data.to_tensor"),
        (lambda x, y: (x.double(), y), r"train: x is torch.float64.*x.to\(torch.float32\)"),
        (lambda x, y: (x, y.float()), r"labels y are torch.float32.*y.long\(\)"),
        (lambda x, y: (x, y > 0), r"labels y are torch.bool.*y.long\(\)"),
        (lambda x, y: (x, y[:, None]), r"shape \(64, 1\).*y.squeeze\(1\)"),
    ],
    ids=["uint8-images", "float64-images", "float-labels", "bool-labels", "labels-N-1"],
)
def test_inputs_and_labels_the_model_cannot_take_are_named(change, match):
    """Each used to end in a raw RuntimeError from deep inside torch; now a ValueError with the fix."""
    x, y = change(torch.rand(64, 1, 4, 4), torch.randint(0, 3, (64,)))
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    with pytest.raises(ValueError, match=match):
        train.fit(model, (x, y), epochs=1, device=CPU, progress=False)
