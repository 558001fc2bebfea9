"""Where data lives, and checksummed, atomic downloads.

Resolution order used by :mod:`helpers.data` for every file:

1. your offline **mirror** folder named by ``WORKBOOK_DATA``;
2. the **cache** folder (``WORKBOOK_CACHE``, default ``data/`` in the repository);
3. a **download** from the canonical source, checksum-verified, written atomically to the cache.
   ``WORKBOOK_OFFLINE=1`` forbids downloads: then a missing file is a clear error.
   ``WORKBOOK_DOWNLOAD_BASE=http://host:port/path/`` fetches every file from that server instead (a
   classroom server of a cache folder, or of a flat folder of the original downloads; see
   :func:`source_urls`); checksums are unchanged.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import tempfile
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from tqdm.auto import tqdm

MIRROR_VAR = "WORKBOOK_DATA"
CACHE_VAR = "WORKBOOK_CACHE"
OFFLINE_VAR = "WORKBOOK_OFFLINE"
BASE_URL_VAR = "WORKBOOK_DOWNLOAD_BASE"

_REPO_DATA = Path(__file__).resolve().parent.parent / "data"
SUMS_FILE = "SHA256SUMS"  # ``sha256sum -c`` format: "<hex>  <relative path>" per line
CONNECT_TIMEOUT_S = 10.0  # no answer to the connection within this: give up on that URL
READ_TIMEOUT_S = 30.0  # no new byte for this long: give up on that URL
STALE_PART_S = 600  # a .part file untouched this long was left by an interrupted download
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")


class DataNotFoundError(FileNotFoundError):
    """A dataset is neither in the mirror nor in the cache, and could not be downloaded."""


class ChecksumError(RuntimeError):
    """A downloaded file's checksum does not match the published one."""


class CorruptDataError(RuntimeError):
    """A file in the mirror or cache is damaged, or is not the dataset it is named after."""


class DownloadError(DataNotFoundError):
    """Every URL of a file failed to download (no network, a timeout, a broken connection)."""


class CacheNotWritableError(OSError):
    """The cache folder cannot be written to."""


class MissingChecksumsWarning(UserWarning):
    """A mirror folder without a SHA256SUMS file: its files are loaded unverified."""


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
        relative = (
            ""
            if path.is_absolute()
            else (
                f" A relative path is read from the working directory {Path.cwd()} (a notebook's is "
                "its own folder): give an absolute path."
            )
        )
        raise DataNotFoundError(
            f"{MIRROR_VAR}={value!r} is not a folder: looked for {path.resolve()}.{relative} Point it "
            "at your mirror folder (the one holding mnist.npz, cifar10.npz, ...), or unset it to use "
            "the cache and downloads."
        )
    return path.resolve()


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
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise not_writable(path, exc) from exc
    return path


def not_writable(path: Path, exc: BaseException | None = None) -> CacheNotWritableError:
    """The error for a folder that cannot be created or written (the cache, usually)."""
    why = f" ({type(exc).__name__}: {exc})" if exc else ""
    return CacheNotWritableError(
        f"the cache folder {Path(path).resolve()} is not writable{why}: set {CACHE_VAR} to a "
        "writable folder (e.g. a folder in your home directory)."
    )


def offline() -> bool:
    """True when ``WORKBOOK_OFFLINE`` is 1/true/yes/on: never touch the network.

    Raises:
        ValueError: any other value than those or 0/false/no/off/empty, naming the allowed ones.
    """
    value = os.environ.get(OFFLINE_VAR, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(
        f"{OFFLINE_VAR}={value!r}: use 1, true, yes or on to forbid downloads; "
        "0, false, no, off or unset to allow them."
    )


def source_urls(urls: Sequence[str], served_as: str | None = None) -> list[str]:
    """The URLs to try for a file: ``urls`` as given; or, when ``WORKBOOK_DOWNLOAD_BASE`` is set, that
    base followed by ``served_as``, the file's path in the cache folder (e.g.
    ``http://10.0.0.5:8000/raw/notmnist/t10k-images-idx3-ubyte.gz``: a server of a cache folder), then
    by each URL's file name (``http://10.0.0.5:8000/cifar-10-python.tar.gz``: a flat folder of downloads)."""
    base = os.environ.get(BASE_URL_VAR, "").strip()
    if not base:
        return list(urls)
    base = base if base.endswith("/") else base + "/"
    names = ([served_as.lstrip("/")] if served_as else []) + [
        url.rstrip("/").rsplit("/", 1)[-1] for url in urls
    ]
    return list(dict.fromkeys(base + name for name in names))


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
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    except OSError as exc:
        raise not_writable(dest.parent, exc) from exc
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def sweep_stale_parts(dest: Path, older_than_s: float = STALE_PART_S) -> None:
    """Delete ``.<name>.*.part`` files beside ``dest`` left by an interrupted download (killed, e.g.
    by SIGTERM, before it could clean up). Recent ones may belong to a download still running."""
    now = time.time()
    for part in Path(dest).parent.glob(f".{Path(dest).name}.*.part"):
        with contextlib.suppress(OSError):
            if now - part.stat().st_mtime > older_than_s:
                part.unlink()


def download(
    urls: str | Sequence[str],
    dest: Path,
    *,
    md5: str | None = None,
    sha256: str | None = None,
    validate: Callable[[Path], None] | None = None,
    what: str = "",
) -> Path:
    """Download the first URL of ``urls`` that works to ``dest``, verifying its checksum.

    Args:
        urls: one URL or several mirrors of the same file, tried in order: a network failure or a
            wrong checksum moves on to the next.
        dest: final path; the file appears there only complete and verified.
        md5, sha256: the published checksum (give at least one). ``sha256`` may be a prefix of at
            least 8 hex digits, as torchvision publishes in its weight file names.
        validate: for a file with no published checksum only: ``validate(path)`` raises
            :class:`CorruptDataError` when the file is not what it should be.
        what: a name for messages, e.g. ``"MNIST"``.

    Returns:
        ``dest``. If it already exists and verifies, nothing is downloaded.

    Raises:
        DataNotFoundError: downloads are switched off (``WORKBOOK_OFFLINE``).
        DownloadError: every URL failed (no network, a timeout, a broken connection).
        ChecksumError: the file arrived but its checksum is wrong at every URL (nothing is kept).
    """
    if md5 is None and sha256 is None and validate is None:
        raise ValueError("download() needs md5= or sha256= (or validate=) to verify the file")
    dest = Path(dest)
    served_as = None  # the file's path in the cache folder, where a classroom server of a cache has it
    with contextlib.suppress(ValueError, OSError):
        served_as = dest.resolve().relative_to(cache_dir().resolve()).as_posix()
    urls = source_urls([urls] if isinstance(urls, str) else urls, served_as)
    algorithm, expected = ("sha256", sha256.lower()) if sha256 else ("md5", (md5 or "").lower())
    if validate is None and len(expected) < 8:
        raise ValueError(f"a checksum needs at least 8 hex digits, got {expected!r}")

    def matches(path: Path) -> bool:
        if validate is None:
            return file_hash(path, algorithm).startswith(expected)
        try:
            validate(path)
            return True
        except CorruptDataError:
            return False

    name = what or dest.name
    if dest.exists() and matches(dest):
        return dest
    if offline():
        raise DataNotFoundError(
            f"{name}: downloads are off ({OFFLINE_VAR}=1) and {dest} is missing. "
            f"Set {MIRROR_VAR} to your mirror folder, or unset {OFFLINE_VAR} to "
            f"download it from {urls[0]}."
        )
    sweep_stale_parts(dest)
    failures: list[str] = []
    bad_checksum: list[str] = []
    for url in urls:
        try:
            with atomic_path(dest) as tmp:
                fetch(url, tmp, desc=name)
                if validate is not None:
                    try:
                        validate(tmp)
                    except CorruptDataError as exc:
                        raise ChecksumError(f"{url}: {exc}") from exc
                elif not matches(tmp):
                    raise ChecksumError(
                        f"{url}: {algorithm} is {file_hash(tmp, algorithm)}, expected {expected}"
                    )
            return dest
        except ChecksumError as exc:
            bad_checksum.append(str(exc))
        except CacheNotWritableError:
            raise
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
            failures.append(f"{url}: {type(exc).__name__}: {exc}")
    if bad_checksum:
        raise ChecksumError(
            f"{name}: the downloaded file failed verification ("
            + "; ".join(bad_checksum)
            + "). The download was corrupted or the file changed upstream; nothing was kept. "
            "Run again, or fetch the file by hand."
            + (f" Other URLs failed: {'; '.join(failures)}" if failures else "")
        )
    raise DownloadError(
        f"Could not download {name} (no network?). Tried:\n  "
        + "\n  ".join(failures)
        + f"\nOffline, set {MIRROR_VAR} to your mirror folder (and {OFFLINE_VAR}=1); see data/README.md."
    )


def fetch(url: str, dest: Path, desc: str) -> None:
    """Stream ``url`` into ``dest`` with a byte-level progress bar (no checksum: use :func:`download`).

    Gives up after ``CONNECT_TIMEOUT_S`` without a connection or ``READ_TIMEOUT_S`` without a byte.
    """
    request = urllib.request.Request(url, headers={"User-Agent": "dl-workbook"})
    with urllib.request.urlopen(request, timeout=CONNECT_TIMEOUT_S) as response, open(dest, "wb") as out:
        sock = getattr(getattr(getattr(response, "fp", None), "raw", None), "_sock", None)
        if sock is not None:  # HTTP(S): from now on, the timeout is per read
            sock.settimeout(READ_TIMEOUT_S)
        total = int(response.headers.get("Content-Length") or 0) or None
        read = getattr(response, "read1", response.read)
        with tqdm(
            total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=f"Downloading {desc}", miniters=1
        ) as bar:
            for chunk in iter(lambda: read(1 << 16), b""):
                out.write(chunk)
                bar.update(len(chunk))
            if total is not None and bar.n != total:
                raise http.client.IncompleteRead(b"", total - bar.n)


# --------------------------------------------------------------------------------------------
# Verification: SHA256SUMS files, checked once per file version


def read_sums(folder: Path) -> dict[str, str] | None:
    """``{relative path: sha256}`` from ``folder/SHA256SUMS`` (``sha256sum`` format), or None if absent."""
    path = Path(folder) / SUMS_FILE
    if not path.exists():
        return None
    sums = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            digest, _, name = line.strip().partition(" ")
            sums[name.strip().lstrip("*")] = digest.lower()
    return sums


def record_hash(folder: Path, relative: str, digest: str) -> None:
    """Add or replace ``relative``'s line in ``folder/SHA256SUMS`` (written atomically)."""
    sums = read_sums(folder) or {}
    sums[relative] = digest
    with atomic_path(Path(folder) / SUMS_FILE) as tmp:
        tmp.write_text("".join(f"{d}  {n}\n" for n, d in sorted(sums.items())), encoding="utf-8")


def _stamps_path() -> Path:
    return cache_dir() / ".verified.json"


def _stamp_key(path: Path) -> tuple[str, list[int]]:
    st = path.stat()
    return str(path.resolve()), [st.st_size, st.st_mtime_ns]


def verified_hash(path: Path) -> str:
    """SHA-256 of ``path``, from a stamp in the cache when the file's size and mtime are unchanged
    since it was last hashed (so a large file is read in full once per version)."""
    key, version = _stamp_key(path)
    stamps: dict = {}
    with contextlib.suppress(OSError, ValueError, CacheNotWritableError):
        stamps = json.loads(_stamps_path().read_text(encoding="utf-8"))
    entry = stamps.get(key)
    if entry and entry[:2] == version:
        return entry[2]
    digest = file_hash(path)
    stamps[key] = [*version, digest]
    with contextlib.suppress(OSError, CacheNotWritableError):  # a read-only cache: hash every time
        with atomic_path(_stamps_path()) as tmp:
            tmp.write_text(json.dumps(stamps), encoding="utf-8")
    return digest


_warned: set[str] = set()


def verify(folder: Path, relative: str, *, in_cache: bool) -> Path:
    """Check ``folder/relative`` against ``folder/SHA256SUMS``; return the path.

    A mirror folder without SHA256SUMS (or a file it does not list) loads with one warning.

    Raises:
        CorruptDataError: the hash differs, with the fix (delete a cache file; re-copy a mirror file).
    """
    path = Path(folder) / relative
    sums = read_sums(folder)
    expected = None if sums is None else sums.get(relative)
    if expected is None:
        if not in_cache and str(path) not in _warned:
            _warned.add(str(path))
            missing = "has no SHA256SUMS file" if sums is None else f"SHA256SUMS does not list {relative}"
            warnings.warn(
                f"your mirror folder {folder} {missing}: {relative} is loaded without "
                "checking its hash. Build mirrors with `python -m helpers.tools.mirror DIR`.",
                MissingChecksumsWarning,
                stacklevel=3,
            )
        return path
    got = verified_hash(path)
    if got != expected:
        fix = (
            "delete it and run again: it is downloaded and rebuilt"
            if in_cache
            else "copy it again from the original mirror folder"
        )
        raise CorruptDataError(
            f"{path}: its SHA-256 is {got}, but {Path(folder) / SUMS_FILE} says {expected}. The file "
            f"is damaged or is not the file it is named after: {fix}."
        )
    return path
