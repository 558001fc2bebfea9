import nbformat

from helpers import report


def test_headline_format_is_parsed(capsys):
    report.headline("test accuracy", 0.98283)
    line = capsys.readouterr().out.strip()
    assert line == "Headline: test accuracy = 98.28%"
    nb = {"cells": [{"outputs": [{"output_type": "stream", "text": "Using device: cpu (2 threads)\n"}]},
                    {"outputs": [{"output_type": "stream", "text": ["x\n", line + "\n"]}]}]}
    assert report.summarize_outputs(nb) == {"device": "cpu (2 threads)", "headline": "test accuracy = 98.28%"}
    assert report.summarize_outputs({"cells": []}) == {"device": "?", "headline": "?"}


def test_run_notebook_executes_and_reports(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import os\nprint('Using device: cpu (test)')\nprint(os.environ['WORKBOOK_MODE'])"),
                nbformat.v4.new_code_cell("from helpers.report import headline\nheadline('answer', 42, percent=False)")]
    path = tmp_path / "99_demo.ipynb"
    nbformat.write(nb, path)
    row = report.run_notebook(path, "quick", timeout=120, out_dir=tmp_path / "out")
    assert row["status"] == "ok" and row["device"] == "cpu (test)" and row["headline"] == "answer = 42"
    assert (tmp_path / "out" / "99_demo.ipynb").exists()
    assert "| `99_demo.ipynb` | quick | cpu (test) |" in report.table([row])
    bad = nbformat.v4.new_notebook()
    bad.cells = [nbformat.v4.new_code_cell("assert 1 == 2, 'lesson claim failed'")]
    nbformat.write(bad, tmp_path / "98_bad.ipynb")
    assert report.run_notebook(tmp_path / "98_bad.ipynb", "quick", timeout=120)["status"].startswith("error")


def test_kernel_env_makes_data_folders_absolute(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WORKBOOK_DATA", "../mirror")
    monkeypatch.setenv("WORKBOOK_CACHE", "")
    env = report.kernel_env("quick")
    assert env["WORKBOOK_MODE"] == "quick"
    assert env["WORKBOOK_DATA"] == str((tmp_path / "../mirror").resolve())
    assert env["WORKBOOK_CACHE"] == ""
