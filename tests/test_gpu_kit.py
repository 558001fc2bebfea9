"""benchmarks/gpu_kit.py: the data carried to a GPU machine comes back bit for bit, or says it does not."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

SPEC = importlib.util.spec_from_file_location("gpu_kit", Path(__file__).parent.parent / "benchmarks" / "gpu_kit.py")
gpu_kit = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(gpu_kit)


@pytest.mark.parametrize("n,size", [(1, 8), (2_501, 4), (7, 32)])
def test_mosaics_are_lossless(n, size):
    x = np.random.default_rng(n).integers(0, 256, (n, size, size, 3), dtype=np.uint8)
    files = gpu_kit.to_mosaics(x)
    assert len(files) == -(-n // gpu_kit.TILE**2)
    assert np.array_equal(gpu_kit.from_mosaics(files, n, size, size), x)


@pytest.fixture
def tiny_mirror(tmp_path):
    rng = np.random.default_rng(0)
    mirror = tmp_path / "mirror"
    (mirror / "weights").mkdir(parents=True)
    np.savez(mirror / "cifar10.npz", x_train=rng.integers(0, 256, (30, 32, 32, 3), dtype=np.uint8),
             y_train=rng.integers(0, 10, 30).astype(np.uint8), x_test=rng.integers(0, 256, (5, 32, 32, 3), dtype=np.uint8),
             y_test=np.arange(5, dtype=np.uint8), class_names=np.array(["airplane", "automobile"]))
    (mirror / "weights" / "w.th").write_bytes(b"weights")
    (mirror / "imdb.jsonl.gz").write_bytes(b"reviews")
    return mirror


def test_pack_unpack_check_round_trip(tiny_mirror, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(gpu_kit, "PARTS", {"a": ["cifar10.npz", "weights/w.th"], "b": ["imdb.jsonl.gz"]})
    kit, into = tmp_path / "kit", tmp_path / "there"
    gpu_kit.pack(tiny_mirror, kit, "3.12", ["a", "b"])
    assert list((kit / "a" / "cifar10.npz").glob("*.webp"))
    assert not gpu_kit.check(into, ["a"])  # nothing unpacked yet: says what to carry
    assert "MISSING a" in capsys.readouterr().out
    gpu_kit.unpack(kit / "a", into)
    assert gpu_kit.check(into, ["a"]) and not gpu_kit.check(into, ["a", "b"])
    gpu_kit.unpack(kit / "b", into)
    assert gpu_kit.check(into, ["a", "b"])
    back, orig = np.load(into / "mirror" / "cifar10.npz"), np.load(tiny_mirror / "cifar10.npz")
    assert sorted(back.files) == sorted(orig.files)
    assert all(np.array_equal(back[k], orig[k]) for k in orig.files)
    assert (into / "mirror" / "weights" / "w.th").read_bytes() == b"weights"

    # a damaged file is caught
    (into / "mirror" / "imdb.jsonl.gz").write_bytes(b"reviewz")
    assert not gpu_kit.check(into, ["a", "b"])
    assert "BAD b: imdb.jsonl.gz" in capsys.readouterr().out


def test_pack_refuses_a_part_over_budget(tiny_mirror, tmp_path, monkeypatch):
    monkeypatch.setattr(gpu_kit, "PARTS", {"a": ["imdb.jsonl.gz"]})
    monkeypatch.setattr(gpu_kit, "BUDGET", 3)
    with pytest.raises(SystemExit, match="over the"):
        gpu_kit.pack(tiny_mirror, tmp_path / "kit", "3.12", ["a"])
