import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import nbformat
import pytest

from helpers import report as headline_module
from helpers.tools import report

ROW_KEYS = {
    "notebook",
    "mode",
    "device",
    "seconds",
    "peak_memory_gb",
    "headline",
    "status",
    "date",
    "hardware",
    "record_sha256",
    "fingerprint",
}
FINGERPRINT_KEYS = {"notebook_code", "helpers", "commit", "dirty", "mode"}
UNFINGERPRINTED = "⚠ earlier version, not fingerprinted"


def _notebook(path, *sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in sources]
    nbformat.write(nb, path)
    return path


OK_CELLS = (
    "import os\nprint('Using device: cpu (test)')\nprint(os.environ['WORKBOOK_MODE'])",
    "from helpers.report import headline\nheadline('answer', 42, percent=False)",
)


def test_headline_format_is_parsed(capsys):
    headline_module.headline("test accuracy", 0.98283)
    line = capsys.readouterr().out.strip()
    assert line == "Headline: test accuracy = 98.28%"
    nb = {
        "cells": [
            {"outputs": [{"output_type": "stream", "text": "Using device: cpu (2 threads)\n"}]},
            {"outputs": [{"output_type": "stream", "text": ["x\n", line + "\n"]}]},
        ]
    }
    assert report.summarize_outputs(nb) == {"device": "cpu (2 threads)", "headline": "test accuracy = 98.28%"}
    assert report.summarize_outputs({"cells": []}) == {"device": "?", "headline": "?"}


def test_printed_text_keeps_numbers_and_drops_images():
    nb = {
        "cells": [
            {"cell_type": "markdown", "source": "# title"},
            {
                "outputs": [
                    {"output_type": "stream", "text": ["epoch 1 ", "loss 0.5\n"]},
                    {"output_type": "display_data", "data": {"image/png": "iVBOR", "text/plain": "<Figure>"}},
                    {"output_type": "execute_result", "data": {"text/plain": "0.9812"}},
                ]
            },
            {"outputs": []},
            {"outputs": [{"output_type": "error", "ename": "AssertionError", "evalue": "0.8656 < 0.87"}]},
        ]
    }
    assert report.printed_text(nb) == (
        "# cell 1\nepoch 1 loss 0.5\n0.9812\n\n# cell 3\nAssertionError: 0.8656 < 0.87\n"
    )


def test_run_notebook_executes_and_reports(tmp_path):
    path = _notebook(tmp_path / "99_demo.ipynb", *OK_CELLS)
    row = report.run_notebook(path, "quick", timeout=120, out_dir=tmp_path / "out")
    assert row["status"] == "ok" and row["device"] == "cpu (test)" and row["headline"] == "answer = 42"
    assert set(row) == ROW_KEYS and row["mode"] == "quick" and row["hardware"]
    if Path(
        "/proc/self/status"
    ).exists():  # Linux reports the kernel's peak memory: a Python kernel takes tens of MB
        assert 0.02 < row["peak_memory_gb"] < 2, row["peak_memory_gb"]
    datetime.fromisoformat(row["date"])
    executed = nbformat.read(tmp_path / "out" / "99_demo.ipynb", as_version=4)
    assert executed.cells[0].outputs[0]["text"] == "Using device: cpu (test)\nquick\n"
    printed = (tmp_path / "out" / "99_demo.txt").read_text()
    assert (
        printed.startswith("# cell 0\nUsing device: cpu (test)\nquick\n")
        and "Headline: answer = 42" in printed
    )
    assert row["record_sha256"] == report.record_hash(printed)  # the record written by this run
    # the fingerprint: the code as it was run (an executed copy has the same code hash), today's helpers
    fp = row["fingerprint"]
    assert set(fp) == FINGERPRINT_KEYS and fp["mode"] == "quick" and fp["helpers"] == report.helpers_hash()
    assert fp["notebook_code"] == report.notebook_code_hash(path)
    assert report.notebook_code_hash(tmp_path / "out" / "99_demo.ipynb") == fp["notebook_code"]
    assert (fp["commit"], fp["dirty"]) == report.git_state()
    assert "| `99_demo.ipynb` | quick | cpu (test) |" in report.table([row])
    commit = (fp["commit"][:7] if fp["commit"] else "commit unknown") + (
        " + uncommitted" if fp["dirty"] else ""
    )
    assert report.table([row], notebook_dir=tmp_path).endswith(f"| ok | current ({commit}) |")


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(OSError):  # Linux: a zombie has exited and only waits to be reaped
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True


def test_hung_notebook_stops_at_its_budget_and_its_kernel_is_shut_down(tmp_path):
    path = _notebook(
        tmp_path / "97_hangs.ipynb", "import os\nprint(os.getpid())", "import time\ntime.sleep(600)"
    )
    start = time.monotonic()
    row = report.run_notebook(path, "quick", timeout=600, out_dir=tmp_path / "out", budget_s=6)
    assert time.monotonic() - start < 60
    assert row["status"].startswith("error: CellTimeoutError"), row["status"]
    pid = int(nbformat.read(tmp_path / "out" / "97_hangs.ipynb", as_version=4).cells[0].outputs[0]["text"])
    deadline = time.monotonic() + 10
    while _running(pid):
        assert time.monotonic() < deadline, f"the hung kernel (pid {pid}) is still running"
        time.sleep(0.2)


def test_stopping_the_runner_records_the_notebook_as_stopped_and_runs_no_more(tmp_path):
    pid_file = tmp_path / "kernel.pid"
    first = _notebook(
        tmp_path / "01_slow.ipynb",
        "print('Using device: cpu (test)')",
        f"import os, time\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\ntime.sleep(300)",
    )
    second = _notebook(tmp_path / "02_next.ipynb", *OK_CELLS)
    out = tmp_path / "out"
    runner = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "helpers.tools.report",
            "--mode",
            "quick",
            "--out",
            str(out),
            str(first),
            str(second),
        ],
        cwd=report.ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not (pid_file.exists() and pid_file.read_text()):
            assert runner.poll() is None and time.monotonic() < deadline, (
                "the kernel never reached the slow cell"
            )
            time.sleep(0.2)
        runner.send_signal(signal.SIGTERM)
        _, err = runner.communicate(timeout=60)
        assert runner.returncode == 1, err
        rows = report.load_results(out / "results-quick.json")
        assert [r["notebook"] for r in rows] == ["01_slow.ipynb"], err  # the second notebook never ran
        assert rows[0]["status"] == "error: stopped (SIGTERM) while the notebook ran", rows[0]
        assert rows[0]["device"] == "cpu (test)"  # the outputs up to the stop are kept
        _assert_gone(int(pid_file.read_text()))
    finally:
        runner.kill()
        _kill_from(pid_file)


def _assert_gone(pid: int, wait_s: float = 10) -> None:
    deadline = time.monotonic() + wait_s
    while _running(pid):
        assert time.monotonic() < deadline, f"the stopped notebook's kernel (pid {pid}) is still running"
        time.sleep(0.2)


def _kill_from(pid_file: Path) -> None:
    """Never leave a test's sleeping kernel behind."""
    with contextlib.suppress(ValueError, OSError):
        os.kill(int(pid_file.read_text()), signal.SIGKILL)


def test_the_limit_per_cell_depends_on_the_mode(tmp_path, monkeypatch):
    # a full-mode cell on a 2-core CPU can run for over an hour (06's three LSTMs): full mode's
    # default limit leaves room for it, quick mode's stays at an hour, an explicit limit wins
    path = _notebook(tmp_path / "99_demo.ipynb", *OK_CELLS)
    seen = []

    def execute(path, nb, mode, timeout, *rest):
        seen.append((mode, timeout))
        return {"status": "ok"}

    monkeypatch.setattr(report, "_execute", execute)
    for mode, timeout in (("quick", None), ("full", None), ("full", 90), ("full", 0)):
        report.run_notebook(path, mode, timeout)
    assert seen == [("quick", 3600), ("full", 4 * 3600), ("full", 90), ("full", 0)]
    assert report.CELL_TIMEOUT_S["full"] > 2 * 3600
    with pytest.raises(ValueError, match="quick, full"):
        report.run_notebook(path, "fast")


def test_a_cell_that_ignores_the_interrupt_is_killed(tmp_path):
    pid_file = tmp_path / "kernel.pid"
    path = _notebook(
        tmp_path / "01_stubborn.ipynb",
        f"import os, signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        f"open({str(pid_file)!r}, 'w').write(str(os.getpid()))\ntime.sleep(300)",
    )

    def stop_when_the_cell_runs():
        deadline = time.monotonic() + 120
        while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
            time.sleep(0.2)
        if signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, None):  # only while run_notebook takes it
            os.kill(os.getpid(), signal.SIGTERM)

    stopper = threading.Thread(target=stop_when_the_cell_runs, daemon=True)
    stopper.start()
    try:
        start = time.monotonic()
        row = report.run_notebook(path, "quick", timeout=600, kill_after_s=3)
        assert time.monotonic() - start < 90
        assert row["status"] == "error: stopped (SIGTERM) while the notebook ran", row["status"]
        _assert_gone(int(pid_file.read_text()))
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # the handler is put back
    finally:
        _kill_from(pid_file)


def test_report_survives_failures_writes_after_each_notebook_and_merges(tmp_path, monkeypatch, capsys):
    paths = [
        _notebook(tmp_path / "01_ok.ipynb", *OK_CELLS),
        _notebook(
            tmp_path / "02_dies.ipynb",
            "print('Using device: cpu (test)')",
            "import os; os._exit(1)",
            "print('never')",
        ),
        _notebook(tmp_path / "03_fails.ipynb", "assert 1 == 2, 'lesson claim failed'"),
    ]
    out = tmp_path / "out"
    results = out / "results-quick.json"
    on_disk_before = []
    run = report.run_notebook

    def spy(path, *args, **kwargs):
        on_disk_before.append([r["notebook"] for r in report.load_results(results)])
        return run(path, *args, **kwargs)

    monkeypatch.setattr(report, "run_notebook", spy)
    assert report.main(["--mode", "quick", "--out", str(out), *map(str, paths)]) == 1
    assert on_disk_before == [[], ["01_ok.ipynb"], ["01_ok.ipynb", "02_dies.ipynb"]]
    rows = {r["notebook"]: r for r in json.loads(results.read_text(encoding="utf-8"))}
    assert list(rows) == ["01_ok.ipynb", "02_dies.ipynb", "03_fails.ipynb"]
    assert all(set(r) == ROW_KEYS and r["mode"] == "quick" for r in rows.values())
    for name, r in rows.items():  # executed copy and record in out/<mode>/, the record this row's
        assert (out / "quick" / name).is_file()
        record = (out / "quick" / name).with_suffix(".txt").read_text(encoding="utf-8")
        assert r["record_sha256"] == report.record_hash(record), name
        assert r["fingerprint"]["notebook_code"] == report.notebook_code_hash(tmp_path / name)
    assert rows["01_ok.ipynb"]["status"] == "ok" and rows["01_ok.ipynb"]["headline"] == "answer = 42"
    assert rows["02_dies.ipynb"]["status"].startswith("error: DeadKernelError"), rows["02_dies.ipynb"]
    assert rows["02_dies.ipynb"]["device"] == "cpu (test)"  # outputs up to the death are kept
    assert rows["03_fails.ipynb"]["status"] == "error: AssertionError: lesson claim failed"
    md = (out / "results-quick.md").read_text(encoding="utf-8")
    assert "| `02_dies.ipynb` | quick | cpu (test) |" in md and "| `03_fails.ipynb` |" in md
    printed = capsys.readouterr().out
    assert report.table(list(rows.values()), notebook_dir=tmp_path) in printed
    assert printed.count("| current (") == 3  # checked against the notebooks it ran
    assert not list(out.glob(".*.part")), "a temporary file was left behind"

    # re-run one notebook (fixed): its row is replaced, the others are kept as they were
    _notebook(paths[2], "from helpers.report import headline\nheadline('fixed', 0.5)")
    assert report.main(["--mode", "quick", "--out", str(out), str(paths[2])]) == 0
    merged = {r["notebook"]: r for r in report.load_results(results)}
    assert list(merged) == list(rows)
    assert merged["01_ok.ipynb"] == rows["01_ok.ipynb"] and merged["02_dies.ipynb"] == rows["02_dies.ipynb"]
    assert (
        merged["03_fails.ipynb"]["status"] == "ok"
        and merged["03_fails.ipynb"]["headline"] == "fixed = 50.00%"
    )
    assert not (out / "results-full.json").exists()


def test_merge_rows_replaces_by_notebook_and_sorts():
    old = [{"notebook": "02.ipynb", "v": 1}, {"notebook": "01.ipynb", "v": 1}]
    assert report.merge_rows(old, [{"notebook": "02.ipynb", "v": 2}, {"notebook": "00.ipynb", "v": 2}]) == [
        {"notebook": "00.ipynb", "v": 2},
        {"notebook": "01.ipynb", "v": 1},
        {"notebook": "02.ipynb", "v": 2},
    ]


def test_readme_table_from_results(tmp_path, capsys):
    rows = [
        {
            "notebook": "10_x.ipynb",
            "mode": "full",
            "device": "cpu (2 threads)",
            "seconds": 97.6,
            "peak_memory_gb": 1.234,
            "headline": "train accuracy = 99.10%",
            "status": "ok",
            "date": "2026-11-24T10:00:00+00:00",
            "hardware": "AMD EPYC · 2 CPUs · 24 GB memory · no GPU",
        },
        {
            "notebook": "11_y.ipynb",
            "mode": "full",
            "device": "cpu (2 threads)",
            "seconds": 12.0,
            "headline": "?",
            "status": "error: ValueError: a | b",
            "date": "2026-11-25T09:00:00+00:00",
            "hardware": "AMD EPYC · 2 CPUs · 24 GB memory · no GPU",
        },
    ]
    path = report.write_results(tmp_path, "full", rows)
    assert path == tmp_path / "results-full.json"
    assert report.main(["--table", str(path)]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed[:4] == [
        "| notebook | mode | device | seconds | peak memory | headline | status | version |",
        "|---|---|---|---|---|---|---|---|",
        "| `10_x.ipynb` | full | cpu (2 threads) | 98 | 1.2 GB | train accuracy = 99.10% | ok | "
        + UNFINGERPRINTED
        + " |",
        "| `11_y.ipynb` | full | cpu (2 threads) | 12 | — | ? | error: ValueError: a \\| b | "
        + UNFINGERPRINTED
        + " |",
    ]  # no memory: a dash
    assert printed[-1].startswith(
        "Measured 2026-11-24 to 2026-11-25 on AMD EPYC · 2 CPUs · 24 GB memory · no GPU. ⚠ (2 of 2 rows): "
    )
    path.write_text("{}", encoding="utf-8")
    with pytest.raises(ValueError, match="not a results file"):
        report.readme_table(path)


def test_readme_table_marks_each_row_with_its_machine_when_they_differ(tmp_path):
    row = {
        "notebook": "10_x.ipynb",
        "mode": "quick",
        "device": "cpu (2 threads)",
        "seconds": 97.6,
        "headline": "h",
        "status": "ok",
        "date": "2026-11-24T10:00:00+00:00",
        "hardware": "Intel · 2 CPUs",
    }
    rows = [
        {**row, "hardware": "AMD · 2 CPUs"},
        row,
        {**row, "notebook": "11_y.ipynb", "seconds": 12.0},
        {**row, "notebook": "12_z.ipynb", "seconds": 5.0, "hardware": ""},
    ]
    rows[0]["notebook"] = "09_v.ipynb"
    text = report.readme_table(report.write_results(tmp_path, "quick", rows), ["13_w.ipynb"]).splitlines()
    old = f" | {UNFINGERPRINTED} |"
    assert text[2:7] == [
        "| `09_v.ipynb` | quick | cpu (2 threads) | 98² | — | h | ok" + old,  # numbered by rows:
        "| `10_x.ipynb` | quick | cpu (2 threads) | 98¹ | — | h | ok" + old,  # most rows first
        "| `11_y.ipynb` | quick | cpu (2 threads) | 12¹ | — | h | ok" + old,
        "| `12_z.ipynb` | quick | cpu (2 threads) | 5³ | — | h | ok" + old,
        "| `13_w.ipynb` | quick | — | — | — | — | not yet measured | — |",
    ]
    assert text[-1].startswith(
        "Measured 2026-11-24. Seconds marked ¹ on Intel · 2 CPUs; ² on AMD · 2 CPUs; "
        "³ on hardware not recorded. ⚠ (4 of 5 rows): "
    )
    md = (tmp_path / "results-quick.md").read_text(encoding="utf-8")  # written beside the json, marked alike
    assert "| `09_v.ipynb` | quick | cpu (2 threads) | 98² | — | h | ok" + old in md
    assert md.rstrip().endswith(text[-1].replace("4 of 5", "4 of 4"))  # no notebooks list: no 13_w row
    assert "Measured 2026-11-24 on Intel · 2 CPUs. ⚠ (2 of 2 rows): " in report.readme_table(
        report.write_results(tmp_path, "quick", rows[1:3])
    )


def test_kernel_env_makes_data_folders_absolute(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WORKBOOK_DATA", "../mirror")
    monkeypatch.setenv("WORKBOOK_CACHE", "")
    env = report.kernel_env("quick")
    assert env["WORKBOOK_MODE"] == "quick"
    assert env["WORKBOOK_DATA"] == str((tmp_path / "../mirror").resolve())
    assert env["WORKBOOK_CACHE"] == ""


def test_update_readme_regenerates_tables_and_lists_every_notebook(tmp_path):
    rows = [
        {
            "notebook": "02_mnist_one_layer.ipynb",
            "mode": "full",
            "device": "cpu (2 threads)",
            "seconds": 28.3,
            "headline": "1-layer NumPy test accuracy = 92.47%",
            "status": "ok",
            "date": "2026-11-23T18:15:05+00:00",
            "hardware": "x86 · 2 CPUs · 24 GB memory · no GPU",
        }
    ]
    report.write_results(tmp_path / "reports", "full", rows)
    readme = tmp_path / "README.md"
    readme.write_text(
        "intro\n<!-- results: reports/results-full.json -->\nstale | 1 |\n<!-- /results -->\nend\n",
        encoding="utf-8",
    )
    assert report.update_readme(readme, write=False) == ["reports/results-full.json"]
    assert "stale" in readme.read_text(encoding="utf-8")  # write=False only says it is out of date
    assert report.update_readme(readme) == ["reports/results-full.json"]
    text = readme.read_text(encoding="utf-8")
    assert "stale" not in text and text.startswith("intro\n") and text.endswith("<!-- /results -->\nend\n")
    assert (
        "| `02_mnist_one_layer.ipynb` | full | cpu (2 threads) | 28 | — "
        f"| 1-layer NumPy test accuracy = 92.47% | ok | {UNFINGERPRINTED} |" in text
    )
    assert "| `06_rnn_sentiment.ipynb` | full | — | — | — | — | not yet measured | — |" in text
    assert "Measured 2026-11-23 on x86 · 2 CPUs · 24 GB memory · no GPU. ⚠ (1 of " in text
    assert report.update_readme(readme) == []  # now current
    (tmp_path / "reports" / "results-full.json").unlink()
    rows[0]["seconds"] = 30.0
    report.write_results(tmp_path / "reports", "full", rows)
    assert report.update_readme(readme, write=False) == ["reports/results-full.json"]


# --- fingerprints: what each row measured ------------------------------------------------------


def test_code_hash_sees_code_cells_only(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# title"),
        nbformat.v4.new_code_cell("x = 1\nprint(x)"),
        nbformat.v4.new_code_cell("y = 2"),
    ]
    nbformat.write(nb, tmp_path / "stored.ipynb")
    stored = report.notebook_code_hash(tmp_path / "stored.ipynb")
    # an executed copy: outputs, execution counts, metadata; a trailing newline, an empty cell, CRLF
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", text="1\n")]
    nb.cells[1].execution_count = 7
    nb.cells[1].metadata["execution"] = {"iopub.status.busy": "2026-12-01T10:00:00"}
    nb.cells[2].source = "y = 2\n"
    nb.cells.append(nbformat.v4.new_code_cell(""))
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nb.cells[0].source = "# another title"  # markdown is not code
    nbformat.write(nb, tmp_path / "executed.ipynb")
    stored_bytes = (tmp_path / "stored.ipynb").read_bytes()
    crlf = tmp_path / "crlf.ipynb"  # a Windows checkout (the file's own line ends: JSON whitespace)
    crlf.write_bytes(stored_bytes.replace(b"\n", b"\r\n"))
    crlf_source = tmp_path / "crlf_source.ipynb"  # cells saved on Windows: CRLF inside the sources
    crlf_source.write_bytes(stored_bytes.replace(b"\\n", b"\\r\\n"))
    assert b"\\r\\n" in crlf_source.read_bytes()
    assert stored is not None
    assert report.notebook_code_hash(tmp_path / "executed.ipynb") == stored
    assert report.notebook_code_hash(crlf) == stored and report.notebook_code_hash(crlf_source) == stored
    assert report.code_hash(json.loads((tmp_path / "stored.ipynb").read_text(encoding="utf-8"))) == stored
    nb.cells[2].source = "y = 3"  # any code edit changes it
    nbformat.write(nb, tmp_path / "edited.ipynb")
    assert report.notebook_code_hash(tmp_path / "edited.ipynb") != stored
    nb.cells[2].source = "y = 2"
    nb.cells[1:3] = [nb.cells[2], nb.cells[1]]  # so does moving a cell
    nbformat.write(nb, tmp_path / "moved.ipynb")
    assert report.notebook_code_hash(tmp_path / "moved.ipynb") != stored
    (tmp_path / "broken.ipynb").write_text("{not json", encoding="utf-8")
    assert report.notebook_code_hash(tmp_path / "broken.ipynb") is None
    assert report.notebook_code_hash(tmp_path / "missing.ipynb") is None


def test_helpers_hash_covers_the_modules_notebooks_import_not_the_tooling(tmp_path):
    (tmp_path / "tools").mkdir()
    (tmp_path / "train.py").write_text("def fit():\n    pass\n", encoding="utf-8")
    (tmp_path / "tools" / "report.py").write_text("RUNNER = 1\n", encoding="utf-8")
    before = report.helpers_hash(tmp_path)
    (tmp_path / "tools" / "report.py").write_text("RUNNER = 2\n", encoding="utf-8")
    assert report.helpers_hash(tmp_path) == before  # the runner and other tooling are not counted
    (tmp_path / "train.py").write_bytes(b"def fit():\r\n    pass\r\n")
    assert report.helpers_hash(tmp_path) == before  # a Windows checkout's line endings
    (tmp_path / "train.py").write_text("def fit():\n    return 1\n", encoding="utf-8")
    assert report.helpers_hash(tmp_path) != before
    assert report.helpers_hash() == report.helpers_hash(report.ROOT / "helpers")


def _git(cwd, *args):
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


@pytest.mark.skipif(not shutil.which("git"), reason="git is not installed")
def test_git_state_names_the_commit_and_changes_outside_reports(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    (repo / "reports").mkdir(parents=True)
    (repo / "a.py").write_text("a = 1\n", encoding="utf-8")
    (repo / "reports" / "results-quick.json").write_text("[]\n", encoding="utf-8")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "first")
    head = _git(repo, "rev-parse", "HEAD")
    assert report.git_state(repo) == (head, False)
    (repo / "reports" / "results-quick.json").write_text("[{}]\n", encoding="utf-8")  # the runner's output
    (repo / "reports" / "quick").mkdir()
    (repo / "reports" / "quick" / "a.txt").write_text("new record\n", encoding="utf-8")
    assert report.git_state(repo) == (head, False)
    (repo / "a.py").write_text("a = 2\n", encoding="utf-8")  # a change outside reports/
    assert report.git_state(repo) == (head, True)
    _git(repo, "checkout", "-q", "a.py")
    (repo / "scratch.py").write_text("", encoding="utf-8")  # a file git does not know
    assert report.git_state(repo) == (head, True)
    (repo / "scratch.py").unlink()
    _git(repo, "mv", "a.py", "b.py")  # a rename
    assert report.git_state(repo) == (head, True)
    # not a checkout of its own: a subfolder (a zip unpacked inside another repository), or no git
    assert report.git_state(repo / "reports") == (None, None)
    assert report.git_state(tmp_path) == (None, None)
    monkeypatch.setenv("PATH", str(tmp_path / "no-such-bin"))
    assert report.git_state(repo) == (None, None)


def _fingerprint(notebook_dir, name, commit="1234567890abcdef1234567890abcdef12345678", dirty=False):
    return {
        "notebook_code": report.notebook_code_hash(notebook_dir / name),
        "helpers": report.helpers_hash(),
        "commit": commit,
        "dirty": dirty,
        "mode": "quick",
    }


def test_rows_from_earlier_code_are_marked_when_the_table_is_made(tmp_path):
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    for name in ("01_current", "02_edited", "03_helpers", "04_both", "06_old", "07_new"):
        _notebook(nbs / f"{name}.ipynb", "print('Using device: cpu (test)')", f"print({name!r})")
    base = {
        "mode": "quick",
        "device": "cpu",
        "seconds": 1.0,
        "headline": "h",
        "status": "ok",
        "date": "2026-12-01T10:00:00+00:00",
        "hardware": "x86 · 2 CPUs",
    }
    rows = [
        {**base, "notebook": "01_current.ipynb", "fingerprint": _fingerprint(nbs, "01_current.ipynb")},
        {**base, "notebook": "02_edited.ipynb", "fingerprint": _fingerprint(nbs, "02_edited.ipynb")},
        {
            **base,
            "notebook": "03_helpers.ipynb",
            "fingerprint": {**_fingerprint(nbs, "03_helpers.ipynb", dirty=True), "helpers": "0" * 64},
        },
        {
            **base,
            "notebook": "04_both.ipynb",
            "fingerprint": {**_fingerprint(nbs, "04_both.ipynb", None, None), "helpers": "0" * 64},
        },
        {**base, "notebook": "05_gone.ipynb", "fingerprint": _fingerprint(nbs, "01_current.ipynb")},
        {**base, "notebook": "06_old.ipynb"},  # measured before rows were fingerprinted
    ]
    results = report.write_results(tmp_path / "reports", "quick", rows)
    _notebook(nbs / "02_edited.ipynb", "print('Using device: cpu (test)')", "print('edited')")
    _notebook(nbs / "04_both.ipynb", "print('edited')")
    nb = nbformat.read(nbs / "01_current.ipynb", as_version=4)  # a markdown edit is no new version
    nb.cells.insert(0, nbformat.v4.new_markdown_cell("# a new title"))
    nbformat.write(nb, nbs / "01_current.ipynb")
    names = sorted(p.name for p in nbs.glob("*.ipynb"))
    text = report.readme_table(results, names, nbs).splitlines()
    assert [line.rsplit(" | ", 1)[1] for line in text[2:9]] == [
        "current (1234567) |",
        "⚠ earlier version (1234567): notebook changed |",
        "⚠ earlier version (1234567 + uncommitted): helpers changed |",
        "⚠ earlier version (commit unknown): notebook and helpers changed |",
        "⚠ earlier version (1234567): notebook not found |",
        UNFINGERPRINTED + " |",
        "— |",  # 07_new: not yet measured
    ]
    assert text[-1] == (
        "Measured 2026-12-01 on x86 · 2 CPUs. ⚠ (5 of 7 rows): measured on an earlier version of the "
        "notebook or of helpers/ than today's (the commit the run started from named), or before runs "
        "were fingerprinted; re-run those notebooks to refresh them."
    )
    assert report.changed_since(rows[0], nbs) == [] and report.changed_since(rows[5], nbs) is None
    assert report.changed_since(rows[3], nbs) == ["notebook", "helpers"]


def test_a_readme_made_before_a_notebook_edit_is_out_of_date(tmp_path):
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    path = _notebook(nbs / "01_a.ipynb", "print('Using device: cpu (test)')")
    row = {
        "notebook": "01_a.ipynb",
        "mode": "quick",
        "device": "cpu",
        "seconds": 1.0,
        "headline": "h",
        "status": "ok",
        "date": "2026-12-01T10:00:00+00:00",
        "hardware": "x86",
        "fingerprint": _fingerprint(nbs, "01_a.ipynb"),
    }
    report.write_results(tmp_path / "reports", "quick", [row])
    readme = tmp_path / "README.md"
    readme.write_text("<!-- results: reports/results-quick.json -->\n<!-- /results -->\n", encoding="utf-8")
    assert report.update_readme(readme, notebook_dir=nbs) == ["reports/results-quick.json"]
    assert "| ok | current (1234567) |" in readme.read_text(encoding="utf-8")
    assert report.update_readme(readme, write=False, notebook_dir=nbs) == []
    _notebook(path, "print('Using device: cuda')")  # the notebook is edited; its row is not re-measured
    assert report.update_readme(readme, write=False, notebook_dir=nbs) == ["reports/results-quick.json"]
    report.update_readme(readme, notebook_dir=nbs)
    assert "| ok | ⚠ earlier version (1234567): notebook changed |" in readme.read_text(encoding="utf-8")


def test_the_command_line_records_a_fingerprint_and_the_record_beside_its_row(tmp_path):
    """What ``python -m helpers.tools.report --mode quick --out reports 00_setup.ipynb`` does, on a
    throwaway notebook."""
    path = _notebook(tmp_path / "00_demo.ipynb", *OK_CELLS)
    out = tmp_path / "reports"
    run = subprocess.run(
        [sys.executable, "-m", "helpers.tools.report", "--mode", "quick", "--out", str(out), str(path)],
        cwd=report.ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    [row] = report.load_results(out / "results-quick.json")
    assert set(row) == ROW_KEYS and row["status"] == "ok"
    assert row["fingerprint"] == {
        "notebook_code": report.notebook_code_hash(path),
        "helpers": report.helpers_hash(),
        "commit": report.git_state()[0],
        "dirty": report.git_state()[1],
        "mode": "quick",
    }
    assert row["fingerprint"]["notebook_code"] and row["fingerprint"]["helpers"]
    assert row["record_sha256"] == report.record_hash(
        (out / "quick" / "00_demo.txt").read_text(encoding="utf-8")
    )
    assert report.notebook_code_hash(out / "quick" / "00_demo.ipynb") == row["fingerprint"]["notebook_code"]
    assert "| `00_demo.ipynb` | quick | cpu (test) |" in run.stdout


# --- the output folder and the files the runner reads ------------------------------------------


def _never_run(monkeypatch):
    def run(path, *args, **kwargs):
        pytest.fail(f"{Path(path).name} ran, although the runner could not keep its results")

    monkeypatch.setattr(report, "run_notebook", run)


@pytest.mark.parametrize("case", ["a file", "inside a file", "mode folder a file", "not writable"])
def test_an_output_folder_that_cannot_take_the_results_stops_before_any_notebook_runs(
    case, tmp_path, monkeypatch, capsys
):
    path = _notebook(tmp_path / "01_ok.ipynb", *OK_CELLS)
    out = tmp_path / "out"
    if case == "a file":
        out.write_text("not a folder\n", encoding="utf-8")
    elif case == "inside a file":
        (tmp_path / "file").write_text("", encoding="utf-8")
        out = tmp_path / "file" / "out"
    elif case == "mode folder a file":
        out.mkdir()
        (out / "quick").write_text("", encoding="utf-8")
    else:  # tests run as root, for whom a read-only folder is writable: the OS's answer is simulated
        mkstemp = tempfile.mkstemp

        def refuse(*args, dir=None, **kwargs):
            if dir is not None and Path(dir).is_relative_to(out):
                raise PermissionError(13, "Permission denied", str(dir))
            return mkstemp(*args, dir=dir, **kwargs)

        monkeypatch.setattr(tempfile, "mkstemp", refuse)
    _never_run(monkeypatch)
    assert report.main(["--mode", "quick", "--out", str(out), str(path)]) == 2
    err = capsys.readouterr().err
    assert f"--out {out}" in err and "no notebook was run" in err, err
    assert "WORKBOOK_CACHE" not in err and "cache" not in err.lower(), err


@pytest.mark.parametrize("lost", ["record", "results"])
def test_a_finished_row_that_cannot_be_kept_is_printed_and_no_further_notebook_runs(
    lost, tmp_path, monkeypatch, capsys
):
    paths = [_notebook(tmp_path / "01_ok.ipynb", *OK_CELLS), _notebook(tmp_path / "02_next.ipynb", *OK_CELLS)]
    out = tmp_path / "out"
    ran, run = [], report.run_notebook

    def folder_goes_away(path, *args, **kwargs):  # after the check, e.g. a disk unmounted mid-run
        ran.append(path.name)
        if lost == "record":
            shutil.rmtree(out / "quick")
            (out / "quick").write_text("", encoding="utf-8")
            return run(path, *args, **kwargs)
        row = run(path, *args, **kwargs)
        shutil.rmtree(out)
        out.write_text("", encoding="utf-8")
        return row

    monkeypatch.setattr(report, "run_notebook", folder_goes_away)
    assert report.main(["--mode", "quick", "--out", str(out), *map(str, paths)]) == 1
    printed = capsys.readouterr()
    assert ran == ["01_ok.ipynb"]  # no further notebook
    assert "| `01_ok.ipynb` | quick | cpu (test) | " in printed.out and "answer = 42" in printed.out
    target = out / "quick" / "01_ok.ipynb" if lost == "record" else out / "results-quick.json"
    assert f"cannot write {target}" in printed.err and "no further notebook runs" in printed.err
    assert "Traceback" not in printed.err


def test_a_notebook_that_is_not_json_is_an_error_row_and_the_next_one_runs(tmp_path):
    bad = tmp_path / "01_broken.ipynb"
    bad.write_text('{"cells": [', encoding="utf-8")
    ok = _notebook(tmp_path / "02_ok.ipynb", *OK_CELLS)
    out = tmp_path / "out"
    assert report.main(["--mode", "quick", "--out", str(out), str(bad), str(ok)]) == 1
    rows = {r["notebook"]: r for r in report.load_results(out / "results-quick.json")}
    assert list(rows) == ["01_broken.ipynb", "02_ok.ipynb"] and rows["02_ok.ipynb"]["status"] == "ok"
    broken = rows["01_broken.ipynb"]
    assert broken["status"].startswith("error: not a readable notebook: JSONDecodeError: "), broken["status"]
    assert set(broken) == ROW_KEYS and broken["fingerprint"]["notebook_code"] is None
    record = (out / "quick" / "01_broken.txt").read_text(encoding="utf-8")  # this run's record says why
    assert broken["status"] in record and broken["record_sha256"] == report.record_hash(record)


def test_a_corrupt_results_file_is_named_and_nothing_runs(tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    out.mkdir()
    results = out / "results-quick.json"
    results.write_text('[{"notebook": "01_ok.ipynb", "mode": ', encoding="utf-8")  # cut off mid-write
    path = _notebook(tmp_path / "01_ok.ipynb", *OK_CELLS)
    _never_run(monkeypatch)
    assert report.main(["--mode", "quick", "--out", str(out), str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{results} is not a readable results file" in err and "no notebook was run" in err
    assert "Traceback" not in err
    assert results.read_text(encoding="utf-8").endswith('"mode": ')  # left as it was, for its owner
    assert report.main(["--table", str(results)]) == 2
    assert f"{results} is not a readable results file" in capsys.readouterr().err
    with pytest.raises(ValueError, match="is not a readable results file"):
        report.readme_table(results)


# --- the measured results in reports/ and README.md --------------------------------------------


def test_readme_tables_are_generated_from_the_results_files():
    stale = report.update_readme(report.ROOT / "README.md", write=False)
    assert not stale, f"README.md is out of date with {stale}: run python -m helpers.tools.report --readme"
    assert report.README_BLOCK.search((report.ROOT / "README.md").read_text(encoding="utf-8"))


QUICK = report.ROOT / "reports" / "results-quick.json"


def test_quick_rows_are_from_the_current_code():
    """Quick mode is never stale: every notebook has a quick row measured on today's notebook and
    helpers (its fingerprint). After editing a notebook or helpers/*.py, re-run it:
    ``python -m helpers.tools.report --mode quick --out reports NOTEBOOK`` (all 13: no NOTEBOOK)."""
    rows = {r["notebook"]: r for r in report.load_results(QUICK)}
    helpers = report.helpers_hash()
    stale = []
    for path in sorted(report.NOTEBOOKS.glob("*.ipynb")):
        row = rows.pop(path.name, None)
        changed = report.changed_since(row, report.NOTEBOOKS, helpers) if row else ["no quick row"]
        if changed is None:
            stale.append(f"{path.name} (not fingerprinted)")
        elif changed or row["fingerprint"].get("mode") != "quick" or row["mode"] != "quick":
            stale.append(f"{path.name} ({', '.join(changed) or 'another mode'} changed since)")
    stale += [f"{name} (no such notebook)" for name in rows]
    assert not stale, (
        f"{len(stale)} quick-mode rows in reports/results-quick.json are not from today's code: "
        + "; ".join(stale)
        + ". Re-run them: python -m helpers.tools.report --mode quick --out reports NOTEBOOK …, "
        "then python -m helpers.tools.report --readme"
    )


def test_records_are_written_by_the_same_run_as_their_rows():
    """Each quick row's record, reports/quick/<notebook>.txt, is the one its run wrote (its hash is in
    the row); so is that of every full row that records one."""
    wrong = []
    for mode in ("quick", "full"):
        for row in report.load_results(report.ROOT / "reports" / f"results-{mode}.json"):
            record = report.ROOT / "reports" / mode / (Path(row["notebook"]).stem + ".txt")
            if row.get("record_sha256") is None:
                if mode == "quick":
                    wrong.append(f"{mode}/{record.name}: its row records no record_sha256")
            elif not record.is_file():
                wrong.append(f"{mode}/{record.name}: missing")
            elif report.record_hash(record.read_text(encoding="utf-8")) != row["record_sha256"]:
                wrong.append(f"{mode}/{record.name}: not the record its row's run wrote")
    assert not wrong, "records in reports/ that do not match their rows: " + "; ".join(wrong)


def test_numbers_a_notebook_says_it_printed_are_in_its_records():
    """A sentence of a notebook's text (a markdown cell; sentences end at . ; ? !) that says a cell
    printed (or prints) something names numbers its run really printed: each number with a decimal point
    (84.5, 0.883, 1,403.8; whole numbers are too often settings), outside `code`, is in that notebook's
    quick or full record, reports/quick/<notebook>.txt or reports/full/<notebook>.txt, as a whole number
    (84.5 is not 84.53).
    After a re-run changes a number, update the sentence; a number that was not printed (a setting, a
    paper's result, a formula) goes in a sentence of its own."""
    number = re.compile(r"(?<![\w.,])(?:\d{1,3}(?:,\d{3})+|\d+)\.\d+(?![\w.,]\d)")
    missing = []
    for path in sorted(report.NOTEBOOKS.glob("*.ipynb")):
        records = "\n".join(
            record.read_text(encoding="utf-8")
            for mode in ("quick", "full")
            if (record := report.ROOT / "reports" / mode / f"{path.stem}.txt").is_file()
        )
        for i, cell in enumerate(nbformat.read(path, as_version=4).cells):
            if cell.cell_type != "markdown":
                continue
            text = re.sub(r"\s+", " ", re.sub(r"`[^`]*`", "", cell.source))
            for sentence in re.split(r"(?<=[.;?!])\s+(?=[A-Z(*])", text):
                if not re.search(r"(?<!-)\b(printed|prints)\b", sentence, re.I):
                    continue
                for m in number.finditer(sentence):
                    forms = {m[0], m[0].replace(",", "")}
                    whole = (rf"(?<![\d.,]){re.escape(f)}(?![\d]|[.,]\d)" for f in forms)
                    if not any(re.search(pattern, records) for pattern in whole):
                        where = sentence[max(0, m.start() - 80) : m.end() + 20]
                        missing.append(f"{path.name} cell {i} (from 0): {m[0]} in …{where}…")
    assert not missing, (
        "numbers the text says were printed but neither reports/quick/ nor reports/full/ holds (update the "
        "number from the record, or move a number that was not printed into a sentence of its own):\n"
        + "\n".join(missing)
    )
