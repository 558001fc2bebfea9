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
date, hardware, record_sha256, fingerprint) and ``DIR/results-<mode>.md``; rows already in that json
for notebooks not re-run are kept, so one notebook can be re-measured on its own. The executed
notebooks go to ``DIR/<mode>/``, each beside ``<name>.txt``, what it printed (every number, no
images): the record behind its row, written by the same run (``record_sha256`` is its hash). The
folders are checked before any notebook runs; a row that cannot be written is still printed.

Each row's ``fingerprint`` says what was measured (:func:`fingerprint`): a hash of the notebook's
code cells, a hash of the ``helpers/*.py`` modules notebooks import (not this tooling), the commit
the run started from and whether the tree had changes outside ``reports/``, and the mode. The
tables' ``version`` column compares it with today's files (:func:`version`): a row measured on an
earlier version of its notebook or of helpers, or before rows were fingerprinted, is marked ⚠.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import hashlib
import json
import os
import platform
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

from helpers.report import HEADLINE  # the line helpers.report.headline prints

DEVICE = re.compile(r"^Using device: (?P<device>.+)$", re.M)
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
ROOT = Path(__file__).resolve().parents[2]  # the repository: helpers/tools/report.py is two folders down
NOTEBOOKS = ROOT / "notebooks"
HELPERS = ROOT / "helpers"  # the modules notebooks import: helpers/*.py (helpers/tools/ is not among them)
# the table's columns: "version" is computed from a row's fingerprint and today's files (see version)
HEADER = ("notebook", "mode", "device", "seconds", "peak memory", "headline", "status", "version")
# the keys every row has: the columns but peak memory (its key peak_memory_gb, which rows measured
# before the runner recorded it lack: their table shows a dash) and version (rows measured before
# the runner fingerprinted them lack the fingerprint: their version says so)
COLUMNS = tuple(c for c in HEADER if c not in ("peak memory", "version"))
SUPERSCRIPTS = "¹²³⁴⁵⁶⁷⁸⁹"  # marks of the machines when one table mixes several
STOPPED = "error: stopped"  # the status of a notebook whose run was stopped from outside
STALE = "⚠"  # the mark of a row measured on an earlier version (or not fingerprinted)
# seconds one cell may run before it counts as hung, per mode. A full-mode cell on a 2-core CPU runs for
# most of an hour (06's three LSTMs of "Embeddings": 3,027 s on 2026-12-06, over 3,600 s on a slower
# hour of the same machine), so full mode allows four hours
CELL_TIMEOUT_S = {"quick": 3600, "full": 4 * 3600}
TIMEOUT_HELP = (  # both runners' --timeout
    f"seconds per cell (default: {CELL_TIMEOUT_S['quick']} in quick mode, "
    f"{CELL_TIMEOUT_S['full']} in full mode; 0: no limit)"
)


class Stopped(Exception):
    """Raised before a notebook's next cell once the runner has received SIGINT or SIGTERM."""


class OutputError(Exception):
    """A file of the runner's output could not be written. ``path``: that file; ``row``: the row of the
    notebook that had finished when it happened (None where none had), so it can still be printed."""

    def __init__(self, path: Path, exc: BaseException, row: dict | None = None):
        reason = str(exc)
        if isinstance(exc, OSError) and exc.strerror:  # "File exists: /out", where /out is in the way
            reason = exc.strerror + (
                f": {exc.filename}" if exc.filename and exc.filename != str(path) else ""
            )
        super().__init__(f"cannot write {path}: {reason}")
        self.path, self.row = Path(path), row


def write_atomic(dest: Path, text: str) -> None:
    """Write ``text`` to ``dest`` (its folder created) through a temporary file beside it renamed into
    place, so nothing half-written is ever left at ``dest``; :class:`OutputError` names ``dest``."""
    dest = Path(dest)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    except OSError as exc:
        raise OutputError(dest, exc) from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, dest)
    except OSError as exc:
        raise OutputError(dest, exc) from exc
    finally:
        Path(tmp_name).unlink(missing_ok=True)


def check_out_dir(out: Path, mode: str) -> str | None:
    """Why the runner cannot keep its output in ``out`` (results) and ``out/<mode>`` (executed notebooks
    and records), or None when it can: both are folders (created if missing) a file can be written in.
    Checked before any notebook runs, so no run is lost to an output folder that cannot take it."""
    for folder in (Path(out), Path(out) / mode):
        if folder.exists() and not folder.is_dir():
            return f"--out {out}: {folder} is a file, not a folder"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(prefix=".write-test.", suffix=".part", dir=folder)
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            return f"--out {out}: cannot write in the folder {folder} ({exc.strerror or exc})"
    return None


# --- fingerprints: what a row measured ------------------------------------------------------------


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _normal_text(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def code_hash(nb: dict) -> str:
    """sha256 of a notebook's code, from its nbformat JSON (a dict): the code cells' sources only.

    Outputs, execution counts, metadata and markdown cells are left out, a source stored as a list of
    lines or as one string counts alike, line endings are normalised, whitespace at a cell's end is
    dropped and empty code cells are skipped: the stored (stripped) notebook and an executed copy of
    it give the same hash, and an edit to any code cell changes it.
    """
    sources = []
    for cell in nb.get("cells", []):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        source = _normal_text("".join(source) if isinstance(source, list) else str(source)).rstrip()
        if source:
            sources.append(source)
    return _sha256(json.dumps(sources, ensure_ascii=False).encode("utf-8"))


def notebook_code_hash(path: Path) -> str | None:
    """:func:`code_hash` of the notebook file at ``path``; None where it is missing or not a notebook."""
    try:
        nb = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):  # missing, unreadable, not UTF-8 or not JSON
        return None
    return code_hash(nb) if isinstance(nb, dict) else None


def helpers_hash(package: Path = HELPERS) -> str:
    """sha256 of the modules notebooks import: every ``*.py`` directly in ``package`` (its name and text,
    line endings normalised), so not the tooling in ``helpers/tools/``."""
    digest = hashlib.sha256()
    for module in sorted(Path(package).glob("*.py")):
        digest.update(module.name.encode("utf-8") + b"\0")
        digest.update(module.read_bytes().replace(b"\r\n", b"\n") + b"\0")
    return digest.hexdigest()


def git_state(root: Path = ROOT) -> tuple[str | None, bool | None]:
    """The commit checked out at ``root`` and whether the tree differs from it outside ``reports/``
    (a change, staged or not, or a file git does not know and does not ignore); ``(None, None)`` where
    that is unknown: git missing, or ``root`` not the top of a git checkout of its own (a zip download,
    perhaps unpacked inside another repository)."""

    def git(*args: str) -> bytes:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, check=True, timeout=60).stdout

    try:
        top = git("rev-parse", "--show-toplevel").decode().strip()
        if not top or Path(top).resolve() != Path(root).resolve():
            return None, None
        commit = git("rev-parse", "--verify", "HEAD").decode().strip()
        entries = git("status", "--porcelain", "-z").split(b"\0")
    except (OSError, subprocess.SubprocessError, UnicodeDecodeError):
        return None, None
    paths, i = [], 0
    while i < len(entries):  # "XY path", and after a rename or copy its original path on its own
        entry = entries[i]
        if len(entry) > 3:
            paths.append(entry[3:])
            if entry[:1] in (b"R", b"C") and i + 1 < len(entries):
                paths.append(entries[i + 1])
                i += 1
        i += 1
    return commit, any(not p.startswith(b"reports/") for p in paths)


def fingerprint(code: str | None, mode: str, root: Path = ROOT) -> dict:
    """A run's fingerprint: ``notebook_code`` (``code``, the :func:`code_hash` of the notebook as it
    was read; None where it could not be), ``helpers`` (:func:`helpers_hash`), ``commit`` and ``dirty``
    (:func:`git_state`; None without git) and ``mode``. Taken as the notebook starts."""
    commit, dirty = git_state(root)
    return {
        "notebook_code": code,
        "helpers": helpers_hash(Path(root) / "helpers"),
        "commit": commit,
        "dirty": dirty,
        "mode": mode,
    }


def changed_since(row: dict, notebook_dir: Path = NOTEBOOKS, helpers: str | None = None) -> list[str] | None:
    """What changed since a row was measured: a list of ``"notebook"`` (its code cells differ from
    today's ``notebook_dir/<notebook>``, or that file is gone) and ``"helpers"`` (helpers/*.py differ);
    empty when the row is from today's code. None for a row without a fingerprint. ``helpers``: today's
    :func:`helpers_hash`, computed when not given."""
    fp = row.get("fingerprint")
    if not isinstance(fp, dict) or "notebook_code" not in fp or "helpers" not in fp:
        return None
    changed = []
    current = notebook_code_hash(Path(notebook_dir) / str(row.get("notebook")))
    if current is None or fp["notebook_code"] != current:
        changed.append("notebook")
    if fp["helpers"] != (helpers if helpers is not None else helpers_hash()):
        changed.append("helpers")
    return changed


def version(row: dict, notebook_dir: Path = NOTEBOOKS, helpers: str | None = None) -> str:
    """A row's ``version`` column: ``current (<commit>)`` for a row measured on today's notebook and
    helpers, else ``⚠ earlier version (<commit>): notebook changed`` (or helpers, or both; or
    ``notebook not found``), or ``⚠ earlier version, not fingerprinted``. ``<commit>``: the commit the
    run started from (7 digits), ``+ uncommitted`` where the tree had changes, ``commit unknown`` where
    git could not tell."""
    if row.get("status") == "not yet measured":
        return "—"
    changed = changed_since(row, notebook_dir, helpers)
    if changed is None:
        return f"{STALE} earlier version, not fingerprinted"
    fp = row["fingerprint"]
    commit = str(fp["commit"])[:7] if fp.get("commit") else "commit unknown"
    commit += " + uncommitted" if fp.get("dirty") else ""
    if not changed:
        return f"current ({commit})"
    if "notebook" in changed and not (Path(notebook_dir) / str(row.get("notebook"))).is_file():
        what = "notebook not found" + (", helpers changed" if "helpers" in changed else "")
    else:
        what = " and ".join(changed) + " changed"
    return f"{STALE} earlier version ({commit}): {what}"


def record_hash(text: str) -> str:
    """sha256 of a record (line endings normalised), kept in its row as ``record_sha256``."""
    return _sha256(_normal_text(text).encode("utf-8"))


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
    timeout: int | None = None,
    out_dir: Path | None = None,
    budget_s: float | None = None,
    kill_after_s: float = 30,
    cwd: Path | None = None,
) -> dict:
    """Execute one notebook (any path) in ``mode`` with a fresh kernel; return its row of the table.

    Never raises for what happens inside the kernel: a failing cell, a cell past ``timeout``
    seconds (None: the mode's :data:`CELL_TIMEOUT_S`; 0: no limit per cell), the whole notebook past
    ``budget_s`` seconds or a kernel that dies give
    ``status = "error: …"``. Called from the main thread, it also takes Ctrl-C and SIGTERM while it
    runs: the running cell is interrupted, the kernel is killed if it has not stopped
    ``kill_after_s`` seconds later (or at a second signal), no further cell starts, and the status
    is ``error: stopped (SIGINT|SIGTERM) while the notebook ran``. The kernel is shut down in every
    case. It starts in the notebook's folder (or in ``cwd``). A file that is not a notebook (not JSON,
    say) gives ``error: not a readable notebook: …``. ``out_dir``: also keep the executed notebook (outputs as
    far as it got) there, and what it printed as ``<name>.txt`` (:func:`printed_text`); where they
    cannot be written, :class:`OutputError` carries the row. The row's ``fingerprint``
    (:func:`fingerprint`) is taken from the notebook as read, before it runs.
    """
    import nbformat

    path = Path(path).resolve()
    if mode not in CELL_TIMEOUT_S:
        raise ValueError(f"mode must be one of {', '.join(CELL_TIMEOUT_S)}, not {mode!r}")
    timeout = CELL_TIMEOUT_S[mode] if timeout is None else timeout
    start = time.perf_counter()
    try:
        text = path.read_text(encoding="utf-8")
        code = code_hash(json.loads(text))
        nb = nbformat.reads(text, as_version=4)
    except Exception as exc:  # noqa: BLE001 - a file that is no notebook is that notebook's error row
        reason = f"{type(exc).__name__}: {_first_line(str(exc))}".rstrip(": ")
        status = f"error: not a readable notebook: {reason}"[:200]
        row = _row(path, mode, start, None, status, {"device": "?", "headline": "?"})
        row["fingerprint"] = fingerprint(None, mode)
        record = f"# not run: {status}\n"
        return _keep(row, out_dir, {f"{path.stem}.txt": record}, record) if out_dir is not None else row
    finger = fingerprint(code, mode)  # before the clock starts: git's answer is not the notebook's time
    row = _execute(path, nb, mode, timeout, budget_s, kill_after_s, time.perf_counter(), cwd or path.parent)
    row["fingerprint"] = finger
    if out_dir is None:
        return row
    executed = nbformat.writes(nb)
    record = printed_text(json.loads(executed))
    executed += "" if executed.endswith("\n") else "\n"
    return _keep(row, out_dir, {path.name: executed, f"{path.stem}.txt": record}, record)


def _row(path: Path, mode: str, start: float, peak: float | None, status: str, outputs: dict) -> dict:
    return {
        "notebook": path.name,
        "mode": mode,
        "seconds": round(time.perf_counter() - start, 1),
        "peak_memory_gb": round(peak, 2) if peak is not None else None,
        "status": status,
        **outputs,
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "hardware": hardware(),
        "record_sha256": None,
    }


def _keep(row: dict, out_dir: Path, files: dict[str, str], record: str) -> dict:
    """Write ``files`` (name → text) into ``out_dir``, then set the row's ``record_sha256``; a file
    that cannot be written raises :class:`OutputError` with the row."""
    try:
        for name, text in files.items():
            write_atomic(Path(out_dir) / name, text)
    except OutputError as exc:
        exc.row = row
        raise
    row["record_sha256"] = record_hash(record)
    return row


def _execute(
    path: Path,
    nb,
    mode: str,
    timeout: int,
    budget_s: float | None,
    kill_after_s: float,
    start: float,
    cwd: Path,
) -> dict:
    """Run ``nb`` (read from ``path``) in place, the kernel started in ``cwd``; its row, without
    fingerprint and record."""
    from nbclient import NotebookClient

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
        resources={"metadata": {"path": str(cwd)}},
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
        if stops:
            status = f"{STOPPED} ({stops[0][0]}) while the notebook ran"
        return _row(path, mode, start, max(peaks) if peaks else None, status, summarize_outputs(nb))
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


def table(rows: list[dict], marks: dict[str, str] | None = None, notebook_dir: Path = NOTEBOOKS) -> str:
    """A Markdown table of report rows (a row without ``seconds`` or ``peak_memory_gb`` shows a dash there).

    ``marks``: hardware description → a mark put after the seconds of the rows measured on it. The
    ``version`` column (:func:`version`) compares each row's fingerprint with the notebook of its
    name in ``notebook_dir`` and with today's helpers, as they are when the table is made.
    """
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    helpers = helpers_hash()
    for r in rows:
        secs = f"{r['seconds']:.0f}" if isinstance(r.get("seconds"), (int, float)) else "—"
        secs += (marks or {}).get(_machine(r), "") if secs != "—" else ""
        gb = r.get("peak_memory_gb")
        memory = f"{gb:.1f} GB" if isinstance(gb, (int, float)) else "—"
        lines.append(
            f"| `{_cell(r['notebook'])}` | {_cell(r['mode'])} | {_cell(r['device'])} | {secs} | {memory} | "
            f"{_cell(r['headline'])} | {_cell(r['status'])} | {_cell(version(r, notebook_dir, helpers))} |"
        )
    return "\n".join(lines)


def load_results(path: Path) -> list[dict]:
    """The rows of a ``results-<mode>.json``; an empty list when the file does not exist. A file that
    cannot be read, is not JSON or not a list of rows raises ValueError naming it."""
    path = Path(path)
    if not path.exists():
        return []
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # unreadable (a folder, say), not UTF-8, or not JSON
        raise ValueError(
            f"{path} is not a readable results file ({type(exc).__name__}: {exc}): restore it "
            "(git checkout, or from a backup) or move it away to start a new one"
        ) from exc
    if not isinstance(rows, list) or not all(isinstance(r, dict) and "notebook" in r for r in rows):
        raise ValueError(f"{path} is not a results file (a JSON list of rows with a 'notebook' key)")
    return rows


def merge_rows(old: list[dict], new: list[dict]) -> list[dict]:
    """``old`` rows with those of the notebooks in ``new`` replaced by the new ones, sorted by notebook."""
    merged = {r["notebook"]: r for r in old}
    merged.update({r["notebook"]: r for r in new})
    return [merged[name] for name in sorted(merged)]


def write_results(out_dir: Path, mode: str, rows: list[dict], notebook_dir: Path = NOTEBOOKS) -> Path:
    """Write ``results-<mode>.json`` and ``results-<mode>.md`` (the table README shows, see
    :func:`readme_table`, versions checked against ``notebook_dir``) in ``out_dir``, each atomically;
    :class:`OutputError` names a file that cannot be written."""
    out_dir = Path(out_dir)
    target = out_dir / f"results-{mode}.json"
    write_atomic(target, json.dumps(rows, indent=1, ensure_ascii=False) + "\n")
    md = readme_table(target, notebook_dir=notebook_dir) if rows else table(rows)
    write_atomic(out_dir / f"results-{mode}.md", md + "\n")  # the table README would show
    return target


def readme_table(results: Path, notebooks: list[str] | None = None, notebook_dir: Path = NOTEBOOKS) -> str:
    """The Markdown table of a results json, then one line saying when and on what it was measured.

    ``notebooks``: names that must each have a row; one missing from the json gets a
    "not yet measured" row, so the table always lists the whole workbook. Each row's version is
    checked against ``notebook_dir`` and today's helpers (:func:`version`); where any is marked ⚠, a
    last sentence says what the mark means.
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
    marks = None
    if len(machines) > 1:  # say which row was measured on which machine
        marks = {
            m: SUPERSCRIPTS[i] if len(machines) <= len(SUPERSCRIPTS) else f"[{i + 1}]"
            for i, m in enumerate(machines)
        }
        where = "; ".join(f"{marks[m]} on {m}" for m in machines)
        footer = f"Measured {when}. Seconds marked {where}."
    else:
        footer = f"Measured {when} on {'; '.join(machines) or 'hardware not recorded'}."
    helpers = helpers_hash()
    stale = sum(version(r, notebook_dir, helpers).startswith(STALE) for r in rows)
    if stale:
        footer += (
            f" {STALE} ({stale} of {len(rows)} rows): measured on an earlier version of the notebook or"
            " of helpers/ than today's (the commit the run started from named), or before runs were"
            " fingerprinted; re-run those notebooks to refresh them."
        )
    return f"{table(rows, marks, notebook_dir)}\n\n{footer}"


README_BLOCK = re.compile(r"(<!-- results: (?P<path>\S+) -->\n)(?P<body>.*?)(<!-- /results -->)", re.S)


def update_readme(
    readme: Path = ROOT / "README.md", write: bool = True, notebook_dir: Path = NOTEBOOKS
) -> list[str]:
    """Regenerate every results table in ``readme``; return the results files whose table changed.

    A table is the text between ``<!-- results: reports/results-full.json -->`` (a path relative
    to the README) and ``<!-- /results -->``; it lists every notebook in ``notebook_dir``, each
    row's version checked against today's files there. With ``write=False`` nothing is written: a
    non-empty answer means the README is out of date (new results, or a notebook or helpers module
    edited since the table was made).
    """
    readme = Path(readme)
    text = readme.read_text(encoding="utf-8")
    names = [p.name for p in sorted(Path(notebook_dir).glob("*.ipynb"))]
    changed = []

    def render(m: re.Match) -> str:
        body = readme_table(readme.parent / m["path"], names, notebook_dir) + "\n"
        if body != m["body"]:
            changed.append(m["path"])
        return m.group(1) + body + m.group(4)

    new = README_BLOCK.sub(render, text)
    if changed and write:
        write_atomic(readme, new)
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
    parser.add_argument("--timeout", type=int, default=None, help=TIMEOUT_HELP)
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

    def fail(message: str) -> int:
        print(f"{parser.prog}: error: {message}", file=sys.stderr, flush=True)
        return 2

    if args.table is not None or args.readme:
        try:
            if args.table is not None:
                print(readme_table(args.table))
                return 0
            changed = update_readme()
        except ValueError as exc:  # a results file that is not one: it is named
            return fail(str(exc))
        except OutputError as exc:
            return fail(str(exc))
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
    # the notebooks' folder, against which the tables' version column is checked
    folders = {p.resolve().parent for p in paths}
    notebook_dir = folders.pop() if len(folders) == 1 else NOTEBOOKS
    # everything the output needs is checked before the first notebook runs
    rows, records = [], None
    if args.out is not None:
        try:
            rows = load_results(args.out / f"results-{args.mode}.json")
        except ValueError as exc:
            return fail(f"{exc}; no notebook was run")
        problem = check_out_dir(args.out, args.mode)
        if problem:
            return fail(f"{problem}; no notebook was run")
        records = args.out / args.mode  # the executed notebooks and their records
    ran, lost = [], None
    for path in paths:
        print(f"running {path.name} ({args.mode}) …", file=sys.stderr, flush=True)
        try:
            row = run_notebook(path, args.mode, args.timeout, records)
        except OutputError as exc:  # it ran, but its executed copy or record could not be kept
            row, lost = exc.row, exc
        ran.append(row)
        rows = merge_rows(rows, [row])
        if args.out is not None and lost is None:
            try:
                write_results(args.out, args.mode, rows, notebook_dir)
            except OutputError as exc:
                lost = exc
        gb = f", peak {row['peak_memory_gb']:.1f} GB" if row["peak_memory_gb"] is not None else ""
        print(
            f"  {row['seconds']:.0f} s{gb}, {row['status']}, {row['headline']}", file=sys.stderr, flush=True
        )
        if lost is not None:
            print(
                f"{parser.prog}: error: {lost}; no further notebook runs. The rows so far are printed "
                f"below ({row['notebook']}'s is not, or not fully, kept in {args.out}).",
                file=sys.stderr,
                flush=True,
            )
            break
        if row["status"].startswith(STOPPED):
            print("stopped: no further notebook runs", file=sys.stderr, flush=True)
            break
    print(table(rows, notebook_dir=notebook_dir))
    return 0 if lost is None and all(r["status"] == "ok" for r in ran) else 1


if __name__ == "__main__":
    raise SystemExit(main())
