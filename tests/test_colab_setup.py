"""The setup cell's Colab path: clone the workbook from WORKBOOK_REPO, install it, import helpers from it.

It runs in a subprocess with a stand-in ``google.colab`` module and a throwaway virtual environment, so the
editable install it makes does not redirect ``helpers`` for the rest of the test run. The throwaway
environment sees this one's packages (torch and the rest) through a ``.pth`` line, so pip installs only the
workbook itself.
"""

from __future__ import annotations

import json
import shutil
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COLAB_TARGET = "/content/dl-workbook"  # where the setup cell clones the workbook in Colab


def _setup_cell() -> str:
    nb = json.loads((ROOT / "notebooks" / "00_setup.ipynb").read_text(encoding="utf-8"))
    return "".join(nb["cells"][1]["source"])


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="needs the workbook as a git repository to clone")
def test_the_setup_cell_installs_the_workbook_in_colab(tmp_path):
    cell = _setup_cell()
    assert COLAB_TARGET in cell, "the setup cell's Colab folder changed: update this test"
    target = tmp_path / "dl-workbook"
    env_dir = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True)
    python = env_dir / "bin" / "python"
    # the throwaway environment: pip from this one, and this one's packages (not its editable helpers)
    ours = [p for p in site.getsitepackages() + [sysconfig.get_paths()["purelib"]] if Path(p).is_dir()]
    theirs = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    (theirs / "workbook-test-parent.pth").write_text("\n".join(dict.fromkeys(ours)) + "\n", encoding="utf-8")

    stand_in = (
        "import sys, types\n"
        "sys.modules['google.colab'] = types.ModuleType('google.colab')  # what Colab's kernel has loaded\n"
        f"exec(compile({cell.replace(COLAB_TARGET, str(target))!r}, 'setup cell', 'exec'))\n"
        "import helpers\n"
        "print(helpers.__file__)\n"
    )
    env = {"PATH": f"{env_dir / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path), "WORKBOOK_REPO": str(ROOT)}
    run = subprocess.run(
        [python, "-c", stand_in], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.strip().endswith(str(target / "helpers" / "__init__.py")), run.stdout
    assert (target / "notebooks" / "00_setup.ipynb").is_file()  # a clone of the workbook
    # a new kernel (a new process, no sys.path change) finds helpers in the clone: the install took
    again = subprocess.run(
        [python, "-c", "import helpers; print(helpers.__file__)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.stdout.strip() == str(target / "helpers" / "__init__.py"), again.stdout + again.stderr

    # without WORKBOOK_REPO the cell stops with what to do, and clones nothing
    shutil.rmtree(target)
    env.pop("WORKBOOK_REPO")
    run = subprocess.run(
        [python, "-c", stand_in], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode != 0 and "%env WORKBOOK_REPO=" in run.stderr and not target.exists()
