"""A real browser: JupyterLab on localhost, a notebook with widgets opened in headless Chromium, all
cells run; no cell may error and the ipywidgets must render.

Runs where Debian's ``chromium`` and ``chromium-driver`` are installed (``.ci/run`` installs them in CI).
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = "04_convolution_by_hand.ipynb"  # kernel/padding/stride explorer: dropdown + two sliders
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not (CHROMIUM and DRIVER),
        reason="needs Debian's chromium and chromium-driver: apt-get install chromium chromium-driver",
    ),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(condition, timeout: float, what: str, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture
def jupyterlab(tmp_path):
    """JupyterLab serving a copy of the notebook (the original file is never touched)."""
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(ROOT / "notebooks" / NOTEBOOK, work / NOTEBOOK)
    port, token = _free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt"),
        "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "ws"),
    }
    log = open(tmp_path / "jupyter.log", "w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            f"--ServerApp.token={token}",
            f"--ServerApp.root_dir={work}",
            "--LabApp.expose_app_in_browser=True",
            "--LabApp.news_url=",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ]
        + (["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )

    def up():
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2):
                return True
        except OSError:
            return server.poll() is not None  # stop waiting if the server died

    try:
        _wait(up, 90, "JupyterLab to start")
        assert server.poll() is None, (tmp_path / "jupyter.log").read_text()[-3000:]
        yield f"http://127.0.0.1:{port}/lab/tree/{NOTEBOOK}?token={token}", tmp_path
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


KERNEL_READY = """
const app = window.jupyterapp;
const panel = app && app.shell.currentWidget;
const ctx = panel && panel.sessionContext;
return !!(ctx && ctx.session && ctx.session.kernel && ctx.session.kernel.status === 'idle' && panel.content);
"""
RUN_ALL = "window.jupyterapp.commands.execute('notebook:run-all-cells'); return true;"
PROGRESS = """
const panel = window.jupyterapp.shell.currentWidget;
const cells = panel.content.widgets.filter(c => c.model.type === 'code');
const done = cells.filter(c => c.model.executionCount !== null).length;
const errors = [];
for (const c of cells) {
  for (const o of c.model.outputs.toJSON()) {
    if (o.output_type === 'error') errors.push(o.ename + ': ' + o.evalue);
  }
}
return {total: cells.length, done: done, errors: errors, status: panel.sessionContext.session.kernel.status};
"""


def test_widget_notebook_runs_in_jupyterlab(jupyterlab):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    url, tmp = jupyterlab
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,1000",
        f"--user-data-dir={tmp / 'chrome'}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    try:
        driver.get(url)
        _wait(lambda: driver.execute_script(KERNEL_READY), 120, "the notebook's kernel")
        driver.execute_script(RUN_ALL)
        state = _wait(
            lambda: (lambda s: s if s["done"] == s["total"] and s["status"] == "idle" else None)(
                driver.execute_script(PROGRESS)
            ),
            420,
            "all cells to run",
            interval=2,
        )
        driver.save_screenshot(str(tmp / "jupyterlab.png"))
        assert state["total"] > 10
        assert not state["errors"], state["errors"]
        widgets = driver.execute_script(
            "return [document.querySelectorAll('.jp-OutputArea .widget-slider').length,"
            " document.querySelectorAll('.jp-OutputArea .widget-dropdown').length]"
        )
        assert widgets[0] >= 2 and widgets[1] >= 1, f"ipywidgets did not render: {widgets}"
        assert (tmp / "jupyterlab.png").stat().st_size > 10_000
    finally:
        driver.quit()
