"""Loaders: the download-and-convert path on tiny canonical-format fixtures, fetched both over
``file://`` and over HTTP from a local server (the ``remote`` fixture), then again from the cache
with the network gone; errors; and the real mirror (shapes, counts, dtypes)."""

import gzip
import time

import numpy as np
import pytest
import torch

from helpers import data
from helpers.download import ChecksumError, CorruptDataError, DataNotFoundError, record_hash

from . import fixtures
from .fixtures import go_offline, md5, sha256


def test_mnist_download_and_convert(remote, monkeypatch, tmp_path):
    arrays = fixtures.write_mnist(remote)
    monkeypatch.setattr(data, "MNIST_FILES", {n: md5(remote / n) for n in arrays})
    mnist = data.load_mnist()
    assert mnist.x_train.shape == (20, 28, 28) and mnist.x_train.dtype == np.uint8
    assert mnist.y_train.dtype == np.int64 and mnist.x_test.shape == (10, 28, 28)
    np.testing.assert_array_equal(mnist.x_train, arrays["train-images-idx3-ubyte.gz"])
    np.testing.assert_array_equal(mnist.y_test, arrays["t10k-labels-idx1-ubyte.gz"])
    assert (tmp_path / "cache" / "mnist.npz").exists()
    # second load: from the cache, with the network gone
    go_offline(monkeypatch)
    np.testing.assert_array_equal(data.load_mnist().x_test, mnist.x_test)


def test_mnist_corrupt_download_is_rejected(remote, monkeypatch, tmp_path):
    arrays = fixtures.write_mnist(remote)
    sums = {n: md5(remote / n) for n in arrays}
    (remote / "t10k-labels-idx1-ubyte.gz").write_bytes(b"corrupted in transit")
    monkeypatch.setattr(data, "MNIST_FILES", sums)
    with pytest.raises(ChecksumError, match="t10k-labels"):
        data.load_mnist()
    assert not (tmp_path / "cache" / "mnist.npz").exists()
    assert not list((tmp_path / "cache").rglob("*.part"))


def test_read_idx_rejects_bad_files(tmp_path):
    bad = tmp_path / "bad.gz"
    with gzip.open(bad, "wb") as fh:
        fh.write(b"\x00\x00\x08\x03" + (5).to_bytes(4, "big") * 3 + b"short")
    with pytest.raises(CorruptDataError, match="header says"):
        data.read_idx(bad)
    magic = tmp_path / "magic"
    magic.write_bytes(b"\x12\x34\x56\x78")
    with pytest.raises(CorruptDataError, match="magic"):
        data.read_idx(magic)


def test_notmnist_download(remote, monkeypatch):
    x = np.arange(3 * 28 * 28, dtype=np.uint64).astype(np.uint8).reshape(3, 28, 28)
    fixtures.write_idx(remote / "t10k-images-idx3-ubyte.gz", x)
    fixtures.write_idx(remote / "t10k-labels-idx1-ubyte.gz", np.array([0, 4, 9], np.uint8))
    monkeypatch.setattr(data, "NOTMNIST_FILES", {n: sha256(remote / n) for n in data.NOTMNIST_FILES})
    nm = data.load_notmnist()
    assert nm.x_train.shape == (0, 28, 28) and nm.x_test.shape == (3, 28, 28)
    assert nm.class_names == list("ABCDEFGHIJ") and nm.y_test.tolist() == [0, 4, 9]
    go_offline(monkeypatch)
    np.testing.assert_array_equal(data.load_notmnist().x_test, x)


def test_cifar10_download_and_convert(remote, monkeypatch):
    tar = remote / "cifar-10-python.tar.gz"
    batches = fixtures.write_cifar10(tar)
    monkeypatch.setattr(data, "CIFAR10_MD5", md5(tar))
    c = data.load_cifar10()
    assert c.x_train.shape == (20, 32, 32, 3) and c.x_test.shape == (4, 32, 32, 3)
    assert c.class_names[0] == "airplane" and c.class_names[9] == "truck"
    first, labels = batches["data_batch_1"]
    # CHW rows → HWC images: the red plane is the first 1024 bytes
    np.testing.assert_array_equal(c.x_train[0, :, :, 0].ravel(), first[0, :1024])
    np.testing.assert_array_equal(c.x_train[0, :, :, 2].ravel(), first[0, 2048:])
    assert c.y_train[:4].tolist() == labels
    go_offline(monkeypatch)
    np.testing.assert_array_equal(data.load_cifar10().x_test, c.x_test)


def test_imdb_download_and_convert(remote, monkeypatch):
    tar = remote / "aclImdb_v1.tar.gz"
    reviews = fixtures.write_imdb(tar)
    monkeypatch.setattr(data, "IMDB_MD5", md5(tar))
    imdb = data.load_imdb()
    assert len(imdb.train_texts) == 4 and len(imdb.test_texts) == 4
    assert sorted(imdb.y_train.tolist()) == [0, 0, 1, 1] and imdb.y_train.dtype == np.int64
    for text, label in zip(imdb.train_texts, imdb.y_train):
        assert ("pos" in text) == bool(label) and "Ünïcode" in text
    assert {t for s, _, t in reviews if s == "test"} == set(imdb.test_texts)
    go_offline(monkeypatch)
    assert data.load_imdb().test_texts == imdb.test_texts


def test_imdb_build_is_byte_identical(online, monkeypatch, tmp_path):
    """Two builds from the same download give the same bytes (no time or temporary file name in the
    gzip header): processes building at once record one hash, whichever file ends up in place."""
    tar = online / "aclImdb_v1.tar.gz"
    fixtures.write_imdb(tar)
    monkeypatch.setattr(data, "IMDB_MD5", md5(tar))
    first, second = tmp_path / "first.jsonl.gz", tmp_path / "second.jsonl.gz"
    data._build_imdb(first)
    time.sleep(1.1)  # the gzip header's time has a resolution of 1 s
    data._build_imdb(second)
    assert first.read_bytes() == second.read_bytes()
    assert gzip.decompress(first.read_bytes()).count(b"\n") == 8


def test_hymenoptera_download_and_convert(remote, monkeypatch):
    manifest = fixtures.write_hymenoptera(remote / "hymenoptera_data.zip", {"train": 4, "val": 2})
    fixtures.use_hymenoptera_manifest(monkeypatch, manifest)
    h = data.load_hymenoptera()
    assert h.x_train.shape == (4, 128, 128, 3) and h.x_test.shape == (2, 128, 128, 3)
    assert h.y_train.tolist() == [0, 0, 1, 1]  # sorted by path: ants first
    assert h.y_test.tolist() == [0, 1]
    assert h.extra["files_train"][0].startswith("train/ants/")
    go_offline(monkeypatch)
    np.testing.assert_array_equal(data.load_hymenoptera().x_train, h.x_train)


def test_hymenoptera_wrong_counts_rejected(remote, monkeypatch, tmp_path):
    manifest = fixtures.write_hymenoptera(remote / "hymenoptera_data.zip", {"train": 4, "val": 2})
    fixtures.use_hymenoptera_manifest(monkeypatch, manifest)
    fixtures.write_hymenoptera(remote / "hymenoptera_data.zip", {"train": 2, "val": 2})
    with pytest.raises(
        ChecksumError, match=r"expected the 6 images .* found 4 .* 2 images missing \(train/ants/2"
    ):
        data.load_hymenoptera()
    assert not (tmp_path / "cache" / "hymenoptera.npz").exists()


def test_missing_offline_names_the_fix(no_mirror, monkeypatch):
    monkeypatch.setenv("WORKBOOK_OFFLINE", "1")
    for loader in (
        data.load_mnist,
        data.load_cifar10,
        data.load_imdb,
        data.load_notmnist,
        data.load_hymenoptera,
    ):
        with pytest.raises(DataNotFoundError, match="WORKBOOK_DATA") as err:
            loader()
        assert "WORKBOOK_OFFLINE" in str(err.value)
    with pytest.raises(DataNotFoundError, match="mirror"):
        data.weights_path("mobilenet_v2_quant")


def test_corrupt_cache_is_a_clear_error(no_mirror):
    """Cache files whose recorded hash matches but which cannot be read (damaged before the hash was
    recorded) are an error that names the fix."""
    cache = no_mirror / "cache"
    cache.mkdir()
    (cache / "mnist.npz").write_bytes(b"PK\x03\x04 truncated")
    record_hash(cache, "mnist.npz", sha256(cache / "mnist.npz"))
    with pytest.raises(CorruptDataError, match="delete it"):
        data.load_mnist()
    (cache / "imdb.jsonl.gz").write_bytes(gzip.compress(b'{"split": "train", "lab'))
    record_hash(cache, "imdb.jsonl.gz", sha256(cache / "imdb.jsonl.gz"))
    with pytest.raises(CorruptDataError, match="delete it"):
        data.load_imdb()


def test_weights_download_verified(remote, monkeypatch):
    name, _, url = data.WEIGHTS["resnet20"]
    torch.save(
        {"best_prec1": 91.0, "state_dict": {"module.conv1.weight": torch.ones(16, 3, 3, 3)}}, remote / name
    )
    monkeypatch.setitem(data.WEIGHTS, "resnet20", (name, sha256(remote / name), url))
    state = data.load_checkpoint("resnet20")
    assert list(state) == ["conv1.weight"] and state["conv1.weight"].shape == (16, 3, 3, 3)
    with pytest.raises(KeyError, match="choose one of"):
        data.weights_path("vgg")
    go_offline(monkeypatch)
    assert list(data.load_checkpoint("resnet20")) == ["conv1.weight"]


def test_to_tensor_and_subset():
    x = np.full((5, 4, 4, 3), 255, np.uint8)
    t = data.to_tensor(x)
    assert t.shape == (5, 3, 4, 4) and t.dtype == torch.float32 and t.max() == 1
    assert data.to_tensor(x[..., 0]).shape == (5, 1, 4, 4)
    with pytest.raises(ValueError, match="uint8"):
        data.to_tensor(x.astype(np.float32))
    xs, ys = data.subset(3, np.arange(10), list("abcdefghij"), seed=1)
    assert len(xs) == 3 and [chr(97 + i) for i in xs] == ys
    with pytest.raises(ValueError, match="differ"):
        data.subset(2, np.arange(3), np.arange(4))


# --------------------------------------------------------------------------------------------
# The real mirror: what each loader returns


def test_mirror_mnist(mirror, monkeypatch):
    m = data.load_mnist()
    assert m.x_train.shape == (60000, 28, 28) and m.x_test.shape == (10000, 28, 28)
    assert np.bincount(m.y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert abs(m.x_train.mean() / 255 - 0.1307) < 1e-3


def test_mirror_cifar10(mirror):
    c = data.load_cifar10()
    assert c.x_train.shape[1:] == (32, 32, 3) and len(c.x_train) in (25000, 50000)
    assert c.x_test.shape == (10000, 32, 32, 3) and c.class_names[3] == "cat"
    assert np.bincount(c.y_test).tolist() == [1000] * 10


def test_mirror_others(mirror):
    nm = data.load_notmnist()
    assert nm.x_test.shape == (10000, 28, 28) and np.bincount(nm.y_test).tolist() == [1000] * 10
    h = data.load_hymenoptera()
    assert len(h.x_train) == 245 and len(h.x_test) == 153 and h.class_names == ["ants", "bees"]
    imdb = data.load_imdb()
    assert len(imdb.train_texts) == len(imdb.test_texts) == 25000
    assert imdb.y_train.sum() == imdb.y_test.sum() == 12500
    state = data.load_checkpoint("resnet20")
    assert state["conv1.weight"].shape == (16, 3, 3, 3) and state["linear.weight"].shape == (10, 64)
    assert data.weights_path("mobilenet_v2_quant").exists()


def test_glove_real_vectors():
    g = data.load_glove()
    assert g.vectors.shape == (400000, 50) and g.vectors.dtype == np.float32
    idx = g.index()
    v = g.vectors / np.linalg.norm(g.vectors, axis=1, keepdims=True)
    # real vectors: "king" is nearer "queen" than "banana"
    assert v[idx["king"]] @ v[idx["queen"]] > v[idx["king"]] @ v[idx["banana"]] + 0.3


def test_validation_split_is_disjoint_stratified_and_reproducible():
    y = np.repeat(np.arange(3), [60, 30, 10])
    x = np.arange(100) * 10
    (x_tr, y_tr), (x_val, y_val) = data.validation_split(20, x, y, seed=1)
    assert len(x_val) == 20 and len(x_tr) == 80
    assert set(x_tr.tolist()).isdisjoint(x_val.tolist()) and set(x_tr.tolist()) | set(x_val.tolist()) == set(
        x.tolist()
    )
    assert np.bincount(y_val).tolist() == [12, 6, 2]  # each class gives a fifth
    assert np.array_equal(y[x_val // 10], y_val)  # rows stay paired
    assert np.all(np.diff(x_tr) > 0)  # original order
    again = data.validation_split(20, x, y, seed=1)
    assert np.array_equal(again[1][0], x_val)
    assert not np.array_equal(data.validation_split(20, x, y, seed=2)[1][0], x_val)
    (t_tr, _), (t_val, _) = data.validation_split(0.1, torch.arange(100), torch.from_numpy(y))
    assert len(t_val) == 10 and isinstance(t_val, torch.Tensor)
    texts = [f"review {i}" for i in range(100)]
    (l_tr, _), (l_val, _) = data.validation_split(0.25, texts, y)
    assert len(l_val) == 25 and isinstance(l_val, list)
    with pytest.raises(ValueError, match="leaves nothing"):
        data.validation_split(100, x, y)
    with pytest.raises(ValueError, match="differ in length"):
        data.validation_split(5, x, y[:50])
    with pytest.raises(ValueError, match="fraction"):
        data.validation_split(1.5, x, y)
