import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import download as dl

from .fixtures import md5

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
