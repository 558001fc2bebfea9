"""Full mode, where it is affordable: every notebook whose metadata declares a full-mode budget
(``workbook.full_timeout_s``, seconds for the whole notebook on a 2-core CPU) runs here with
``WORKBOOK_MODE=full`` in a fresh kernel and must pass all its checks within that budget.

These tests carry the ``full`` marker: ``python -m pytest`` runs them, ``-m "not full"`` leaves
them out.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from helpers.tools import report

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def full_budget(path: Path) -> float | None:
    """A notebook's full-mode budget in seconds (metadata ``workbook.full_timeout_s``), or None."""
    meta = json.loads(path.read_text(encoding="utf-8")).get("metadata", {}).get("workbook", {})
    return float(meta["full_timeout_s"]) if "full_timeout_s" in meta else None


FULL = [p for p in NOTEBOOKS if full_budget(p) is not None]


def _errors(executed: Path) -> str:
    """The tracebacks in an executed notebook, as plain text."""
    if not executed.exists():
        return ""
    parts = []
    for i, cell in enumerate(nbformat.read(executed, as_version=4).cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                parts.append(f"cell {i}:\n" + ANSI.sub("", "\n".join(out.get("traceback", []))))
    return "\n".join(parts)


def test_full_budgets_are_sane():
    for path in FULL:
        budget = full_budget(path)
        assert 0 < budget <= 3600, f"{path.name}: workbook.full_timeout_s = {budget} is not in (0, 3600]"


@pytest.mark.full
@pytest.mark.parametrize("path", FULL, ids=lambda p: p.name)
def test_notebook_in_full_mode(path, tmp_path):
    budget = full_budget(path)
    row = report.run_notebook(path, "full", timeout=int(budget) + 1, out_dir=tmp_path, budget_s=budget)
    if row["status"] != "ok":
        pytest.fail(
            f"{path.name} failed in full mode after {row['seconds']:.0f} s (budget {budget:.0f} s): "
            f"{row['status']}\n{_errors(tmp_path / path.name)}",
            pytrace=False,
        )
    assert row["seconds"] <= budget, (
        f"{path.name} ran {row['seconds']:.0f} s in full mode, over its {budget:.0f} s budget "
        "(metadata workbook.full_timeout_s)"
    )
