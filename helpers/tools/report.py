"""Run notebooks and write a results table: notebook, mode, device, seconds, peak memory, headline metric.

    python -m helpers.tools.report                 # full mode, every notebook in notebooks/
    python -m helpers.tools.report --mode quick 02_mnist_one_layer.ipynb
    python -m helpers.tools.report --out reports   # keep results and the executed notebooks there
    python -m helpers.tools.report --table reports/results-full.json   # the README table of a results file
    python -m helpers.tools.report --readme        # regenerate README.md's tables from reports/*.json

Each notebook prints its device (``Using device: …``, from :func:`helpers.device.get_device`) and
one headline line via :func:`helpers.report.headline`; the runner reads both from the outputs.

A notebook that fails (a failing cell, a cell past its time limit, a kernel that dies) becomes a
row with status ``error: …`` and the next notebook still runs. Stopping the runner itself (Ctrl-C,
or SIGTERM from ``kill`` or ``timeout``) interrupts the running cell, gives that notebook the row
``error: stopped (SIGINT|SIGTERM) while the notebook ran`` (its outputs so far are kept) and runs
no further notebook.

With ``--out DIR`` the results are written after every notebook, each time atomically, to
``DIR/results-<mode>.json`` (one object per notebook: notebook, mode, device, seconds,
peak_memory_gb (the kernel's peak resident memory, where the system reports it), headline, status,
date, hardware) and ``DIR/results-<mode>.md``; rows already in that json for notebooks not re-run
are kept, so one notebook can be re-measured on its own. Beside each executed notebook, ``<name>.txt``
holds what it printed (every number, no images): the record behind its row.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

from helpers.report import HEADLINE  # the line helpers.report.headline prints

DEVICE = re.compile(r"^Using device: (?P<device>.+)$", re.M)
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
ROOT = Path(__file__).resolve().parents[2]  # the repository: helpers/tools/report.py is two folders down
NOTEBOOKS = ROOT / "notebooks"
HEADER = ("notebook", "mode", "device", "seconds", "peak memory", "headline", "status")  # the table's columns
# the keys every row has: the columns but peak memory (its key peak_memory_gb, which rows measured
# before the runner recorded it lack: their table shows a dash)
COLUMNS = tuple(c for c in HEADER if c != "peak memory")
SUPERSCRIPTS = "¹²³⁴⁵⁶⁷⁸⁹"  # marks of the machines when one table mixes several
STOPPED = "error: stopped"  # the status of a notebook whose run was stopped from outside


class Stopped(Exception):
    """Raised before a notebook's next cell once the runner has received SIGINT or SIGTERM."""


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
    return {
        "device": dev.group("device") if dev else "?",
        "headline": "; ".join(f"{n} = {v}" for n, v in heads) or "?",
    }


def printed_text(nb: dict) -> str:
    """What an executed notebook (nbformat JSON as a dict) printed, cell by cell, as plain text.

    Stream output and each result's ``text/plain``, under a ``# cell N`` line (N counts every cell
    from 0, as the notebook does); errors as ``name: value``; figures and widgets are left out. The
    record behind a results row: every number a notebook printed, without its images.
    """
    parts = []
    for i, cell in enumerate(nb.get("cells", [])):
        texts = []
        for out in cell.get("outputs", []):
            kind = out.get("output_type")
            if kind == "stream":
                texts.append("".join(out.get("text", "")))
            elif kind in ("execute_result", "display_data") and "text/plain" in out.get("data", {}):
                if not {"image/png", "application/vnd.jupyter.widget-view+json"} & set(out["data"]):
                    texts.append("".join(out["data"]["text/plain"]) + "\n")
            elif kind == "error":
                texts.append(f"{out.get('ename', '?')}: {out.get('evalue', '')}\n")
        if texts:
            parts.append(f"# cell {i}\n" + "".join(texts).rstrip("\n") + "\n")
    return "\n".join(parts)


def kernel_env(mode: str) -> dict[str, str]:
    """This process's environment for a kernel in ``mode``; folder variables made absolute.

    Kernels start in the notebook's folder, so ``WORKBOOK_DATA=../mirror`` given at the
    repository root would otherwise point somewhere else.
    """
    env = {**os.environ, "WORKBOOK_MODE": mode}
    for var in ("WORKBOOK_DATA", "WORKBOOK_CACHE"):
        if env.get(var, "").strip():
            env[var] = str(Path(env[var].strip()).expanduser().resolve())
    return env


def _first_line(text: str) -> str:
    lines = [ln.strip() for ln in ANSI.sub("", text).strip().splitlines() if ln.strip()]
    return lines[0] if lines else ""


def error_status(exc: BaseException) -> str:
    """The ``error: …`` status of a notebook whose execution raised ``exc``.

    A failing cell gives its exception line (``AssertionError: …``); anything else (a dead
    kernel, a cell past its time limit, a kernel that would not start) its type and first line.
    """
    from nbclient.exceptions import CellExecutionError

    if isinstance(exc, CellExecutionError):
        lines = [ln for ln in ANSI.sub("", str(exc)).strip().splitlines() if ln.strip()]
        reason = lines[-1].strip() if lines else type(exc).__name__
    else:
        reason = f"{type(exc).__name__}: {_first_line(str(exc))}".rstrip(": ")
    return f"error: {reason[:160]}"


def _running_kernel(km):
    """The local kernel's process (a ``subprocess.Popen``) while it runs; None before it starts, after
    it exits, or where the kernel is not a local process."""
    process = getattr(getattr(km, "provisioner", None), "process", None)
    if process is None or process.poll() is not None:
        return None
    return process


def _signal_kernel(km, signum: int) -> bool:
    """Send ``signum`` to a running local kernel's process group (its workers too), else to the kernel
    process alone; False when no kernel process is running."""
    process = _running_kernel(km)
    if process is None:
        return False
    with contextlib.suppress(OSError):
        pgid = getattr(km.provisioner, "pgid", None)
        if pgid and hasattr(os, "killpg"):
            os.killpg(pgid, signum)
        else:
            process.send_signal(signum)
        return True
    return False


def _peak_memory_gb(km) -> float | None:
    """The running kernel's peak resident memory so far (Linux ``VmHWM``), in GB; None where unknown.

    The kernel process only: worker processes it starts are not counted."""
    process = _running_kernel(km)
    if process is None:
        return None
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024 / 1e9  # kB
    return None


def _shut_down(client) -> None:
    """Stop the channels of a kernel an nbclient ``NotebookClient`` still holds and kill the kernel at
    once (jupyter_client's ``shutdown_kernel(now=True)``, which also frees its files and sockets)."""
    from nbclient.util import ensure_async, run_sync

    async def shut_down() -> None:
        if client.kc is not None:
            await ensure_async(client.kc.stop_channels())
        await ensure_async(client.km.shutdown_kernel(now=True))

    run_sync(shut_down)()
    client.kc = client.km = None


def run_notebook(
    path: Path | str,
    mode: str,
    timeout: int = 3600,
    out_dir: Path | None = None,
    budget_s: float | None = None,
    kill_after_s: float = 30,
) -> dict:
    """Execute one notebook (any path) in ``mode`` with a fresh kernel; return its row of the table.

    Never raises for what happens inside the kernel: a failing cell, a cell past ``timeout``
    seconds, the whole notebook past ``budget_s`` seconds or a kernel that dies give
    ``status = "error: …"``. Called from the main thread, it also takes Ctrl-C and SIGTERM while it
    runs: the running cell is interrupted, the kernel is killed if it has not stopped
    ``kill_after_s`` seconds later (or at a second signal), no further cell starts, and the status
    is ``error: stopped (SIGINT|SIGTERM) while the notebook ran``. The kernel is shut down in every
    case. It starts in the notebook's folder. ``out_dir``: also keep the executed notebook (outputs
    as far as it got) there, and what it printed as ``<name>.txt`` (:func:`printed_text`).
    """
    import nbformat
    from nbclient import NotebookClient

    path = Path(path).resolve()
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    deadline = start + budget_s if budget_s is not None else None

    def cell_timeout(cell) -> int | None:
        per_cell = timeout if timeout and timeout > 0 else None  # 0 or negative: no limit per cell
        if deadline is None:
            return per_cell
        left = max(1, int(deadline - time.perf_counter()) + 1)
        return left if per_cell is None else min(per_cell, left)

    stops: list[tuple[str, float]] = []  # (signal name, time) of each stop request while this notebook ran

    def before_cell(cell, cell_index) -> None:
        if stops:
            raise Stopped(stops[0][0])

    peaks: list[float] = []  # the kernel's peak memory, sampled after each cell and every 0.5 s while it runs

    def sample_memory(**_) -> None:
        gb = _peak_memory_gb(client.km)
        if gb is not None:
            peaks.append(gb)  # list.append is atomic: nbclient's thread and the waiting loop both sample

    def on_signal(signum, frame) -> None:
        stops.append((signal.Signals(signum).name, time.perf_counter()))
        _signal_kernel(client.km, signal.SIGINT if len(stops) == 1 else signal.SIGKILL)

    client = NotebookClient(
        nb,
        timeout=timeout,
        timeout_func=cell_timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        on_cell_execute=before_cell,
        on_cell_executed=sample_memory,
    )
    failure: list[Exception] = []

    def execute(in_worker: bool) -> None:
        try:
            if in_worker:  # a fresh event loop of the worker's own, closed at the end
                asyncio.run(client.async_execute(env=kernel_env(mode)))
            else:
                client.execute(env=kernel_env(mode))
        except Exception as exc:  # noqa: BLE001 - one notebook's failure of any kind is its row's status
            failure.append(exc)

    # In the main thread nbclient takes SIGINT and SIGTERM itself (it shuts the kernel down, and the
    # run would go on with a bare error and the next notebook); so it runs in a worker thread here,
    # and the signals come to on_signal. Signals ignored on entry (a background job's SIGINT) stay so.
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for s in (signal.SIGINT, signal.SIGTERM):
            if signal.getsignal(s) not in (signal.SIG_IGN, None):
                previous[s] = signal.signal(s, on_signal)
    try:
        if previous:
            worker = threading.Thread(target=execute, args=(True,), name=f"nbclient {path.name}", daemon=True)
            worker.start()
            while worker.is_alive():
                worker.join(0.5)
                sample_memory()
                if stops and time.perf_counter() - stops[0][1] > kill_after_s:
                    _signal_kernel(client.km, signal.SIGKILL)  # the interrupted cell did not stop
        else:
            execute(in_worker=False)
        status = error_status(failure[0]) if failure else "ok"
        # nbclient shuts its kernel down on the way out and then forgets it (km = None); a kernel
        # manager still held here means that shutdown did not happen: do it now.
        if client.km is not None:
            with contextlib.suppress(Exception):
                _shut_down(client)
        seconds = time.perf_counter() - start
        executed = json.loads(nbformat.writes(nb))  # the notebook as JSON: for its record and its summary
        if out_dir is not None:
            from helpers.download import atomic_path

            with atomic_path(Path(out_dir) / path.name) as tmp:
                nbformat.write(nb, str(tmp))
            with atomic_path(Path(out_dir) / f"{path.stem}.txt") as tmp:  # what it printed, without images
                tmp.write_text(printed_text(executed), encoding="utf-8")
        if stops:
            status = f"{STOPPED} ({stops[0][0]}) while the notebook ran"
        return {
            "notebook": path.name,
            "mode": mode,
            "seconds": round(seconds, 1),
            "peak_memory_gb": round(max(peaks), 2) if peaks else None,
            "status": status,
            **summarize_outputs(executed),
            "date": datetime.now().astimezone().isoformat(timespec="seconds"),
            "hardware": hardware(),
        }
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.lower().startswith(("model name", "hardware")) and ":" in line:
                return " ".join(line.split(":", 1)[1].split())
    if platform.system() == "Darwin":
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            return subprocess.run(
                ["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True, timeout=10
            ).stdout.strip()
    return platform.processor() or platform.machine() or "unknown CPU"


def _memory_gb() -> float | None:
    with contextlib.suppress(AttributeError, ValueError, OSError):
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    return None


def _gpus() -> list[str]:
    if not shutil.which("nvidia-smi"):
        return []
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
        )
        return [ln.strip() for ln in out.stdout.splitlines() if ln.strip()] if out.returncode == 0 else []
    return []


@functools.lru_cache(maxsize=1)
def hardware() -> str:
    """A short description of this machine: CPU model, CPUs usable, memory, NVIDIA GPUs."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count() or 0
    parts = [_cpu_model(), f"{cpus} CPUs"]
    mem = _memory_gb()
    if mem:
        parts.append(f"{mem:.0f} GB memory")
    gpus = _gpus()
    if gpus:
        parts.append(
            ", ".join(f"{gpus.count(g)}× {g}" if gpus.count(g) > 1 else g for g in dict.fromkeys(gpus))
        )
    elif platform.system() == "Darwin" and platform.machine() == "arm64":
        parts.append("Apple GPU")
    else:
        parts.append("no GPU")
    return " · ".join(parts)


def _cell(value) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _machine(row: dict) -> str:
    return str(row.get("hardware") or "hardware not recorded")


def table(rows: list[dict], marks: dict[str, str] | None = None) -> str:
    """A Markdown table of report rows (a row without ``seconds`` or ``peak_memory_gb`` shows a dash there).

    ``marks``: hardware description → a mark put after the seconds of the rows measured on it.
    """
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for r in rows:
        secs = f"{r['seconds']:.0f}" if isinstance(r.get("seconds"), (int, float)) else "—"
        secs += (marks or {}).get(_machine(r), "") if secs != "—" else ""
        gb = r.get("peak_memory_gb")
        memory = f"{gb:.1f} GB" if isinstance(gb, (int, float)) else "—"
        lines.append(
            f"| `{_cell(r['notebook'])}` | {_cell(r['mode'])} | {_cell(r['device'])} | {secs} | {memory} | "
            f"{_cell(r['headline'])} | {_cell(r['status'])} |"
        )
    return "\n".join(lines)


def load_results(path: Path) -> list[dict]:
    """The rows of a ``results-<mode>.json``; an empty list when the file does not exist."""
    path = Path(path)
    if not path.exists():
        return []
    rows = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(rows, list) or not all(isinstance(r, dict) and "notebook" in r for r in rows):
        raise ValueError(f"{path} is not a results file (a JSON list of rows with a 'notebook' key)")
    return rows


def merge_rows(old: list[dict], new: list[dict]) -> list[dict]:
    """``old`` rows with those of the notebooks in ``new`` replaced by the new ones, sorted by notebook."""
    merged = {r["notebook"]: r for r in old}
    merged.update({r["notebook"]: r for r in new})
    return [merged[name] for name in sorted(merged)]


def write_results(out_dir: Path, mode: str, rows: list[dict]) -> Path:
    """Write ``results-<mode>.json`` and ``results-<mode>.md`` (the table README shows, see
    :func:`readme_table`) in ``out_dir``, each atomically."""
    from helpers.download import atomic_path

    out_dir = Path(out_dir)
    target = out_dir / f"results-{mode}.json"
    with atomic_path(target) as tmp:
        tmp.write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    with atomic_path(out_dir / f"results-{mode}.md") as tmp:  # the table README would show, machines marked
        tmp.write_text((readme_table(target) if rows else table(rows)) + "\n", encoding="utf-8")
    return target


def readme_table(results: Path, notebooks: list[str] | None = None) -> str:
    """The Markdown table of a results json, then one line saying when and on what it was measured.

    ``notebooks``: names that must each have a row; one missing from the json gets a
    "not yet measured" row, so the table always lists the whole workbook.
    """
    rows = load_results(results)
    if not rows and not notebooks:
        raise ValueError(f"{results}: no results")
    for r in rows:
        missing = [c for c in COLUMNS if c not in r]
        if missing:
            raise ValueError(f"{results}: row {r.get('notebook')!r} lacks {', '.join(missing)}")
    mode = rows[0]["mode"] if rows else "?"
    have = {r["notebook"] for r in rows}
    rows = merge_rows(
        [
            {
                "notebook": n,
                "mode": mode,
                "device": "—",
                "seconds": None,
                "headline": "—",
                "status": "not yet measured",
            }
            for n in notebooks or []
            if n not in have
        ],
        rows,
    )
    dates = sorted({str(r["date"])[:10] for r in rows if r.get("date")})
    when = (dates[0] if len(dates) == 1 else f"{dates[0]} to {dates[-1]}") if dates else "date not recorded"
    timed = [_machine(r) for r in rows if isinstance(r.get("seconds"), (int, float))]
    machines = sorted(dict.fromkeys(timed), key=timed.count, reverse=True)  # most rows first, then first seen
    if len(machines) > 1:  # say which row was measured on which machine
        marks = {
            m: SUPERSCRIPTS[i] if len(machines) <= len(SUPERSCRIPTS) else f"[{i + 1}]"
            for i, m in enumerate(machines)
        }
        where = "; ".join(f"{marks[m]} on {m}" for m in machines)
        return f"{table(rows, marks)}\n\nMeasured {when}. Seconds marked {where}."
    where = "; ".join(machines) or "hardware not recorded"
    return f"{table(rows)}\n\nMeasured {when} on {where}."


README_BLOCK = re.compile(r"(<!-- results: (?P<path>\S+) -->\n)(?P<body>.*?)(<!-- /results -->)", re.S)


def update_readme(readme: Path = ROOT / "README.md", write: bool = True) -> list[str]:
    """Regenerate every results table in ``readme``; return the results files whose table changed.

    A table is the text between ``<!-- results: reports/results-full.json -->`` (a path relative
    to the README) and ``<!-- /results -->``; it lists every notebook in ``notebooks/``. With
    ``write=False`` nothing is written: a non-empty answer means the README is out of date.
    """
    readme = Path(readme)
    text = readme.read_text(encoding="utf-8")
    names = [p.name for p in sorted(NOTEBOOKS.glob("*.ipynb"))]
    changed = []

    def render(m: re.Match) -> str:
        body = readme_table(readme.parent / m["path"], names) + "\n"
        if body != m["body"]:
            changed.append(m["path"])
        return m.group(1) + body + m.group(4)

    new = README_BLOCK.sub(render, text)
    if changed and write:
        from helpers.download import atomic_path

        with atomic_path(readme) as tmp:
            tmp.write_text(new, encoding="utf-8")
    return changed


def notebook_path(name: str) -> Path:
    """A notebook given on the command line: a path to a file, else a file name in notebooks/."""
    given = Path(name).expanduser()
    return given if given.is_file() else NOTEBOOKS / name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m helpers.tools.report", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "notebooks", nargs="*", help="notebook file names in notebooks/ or paths (default: all in notebooks/)"
    )
    parser.add_argument("--mode", choices=("quick", "full"), default="full")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder for the results (written after every notebook) and the executed notebooks",
    )
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    parser.add_argument(
        "--table",
        type=Path,
        metavar="RESULTS_JSON",
        help="print the README table of a results json and exit (runs nothing)",
    )
    parser.add_argument(
        "--readme",
        action="store_true",
        help="regenerate README.md's results tables from their json files and exit",
    )
    args = parser.parse_args(argv)
    if args.table is not None:
        print(readme_table(args.table))
        return 0
    if args.readme:
        changed = update_readme()
        print(
            f"README.md: {len(changed)} table(s) regenerated"
            + (f" ({', '.join(changed)})" if changed else "")
        )
        return 0
    paths = (
        [notebook_path(n) for n in args.notebooks] if args.notebooks else sorted(NOTEBOOKS.glob("*.ipynb"))
    )
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")
    results = args.out / f"results-{args.mode}.json" if args.out is not None else None
    rows = load_results(results) if results is not None else []
    ran = []
    for path in paths:
        print(f"running {path.name} ({args.mode}) …", file=sys.stderr, flush=True)
        row = run_notebook(path, args.mode, args.timeout, args.out)
        ran.append(row)
        rows = merge_rows(rows, [row])
        if args.out is not None:
            write_results(args.out, args.mode, rows)
        gb = f", peak {row['peak_memory_gb']:.1f} GB" if row["peak_memory_gb"] is not None else ""
        print(
            f"  {row['seconds']:.0f} s{gb}, {row['status']}, {row['headline']}", file=sys.stderr, flush=True
        )
        if row["status"].startswith(STOPPED):
            print("stopped: no further notebook runs", file=sys.stderr, flush=True)
            break
    print(table(rows))
    return 0 if all(r["status"] == "ok" for r in ran) else 1


if __name__ == "__main__":
    raise SystemExit(main())
