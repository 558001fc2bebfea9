"""The online path, without internet: a local HTTP server on 127.0.0.1 serves files in the canonical
download formats, ``WORKBOOK_DOWNLOAD_BASE`` points the loaders at it, and each loader downloads,
verifies, converts and caches. Then notebook 02 runs end to end in quick mode with no mirror."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import json
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision

from helpers import data, mobilenet
from helpers.download import ChecksumError

from . import fixtures

ROOT = Path(__file__).resolve().parent.parent


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep the test output clean
        pass


@contextlib.contextmanager
def serve(root: Path):
    """A static file server on 127.0.0.1 (a free port) for ``root``; yields its URL, stopped on exit."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                            functools.partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.fixture
def server(tmp_path):
    """A static file server for ``tmp_path / 'www'``: (that folder, its URL); stopped after the test."""
    root = tmp_path / "www"
    root.mkdir()
    with serve(root) as url:
        yield root, url


@pytest.fixture
def online(tmp_path, monkeypatch, server):
    """No mirror, an empty cache, downloads on, every download fetched from the local server."""
    root, url = server
    monkeypatch.delenv("WORKBOOK_DATA", raising=False)
    monkeypatch.delenv("WORKBOOK_OFFLINE", raising=False)
    monkeypatch.setenv("WORKBOOK_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("WORKBOOK_DOWNLOAD_BASE", url)
    fixtures.allow_fixture_sizes(monkeypatch)
    return root


def go_offline(monkeypatch) -> None:
    """A second run with the network gone must work from the cache alone."""
    monkeypatch.setenv("WORKBOOK_OFFLINE", "1")
    monkeypatch.setenv("WORKBOOK_DOWNLOAD_BASE", "http://127.0.0.1:9/")  # nothing listens there


def test_base_url_tries_the_cache_path_then_the_file_name(monkeypatch):
    monkeypatch.setenv("WORKBOOK_DOWNLOAD_BASE", "http://classroom:8000/data")
    from helpers.download import source_urls
    assert source_urls(["https://a.org/x/cifar-10-python.tar.gz", "http://b.org/y/cifar-10-python.tar.gz"]) == [
        "http://classroom:8000/data/cifar-10-python.tar.gz"]
    assert source_urls(["https://a.org/nm/t10k-images-idx3-ubyte.gz"], "raw/notmnist/t10k-images-idx3-ubyte.gz") == [
        "http://classroom:8000/data/raw/notmnist/t10k-images-idx3-ubyte.gz",  # a server of a cache folder
        "http://classroom:8000/data/t10k-images-idx3-ubyte.gz"]                # a flat folder of downloads
    monkeypatch.delenv("WORKBOOK_DOWNLOAD_BASE")
    assert source_urls(["https://a.org/x/f.gz"], "raw/f.gz") == ["https://a.org/x/f.gz"]


def test_mnist_over_http(online, monkeypatch):
    arrays = fixtures.write_mnist(online)
    monkeypatch.setattr(data, "MNIST_FILES", {n: md5(online / n) for n in arrays})
    mnist = data.load_mnist()
    np.testing.assert_array_equal(mnist.x_train, arrays["train-images-idx3-ubyte.gz"])
    np.testing.assert_array_equal(mnist.y_test, arrays["t10k-labels-idx1-ubyte.gz"])
    go_offline(monkeypatch)
    np.testing.assert_array_equal(data.load_mnist().x_test, mnist.x_test)


def test_wrong_checksum_over_http_keeps_nothing(online, monkeypatch, tmp_path):
    arrays = fixtures.write_mnist(online)
    sums = {n: md5(online / n) for n in arrays}
    sums["t10k-images-idx3-ubyte.gz"] = "0" * 32
    monkeypatch.setattr(data, "MNIST_FILES", sums)
    with pytest.raises(ChecksumError, match="t10k-images"):
        data.load_mnist()
    assert not (tmp_path / "cache" / "mnist.npz").exists()
    assert not list((tmp_path / "cache").rglob("*.part"))


def test_notmnist_over_http(online, monkeypatch):
    x = np.arange(3 * 28 * 28, dtype=np.uint64).astype(np.uint8).reshape(3, 28, 28)
    fixtures.write_idx(online / "t10k-images-idx3-ubyte.gz", x)
    fixtures.write_idx(online / "t10k-labels-idx1-ubyte.gz", np.array([0, 4, 9], np.uint8))
    monkeypatch.setattr(data, "NOTMNIST_FILES", {n: sha256(online / n) for n in data.NOTMNIST_FILES})
    assert data.load_notmnist().y_test.tolist() == [0, 4, 9]
    go_offline(monkeypatch)
    np.testing.assert_array_equal(data.load_notmnist().x_test, x)


def test_cifar10_over_http(online, monkeypatch):
    batches = fixtures.write_cifar10(online / "cifar-10-python.tar.gz")
    monkeypatch.setattr(data, "CIFAR10_MD5", md5(online / "cifar-10-python.tar.gz"))
    c = data.load_cifar10()
    assert c.x_train.shape == (20, 32, 32, 3) and c.y_train[:4].tolist() == batches["data_batch_1"][1]
    go_offline(monkeypatch)
    np.testing.assert_array_equal(data.load_cifar10().x_test, c.x_test)


def test_imdb_over_http(online, monkeypatch):
    fixtures.write_imdb(online / "aclImdb_v1.tar.gz")
    monkeypatch.setattr(data, "IMDB_MD5", md5(online / "aclImdb_v1.tar.gz"))
    imdb = data.load_imdb()
    assert len(imdb.train_texts) == len(imdb.test_texts) == 4
    go_offline(monkeypatch)
    assert data.load_imdb().test_texts == imdb.test_texts


def test_hymenoptera_over_http(online, monkeypatch):
    fixtures.write_hymenoptera(online / "hymenoptera_data.zip", {"train": 4, "val": 2})
    monkeypatch.setattr(data, "HYMENOPTERA_COUNTS", {"train": 4, "val": 2})
    h = data.load_hymenoptera()
    assert h.x_train.shape == (4, 128, 128, 3) and h.y_test.tolist() == [0, 1]
    go_offline(monkeypatch)
    np.testing.assert_array_equal(data.load_hymenoptera().x_train, h.x_train)


def test_resnet20_checkpoint_over_http(online, monkeypatch):
    name, _, url = data.WEIGHTS["resnet20"]
    torch.save({"best_prec1": 91.0, "state_dict": {"module.conv1.weight": torch.ones(16, 3, 3, 3)}},
               online / name)
    monkeypatch.setitem(data.WEIGHTS, "resnet20", (name, sha256(online / name), url))
    state = data.load_checkpoint("resnet20")
    assert list(state) == ["conv1.weight"] and state["conv1.weight"].shape == (16, 3, 3, 3)
    go_offline(monkeypatch)
    assert list(data.load_checkpoint("resnet20")) == ["conv1.weight"]


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
    monkeypatch.setattr(mobilenet, "TORCHVISION_URL", "https://download.pytorch.org/models/mobilenet_v2-deadbeef.pth")
    with pytest.raises(ChecksumError, match="deadbeef"):
        mobilenet.load_mobilenet_v2()


def test_notebook_01_runs_online_without_a_mirror(mirror, tmp_path, server):
    """Notebook 02 in quick mode, fed only by the local server: real MNIST (rebuilt from the mirror in
    the canonical idx.gz format, so its md5s differ from the published ones and are substituted in the
    kernel), no WORKBOOK_DATA, downloads on, an empty cache."""
    import nbformat
    from nbclient import NotebookClient

    from helpers import report

    root, url = server
    source = np.load(mirror / "mnist.npz")
    names = {"train-images-idx3-ubyte.gz": "x_train", "train-labels-idx1-ubyte.gz": "y_train",
             "t10k-images-idx3-ubyte.gz": "x_test", "t10k-labels-idx1-ubyte.gz": "y_test"}
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
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute(env=env)
    assert (tmp_path / "cache" / "mnist.npz").exists()
    assert sorted(p.name for p in (tmp_path / "cache" / "raw" / "mnist").iterdir()) == sorted(names)
    outputs = report.summarize_outputs(json.loads(nbformat.writes(nb)))
    assert outputs["headline"].startswith("1-layer NumPy test accuracy"), outputs
