"""No silent wrong results from the data layer: damaged or mislabelled files, unwritable caches,
bad settings and broken networks each give a clear error that names the fix."""

from __future__ import annotations

import gzip
import http.server
import json
import os
import shutil
import socket
import threading
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision

from helpers import data, download, mobilenet
from helpers.download import CacheNotWritableError, CorruptDataError, DownloadError, MissingChecksumsWarning

from . import fixtures
from .fixtures import go_offline, md5, serve, sha256


def make_mirror(folder: Path, files: dict[str, Path], sums: dict[str, str] | None = None) -> Path:
    """A mirror folder holding copies of ``files`` (name → source) and, if given, a SHA256SUMS."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, src in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, folder / name)
    if sums is not None:
        (folder / "SHA256SUMS").write_text("".join(f"{h}  {n}\n" for n, h in sums.items()))
    return folder


@pytest.fixture
def env(tmp_path, monkeypatch):
    """An empty cache in tmp; downloads off; no mirror (tests set their own)."""
    monkeypatch.setenv("WORKBOOK_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("WORKBOOK_OFFLINE", "1")
    monkeypatch.delenv("WORKBOOK_DATA", raising=False)
    return tmp_path


# --- wrong files ----------------------------------------------------------------------------


def test_mirror_file_with_the_wrong_hash(mirror, env, monkeypatch):
    """cifar10.npz that is really MNIST, in a mirror whose SHA256SUMS lists the real CIFAR-10."""
    sums = data_sums(mirror)
    fake = make_mirror(env / "m", {"cifar10.npz": mirror / "mnist.npz"}, {"cifar10.npz": sums["cifar10.npz"]})
    monkeypatch.setenv("WORKBOOK_DATA", str(fake))
    with pytest.raises(CorruptDataError, match="SHA-256.*copy it again") as err:
        data.load_cifar10()
    assert "delete" not in str(err.value)


def test_mirror_without_sums_checks_shapes_and_counts(mirror, env, monkeypatch):
    fake = make_mirror(env / "m", {"cifar10.npz": mirror / "mnist.npz", "mnist.npz": mirror / "notmnist.npz"})
    monkeypatch.setenv("WORKBOOK_DATA", str(fake))
    with pytest.warns(MissingChecksumsWarning, match="no SHA256SUMS"):
        with pytest.raises(
            CorruptDataError, match=r"not the CIFAR-10 file: x_train is uint8 \(60000, 28, 28\)"
        ):
            data.load_cifar10()
    with pytest.warns(MissingChecksumsWarning):
        with pytest.raises(CorruptDataError, match="not the MNIST file: x_train holds 0 images"):
            data.load_mnist()


def test_mirror_without_sums_loads_with_one_warning(mirror, env, monkeypatch):
    fake = make_mirror(env / "m", {"mnist.npz": mirror / "mnist.npz"})
    monkeypatch.setenv("WORKBOOK_DATA", str(fake))
    with pytest.warns(MissingChecksumsWarning) as record:
        assert data.load_mnist().x_train.shape == (60000, 28, 28)
    assert len(record) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data.load_mnist()  # the second load says nothing more


def test_verification_runs_once_per_file_version(mirror, env, monkeypatch):
    fake = make_mirror(
        env / "m", {"mnist.npz": mirror / "mnist.npz"}, {"mnist.npz": data_sums(mirror)["mnist.npz"]}
    )
    monkeypatch.setenv("WORKBOOK_DATA", str(fake))
    calls = []
    real = download.file_hash
    monkeypatch.setattr(download, "file_hash", lambda p, a="sha256": calls.append(Path(p).name) or real(p, a))
    data.load_mnist()
    data.load_mnist()
    assert calls == ["mnist.npz"]  # hashed once, then the stamp (size, mtime) is trusted
    st = (fake / "mnist.npz").stat()
    os.utime(fake / "mnist.npz", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # a new version
    data.load_mnist()
    assert calls == ["mnist.npz", "mnist.npz"]


def test_wrong_but_valid_cache_file(env, monkeypatch):
    """A 10-review imdb.jsonl.gz in the cache is not trusted: counts are checked on every load."""
    cache = env / "cache"
    cache.mkdir()
    with gzip.open(cache / "imdb.jsonl.gz", "wt") as fh:
        for i in range(10):
            fh.write(json.dumps({"split": "train" if i < 5 else "test", "label": i % 2, "text": "ok"}) + "\n")
    with pytest.raises(CorruptDataError, match="holds 5 reviews.*expected 25,000.*Delete it"):
        data.load_imdb()


def test_cache_file_changed_after_its_hash_was_recorded(online, monkeypatch, tmp_path):
    fixtures.write_imdb(online / "aclImdb_v1.tar.gz")
    monkeypatch.setattr(data, "IMDB_MD5", md5(online / "aclImdb_v1.tar.gz"))
    data.load_imdb()
    sums = download.read_sums(tmp_path / "cache")
    assert sums["imdb.jsonl.gz"] == sha256(tmp_path / "cache" / "imdb.jsonl.gz")  # recorded on conversion
    with gzip.open(tmp_path / "cache" / "imdb.jsonl.gz", "wt") as fh:  # same shape, other content
        for split in ("train", "test"):
            for label in (0, 0, 1, 1):
                fh.write(json.dumps({"split": split, "label": label, "text": "swapped"}) + "\n")
    with pytest.raises(CorruptDataError, match="SHA-256.*delete it and run again"):
        data.load_imdb()


# --- caches and settings --------------------------------------------------------------------


def lzma_npz(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_LZMA) as zf:
        for key, value in arrays.items():
            with zf.open(f"{key}.npy", "w") as fh:
                np.lib.format.write_array(fh, value, allow_pickle=False)
    return path


@pytest.mark.parametrize("cache_kind", ["a file", "read-only"])
def test_unwritable_cache_with_an_lzma_mirror_file(env, monkeypatch, cache_kind):
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, (20, 32, 32, 3), dtype=np.uint8),
        "y_train": np.arange(20) % 10,
        "x_test": rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8),
        "y_test": np.arange(4),
    }
    mirror = env / "m"
    mirror.mkdir()
    lzma_npz(mirror / "cifar10.npz", arrays)
    (mirror / "SHA256SUMS").write_text(f"{sha256(mirror / 'cifar10.npz')}  cifar10.npz\n")
    monkeypatch.setenv("WORKBOOK_DATA", str(mirror))
    fixtures.allow_fixture_sizes(monkeypatch)
    if cache_kind == "a file":
        (env / "not-a-folder").write_text("x")
        monkeypatch.setenv("WORKBOOK_CACHE", str(env / "not-a-folder"))
    else:  # root can write anywhere, so make the write itself fail as it would without permission

        def refuse(*args, **kwargs):
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr(download.tempfile, "mkstemp", refuse)
    with pytest.raises(
        CacheNotWritableError, match="cache folder .* is not writable.*set WORKBOOK_CACHE"
    ) as err:
        data.load_cifar10()
    assert "delete" not in str(err.value) and "copy it again" not in str(err.value)
    assert (mirror / "cifar10.npz").exists()


def test_relative_mirror_path_shows_what_was_tried(env, monkeypatch):
    monkeypatch.chdir(env)
    monkeypatch.setenv("WORKBOOK_DATA", "../mirror-typo")
    with pytest.raises(data.DataNotFoundError) as err:
        download.mirror_dir()
    message = str(err.value)
    assert str((env / "../mirror-typo").resolve()) in message and str(env) in message
    assert "absolute path" in message


def test_skipped_mirror_is_named_as_skipped(env, monkeypatch):
    """Building a new mirror skips WORKBOOK_DATA: the error says so, and does not suggest setting it."""
    monkeypatch.setenv("WORKBOOK_DATA", str(make_mirror(env / "old-copy", {})))
    with pytest.raises(data.DataNotFoundError) as err:
        data.weights_path("resnet20", mirror=False)
    message = str(err.value)
    assert "skipped" in message and "unset" not in message.split("Fix:")[0]
    assert "set WORKBOOK_DATA" not in message and "unset WORKBOOK_OFFLINE" in message


@pytest.mark.parametrize(
    "value,expected",
    [
        ("1", True),
        ("on", True),
        ("TRUE", True),
        ("yes", True),
        ("0", False),
        ("off", False),
        ("", False),
        ("no", False),
    ],
)
def test_offline_values(monkeypatch, value, expected):
    monkeypatch.setenv("WORKBOOK_OFFLINE", value)
    assert download.offline() is expected


def test_unknown_offline_value_is_an_error(monkeypatch):
    monkeypatch.setenv("WORKBOOK_OFFLINE", "maybe")
    with pytest.raises(ValueError, match="1, true, yes or on"):
        download.offline()


# --- broken networks ------------------------------------------------------------------------


class _ShortHandler(http.server.BaseHTTPRequestHandler):
    """Promises 1,000 bytes, sends 10, hangs up: an IncompleteRead for the client."""

    def do_GET(self):  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Length", "1000")
        self.end_headers()
        self.wfile.write(b"0123456789")
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, *args):
        pass


def test_incomplete_read_moves_on_to_the_next_url(env, server, monkeypatch):
    root, good = server
    monkeypatch.delenv("WORKBOOK_OFFLINE")
    (root / "f.bin").write_bytes(b"the real file")
    short = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ShortHandler)
    threading.Thread(target=short.serve_forever, daemon=True).start()
    try:
        bad = f"http://127.0.0.1:{short.server_address[1]}/f.bin"
        out = download.download([bad, good + "f.bin"], env / "f.bin", md5=md5(root / "f.bin"))
        assert out.read_bytes() == b"the real file"
        with pytest.raises(DownloadError, match=r"IncompleteRead[\s\S]*WORKBOOK_DATA"):
            download.download([bad], env / "g.bin", md5="0" * 32)
    finally:
        short.shutdown()
        short.server_close()


def test_checksum_error_on_the_first_mnist_url_tries_the_second(online, monkeypatch):
    good = online / "good"
    arrays = fixtures.write_mnist(good)
    (online / "bad").mkdir()
    for name in arrays:
        (online / "bad" / name).write_bytes(b"a damaged copy")
    url = os.environ["WORKBOOK_DOWNLOAD_BASE"]
    monkeypatch.delenv("WORKBOOK_DOWNLOAD_BASE")
    monkeypatch.setattr(data, "MNIST_URLS", (url + "bad/", url + "good/"))
    monkeypatch.setattr(data, "MNIST_FILES", {n: md5(good / n) for n in arrays})
    np.testing.assert_array_equal(data.load_mnist().x_test, arrays["t10k-images-idx3-ubyte.gz"])


def test_no_network_for_ants_and_bees_is_one_clear_error(env, monkeypatch):
    monkeypatch.delenv("WORKBOOK_OFFLINE")
    monkeypatch.setenv("WORKBOOK_DOWNLOAD_BASE", "http://127.0.0.1:9/")  # nothing listens there
    with pytest.raises(
        DownloadError, match=r"ants/bees[\s\S]*127\.0\.0\.1:9/hymenoptera_data\.zip[\s\S]*WORKBOOK_DATA"
    ):
        data.load_hymenoptera()


def test_a_server_that_never_answers_times_out(env, monkeypatch):
    monkeypatch.delenv("WORKBOOK_OFFLINE")
    monkeypatch.setattr(download, "CONNECT_TIMEOUT_S", 0.5)
    monkeypatch.setattr(download, "READ_TIMEOUT_S", 0.5)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # accepts connections (the kernel does), never answers
    try:
        start = time.monotonic()
        with pytest.raises(DownloadError, match="timed out"):
            download.download(f"http://127.0.0.1:{silent.getsockname()[1]}/x", env / "x", md5="0" * 32)
        assert time.monotonic() - start < 10
    finally:
        silent.close()


def test_stale_part_files_are_swept(env, server, monkeypatch):
    """A download killed by SIGTERM leaves its .part file; the next download of that file removes it."""
    root, url = server
    monkeypatch.delenv("WORKBOOK_OFFLINE")
    (root / "f.bin").write_bytes(b"data")
    dest = env / "cache" / "f.bin"
    dest.parent.mkdir(parents=True)
    stale, live = dest.parent / ".f.bin.abc123.part", dest.parent / ".f.bin.def456.part"
    stale.write_bytes(b"half")
    live.write_bytes(b"half, still downloading")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    download.download(url + "f.bin", dest, md5=md5(root / "f.bin"))
    assert dest.read_bytes() == b"data" and not stale.exists() and live.exists()


# --- an offline classroom copy --------------------------------------------------------------


def test_build_a_mirror_folder_from_the_downloads(online, monkeypatch, tmp_path):
    """``python -m helpers.tools.mirror DIR`` against the local server, then load from that mirror."""
    from helpers.tools import mirror as mirror_builder  # not `mirror`: that is a fixture's name

    arrays = fixtures.write_mnist(online)
    monkeypatch.setattr(data, "MNIST_FILES", {n: md5(online / n) for n in arrays})
    x = np.arange(3 * 28 * 28, dtype=np.uint64).astype(np.uint8).reshape(3, 28, 28)
    # notMNIST's files have the names of MNIST's test files: the server keeps them where a cache does
    nm = online / "raw" / "notmnist"
    nm.mkdir(parents=True)
    fixtures.write_idx(nm / "t10k-images-idx3-ubyte.gz", x)
    fixtures.write_idx(nm / "t10k-labels-idx1-ubyte.gz", np.array([0, 4, 9], np.uint8))
    monkeypatch.setattr(data, "NOTMNIST_FILES", {n: sha256(nm / n) for n in data.NOTMNIST_FILES})
    fixtures.write_cifar10(online / "cifar-10-python.tar.gz")
    monkeypatch.setattr(data, "CIFAR10_MD5", md5(online / "cifar-10-python.tar.gz"))
    fixtures.write_imdb(online / "aclImdb_v1.tar.gz")
    monkeypatch.setattr(data, "IMDB_MD5", md5(online / "aclImdb_v1.tar.gz"))
    fixtures.write_hymenoptera(online / "hymenoptera_data.zip", {"train": 4, "val": 2})
    monkeypatch.setattr(data, "HYMENOPTERA_COUNTS", {"train": 4, "val": 2})
    for depth in (20, 56):  # each pretrained CIFAR ResNet: a small checkpoint file pinned by its hash
        name, _, url = data.WEIGHTS[f"resnet{depth}"]
        torch.save({"state_dict": {"module.conv1.weight": torch.full((16, 3, 3, 3), depth)}}, online / name)
        monkeypatch.setitem(data.WEIGHTS, f"resnet{depth}", (name, sha256(online / name), url))
    name, name56 = data.WEIGHTS["resnet20"][0], data.WEIGHTS["resnet56"][0]
    torch.save(torchvision.models.mobilenet_v2(weights=None).state_dict(), online / "mv2.pth")
    tv = f"mobilenet_v2-{sha256(online / 'mv2.pth')[:8]}.pth"
    (online / "mv2.pth").rename(online / tv)
    monkeypatch.setattr(mobilenet, "TORCHVISION_URL", f"https://download.pytorch.org/models/{tv}")

    # another mirror in WORKBOOK_DATA (an older classroom copy, say) is not where a new one comes from
    old_copy = tmp_path / "old-copy"
    (old_copy / "weights").mkdir(parents=True)
    for f in (name, tv):
        (old_copy / "weights" / f).write_bytes(b"not the published weights")
    monkeypatch.setenv("WORKBOOK_DATA", str(old_copy))
    folder = tmp_path / "classroom"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing read from the old copy (it has no SHA256SUMS: a warning)
        assert mirror_builder.main([str(folder)]) == 0
    sums = download.read_sums(folder)
    assert set(sums) == {
        "mnist.npz",
        "notmnist.npz",
        "cifar10.npz",
        "hymenoptera.npz",
        "imdb.jsonl.gz",
        f"weights/{name}",
        f"weights/{name56}",
        f"weights/{tv}",
    }
    assert all(sha256(folder / f) == h for f, h in sums.items())  # sha256sum -c would pass

    cache = Path(os.environ["WORKBOOK_CACHE"])
    go_offline(monkeypatch)
    monkeypatch.setenv("WORKBOOK_DATA", str(folder))
    monkeypatch.setenv("WORKBOOK_CACHE", str(tmp_path / "fresh-cache"))
    assert data.load_mnist().x_train.shape == (20, 28, 28)
    np.testing.assert_array_equal(data.load_notmnist().x_test, x)
    assert data.load_imdb().y_test.sum() == 2 and len(data.load_hymenoptera().x_test) == 2
    assert mobilenet.load_mobilenet_v2().source.startswith("torchvision")

    # the other classroom way: a server of the cache that building the mirror filled (it holds every
    # original download), and a student's machine with no mirror and an empty cache
    monkeypatch.delenv("WORKBOOK_DATA")
    monkeypatch.delenv("WORKBOOK_OFFLINE")
    monkeypatch.setenv("WORKBOOK_CACHE", str(tmp_path / "student-cache"))
    with serve(cache) as url:
        monkeypatch.setenv("WORKBOOK_DOWNLOAD_BASE", url)
        assert data.load_mnist().x_train.shape == (20, 28, 28)
        np.testing.assert_array_equal(data.load_notmnist().x_test, x)  # not MNIST's test digits
        assert data.load_cifar10().x_test.shape[1:] == (32, 32, 3) and data.load_imdb().y_test.sum() == 2
        assert len(data.load_hymenoptera().x_test) == 2
        assert data.weights_path("resnet20").exists() and data.weights_path("resnet56").exists()
        assert mobilenet.load_mobilenet_v2().source.startswith("torchvision")


def data_sums(mirror: Path) -> dict[str, str]:
    sums = download.read_sums(mirror)
    if sums is None:
        pytest.skip("this test needs a mirror folder with a SHA256SUMS")
    return sums
