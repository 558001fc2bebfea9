"""Run every notebook and write a results table: notebook, mode, device, seconds, headline metric.

    python -m helpers.report                 # full mode, every notebook in notebooks/
    python -m helpers.report --mode quick 01_mnist_one_layer.ipynb
    python -m helpers.report --out reports   # also keep the executed notebooks there

Each notebook prints its device (``Using device: …``, from :func:`helpers.device.get_device`) and
one headline line via :func:`headline`; the runner reads both from the outputs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

HEADLINE = re.compile(r"^Headline: (?P<name>.+?) = (?P<value>.+)$", re.M)
DEVICE = re.compile(r"^Using device: (?P<device>.+)$", re.M)
ROOT = Path(__file__).resolve().parent.parent


def headline(name: str, value: float, percent: bool = True) -> None:
    """Print the notebook's headline metric in the form the report reads: ``Headline: name = value``."""
    print(f"Headline: {name} = {value:.2%}" if percent else f"Headline: {name} = {value:.4g}")


def summarize_outputs(nb: dict) -> dict[str, str]:
    """Device and headline from an executed notebook (as a dict of nbformat JSON)."""
    text = []
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                text.append("".join(out.get("text", "")))
    joined = "\n".join(text)
    dev = DEVICE.search(joined)
    heads = HEADLINE.findall(joined)
    return {"device": dev.group("device") if dev else "?",
            "headline": "; ".join(f"{n} = {v}" for n, v in heads) or "?"}


def kernel_env(mode: str) -> dict[str, str]:
    """This process's environment for a kernel in ``mode``; folder variables made absolute.

    Kernels start in ``notebooks/``, so ``WORKBOOK_DATA=../mirror`` given at the repository
    root would otherwise point somewhere else.
    """
    env = {**os.environ, "WORKBOOK_MODE": mode}
    for var in ("WORKBOOK_DATA", "WORKBOOK_CACHE"):
        if env.get(var, "").strip():
            env[var] = str(Path(env[var].strip()).expanduser().resolve())
    return env


def run_notebook(path: Path, mode: str, timeout: int = 3600, out_dir: Path | None = None) -> dict:
    """Execute one notebook in ``mode`` with a fresh kernel; return its row of the table."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    status = "ok"
    try:
        client.execute(env=kernel_env(mode))
    except CellExecutionError as exc:
        status = f"error: {str(exc).strip().splitlines()[-1][:120]}"
    seconds = time.perf_counter() - start
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, out_dir / path.name)
    return {"notebook": path.name, "mode": mode, "seconds": round(seconds, 1), "status": status,
            **summarize_outputs(json.loads(nbformat.writes(nb)))}


def table(rows: list[dict]) -> str:
    """A Markdown table of report rows."""
    lines = ["| notebook | mode | device | seconds | headline | status |", "|---|---|---|---|---|---|"]
    lines += [f"| `{r['notebook']}` | {r['mode']} | {r['device']} | {r['seconds']:.0f} | {r['headline']} | "
              f"{r['status']} |" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", help="notebook file names (default: all in notebooks/)")
    parser.add_argument("--mode", choices=("quick", "full"), default="full")
    parser.add_argument("--out", type=Path, default=None, help="folder for executed notebooks and results")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    args = parser.parse_args(argv)
    folder = ROOT / "notebooks"
    paths = [folder / n for n in args.notebooks] if args.notebooks else sorted(folder.glob("*.ipynb"))
    rows = []
    for path in paths:
        print(f"running {path.name} ({args.mode}) …", file=sys.stderr, flush=True)
        rows.append(run_notebook(path, args.mode, args.timeout, args.out))
        print(f"  {rows[-1]['seconds']:.0f} s, {rows[-1]['status']}, {rows[-1]['headline']}", file=sys.stderr)
    result = table(rows)
    print(result)
    if args.out is not None:
        (args.out / f"results-{args.mode}.md").write_text(result + "\n", encoding="utf-8")
        (args.out / f"results-{args.mode}.json").write_text(json.dumps(rows, indent=1), encoding="utf-8")
    return 0 if all(r["status"] == "ok" for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
