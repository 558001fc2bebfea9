import contextlib
import json
import os
import signal
import subprocess
import sys
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
}


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
    assert "| `99_demo.ipynb` | quick | cpu (test) |" in report.table([row])


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
    assert rows["01_ok.ipynb"]["status"] == "ok" and rows["01_ok.ipynb"]["headline"] == "answer = 42"
    assert rows["02_dies.ipynb"]["status"].startswith("error: DeadKernelError"), rows["02_dies.ipynb"]
    assert rows["02_dies.ipynb"]["device"] == "cpu (test)"  # outputs up to the death are kept
    assert rows["03_fails.ipynb"]["status"] == "error: AssertionError: lesson claim failed"
    md = (out / "results-quick.md").read_text(encoding="utf-8")
    assert "| `02_dies.ipynb` | quick | cpu (test) |" in md and "| `03_fails.ipynb` |" in md
    assert report.table(list(rows.values())) in capsys.readouterr().out
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
        "| notebook | mode | device | seconds | peak memory | headline | status |",
        "|---|---|---|---|---|---|---|",
        "| `10_x.ipynb` | full | cpu (2 threads) | 98 | 1.2 GB | train accuracy = 99.10% | ok |",
        "| `11_y.ipynb` | full | cpu (2 threads) | 12 | — | ? | error: ValueError: a \\| b |",
    ]  # no memory: a dash
    assert printed[-1] == "Measured 2026-11-24 to 2026-11-25 on AMD EPYC · 2 CPUs · 24 GB memory · no GPU."
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
    assert text[2:7] == [
        "| `09_v.ipynb` | quick | cpu (2 threads) | 98² | — | h | ok |",  # numbered by rows:
        "| `10_x.ipynb` | quick | cpu (2 threads) | 98¹ | — | h | ok |",  # most rows first
        "| `11_y.ipynb` | quick | cpu (2 threads) | 12¹ | — | h | ok |",
        "| `12_z.ipynb` | quick | cpu (2 threads) | 5³ | — | h | ok |",
        "| `13_w.ipynb` | quick | — | — | — | — | not yet measured |",
    ]
    assert text[-1] == (
        "Measured 2026-11-24. Seconds marked ¹ on Intel · 2 CPUs; ² on AMD · 2 CPUs; "
        "³ on hardware not recorded."
    )
    md = (tmp_path / "results-quick.md").read_text(encoding="utf-8")  # written beside the json, marked alike
    assert "| `09_v.ipynb` | quick | cpu (2 threads) | 98² | — | h | ok |" in md and md.rstrip().endswith(
        text[-1]
    )
    assert report.readme_table(report.write_results(tmp_path, "quick", rows[1:3])).endswith(
        "Measured 2026-11-24 on Intel · 2 CPUs."
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
        "| 1-layer NumPy test accuracy = 92.47% | ok |" in text
    )
    assert "| `06_rnn_sentiment.ipynb` | full | — | — | — | — | not yet measured |" in text
    assert "Measured 2026-11-23 on x86 · 2 CPUs · 24 GB memory · no GPU." in text
    assert report.update_readme(readme) == []  # now current
    (tmp_path / "reports" / "results-full.json").unlink()
    rows[0]["seconds"] = 30.0
    report.write_results(tmp_path / "reports", "full", rows)
    assert report.update_readme(readme, write=False) == ["reports/results-full.json"]


def test_readme_tables_are_generated_from_the_results_files():
    stale = report.update_readme(report.ROOT / "README.md", write=False)
    assert not stale, f"README.md is out of date with {stale}: run python -m helpers.tools.report --readme"
    assert report.README_BLOCK.search((report.ROOT / "README.md").read_text(encoding="utf-8"))
