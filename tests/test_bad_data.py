"""No silent wrong results from the data layer: damaged or mislabelled files, unwritable caches,
bad settings and broken networks each give a clear error that names the fix."""

from __future__ import annotations

import contextlib
import errno
import gzip
import http.server
import io
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
from helpers.download import (
    CacheNotWritableError,
    ChecksumError,
    CorruptDataError,
    DataNotFoundError,
    DiskFullError,
    DownloadError,
    MissingChecksumsWarning,
)

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
    """A 10-review imdb.jsonl.gz in the cache, its hash recorded, is not trusted: counts are checked on
    every load."""
    cache = env / "cache"
    cache.mkdir()
    with gzip.open(cache / "imdb.jsonl.gz", "wt") as fh:
        for i in range(10):
            fh.write(json.dumps({"split": "train" if i < 5 else "test", "label": i % 2, "text": "ok"}) + "\n")
    download.record_hash(cache, "imdb.jsonl.gz", sha256(cache / "imdb.jsonl.gz"))
    go_offline(monkeypatch)
    monkeypatch.delenv("WORKBOOK_OFFLINE")  # downloads on (nothing listens there): the cache can rebuild it
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


def drop_line(folder: Path, name: str) -> None:
    """Remove ``name``'s line from ``folder/SHA256SUMS``, as a write by another process could."""
    sums = download.read_sums(folder)
    del sums[name]
    (folder / "SHA256SUMS").write_text("".join(f"{h}  {n}\n" for n, h in sums.items()))


def test_cache_file_without_a_recorded_hash_is_rebuilt(online, monkeypatch, tmp_path):
    """A cached mnist.npz with zeroed pixels whose SHA256SUMS line was lost is not loaded: it is built
    again from the verified downloads the cache keeps (offline too), or, without them, an error."""
    arrays = fixtures.write_mnist(online)
    monkeypatch.setattr(data, "MNIST_FILES", {n: md5(online / n) for n in arrays})
    data.load_mnist()
    cache = tmp_path / "cache"
    with np.load(cache / "mnist.npz") as npz:
        zeroed = {k: npz[k] for k in npz.files}
    zeroed["x_train"][:] = 0

    def plant_zeroed() -> None:
        np.savez_compressed(cache / "mnist.npz", **zeroed)
        drop_line(cache, "mnist.npz")

    plant_zeroed()
    go_offline(monkeypatch)
    np.testing.assert_array_equal(data.load_mnist().x_train, arrays["train-images-idx3-ubyte.gz"])
    assert download.read_sums(cache)["mnist.npz"] == sha256(cache / "mnist.npz")  # recorded again

    plant_zeroed()
    shutil.rmtree(cache / "raw")
    with pytest.raises(DataNotFoundError, match=r"mnist\.npz has no hash recorded .* not trusted") as err:
        data.load_mnist()
    assert "WORKBOOK_DATA" in str(err.value) and "unset WORKBOOK_OFFLINE" in str(err.value)


def test_uncompressed_copy_without_a_recorded_hash_is_made_again(env, monkeypatch):
    arrays = lzma_cifar10_mirror(env / "m", monkeypatch)
    data.load_cifar10()  # keeps an uncompressed copy in the cache
    cache = env / "cache"
    (copy,) = cache.glob("cifar10.*.uncompressed.npz")
    np.savez(copy, **{**arrays, "x_train": np.zeros_like(arrays["x_train"])})
    drop_line(cache, copy.name)
    np.testing.assert_array_equal(data.load_cifar10().x_train, arrays["x_train"])
    assert download.read_sums(cache)[copy.name] == sha256(copy)


def test_cache_weights_without_a_recorded_hash_are_checked_against_the_published_one(mirror, env):
    """The 8-bit MobileNetV2 weights have no download, but a published hash: a cache copy that its
    SHA256SUMS does not list is checked against that."""
    name = data.WEIGHTS["mobilenet_v2_quant"][0]
    cache = env / "cache"
    (cache / "weights").mkdir(parents=True)
    shutil.copyfile(mirror / "weights" / name, cache / "weights" / name)
    assert data.weights_path("mobilenet_v2_quant") == cache / "weights" / name  # the published file
    assert download.read_sums(cache)[f"weights/{name}"] == data.WEIGHTS["mobilenet_v2_quant"][1]
    with open(cache / "weights" / name, "ab") as fh:
        fh.write(b"changed")
    drop_line(cache, f"weights/{name}")
    with pytest.raises(CorruptDataError, match="the published one is 4fc22849"):
        data.weights_path("mobilenet_v2_quant")


def wrong_mnist(path: Path) -> Path:
    """An mnist.npz of the wrong shapes: it passes a hash check (once listed) and fails the loader's."""
    np.savez(
        path,
        x_train=np.zeros((5, 10, 10), np.uint8),
        y_train=np.zeros(5, np.uint8),
        x_test=np.zeros((5, 10, 10), np.uint8),
        y_test=np.zeros(5, np.uint8),
    )
    return path


@pytest.mark.parametrize("damage", ["wrong shapes", "truncated"])
def test_advice_keeps_a_mirror_file_that_is_also_in_the_cache(env, monkeypatch, damage):
    """WORKBOOK_DATA and WORKBOOK_CACHE are one folder, offline: its mnist.npz may be the only copy."""
    folder = env / "data"
    folder.mkdir()
    if damage == "wrong shapes":
        wrong_mnist(folder / "mnist.npz")
    else:
        (folder / "mnist.npz").write_bytes(b"PK\x03\x04 truncated")
    (folder / "SHA256SUMS").write_text(f"{sha256(folder / 'mnist.npz')}  mnist.npz\n")
    monkeypatch.setenv("WORKBOOK_DATA", str(folder))
    monkeypatch.setenv("WORKBOOK_CACHE", str(folder))
    with pytest.raises(CorruptDataError) as err:
        data.load_mnist()
    message = str(err.value).replace(str(folder), "<folder>")
    assert "delete" not in message.lower() and "copy it again into your mirror folder" in message.lower()


def test_offline_advice_for_a_cache_file_that_cannot_be_made_again(env, monkeypatch):
    """Offline, a wrong cache file is deleted and rebuilt only where the original downloads are at hand."""
    cache = env / "cache"
    cache.mkdir()
    download.record_hash(cache, "mnist.npz", sha256(wrong_mnist(cache / "mnist.npz")))
    with pytest.raises(CorruptDataError, match="not the MNIST file") as err:
        data.load_mnist()
    message = str(err.value)
    assert "the cache rebuilds it" not in message and "Delete it and run again" not in message
    assert "cannot make it again here" in message and "WORKBOOK_DATA" in message

    arrays = fixtures.write_mnist(cache / "raw" / "mnist")  # the original downloads, kept by the cache
    monkeypatch.setattr(data, "MNIST_FILES", {n: md5(cache / "raw" / "mnist" / n) for n in arrays})
    with pytest.raises(CorruptDataError, match="Delete it and run again"):
        data.load_mnist()


@pytest.mark.parametrize("listed", [True, False])
def test_a_mirror_path_that_is_a_folder(env, monkeypatch, listed):
    mirror = env / "m"
    (mirror / "mnist.npz").mkdir(parents=True)
    if listed:
        (mirror / "SHA256SUMS").write_text(f"{'0' * 64}  mnist.npz\n")
    monkeypatch.setenv("WORKBOOK_DATA", str(mirror))
    with pytest.raises(CorruptDataError, match=r"mnist\.npz is a folder, not a file: .*copy it again"):
        data.load_mnist()


@pytest.mark.parametrize("listed", [True, False])
def test_an_unreadable_mirror_file(env, monkeypatch, listed):
    """Tests run as root, where chmod does not stop a read: the read itself is made to fail."""
    mirror = env / "m"
    mirror.mkdir()
    wrong_mnist(mirror / "mnist.npz")
    if listed:
        (mirror / "SHA256SUMS").write_text(f"{sha256(mirror / 'mnist.npz')}  mnist.npz\n")
    monkeypatch.setenv("WORKBOOK_DATA", str(mirror))
    real_open = open

    def no_permission(file, mode="r", *args, **kwargs):
        if Path(file).name == "mnist.npz":
            raise PermissionError(errno.EACCES, "Permission denied", str(file))
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(download, "open", no_permission, raising=False)
    with pytest.raises(CorruptDataError, match=r"mnist\.npz cannot be read \(PermissionError.*chmod a\+r"):
        data.load_mnist()


def test_full_disk_while_writing_the_uncompressed_copy(env, monkeypatch):
    lzma_cifar10_mirror(env / "m", monkeypatch)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")  # as numpy's write raises it: no file named

    monkeypatch.setattr(data.np, "savez", full)
    with pytest.raises(DiskFullError, match=r"cifar10\.\d+\.uncompressed\.npz: no space is left") as err:
        data.load_cifar10()
    assert "WORKBOOK_CACHE" in str(err.value)
    assert not list((env / "cache").glob(".*.part"))


# --- caches and settings --------------------------------------------------------------------


def lzma_npz(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_LZMA) as zf:
        for key, value in arrays.items():
            with zf.open(f"{key}.npy", "w") as fh:
                np.lib.format.write_array(fh, value, allow_pickle=False)
    return path


def lzma_cifar10_mirror(folder: Path, monkeypatch) -> dict[str, np.ndarray]:
    """A mirror folder (set as WORKBOOK_DATA) holding a small LZMA-compressed cifar10.npz, listed in its
    SHA256SUMS; returns its arrays."""
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, (20, 32, 32, 3), dtype=np.uint8),
        "y_train": np.arange(20) % 10,
        "x_test": rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8),
        "y_test": np.arange(4),
    }
    folder.mkdir()
    lzma_npz(folder / "cifar10.npz", arrays)
    (folder / "SHA256SUMS").write_text(f"{sha256(folder / 'cifar10.npz')}  cifar10.npz\n")
    monkeypatch.setenv("WORKBOOK_DATA", str(folder))
    fixtures.allow_fixture_sizes(monkeypatch)
    return arrays


@pytest.mark.parametrize("cache_kind", ["a file", "read-only"])
def test_unwritable_cache_with_an_lzma_mirror_file(env, monkeypatch, cache_kind):
    mirror = env / "m"
    lzma_cifar10_mirror(mirror, monkeypatch)
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


@pytest.mark.parametrize("base", ["10.0.0.5:8000/", "localhost:8000", "http:/10.0.0.5/"])
def test_malformed_download_base_names_the_variable(env, monkeypatch, base):
    monkeypatch.delenv("WORKBOOK_OFFLINE")
    monkeypatch.setenv("WORKBOOK_DOWNLOAD_BASE", base)
    with pytest.raises(ValueError, match=r"WORKBOOK_DOWNLOAD_BASE=.* must start with http://") as err:
        download.download("https://example.invalid/x.bin", env / "x.bin", md5="0" * 32)
    assert "no network" not in str(err.value)


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


@pytest.mark.parametrize("names", ["the real names", "other names"])
def test_ants_and_bees_zip_of_black_squares_is_rejected(online, tmp_path, names):
    """No checksum is published for hymenoptera_data.zip: 245 + 153 black 4×4 PNGs in the right folders
    differ from its manifest (names and original sizes) and are not accepted."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buf, format="PNG")
    manifest = data.hymenoptera_manifest()
    if names == "the real names":
        members = list(manifest)
        expected = r"398 images of another size \(train/ants/0013035\.jpg is 4×4, expected 768×512"
    else:
        members = [
            f"{s}/{c}/{k}.png" for s, n in data.HYMENOPTERA_COUNTS.items() for k in range(n) for c in ["ants"]
        ]
        expected = r"398 images missing .*398 images not in it"
    with zipfile.ZipFile(online / "hymenoptera_data.zip", "w") as zf:
        for member in members:
            zf.writestr(f"hymenoptera_data/{member}", buf.getvalue())
    with pytest.raises(ChecksumError, match=expected):
        data.load_hymenoptera()
    cache = tmp_path / "cache"
    assert not (cache / "hymenoptera.npz").exists() and not (cache / "raw" / "hymenoptera_data.zip").exists()
    assert "hymenoptera.npz" not in (download.read_sums(cache) or {})


def test_shipped_ants_and_bees_manifest_is_the_mirrors(mirror):
    with np.load(mirror / "hymenoptera.npz") as npz:
        files, sizes = npz["files"], npz["orig_size"]
    manifest = data.hymenoptera_manifest()
    assert manifest == {str(f): (int(w), int(h)) for f, (w, h) in zip(files, sizes)}
    assert sum(f.startswith("train/") for f in manifest) == 245 and len(manifest) == 398


class _TrickleHandler(http.server.BaseHTTPRequestHandler):
    """Headers, then one byte every 0.2 s, each well within the read timeout (for 10 s at most)."""

    def do_GET(self):  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Length", "1000")
        self.end_headers()
        for _ in range(50):
            try:
                self.wfile.write(b"x")
                self.wfile.flush()
            except OSError:  # the client gave up
                return
            time.sleep(0.2)

    def log_message(self, *args):
        pass


class _ErrorHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        self.send_error(500, "Internal Server Error")

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve_with(handler: type[http.server.BaseHTTPRequestHandler]):
    """A server on 127.0.0.1 answering every request with ``handler``; yields its URL."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_download_that_trickles_gives_up_and_tries_the_next_url(env, server, monkeypatch):
    """Each byte comes within the read timeout, but the download would take minutes: past its deadline
    (SLOW_GRACE_S + bytes / MIN_BYTES_PER_S, scaled down here) the next URL is tried."""
    root, good = server
    monkeypatch.delenv("WORKBOOK_OFFLINE")
    monkeypatch.setattr(download, "SLOW_GRACE_S", 1.0)
    monkeypatch.setattr(download, "MIN_BYTES_PER_S", 100.0)
    (root / "f.bin").write_bytes(b"the real file")
    with serve_with(_TrickleHandler) as trickle:
        start = time.monotonic()
        out = download.download([trickle + "f.bin", good + "f.bin"], env / "f.bin", md5=md5(root / "f.bin"))
        assert out.read_bytes() == b"the real file" and time.monotonic() - start < 5
        start = time.monotonic()
        with pytest.raises(DownloadError, match=r"the download was too slow[\s\S]*TooSlowError: too slow"):
            download.download(trickle + "g.bin", env / "g.bin", md5="0" * 32)
        assert time.monotonic() - start < 5


def test_http_errors_say_the_status_not_no_network(env, server, monkeypatch):
    root, url = server
    monkeypatch.delenv("WORKBOOK_OFFLINE")
    with pytest.raises(DownloadError) as err:
        download.download(url + "missing.bin", env / "m.bin", md5="0" * 32)
    assert str(err.value).startswith("Could not download m.bin: HTTP 404") and "no network" not in str(
        err.value
    )
    with serve_with(_ErrorHandler) as failing, pytest.raises(DownloadError) as err:
        download.download(failing + "f.bin", env / "f.bin", md5="0" * 32)
    assert str(err.value).startswith("Could not download f.bin: HTTP 500") and "no network" not in str(
        err.value
    )


class _NoRoom:
    """A file whose every write fails as on a full disk (``OSError`` with an errno and no file name)."""

    def __init__(self, code: int):
        self.code = code

    def write(self, data):
        raise OSError(self.code, os.strerror(self.code))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.mark.parametrize(
    "code,said",
    [(errno.ENOSPC, "no space is left on its disk"), (errno.EFBIG, "it is too large for its file system")],
)
def test_a_download_onto_a_full_disk_says_so(online, monkeypatch, tmp_path, code, said):
    (online / "f.bin").write_bytes(b"x" * 1000)
    real_open = open

    def no_room(file, mode="r", *args, **kwargs):
        return _NoRoom(code) if "w" in mode else real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(download, "open", no_room, raising=False)
    dest = tmp_path / "cache" / "raw" / "f.bin"
    with pytest.raises(DiskFullError) as err:
        download.download("https://example.invalid/f.bin", dest, md5=md5(online / "f.bin"))
    message = str(err.value)
    assert message.startswith(f"could not write {dest}: {said}") and "WORKBOOK_CACHE" in message
    assert "no network" not in message and not list(dest.parent.iterdir())


def test_a_folder_where_a_download_goes_is_named(online, monkeypatch, tmp_path):
    """A folder at raw/aclImdb_v1.tar.gz in the cache: the loader names it and says to move it, rather
    than reporting a network error after downloading the file at every URL."""
    fixtures.write_imdb(online / "aclImdb_v1.tar.gz")
    monkeypatch.setattr(data, "IMDB_MD5", md5(online / "aclImdb_v1.tar.gz"))
    folder = tmp_path / "cache" / "raw" / "aclImdb_v1.tar.gz"
    folder.mkdir(parents=True)
    with pytest.raises(CorruptDataError) as err:
        data.load_imdb()
    message = str(err.value)
    assert f"{folder} is a folder" in message and "move that folder out of the way" in message
    assert "network" not in message


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
    manifest = fixtures.write_hymenoptera(online / "hymenoptera_data.zip", {"train": 4, "val": 2})
    fixtures.use_hymenoptera_manifest(monkeypatch, manifest)
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
