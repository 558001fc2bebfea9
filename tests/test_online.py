"""The online path, without internet: a local HTTP server on 127.0.0.1 serves files in the canonical
download formats and ``WORKBOOK_DOWNLOAD_BASE`` points the loaders at it (the ``online`` fixture in
conftest.py). The dataset loaders themselves run over HTTP and over ``file://`` in test_data.py; here:
the base URL, torchvision's MobileNetV2 weights, and notebook 02 end to end in quick mode with no
mirror."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision

from helpers import mobilenet
from helpers.download import ChecksumError

from . import fixtures
from .fixtures import go_offline, md5, sha256

ROOT = Path(__file__).resolve().parent.parent


def test_base_url_tries_the_cache_path_then_the_file_name(monkeypatch):
    monkeypatch.setenv("WORKBOOK_DOWNLOAD_BASE", "http://classroom:8000/data")
    from helpers.download import source_urls

    assert source_urls(
        ["https://a.org/x/cifar-10-python.tar.gz", "http://b.org/y/cifar-10-python.tar.gz"]
    ) == ["http://classroom:8000/data/cifar-10-python.tar.gz"]
    assert source_urls(
        ["https://a.org/nm/t10k-images-idx3-ubyte.gz"], "raw/notmnist/t10k-images-idx3-ubyte.gz"
    ) == [
        "http://classroom:8000/data/raw/notmnist/t10k-images-idx3-ubyte.gz",  # a server of a cache folder
        "http://classroom:8000/data/t10k-images-idx3-ubyte.gz",
    ]  # a flat folder of downloads
    monkeypatch.delenv("WORKBOOK_DOWNLOAD_BASE")
    assert source_urls(["https://a.org/x/f.gz"], "raw/f.gz") == ["https://a.org/x/f.gz"]


def test_torchvision_mobilenet_over_http(online, monkeypatch):
    """Online with no mirror: torchvision's architecture with the published weights file, whose name
    carries the first 8 hex digits of its SHA-256 (checked), cached for a second, offline run."""
    torch.manual_seed(0)
    reference = torchvision.models.mobilenet_v2(weights=None).eval()
    tmp = online / "weights.pth"
    torch.save(reference.state_dict(), tmp)
    name = f"mobilenet_v2-{sha256(tmp)[:8]}.pth"
    tmp.rename(online / name)
    monkeypatch.setattr(mobilenet, "TORCHVISION_URL", f"https://download.pytorch.org/models/{name}")
    pre = mobilenet.load_mobilenet_v2()
    assert pre.source.startswith("torchvision") and pre.preprocess is mobilenet.preprocess_imagenet
    x = pre.preprocess(torch.rand(2, 3, 128, 128), 96)
    with torch.no_grad():
        assert torch.equal(pre.model(x), reference(x))
    go_offline(monkeypatch)
    with torch.no_grad():
        assert torch.equal(mobilenet.load_mobilenet_v2().model(x), reference(x))


def test_torchvision_mobilenet_wrong_hash_rejected(online, monkeypatch):
    (online / "mobilenet_v2-deadbeef.pth").write_bytes(b"not the weights")
    monkeypatch.setattr(
        mobilenet, "TORCHVISION_URL", "https://download.pytorch.org/models/mobilenet_v2-deadbeef.pth"
    )
    with pytest.raises(ChecksumError, match="deadbeef"):
        mobilenet.load_mobilenet_v2()


def test_notebook_02_runs_online_without_a_mirror(mirror, tmp_path, server):
    """Notebook 02 in quick mode, fed only by the local server: real MNIST (rebuilt from the mirror in
    the canonical idx.gz format, so its md5s differ from the published ones and are substituted in the
    kernel), no WORKBOOK_DATA, downloads on, an empty cache."""
    import nbformat
    from nbclient import NotebookClient

    from helpers.tools import report

    root, url = server
    source = np.load(mirror / "mnist.npz")
    names = {
        "train-images-idx3-ubyte.gz": "x_train",
        "train-labels-idx1-ubyte.gz": "y_train",
        "t10k-images-idx3-ubyte.gz": "x_test",
        "t10k-labels-idx1-ubyte.gz": "y_test",
    }
    for name, key in names.items():
        fixtures.write_idx(root / name, source[key])
    sums = {name: md5(root / name) for name in names}

    path = ROOT / "notebooks" / "02_mnist_one_layer.ipynb"
    nb = nbformat.read(path, as_version=4)
    patch = f"import helpers.data\nhelpers.data.MNIST_FILES = {json.dumps(sums)}"
    nb.cells.insert(1, nbformat.v4.new_code_cell(patch))
    env = report.kernel_env("quick")
    for var in ("WORKBOOK_DATA", "WORKBOOK_OFFLINE"):
        env.pop(var, None)
    env.update(WORKBOOK_CACHE=str(tmp_path / "cache"), WORKBOOK_DOWNLOAD_BASE=url)
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute(env=env)
    assert (tmp_path / "cache" / "mnist.npz").exists()
    assert sorted(p.name for p in (tmp_path / "cache" / "raw" / "mnist").iterdir()) == sorted(names)
    outputs = report.summarize_outputs(json.loads(nbformat.writes(nb)))
    assert outputs["headline"].startswith("1-layer NumPy test accuracy"), outputs
