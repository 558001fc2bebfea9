import numpy as np
import pytest
import torch

from helpers import device, mode


def _hardware(monkeypatch, cuda=False, mps=False, forced_device=None, workbook_mode=None):
    """Fake the GPUs torch sees and set (or unset) WORKBOOK_DEVICE / WORKBOOK_MODE."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    for var, value in (("WORKBOOK_DEVICE", forced_device), ("WORKBOOK_MODE", workbook_mode)):
        if value is None:
            monkeypatch.delenv(var, raising=False)
        else:
            monkeypatch.setenv(var, value)


@pytest.mark.parametrize("workbook_mode", [None, "", "  "])
def test_mode_default_is_quick_without_gpu(monkeypatch, workbook_mode):
    _hardware(monkeypatch, workbook_mode=workbook_mode)
    assert mode.default_mode() == ("quick", "WORKBOOK_MODE is unset and no GPU was found")
    assert mode.get_mode() == "quick" and mode.is_quick()
    assert mode.pick(quick=1, full=2) == 1


@pytest.mark.parametrize("cuda, mps, gpu", [(True, False, "CUDA"), (False, True, "MPS")])
def test_mode_default_is_full_on_a_gpu(monkeypatch, cuda, mps, gpu):
    _hardware(monkeypatch, cuda=cuda, mps=mps)
    chosen, reason = mode.default_mode()
    assert chosen == "full" and gpu in reason and "unset" in reason
    assert mode.get_mode() == "full"
    assert mode.pick(quick=1, full=2) == 2


def test_mode_default_follows_forced_device(monkeypatch):
    _hardware(monkeypatch, cuda=True, forced_device=" CPU ")
    chosen, reason = mode.default_mode()
    assert chosen == "quick" and "WORKBOOK_DEVICE=cpu" in reason
    assert mode.get_mode() == "quick"
    _hardware(monkeypatch, cuda=False, forced_device="cuda")
    assert mode.default_mode()[0] == "full"
    _hardware(monkeypatch, mps=False, forced_device="mps")
    assert mode.default_mode()[0] == "full"


@pytest.mark.parametrize("cuda", [True, False])
@pytest.mark.parametrize("chosen", ["quick", "full"])
def test_explicit_mode_wins(monkeypatch, cuda, chosen):
    _hardware(
        monkeypatch,
        cuda=cuda,
        forced_device="cpu" if chosen == "full" else None,
        workbook_mode=chosen.upper(),
    )
    assert mode.get_mode() == chosen
    text = mode.banner()
    assert text.startswith(f"Mode: {chosen}")
    assert f"set by WORKBOOK_MODE={chosen}" in text


def test_banner_says_why_and_how_to_switch(monkeypatch):
    _hardware(monkeypatch)
    text = mode.banner()
    assert text.startswith("Mode: quick")
    assert "WORKBOOK_MODE is unset and no GPU was found" in text
    assert "%env WORKBOOK_MODE=full" in text and "WORKBOOK_MODE=quick" in text
    assert "jupyter lab" in text
    _hardware(monkeypatch, cuda=True)
    text = mode.banner()
    assert text.startswith("Mode: full") and "CUDA GPU was found" in text
    assert "%env WORKBOOK_MODE=quick" in text


def test_default_mode_prints_nothing(monkeypatch, capsys):
    _hardware(monkeypatch)
    mode.default_mode()
    mode.banner()
    assert capsys.readouterr() == ("", "")


def test_mode_quick_and_case(monkeypatch):
    monkeypatch.setenv("WORKBOOK_MODE", " Quick ")
    assert mode.is_quick()
    assert mode.pick(quick="small", full="big") == "small"
    assert "quick" in mode.banner()


def test_mode_rejects_unknown(monkeypatch):
    monkeypatch.setenv("WORKBOOK_MODE", "fast")
    with pytest.raises(ValueError, match="quick") as err:
        mode.get_mode()
    assert "'full'" in str(err.value) and "'fast'" in str(err.value)


def test_device_forced_cpu(monkeypatch, capsys):
    monkeypatch.setenv("WORKBOOK_DEVICE", "cpu")
    with pytest.warns(device.CPUFallbackWarning, match="GPU"):
        d = device.get_device(wants_gpu=True)
    assert d.type == "cpu"
    assert "Using device: cpu" in capsys.readouterr().out


def test_device_rejects_unknown(monkeypatch):
    monkeypatch.setenv("WORKBOOK_DEVICE", "tpu")
    with pytest.raises(ValueError, match="cuda"):
        device.get_device()


def test_seed_everything_repeats():
    device.seed_everything(3)
    a = (torch.rand(3), np.random.rand(3))
    device.seed_everything(3)
    b = (torch.rand(3), np.random.rand(3))
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1])
