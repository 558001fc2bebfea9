"""Tiny dataset files in the canonical download formats, for testing the loading code, and the
helpers the download tests share: checksums of a file, a local file server, going offline.
(The pytest fixtures built on them, ``no_mirror``, ``server``, ``online`` and ``remote``, are in
conftest.py.)"""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import http.server
import io
import pickle
import struct
import tarfile
import threading
import zipfile
from pathlib import Path

import numpy as np


def md5(path: Path) -> str:
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep the test output clean
        pass


@contextlib.contextmanager
def serve(root: Path):
    """A static file server on 127.0.0.1 (a free port) for ``root``; yields its URL, stopped on exit."""
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root))
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def go_offline(monkeypatch) -> None:
    """A second run with the network gone must work from the cache alone."""
    monkeypatch.setenv("WORKBOOK_OFFLINE", "1")
    monkeypatch.setenv("WORKBOOK_DOWNLOAD_BASE", "http://127.0.0.1:9/")  # nothing listens there


def write_idx(path: Path, array: np.ndarray) -> Path:
    """Write a uint8 array as a gzipped idx file (MNIST's format)."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    with gzip.open(path, "wb") as fh:
        fh.write(header + array.astype(np.uint8).tobytes())
    return path


def write_mnist(folder: Path, n_train: int = 20, n_test: int = 10, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte.gz": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        write_idx(folder / name, array)
    return arrays


def _add(tar: tarfile.TarFile, name: str, payload: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(payload)
    tar.addfile(info, io.BytesIO(payload))


def write_cifar10(path: Path, per_batch: int = 4, seed: int = 0) -> dict[str, np.ndarray]:
    """A cifar-10-python.tar.gz with 5 train batches and a test batch of ``per_batch`` images."""
    rng = np.random.default_rng(seed)
    batches = {}
    with tarfile.open(path, "w:gz") as tar:
        names = [
            b"airplane",
            b"automobile",
            b"bird",
            b"cat",
            b"deer",
            b"dog",
            b"frog",
            b"horse",
            b"ship",
            b"truck",
        ]
        _add(tar, "cifar-10-batches-py/batches.meta", pickle.dumps({b"label_names": names}))
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
            labels = [int(v) for v in rng.integers(0, 10, per_batch)]
            batches[name] = (data, labels)
            _add(tar, f"cifar-10-batches-py/{name}", pickle.dumps({b"data": data, b"labels": labels}))
    return batches


def write_imdb(path: Path) -> list[tuple[str, str, str]]:
    """An aclImdb_v1.tar.gz with two reviews per split and label."""
    reviews = []
    with tarfile.open(path, "w:gz") as tar:
        for split in ("train", "test"):
            for label, rating in (("pos", 9), ("neg", 2)):
                for rid in range(2):
                    text = f"A {label} {split} review number {rid}.<br /><br />Ünïcode ok."
                    reviews.append((split, label, text))
                    _add(tar, f"aclImdb/{split}/{label}/{rid}_{rating}.txt", text.encode())
        _add(tar, "aclImdb/README", b"not a review")
    return reviews


def write_hymenoptera(path: Path, counts: dict[str, int]) -> dict[str, tuple[int, int]]:
    """A hymenoptera_data.zip of small random PNG photos; ``counts`` per split (half ants).

    Returns its manifest, ``{"<split>/<class>/<file>": (width, height)}``: the download is checked
    against ``data.HYMENOPTERA_MANIFEST`` (the real zip's when None), so set it to this one
    (:func:`use_hymenoptera_manifest`)."""
    from PIL import Image

    rng = np.random.default_rng(0)
    manifest = {}
    with zipfile.ZipFile(path, "w") as zf:
        for split, n in counts.items():
            for k in range(n):
                cls = "ants" if k % 2 == 0 else "bees"
                h, w = int(rng.integers(20, 60)), int(rng.integers(20, 60))
                img = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
                buf = io.BytesIO()
                img.save(buf, format="PNG")
                zf.writestr(f"hymenoptera_data/{split}/{cls}/{k}.png", buf.getvalue())
                manifest[f"{split}/{cls}/{k}.png"] = (w, h)
    return manifest


def use_hymenoptera_manifest(monkeypatch, manifest: dict[str, tuple[int, int]]) -> None:
    """Check ants/bees downloads against a fixture zip's ``manifest`` (and its counts) instead of the
    real zip's."""
    from helpers import data

    monkeypatch.setattr(data, "HYMENOPTERA_MANIFEST", manifest)
    counts = {s: sum(name.startswith(f"{s}/") for name in manifest) for s in ("train", "val")}
    monkeypatch.setattr(data, "HYMENOPTERA_COUNTS", counts)


def allow_fixture_sizes(monkeypatch) -> None:
    """Let the loaders' size checks accept the tiny fixtures above instead of the real datasets."""
    from helpers import data

    monkeypatch.setattr(data, "MNIST_COUNTS", {"train": (20,), "test": (10,)})
    monkeypatch.setattr(data, "NOTMNIST_COUNTS", {"train": (0,), "test": (3,)})
    monkeypatch.setattr(data, "CIFAR10_COUNTS", {"train": (20,), "test": (4,)})
    monkeypatch.setattr(data, "IMDB_COUNTS", {"train": 4, "test": 4})
