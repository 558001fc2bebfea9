import numpy as np
import pytest
import torch

from helpers import device, mode


def test_mode_default_is_full_outside_pytest(monkeypatch):
    monkeypatch.delenv("WORKBOOK_MODE", raising=False)
    assert mode.get_mode() == "full"
    assert mode.pick(quick=1, full=2) == 2


def test_mode_quick_and_case(monkeypatch):
    monkeypatch.setenv("WORKBOOK_MODE", " Quick ")
    assert mode.is_quick()
    assert mode.pick(quick="small", full="big") == "small"
    assert "quick" in mode.banner()


def test_pytest_sets_quick_for_kernels():
    import os

    assert os.environ["WORKBOOK_MODE"] in ("quick", "full")  # conftest default, or the caller's


def test_mode_rejects_unknown(monkeypatch):
    monkeypatch.setenv("WORKBOOK_MODE", "fast")
    with pytest.raises(ValueError, match="quick"):
        mode.get_mode()


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
