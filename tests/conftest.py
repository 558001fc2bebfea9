"""Test configuration shared by the unit tests and the notebook runs (nbval).

- Quick mode is the default under pytest: the notebook kernels inherit ``WORKBOOK_MODE=quick``
  unless the caller set a mode.
- Each notebook gets a wall-clock budget for all its cells together: ``workbook.timeout_s`` in
  the notebook's metadata (default 300 s). A notebook past its budget fails its next cell.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from . import fixtures

os.environ.setdefault("WORKBOOK_MODE", "quick")
# Progress bars: fewer widget updates in headless runs; the bars still run.
os.environ.setdefault("TQDM_MININTERVAL", "2")

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_NOTEBOOK_BUDGET_S = 300
_started: dict[Path, float] = {}


def notebook_budget(path: Path) -> float:
    """The quick-mode time budget of a notebook, in seconds, from its metadata."""
    meta = json.loads(Path(path).read_text(encoding="utf-8")).get("metadata", {})
    return float(meta.get("workbook", {}).get("timeout_s", DEFAULT_NOTEBOOK_BUDGET_S))


def pytest_runtest_setup(item: pytest.Item) -> None:
    path = Path(str(getattr(item, "path", item.fspath)))
    if path.suffix != ".ipynb":
        return
    start = _started.setdefault(path, time.monotonic())
    elapsed = time.monotonic() - start
    budget = notebook_budget(path)
    if elapsed > budget:
        pytest.fail(
            f"{path.name} ran {elapsed:.0f} s, over its {budget:.0f} s budget "
            "(metadata workbook.timeout_s): make its quick mode smaller."
        )


@pytest.fixture
def mirror() -> Path:
    """The offline data mirror (``WORKBOOK_DATA``); tests that read real data need it."""
    value = os.environ.get("WORKBOOK_DATA")
    if not value or not Path(value).is_dir():
        pytest.skip("real-data test: set WORKBOOK_DATA to your mirror folder")
    return Path(value)


@pytest.fixture
def no_mirror(tmp_path, monkeypatch) -> Path:
    """No mirror, an empty cache (``tmp_path / "cache"``), downloads on, and the loaders' size checks
    set for the tiny fixture files; returns ``tmp_path``."""
    monkeypatch.delenv("WORKBOOK_DATA", raising=False)
    monkeypatch.delenv("WORKBOOK_OFFLINE", raising=False)
    monkeypatch.delenv("WORKBOOK_DOWNLOAD_BASE", raising=False)
    monkeypatch.setenv("WORKBOOK_CACHE", str(tmp_path / "cache"))
    fixtures.allow_fixture_sizes(monkeypatch)
    return tmp_path


@pytest.fixture
def server(tmp_path):
    """A static file server for ``tmp_path / 'www'``: (that folder, its URL); stopped after the test."""
    root = tmp_path / "www"
    root.mkdir()
    with fixtures.serve(root) as url:
        yield root, url


@pytest.fixture
def online(no_mirror, monkeypatch, server) -> Path:
    """``no_mirror``, with every download fetched over HTTP from the local ``server``; returns the
    folder it serves (put the files to download there, under their download names)."""
    root, url = server
    monkeypatch.setenv("WORKBOOK_DOWNLOAD_BASE", url)
    return root


@pytest.fixture(params=["file", "http"])
def remote(request, no_mirror, monkeypatch) -> Path:
    """Like ``online``, once with the folder read over ``file://`` and once served over HTTP: the
    loader tests run both ways. Returns the folder; the cache is ``tmp_path / "cache"``."""
    if request.param == "http":
        return request.getfixturevalue("online")
    root = no_mirror / "www"
    root.mkdir()
    monkeypatch.setenv("WORKBOOK_DOWNLOAD_BASE", root.as_uri() + "/")
    return root
