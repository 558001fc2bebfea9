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
import errno
import hashlib
import http.client
import json
import os
import socket
import ssl
import tempfile
import threading
import time
import urllib.error
import urllib.parse
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
# A server that trickles (a byte now and then, each within READ_TIMEOUT_S) must not hold a download
# forever: after SLOW_GRACE_S, a download that has averaged under MIN_BYTES_PER_S since it started is
# given up on, and the next URL is tried. Its deadline is SLOW_GRACE_S + bytes received / MIN_BYTES_PER_S.
MIN_BYTES_PER_S = 10_000.0  # 10 kB/s: CIFAR-10's 170 MB would still finish, in under 5 hours
SLOW_GRACE_S = 60.0
STALE_PART_S = 600  # a .part file untouched this long was left by an interrupted download
# :func:`locked` waits at most this long for another process's lock (one that hangs, or a file system
# whose locks never come), then goes on unlocked, with a LockWarning.
LOCK_WAIT_S = 30.0
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


class DiskFullError(CacheNotWritableError):
    """A file could not be written: its disk (or the user's quota) is full, or the file is too large
    for its file system."""


class TooSlowError(TimeoutError):
    """A download fell under the minimum average throughput (``MIN_BYTES_PER_S``)."""


class MissingChecksumsWarning(UserWarning):
    """A mirror folder without a SHA256SUMS file: its files are loaded unverified."""


class LockWarning(UserWarning):
    """A lock file could not be taken (held too long by another process, or not openable): the work
    it guards goes on unlocked."""


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


_NO_ROOM = {
    errno.ENOSPC: "no space is left on its disk",
    errno.EFBIG: "it is too large for its file system (FAT32, for one, holds at most 4 GiB per file)",
}
if hasattr(errno, "EDQUOT"):  # not on Windows
    _NO_ROOM[errno.EDQUOT] = "your disk quota is used up"


def no_room(path: Path, exc: OSError) -> DiskFullError:
    """The error for a write that failed for lack of room (``exc.errno`` in ENOSPC, EDQUOT, EFBIG)."""
    path = Path(path)
    in_cache = False
    with contextlib.suppress(ValueError, OSError):
        path.resolve().relative_to(cache_dir().resolve())
        in_cache = True
    if exc.errno == errno.EFBIG:
        where = (
            f"set {CACHE_VAR} to a folder on a disk whose file system holds larger files"
            if in_cache
            else "write it to a disk whose file system holds larger files"
        )
    else:
        where = (
            f"free some space there, or set {CACHE_VAR} to a folder on another disk with room"
            if in_cache
            else "free some space there, or write it to another disk"
        )
    error = DiskFullError(
        f"could not write {path}: {_NO_ROOM.get(exc.errno, exc.strerror or str(exc))} "
        f"({type(exc).__name__}: {exc.strerror or exc}). Fix: {where}, and run again."
    )
    error.errno = exc.errno
    return error


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


def download_base() -> str | None:
    """``WORKBOOK_DOWNLOAD_BASE`` (ending in ``/``), or None when unset.

    Raises:
        ValueError: it is not an ``http://``, ``https://`` or ``file://`` URL (``10.0.0.5:8000/``, say),
            naming the variable and the form it needs.
    """
    base = os.environ.get(BASE_URL_VAR, "").strip()
    if not base:
        return None
    parts = urllib.parse.urlsplit(base)
    if parts.scheme.lower() not in ("http", "https", "file") or (
        parts.scheme.lower() != "file" and not parts.netloc
    ):
        raise ValueError(
            f"{BASE_URL_VAR}={base!r} is not a server's URL: it must start with http:// or https:// "
            f"(e.g. {BASE_URL_VAR}=http://10.0.0.5:8000/), or file:// for a folder. Fix the variable, "
            "or unset it to download from the original sources."
        )
    return base if base.endswith("/") else base + "/"


def source_urls(urls: Sequence[str], served_as: str | None = None) -> list[str]:
    """The URLs to try for a file: ``urls`` as given; or, when ``WORKBOOK_DOWNLOAD_BASE`` is set, that
    base followed by ``served_as``, the file's path in the cache folder (e.g.
    ``http://10.0.0.5:8000/raw/notmnist/t10k-images-idx3-ubyte.gz``: a server of a cache folder), then
    by each URL's file name (``http://10.0.0.5:8000/cifar-10-python.tar.gz``: a flat folder of downloads).

    Raises:
        ValueError: ``WORKBOOK_DOWNLOAD_BASE`` is malformed (see :func:`download_base`).
    """
    base = download_base()
    if base is None:
        return list(urls)
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


def folder_in_the_way(path: Path) -> CorruptDataError:
    """The error for a folder where a file is to be written (a download or a converted file)."""
    return CorruptDataError(
        f"{path} is a folder, so the file cannot be saved there: move that folder out of the way "
        "(or delete it) and run again."
    )


@contextlib.contextmanager
def atomic_path(dest: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``dest``; on success rename it to ``dest``, else delete it.

    Nothing half-written is ever left at ``dest``.

    Raises:
        CacheNotWritableError: the folder cannot be created or written.
        DiskFullError: a write (in the ``with`` body or here) failed for lack of room: it names
            ``dest`` where the library's error named no file.
        CorruptDataError: ``dest`` is a folder.
    """
    dest = Path(dest)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    except OSError as exc:
        raise (no_room(dest, exc) if exc.errno in _NO_ROOM else not_writable(dest.parent, exc)) from exc
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, 0o644)
        try:
            os.replace(tmp, dest)
        except OSError as exc:
            if dest.is_dir():  # IsADirectoryError; PermissionError on Windows
                raise folder_in_the_way(dest) from exc
            raise
    except OSError as exc:
        if exc.errno in _NO_ROOM and not isinstance(exc, DiskFullError):
            raise no_room(dest, exc) from exc
        raise
    finally:
        tmp.unlink(missing_ok=True)


_held_locks = threading.local()  # .paths: the lock files this thread holds (see locked())


def _lock_busy(exc: OSError) -> bool:
    """True when a non-blocking lock attempt failed because another process holds the lock."""
    busy = {errno.EACCES, errno.EAGAIN, errno.EWOULDBLOCK}
    if os.name == "nt":  # pragma: no cover - Windows: msvcrt.locking reports EDEADLOCK or EACCES
        busy.add(getattr(errno, "EDEADLOCK", errno.EDEADLK))
    return isinstance(exc, BlockingIOError) or exc.errno in busy


def _try_lock(fd: int) -> None:
    """One non-blocking attempt at an exclusive lock on ``fd`` (an OSError when it is not taken)."""
    if os.name == "nt":  # pragma: no cover - Windows
        import msvcrt

        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    else:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on the file ``path`` (created if needed), across processes, for the
    ``with`` body: two processes updating one file (``SHA256SUMS``) then never lose each other's
    changes.

    The body runs unlocked (nothing worse than a lost line, caught later: an unlisted cache file is
    rebuilt) where the file system cannot lock (some network file systems), where the lock file
    exists but cannot be opened, or, with a :class:`LockWarning`, when another process has held the
    lock for ``LOCK_WAIT_S``. Taking a lock this thread already holds runs the body at once.

    Raises:
        CacheNotWritableError: the lock file cannot be created (a read-only folder).
    """
    path = Path(path)
    key = os.path.abspath(path)
    held: set[str] = getattr(_held_locks, "paths", None) or set()
    _held_locks.paths = held
    if key in held:  # re-entered: this thread has the lock already (a second one would wait on it)
        yield
        return
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)  # 0o666 less the umask: others may use it
    except PermissionError as exc:
        try:  # another user's lock file (mode 0644) in a writable folder: flock needs no write access
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            if not path.is_file():
                raise not_writable(path.parent, exc) from exc
            warnings.warn(
                f"could not open the lock file {path} ({type(exc).__name__}: {exc.strerror or exc}): "
                f"going on without it. Delete it, or give your user access to it (chmod a+rw '{path}').",
                LockWarning,
                stacklevel=3,
            )
            yield
            return
    except OSError as exc:
        raise not_writable(path.parent, exc) from exc
    try:
        deadline = time.monotonic() + LOCK_WAIT_S
        pause = 0.001
        while True:
            try:
                _try_lock(fd)
                break
            except OSError as exc:
                if not _lock_busy(exc):
                    break  # this file system cannot lock: go on unlocked
                if time.monotonic() >= deadline:
                    warnings.warn(
                        f"{path} has been locked by another process for {LOCK_WAIT_S:g} s: going on "
                        "without the lock. If no other notebook or script is writing to this folder, "
                        "delete the lock file.",
                        LockWarning,
                        stacklevel=3,
                    )
                    break
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
        held.add(key)
        try:
            yield
        finally:
            held.discard(key)
    finally:
        if os.name == "nt":  # pragma: no cover - Windows
            import msvcrt

            with contextlib.suppress(OSError):
                msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        os.close(fd)  # releases the lock


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
        DownloadError: every URL failed (no network, a timeout, an HTTP error, a broken connection,
            a download too slow to finish: see ``MIN_BYTES_PER_S``), saying which at each URL.
        ChecksumError: the file arrived but its checksum is wrong at every URL (nothing is kept).
        DiskFullError: the file does not fit on the disk (nothing is kept, no other URL is tried).
        CorruptDataError: ``dest`` is a folder (nothing is downloaded).
        ValueError: ``WORKBOOK_DOWNLOAD_BASE`` is not a URL.
    """
    if md5 is None and sha256 is None and validate is None:
        raise ValueError("download() needs md5= or sha256= (or validate=) to verify the file")
    dest = Path(dest)
    served_as = None  # the file's path in the cache folder, where a classroom server of a cache has it
    with contextlib.suppress(ValueError, OSError):
        served_as = dest.resolve().relative_to(cache_dir().resolve()).as_posix()
    given = [urls] if isinstance(urls, str) else list(urls)
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
    if dest.is_dir():
        raise folder_in_the_way(dest)
    if dest.is_file() and matches(dest):
        return dest
    if offline():
        state = "fails its check" if dest.exists() else "is missing"
        try:
            first = source_urls(given, served_as)[0]
        except ValueError:  # a malformed WORKBOOK_DOWNLOAD_BASE: said when downloads are on
            first = given[0]
        raise DataNotFoundError(
            f"{name}: downloads are off ({OFFLINE_VAR}=1) and {dest} {state}. "
            f"Set {MIRROR_VAR} to your mirror folder, or unset {OFFLINE_VAR} to "
            f"download it from {first}."
        )
    urls = source_urls(given, served_as)
    sweep_stale_parts(dest)
    failures: list[str] = []
    kinds: list[str] = []
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
        except CacheNotWritableError:  # DiskFullError too: another URL would not fit either
            raise
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
            failures.append(f"{url}: {type(exc).__name__}: {exc}")
            kinds.append(failure_kind(exc))
    if bad_checksum:
        raise ChecksumError(
            f"{name}: the downloaded file failed verification ("
            + "; ".join(bad_checksum)
            + "). The download was corrupted or the file changed upstream; nothing was kept. "
            "Run again, or fetch the file by hand."
            + (f" Other URLs failed: {'; '.join(failures)}" if failures else "")
        )
    base = download_base()
    server_hint = (
        f"\nThe server {base} ({BASE_URL_VAR}) lacks the file or failed: check it serves the cache "
        "folder of a machine that downloaded everything, or unset the variable."
        if base and any(kind.startswith("HTTP") for kind in kinds)
        else ""
    )
    raise DownloadError(
        f"Could not download {name}: {'; '.join(dict.fromkeys(kinds))}. Tried:\n  "
        + "\n  ".join(failures)
        + server_hint
        + f"\nOffline, set {MIRROR_VAR} to your mirror folder (and {OFFLINE_VAR}=1); see data/README.md."
    )


def failure_kind(exc: BaseException) -> str:
    """What went wrong with one URL, in words: an HTTP status, a timeout, no connection, ..."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason} from the server"
    if isinstance(exc, TooSlowError):
        return "the download was too slow"
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, ssl.SSLCertVerificationError):
        return (
            "the server's HTTPS certificate could not be verified (this Python finds no CA certificates "
            'it trusts). Python from python.org on macOS: run "Install Certificates.command" in its '
            "Applications/Python 3.x folder. Elsewhere: pip install certifi, then set SSL_CERT_FILE to "
            "the file `python -m certifi` prints; behind a company proxy that inspects HTTPS, set it to "
            "your company's CA certificate file instead"
        )
    if isinstance(reason, IsADirectoryError):
        where = f"{reason.filename} is" if reason.filename else "the URL names"
        return f"{where} a folder, not the file (fix the URL, or put the file there)"
    if isinstance(reason, TimeoutError):
        return "no answer in time (no network, or the server is down?)"
    if isinstance(reason, socket.gaierror):
        return "the server's name is unknown (no network?)"
    if isinstance(reason, ConnectionRefusedError):
        return "the connection was refused (no network, or no server there?)"
    if isinstance(reason, (http.client.HTTPException, ConnectionError)):
        return "the connection broke off"
    if isinstance(reason, FileNotFoundError) or (isinstance(reason, str) and "No such file" in reason):
        return "no such file"
    if isinstance(exc, ValueError):
        return "a malformed URL"
    return "a network error (no network?)"


def fetch(url: str, dest: Path, desc: str) -> None:
    """Stream ``url`` into ``dest`` with a byte-level progress bar (no checksum: use :func:`download`).

    Gives up after ``CONNECT_TIMEOUT_S`` without a connection, ``READ_TIMEOUT_S`` without a byte, or
    (:class:`TooSlowError`) when, after ``SLOW_GRACE_S``, it has averaged under ``MIN_BYTES_PER_S``
    since it started: its deadline is ``SLOW_GRACE_S + bytes received / MIN_BYTES_PER_S``.
    """
    start = time.monotonic()
    request = urllib.request.Request(url, headers={"User-Agent": "dl-workbook"})
    with urllib.request.urlopen(request, timeout=CONNECT_TIMEOUT_S) as response, open(dest, "wb") as out:
        sock = getattr(getattr(getattr(response, "fp", None), "raw", None), "_sock", None)
        total = int(response.headers.get("Content-Length") or 0) or None
        read = getattr(response, "read1", response.read)
        with tqdm(
            total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=f"Downloading {desc}", miniters=1
        ) as bar:
            received = 0  # not bar.n: a disabled bar (TQDM_DISABLE=1) never counts

            def too_slow() -> TooSlowError:
                return TooSlowError(
                    f"too slow: {received:,} bytes in {time.monotonic() - start:.0f} s, under the minimum "
                    f"average of {MIN_BYTES_PER_S:,.0f} bytes/s (after the first {SLOW_GRACE_S:g} s)"
                )

            while True:
                left = start + SLOW_GRACE_S + received / MIN_BYTES_PER_S - time.monotonic()
                if left <= 0:
                    raise too_slow()
                if sock is not None:  # HTTP(S): wait for the next byte until the deadline at most
                    sock.settimeout(min(READ_TIMEOUT_S, left))
                try:
                    chunk = read(1 << 16)
                except TimeoutError:
                    if READ_TIMEOUT_S > left:  # the deadline, not READ_TIMEOUT_S, ran out
                        raise too_slow() from None
                    raise
                if not chunk:
                    break
                out.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
            if total is not None and received != total:
                raise http.client.IncompleteRead(b"", total - received)


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
    """Add or replace ``relative``'s line in ``folder/SHA256SUMS`` (written atomically).

    Processes recording at the same time take turns (a lock on ``folder/.SHA256SUMS.lock``), so none
    loses another's lines.
    """
    with locked(Path(folder) / f".{SUMS_FILE}.lock"):
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
    # a read-only cache: hash every time
    with contextlib.suppress(OSError, ValueError, CacheNotWritableError):
        stamps_path = _stamps_path()
        with locked(stamps_path.with_name(f"{stamps_path.name}.lock")):  # keep others' stamps
            with contextlib.suppress(OSError, ValueError):
                stamps = json.loads(stamps_path.read_text(encoding="utf-8"))
            stamps[key] = [*version, digest]
            with atomic_path(stamps_path) as tmp:
                tmp.write_text(json.dumps(stamps), encoding="utf-8")
    return digest


_warned: set[str] = set()


def check_readable(path: Path, *, in_cache: bool, fix: Callable[[Path], str] | None = None) -> None:
    """Raise a clear error when ``path`` is a folder or cannot be read (``fix(path)``: what to do about
    a bad file there, as in :func:`verify`, for an error that is not about permissions).

    Raises:
        CorruptDataError: naming the file, what is wrong and the fix.
    """
    path = Path(path)
    if path.is_dir():
        instead = (
            "move that folder out of the way and run again (the cache makes the file anew)"
            if in_cache
            else "put the file there instead (copy it again from the original mirror folder)"
        )
        raise CorruptDataError(f"{path} is a folder, not a file: {instead}.")
    try:
        with open(path, "rb") as fh:
            fh.read(1)
    except OSError as exc:
        raise unreadable(path, exc, fix(path) if fix is not None else _default_fix(path, in_cache)) from exc


def unreadable(path: Path, exc: OSError, fix: str) -> CorruptDataError:
    """The error for a file that exists but could not be read (no permission, a disk error)."""
    why = f"{type(exc).__name__}: {exc.strerror or exc}"
    if isinstance(exc, PermissionError):
        return CorruptDataError(
            f"{path} cannot be read ({why}): give your user read access to it "
            f"(e.g. chmod a+r '{path}') and run again."
        )
    return CorruptDataError(f"{path} cannot be read ({why}): {fix}.")


def _default_fix(path: Path, in_cache: bool) -> str:
    return (
        "delete it and run again: it is downloaded and rebuilt"
        if in_cache
        else "copy it again from the original mirror folder"
    )


def verify(folder: Path, relative: str, *, in_cache: bool, fix: Callable[[Path], str] | None = None) -> Path:
    """Check ``folder/relative`` against ``folder/SHA256SUMS``; return the path.

    A mirror folder without SHA256SUMS (or a file it does not list) loads with one warning; a cache
    file that SHA256SUMS does not list loads as it is (:func:`helpers.data.resolve` rebuilds those
    before they get here).

    Args:
        fix: ``fix(path)`` says what to do about a damaged file (default: delete a cache file, copy a
            mirror file again).

    Raises:
        CorruptDataError: the file is a folder, cannot be read, or its hash differs; with the fix.
    """
    path = Path(folder) / relative
    check_readable(path, in_cache=in_cache, fix=fix)
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
    advice = fix or (lambda p: _default_fix(p, in_cache))
    try:
        got = verified_hash(path)
    except OSError as exc:
        raise unreadable(path, exc, advice(path)) from exc
    if got != expected:
        raise CorruptDataError(
            f"{path}: its SHA-256 is {got}, but {Path(folder) / SUMS_FILE} says {expected}. The file "
            f"is damaged or is not the file it is named after: {advice(path)}."
        )
    return path
