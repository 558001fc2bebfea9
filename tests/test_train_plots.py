import math

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
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
    hist = train.fit(model, train_set, val_set, epochs=3, batch_size=64, lr=2e-3, seed=0,
                     device=torch.device("cpu"), progress=False)
    assert hist["epoch"] == [1, 2, 3]
    assert all(len(v) == 3 for v in hist.values())
    assert hist["train_loss"][-1] < hist["train_loss"][0]
    assert hist["val_acc"][-1] > 0.85  # chance is 0.10
    loss, acc = train.evaluate(model, val_set)
    assert acc == pytest.approx(hist["val_acc"][-1]) and loss == pytest.approx(hist["val_loss"][-1])
    logits = train.predict(model, val_set[0], batch_size=100)
    assert logits.shape == (1000, 10)
    assert (logits.argmax(1) == val_set[1]).float().mean().item() == pytest.approx(acc)
    assert "3 epochs" in train.summarize(hist)


def test_fit_with_scheduler_and_augment(mnist_small):
    model = mlp()
    calls = []

    def augment(x):
        calls.append(x.shape[0])
        return torch.flip(x, dims=[3])

    hist = train.fit(model, mnist_small[0], epochs=1, batch_size=500, progress=False,
                     augment=augment,
                     scheduler=lambda opt, n: torch.optim.lr_scheduler.OneCycleLR(opt, 0.01, total_steps=n))
    assert sum(calls) == 3000 and len(calls) == 6
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
    h = {"epoch": [1, 2], "train_loss": [1.0, 0.5], "val_loss": [1.1, 0.7], "train_acc": [0.5, 0.8],
         "val_acc": [0.4, 0.7], "seconds": [1, 1], "lr": [1e-3, 1e-3]}
    fig = plots.plot_history({"a": h, "b": h})
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == 4


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


@pytest.mark.parametrize("native_bf16, dtype", [(True, torch.bfloat16), (False, torch.float16)])
def test_amp_dtype_and_scaler_agree(monkeypatch, native_bf16, dtype):
    calls = _fake_gpu(monkeypatch, native_bf16)
    cuda = torch.device("cuda")
    assert train.amp_dtype(cuda) is dtype
    assert calls and calls[0] is False, "bf16 must be asked for natively, not by emulation"
    assert train.amp_dtype(cuda, amp=False) is None
    assert train.amp_dtype(torch.device("cpu")) is None
    assert train.amp_dtype(torch.device("cpu"), amp=False) is None
    ctx = train._autocast(cuda, amp=True)
    assert ctx.fast_dtype is dtype and ctx._enabled

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

