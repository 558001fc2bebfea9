"""Where data lives, and checksummed, atomic downloads.

Resolution order used by :mod:`helpers.data` for every file:

1. your offline **mirror** folder named by ``WORKBOOK_DATA``;
2. the **cache** folder (``WORKBOOK_CACHE``, default ``data/`` in the repository);
3. a **download** from the canonical source, checksum-verified, written atomically to the cache.
   ``WORKBOOK_OFFLINE=1`` forbids downloads: then a missing file is a clear error.
   ``WORKBOOK_DOWNLOAD_BASE=http://host:port/path/`` fetches every file by its canonical file name
   from that server instead (a classroom copy of the original downloads); checksums are unchanged.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

from tqdm.auto import tqdm

MIRROR_VAR = "WORKBOOK_DATA"
CACHE_VAR = "WORKBOOK_CACHE"
OFFLINE_VAR = "WORKBOOK_OFFLINE"
BASE_URL_VAR = "WORKBOOK_DOWNLOAD_BASE"

_REPO_DATA = Path(__file__).resolve().parent.parent / "data"


class DataNotFoundError(FileNotFoundError):
    """A dataset is neither in the mirror nor in the cache, and could not be downloaded."""


class ChecksumError(RuntimeError):
    """A downloaded file's checksum does not match the published one."""


class CorruptDataError(RuntimeError):
    """A file in the mirror or cache cannot be read (truncated or damaged)."""


def mirror_dir() -> Path | None:
    """The mirror folder from ``WORKBOOK_DATA``, or None when the variable is unset.

    Raises:
        DataNotFoundError: the variable names a folder that does not exist (a typo, usually).
    """
    value = os.environ.get(MIRROR_VAR, "").strip()
    if not value:
        return None
    path = Path(value).expanduser()
    if not path.is_dir():
        raise DataNotFoundError(
            f"{MIRROR_VAR}={value!r} is not a folder. Point it at the folder holding the mirror "
            "files (mnist.npz, cifar10.npz, ...), or unset it to use the cache and downloads."
        )
    return path


def cache_dir() -> Path:
    """The cache folder (created if needed): ``WORKBOOK_CACHE``, else the repository's ``data/``
    when it is writable, else ``~/.cache/dl-workbook``."""
    value = os.environ.get(CACHE_VAR, "").strip()
    if value:
        path = Path(value).expanduser()
    elif _REPO_DATA.is_dir() and os.access(_REPO_DATA, os.W_OK):
        path = _REPO_DATA
    else:
        path = Path.home() / ".cache" / "dl-workbook"
    path.mkdir(parents=True, exist_ok=True)
    return path


def offline() -> bool:
    """True when ``WORKBOOK_OFFLINE`` is set to 1/true/yes: never touch the network."""
    return os.environ.get(OFFLINE_VAR, "").strip().lower() in ("1", "true", "yes")


def source_urls(urls: Sequence[str]) -> list[str]:
    """The URLs to try for a file: ``urls`` as given, or, when ``WORKBOOK_DOWNLOAD_BASE`` is set,
    that base followed by each URL's file name (e.g. ``http://10.0.0.5:8000/cifar-10-python.tar.gz``)."""
    base = os.environ.get(BASE_URL_VAR, "").strip()
    if not base:
        return list(urls)
    base = base if base.endswith("/") else base + "/"
    return list(dict.fromkeys(base + url.rstrip("/").rsplit("/", 1)[-1] for url in urls))


def file_hash(path: Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file (``algorithm`` is ``"md5"`` or ``"sha256"``), read in 1 MiB chunks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@contextlib.contextmanager
def atomic_path(dest: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``dest``; on success rename it to ``dest``, else delete it.

    Nothing half-written is ever left at ``dest``.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def download(
    urls: str | Sequence[str],
    dest: Path,
    *,
    md5: str | None = None,
    sha256: str | None = None,
    what: str = "",
) -> Path:
    """Download the first URL of ``urls`` that works to ``dest``, verifying its checksum.

    Args:
        urls: one URL or several mirrors of the same file, tried in order.
        dest: final path; the file appears there only complete and verified.
        md5, sha256: the published checksum (give at least one). ``sha256`` may be a prefix of at
            least 8 hex digits, as torchvision publishes in its weight file names.
        what: a name for messages, e.g. ``"MNIST"``.

    Returns:
        ``dest``. If it already exists with the right checksum, nothing is downloaded.

    Raises:
        DataNotFoundError: downloads are switched off, or every URL failed (no network).
        ChecksumError: the file arrived but its checksum is wrong (nothing is kept).
    """
    if md5 is None and sha256 is None:
        raise ValueError("download() needs md5= or sha256= to verify the file")
    urls = source_urls([urls] if isinstance(urls, str) else urls)
    algorithm, expected = ("sha256", sha256.lower()) if sha256 else ("md5", md5.lower())
    if len(expected) < 8:
        raise ValueError(f"a checksum needs at least 8 hex digits, got {expected!r}")

    def matches(path: Path) -> bool:
        return file_hash(path, algorithm).startswith(expected)

    dest = Path(dest)
    if dest.exists() and matches(dest):
        return dest
    if offline():
        raise DataNotFoundError(
            f"{what or dest.name}: downloads are off ({OFFLINE_VAR}=1) and {dest} is missing. "
            f"Set {MIRROR_VAR} to a folder with the mirror files, or unset {OFFLINE_VAR} to "
            f"download it from {urls[0]}."
        )
    errors = []
    for url in urls:
        try:
            with atomic_path(dest) as tmp:
                fetch(url, tmp, desc=what or dest.name)
                if not matches(tmp):
                    got = file_hash(tmp, algorithm)
                    raise ChecksumError(
                        f"{what or dest.name}: {algorithm} of the file from {url} is {got}, "
                        f"expected {expected}. The download was corrupted or the file changed "
                        "upstream; nothing was kept. Run again, or fetch the file by hand."
                    )
            return dest
        except (urllib.error.URLError, OSError) as exc:
            errors.append(f"{url}: {exc}")
    raise DataNotFoundError(
        f"Could not download {what or dest.name} (no network?). Tried:\n  "
        + "\n  ".join(errors)
        + f"\nOffline, set {MIRROR_VAR} to a folder holding the mirror files (see data/README.md)."
    )


def fetch(url: str, dest: Path, desc: str) -> None:
    """Stream ``url`` into ``dest`` with a progress bar (no checksum: prefer :func:`download`)."""
    request = urllib.request.Request(url, headers={"User-Agent": "dl-workbook"})
    with urllib.request.urlopen(request, timeout=60) as response, open(dest, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc=f"Downloading {desc}") as bar:
            for chunk in iter(lambda: response.read(1 << 20), b""):
                out.write(chunk)
                bar.update(len(chunk))

