import errno
import os
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from helpers import download as dl

from .fixtures import md5, serve

ROOT = Path(__file__).resolve().parent.parent


def test_atomic_path_leaves_nothing_on_error(tmp_path):
    dest = tmp_path / "out.bin"
    with pytest.raises(RuntimeError):
        with dl.atomic_path(dest) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("boom")
    assert not dest.exists()
    assert list(tmp_path.iterdir()) == []


def test_download_verifies_and_caches(tmp_path, monkeypatch):
    monkeypatch.delenv("WORKBOOK_OFFLINE", raising=False)
    src = tmp_path / "src.bin"
    src.write_bytes(b"real bytes" * 100)
    dest = tmp_path / "cache" / "file.bin"
    out = dl.download(src.as_uri(), dest, md5=md5(src), what="fixture")
    assert out == dest and dest.read_bytes() == src.read_bytes()
    src.unlink()  # a second call finds the verified file and does not download
    assert dl.download("file:///nonexistent", dest, md5=md5(dest)) == dest


def test_download_bad_checksum_keeps_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv("WORKBOOK_OFFLINE", raising=False)
    src = tmp_path / "src.bin"
    src.write_bytes(b"tampered")
    dest = tmp_path / "cache" / "file.bin"
    with pytest.raises(dl.ChecksumError, match="expected 0{32}"):
        dl.download(src.as_uri(), dest, md5="0" * 32)
    assert not dest.exists()
    assert list(dest.parent.iterdir()) == []


def test_download_tries_mirrors_in_order(tmp_path, monkeypatch):
    monkeypatch.delenv("WORKBOOK_OFFLINE", raising=False)
    src = tmp_path / "src.bin"
    src.write_bytes(b"x")
    dest = tmp_path / "d.bin"
    dl.download([(tmp_path / "missing").as_uri(), src.as_uri()], dest, md5=md5(src))
    assert dest.read_bytes() == b"x"


def test_download_unreachable_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.delenv("WORKBOOK_OFFLINE", raising=False)
    with pytest.raises(dl.DataNotFoundError, match="WORKBOOK_DATA"):
        dl.download((tmp_path / "missing").as_uri(), tmp_path / "d.bin", md5="0" * 32)


def test_offline_refuses_to_download(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBOOK_OFFLINE", "1")
    with pytest.raises(dl.DataNotFoundError, match="downloads are off"):
        dl.download("https://example.invalid/x", tmp_path / "x", md5="0" * 32)


def test_download_needs_a_checksum(tmp_path):
    with pytest.raises(ValueError, match="md5"):
        dl.download("file:///x", tmp_path / "x")


def test_mirror_typo_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBOOK_DATA", str(tmp_path / "nope"))
    with pytest.raises(dl.DataNotFoundError, match="not a folder"):
        dl.mirror_dir()


def test_cache_dir_from_env(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBOOK_CACHE", str(tmp_path / "c"))
    assert dl.cache_dir() == tmp_path / "c" and (tmp_path / "c").is_dir()


RECORDER = """
import sys, time
from pathlib import Path
from helpers.download import record_hash
folder, tag = Path(sys.argv[1]), sys.argv[2]
(folder / f"ready-{tag}").touch()
while not (folder / "go").exists():
    time.sleep(0.001)
for i in range(150):
    record_hash(folder, f"{tag}/{i}.npz", f"{i:064x}")
"""


def test_two_processes_recording_hashes_keep_every_line(tmp_path):
    """Two processes each record 150 hashes in one SHA256SUMS at the same time: all 300 lines survive."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RECORDER, str(tmp_path), tag], cwd=ROOT, stderr=subprocess.PIPE, text=True
        )
        for tag in ("a", "b")
    ]
    try:
        deadline = time.monotonic() + 60
        while not all((tmp_path / f"ready-{tag}").exists() for tag in ("a", "b")):
            assert time.monotonic() < deadline, "the recording processes did not start within 60 s"
            assert all(p.poll() is None for p in procs), [p.communicate()[1] for p in procs]
            time.sleep(0.01)
        (tmp_path / "go").touch()  # both start recording at once
        for p in procs:
            _, err = p.communicate(timeout=60)
            assert p.returncode == 0, err
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    sums = dl.read_sums(tmp_path)
    assert len(sums) == 300, f"{300 - len(sums)} of 300 lines lost"
    assert sums["a/149.npz"] == sums["b/149.npz"] == f"{149:064x}"


FETCH_WITHOUT_BARS = """
import sys
from pathlib import Path
from helpers import download as dl
dl.download(sys.argv[1], Path(sys.argv[2]), md5=sys.argv[3])
"""


def test_download_with_progress_bars_off(tmp_path):
    """TQDM_DISABLE=1 (read by tqdm when it is imported, so in a fresh process): a disabled bar counts
    no bytes, yet an HTTP download with a Content-Length arrives whole, not as an IncompleteRead."""
    root = tmp_path / "www"
    root.mkdir()
    (root / "f.bin").write_bytes(bytes(range(256)) * 400)
    env = {**os.environ, "TQDM_DISABLE": "1", "WORKBOOK_CACHE": str(tmp_path / "cache")}
    for name in ("WORKBOOK_OFFLINE", "WORKBOOK_DOWNLOAD_BASE", "WORKBOOK_DATA"):
        env.pop(name, None)
    dest = tmp_path / "out.bin"
    with serve(root) as url:
        run = subprocess.run(
            [sys.executable, "-c", FETCH_WITHOUT_BARS, url + "f.bin", str(dest), md5(root / "f.bin")],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert run.returncode == 0, run.stderr[-3000:]
    assert dest.read_bytes() == (root / "f.bin").read_bytes()


HOLDER = """
import sys, time
from pathlib import Path
from helpers.download import locked
path = Path(sys.argv[1])
with locked(path):
    (path.parent / "held").touch()
    time.sleep(float(sys.argv[2]))
"""

PROBE = """
import sys, warnings
from pathlib import Path
from helpers import download as dl
dl.LOCK_WAIT_S = 0.2
with warnings.catch_warnings(record=True) as seen:
    warnings.simplefilter("always")
    with dl.locked(Path(sys.argv[1])):
        pass
print("held" if any(issubclass(w.category, dl.LockWarning) for w in seen) else "free")
"""


def held_elsewhere(path: Path) -> bool:
    """Whether another process finds the lock file ``path`` locked."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(path)], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip() == "held"


def test_lock_wait_is_bounded(tmp_path, monkeypatch):
    """A lock another process holds (hung, or a file system whose locks never come) is waited on for
    LOCK_WAIT_S at most: then the body runs unlocked, with a warning."""
    lock = tmp_path / ".SHA256SUMS.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(lock), "20"], cwd=ROOT, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "held").exists():
            assert holder.poll() is None, holder.communicate()[1]
            assert time.monotonic() < deadline, "the holding process did not start within 60 s"
            time.sleep(0.01)
        monkeypatch.setattr(dl, "LOCK_WAIT_S", 0.5)
        start, ran = time.monotonic(), False
        with pytest.warns(UserWarning, match="locked by another process for 0.5 s"):
            with dl.locked(lock):
                ran = True
        assert ran and time.monotonic() - start < 10
    finally:
        holder.kill()
        holder.wait()


def test_lock_is_reentrant(tmp_path, monkeypatch):
    """Taking a lock this thread holds does not wait on itself, and leaving the inner ``with`` keeps
    the outer one's lock."""
    monkeypatch.setattr(dl, "LOCK_WAIT_S", 30)
    lock = tmp_path / ".SHA256SUMS.lock"
    seen = {}

    def nested():
        with dl.locked(lock):
            with dl.locked(lock):
                seen["inner"] = True
            seen["still held"] = held_elsewhere(lock)
        seen["released"] = not held_elsewhere(lock)

    thread = threading.Thread(target=nested, daemon=True)
    thread.start()
    thread.join(25)
    assert not thread.is_alive(), "taking the lock a second time waited on the first"
    assert seen == {"inner": True, "still held": True, "released": True}


def test_lock_file_of_another_user(tmp_path, monkeypatch):
    """A lock file another user made (mode 0644: not writable here, though its folder is) is opened
    read-only and still locks, rather than calling the writable folder read-only."""
    lock = tmp_path / ".SHA256SUMS.lock"
    lock.touch()
    real_open = os.open

    def no_write_access(path, flags, *args, **kwargs):
        if os.fspath(path) == str(lock) and flags & (os.O_RDWR | os.O_WRONLY):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", no_write_access)
    with dl.locked(lock):
        monkeypatch.setattr(os, "open", real_open)
        assert held_elsewhere(lock)


def test_certificate_failure_says_how_to_fix_it(tmp_path, monkeypatch):
    """An HTTPS certificate that cannot be verified (python.org's Python on macOS without its
    certificates, a company proxy) is not reported as "no network"."""
    monkeypatch.delenv("WORKBOOK_OFFLINE", raising=False)
    monkeypatch.delenv("WORKBOOK_DOWNLOAD_BASE", raising=False)
    monkeypatch.setenv("WORKBOOK_CACHE", str(tmp_path / "cache"))

    def bad_certificate(*args, **kwargs):
        raise urllib.error.URLError(
            ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
        )

    monkeypatch.setattr(urllib.request, "urlopen", bad_certificate)
    with pytest.raises(dl.DownloadError) as info:
        dl.download("https://example.org/x.bin", tmp_path / "x.bin", md5="0" * 32)
    message = str(info.value)
    assert "certificate could not be verified" in message and "no network" not in message
    assert "Install Certificates.command" in message and "SSL_CERT_FILE" in message


def test_folder_at_the_destination_is_named(tmp_path, monkeypatch):
    """A folder where the downloaded file goes is named, with the fix; not called a network error."""
    monkeypatch.delenv("WORKBOOK_OFFLINE", raising=False)
    monkeypatch.delenv("WORKBOOK_DOWNLOAD_BASE", raising=False)
    src = tmp_path / "src.bin"
    src.write_bytes(b"x")
    dest = tmp_path / "raw" / "src.bin"
    dest.mkdir(parents=True)
    with pytest.raises(dl.CorruptDataError, match=f"{dest} is a folder.*move that folder out of the way"):
        dl.download(src.as_uri(), dest, md5=md5(src))
    assert dest.is_dir() and list(dest.parent.iterdir()) == [dest]
    # a folder made while the file was written: the same error
    other = tmp_path / "other.bin"
    with pytest.raises(dl.CorruptDataError, match=f"{other} is a folder"):
        with dl.atomic_path(other) as tmp:
            tmp.write_bytes(b"x")
            other.mkdir()
    # a file:// source that is a folder: named as such
    with pytest.raises(dl.DownloadError, match=f"{tmp_path / 'raw'} is a folder, not the file"):
        dl.download((tmp_path / "raw").as_uri(), tmp_path / "y.bin", md5="0" * 32)
