"""Run notebooks with the exercises' solutions pasted in, as a student who solved them all would.

    python -m helpers.tools.solutions --mode quick 04_convolution_by_hand.ipynb
    python -m helpers.tools.solutions --mode full --out /tmp/solved 07_transfer_learning.ipynb

An exercise's stub is a code cell that defines a function and raises ``NotImplementedError``; its
solution is the ```` ```python ```` block, defining the same function, of the next markdown cell
with a ``<summary><b>Solution</b>`` or ``Solutions`` (it follows the checker's cell).
:func:`paste_solutions` puts each solution in its stub's place. The notebook then runs as usual
(:func:`helpers.tools.report.run_notebook`, started in the notebooks' folder). It passes when it
ran to the end, every exercise's checker printed ``[PASS] <name>`` and none ``[FAIL]``, and every
``exercises.use_or_reference`` said that the lesson runs on the student's function (``The lesson
uses your …``), not on the workbook's reference. Nothing goes to the results files: their rows
are the notebooks as students get them, stubs in place.
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import re
import sys
import tempfile
from pathlib import Path

from helpers.tools.report import NOTEBOOKS, TIMEOUT_HELP, notebook_path, run_notebook

STUB = re.compile(r"^def (\w+)\(", re.M)
SOLUTION = re.compile(r"<summary><b>Solutions?</b>.*?```python\n(.*?)```", re.S)
USES = re.compile(r"use_or_reference\((\w+)")


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def paste_solutions(nb: dict) -> tuple[dict, list[str]]:
    """A copy of ``nb`` (notebook JSON) with every stub replaced by its solution; and the exercises' names.

    Raises ValueError naming the stub when its solution block is missing or defines another function.
    """
    nb = copy.deepcopy(nb)
    cells = nb["cells"]
    names, stubs = [], []
    for i, cell in enumerate(cells):
        src = _source(cell)
        if cell["cell_type"] != "code" or "raise NotImplementedError" not in src or not STUB.search(src):
            continue
        name = STUB.search(src).group(1)
        solution = None
        for later in cells[i + 1 :]:
            found = SOLUTION.search(_source(later)) if later["cell_type"] == "markdown" else None
            if found:
                solution = found.group(1)
                break
        if solution is None or name not in STUB.findall(solution):
            raise ValueError(
                f"cell {i}: the stub of {name} has no solution block defining {name} after it "
                "(a markdown cell with <summary><b>Solution</b> or Solutions and a ```python block)"
            )
        names.append(name)
        stubs.append((cell, name, solution))
    for cell, name, solution in stubs:  # a block solving several stubs: each gets its own function
        cell["source"] = _without(solution, {other for _, other, _ in stubs if other != name})
    return nb, names


def _without(code: str, names: set[str]) -> str:
    """``code`` less its top-level definitions of the functions ``names`` (other stubs' solutions)."""
    lines = code.splitlines()
    drop = set()
    for node in ast.parse(code).body:
        if isinstance(node, ast.FunctionDef) and node.name in names:
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            drop.update(range(first - 1, node.end_lineno))
    kept = "\n".join(line for i, line in enumerate(lines) if i not in drop)
    return re.sub(r"\n{3,}", "\n\n", kept).strip("\n")


def problems(printed: str, names: list[str], used: list[str]) -> list[str]:
    """What the run of a solved notebook got wrong, read from what it printed (empty when nothing)."""
    found = []
    if "[FAIL]" in printed:
        line = next(line for line in printed.splitlines() if "[FAIL]" in line)
        found.append(f"a checker failed: {line.strip()[:160]}")
    found += [f"no [PASS] for {name}" for name in names if f"[PASS] {name}" not in printed]
    for name in used:
        if f"The lesson uses your {name}" not in printed:
            found.append(f"the lesson did not run on the pasted {name}")
    return found


def run_solved(path: Path, mode: str, timeout: int | None = None, out_dir: Path | None = None) -> dict:
    """Run the notebook at ``path`` with its solutions pasted in; its row, with status ``ok`` or the reason.

    ``timeout``: seconds per cell (None: the mode's ``CELL_TIMEOUT_S``). The executed copy and its
    printed record go to ``out_dir`` (a temporary folder when None).
    """
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    solved, names = paste_solutions(nb)
    used = sorted(
        {m for cell in nb["cells"] for m in USES.findall(_source(cell)) if cell["cell_type"] == "code"}
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(out_dir) if out_dir is not None else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        copy_path = Path(tmp) / Path(path).name
        copy_path.write_text(json.dumps(solved, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        row = run_notebook(copy_path, mode, timeout, folder, cwd=Path(path).resolve().parent)
        printed = (folder / f"{Path(path).stem}.txt").read_text(encoding="utf-8")
    row["exercises"] = names
    row["lesson_runs_on"] = used
    if row["status"] == "ok":
        wrong = problems(printed, names, used)
        if wrong:
            row["status"] = "error: " + "; ".join(wrong)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m helpers.tools.solutions", description=__doc__.splitlines()[0]
    )
    parser.add_argument("notebooks", nargs="*", help="notebook names in notebooks/ or paths (default: all)")
    parser.add_argument("--mode", choices=("quick", "full"), default="quick")
    parser.add_argument("--out", type=Path, default=None, help="keep the executed notebooks and records here")
    parser.add_argument("--timeout", type=int, default=None, help=TIMEOUT_HELP)
    args = parser.parse_args(argv)
    paths = (
        [notebook_path(n) for n in args.notebooks] if args.notebooks else sorted(NOTEBOOKS.glob("*.ipynb"))
    )
    ok = True
    for path in paths:
        print(f"running {path.name} ({args.mode}, solutions pasted) …", file=sys.stderr, flush=True)
        try:
            row = run_solved(path, args.mode, args.timeout, args.out)
        except ValueError as exc:
            print(f"  {path.name}: {exc}", flush=True)
            ok = False
            continue
        ok = ok and row["status"] == "ok"
        print(
            f"{row['notebook']}\t{row['mode']}\t{row['seconds']:.0f} s\t{row['status']}\t"
            f"{len(row['exercises'])} solutions pasted; "
            f"the lesson ran on: {', '.join(row['lesson_runs_on']) or '-'}"
            f"\t{row['headline']}",
            flush=True,
        )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
