"""A mirror folder for an offline classroom (``WORKBOOK_DATA``), built on a machine with internet:

    python -m helpers.tools.mirror DIR

downloads every dataset and weight file (through the cache), converts them into the mirror's plain
file formats and writes them into ``DIR`` with a ``SHA256SUMS``.
"""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Callable
from pathlib import Path

from helpers import data, mobilenet
from helpers.download import SUMS_FILE, atomic_path, file_hash


def build_mirror(folder: Path) -> list[str]:
    """Download every dataset and weight file and write them, converted, into ``folder`` with a
    ``SHA256SUMS``: a mirror folder for ``WORKBOOK_DATA``. Files already there are kept.

    Returns the files' relative paths. Downloads go through the cache (``WORKBOOK_CACHE``).
    """
    folder = Path(folder).expanduser().resolve()
    builds: dict[str, Callable[[Path], None]] = {
        "mnist.npz": data._build_mnist,
        "notmnist.npz": data._build_notmnist,
        "cifar10.npz": data._build_cifar10,
        "hymenoptera.npz": data._build_hymenoptera,
        "imdb.jsonl.gz": data._build_imdb,
    }

    def copy_of(find: Callable[[], Path]) -> Callable[[Path], None]:
        # the cache's file (downloaded there if missing, checked against the pinned hash), never another
        # mirror's, then copied: the cache keeps every original download, so a server of it can serve a class
        def build(dest: Path) -> None:
            with atomic_path(dest) as tmp:
                shutil.copyfile(find(), tmp)

        return build

    for name, (filename, _, url) in data.WEIGHTS.items():
        if url is not None:
            builds[f"weights/{filename}"] = copy_of(lambda name=name: data.weights_path(name, mirror=False))
    tv = mobilenet.TORCHVISION_URL.rsplit("/", 1)[1]
    builds[f"weights/{tv}"] = copy_of(lambda: mobilenet.torchvision_weights_path(mirror=False))
    for filename, build in builds.items():
        dest = folder / filename
        if not dest.exists():
            print(f"{filename} …", flush=True)
            build(dest)
    with atomic_path(folder / SUMS_FILE) as tmp:
        tmp.write_text("".join(f"{file_hash(folder / f)}  {f}\n" for f in sorted(builds)), encoding="utf-8")
    return sorted(builds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m helpers.tools.mirror",
        description="Build a mirror folder for offline use (WORKBOOK_DATA): "
        "download everything into DIR, converted, with a SHA256SUMS.",
    )
    parser.add_argument("dir", type=Path, metavar="DIR")
    args = parser.parse_args(argv)
    files = build_mirror(args.dir)
    print(
        f"{len(files)} files and SHA256SUMS in {args.dir.resolve()}: set WORKBOOK_DATA={args.dir.resolve()}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
