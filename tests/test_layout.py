"""The package's layout: what notebooks import stays apart from the instructors' tooling
(``helpers.tools``), and no helpers module imports another in a circle."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "helpers"
TOOLING = ("helpers.tools", "nbclient", "nbformat")  # what a notebook-facing module must not load


def module_name(path: Path) -> str:
    """``helpers/tools/report.py`` → ``helpers.tools.report``; a package's ``__init__.py`` → the package."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def notebook_facing() -> list[str]:
    """Every helpers module outside ``helpers.tools``: what notebooks may import."""
    return sorted(module_name(p) for p in PACKAGE.glob("*.py") if p.name != "__init__.py")


def test_notebook_facing_modules_do_not_load_the_tooling():
    """Each module a notebook may import, imported one after the other in a fresh interpreter,
    loads neither helpers.tools nor nbclient/nbformat (the runner's)."""
    modules = notebook_facing()
    assert {"helpers.data", "helpers.report", "helpers.train"} <= set(modules)
    script = (
        "import importlib, json, sys\n"
        f"tooling = {TOOLING!r}\n"
        "def loaded():\n"
        "    return sorted(m for m in sys.modules if any(m == t or m.startswith(t + '.') for t in tooling))\n"
        "found = {}\n"
        f"for name in ['helpers', *{modules!r}]:\n"
        "    importlib.import_module(name)\n"
        "    new = [m for m in loaded() if m not in sum(found.values(), [])]\n"
        "    if new:\n"
        "        found[name] = new\n"
        "from helpers import data, device, exercises, mode, plots, report, train  # as the notebooks do\n"
        "print(json.dumps(found))\n"
    )
    env = {**os.environ, "MPLBACKEND": "Agg"}
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert not found, f"importing these loads the tooling (module → what it loaded): {found}"


# --- import circles --------------------------------------------------------------------------


def _runtime_nodes(tree: ast.AST):
    """The nodes of ``tree`` that run, leaving out ``if TYPE_CHECKING:`` blocks."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def import_graph(sources: dict[str, str], package: str = "helpers") -> dict[str, set[str]]:
    """Module → the modules of ``package`` it imports, anywhere in its code (module level, inside
    functions): ``import helpers.x``, ``from helpers import x``, ``from helpers.x import y``,
    ``from . import x``, ``from .x import y``, ``from ..x import y``.

    ``sources``: module name → its source; a package's ``__init__`` is named as the package.
    """
    modules = set(sources)

    def resolve(base: str, names: list[str]) -> set[str]:
        # ``from base import name``: the submodule base.name where there is one, else base itself
        found = {f"{base}.{n}" for n in names if f"{base}.{n}" in modules}
        if len(found) < len(names) and base in modules:
            found.add(base)
        return found

    graph: dict[str, set[str]] = {}
    for name, source in sources.items():
        is_package = any(m.startswith(name + ".") for m in modules) or name == package
        here = name if is_package else name.rpartition(".")[0]  # the package relative imports start from
        edges = set()
        for node in _runtime_nodes(ast.parse(source)):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    target = alias.name
                    while (
                        target and target not in modules
                    ):  # import helpers.x.y → helpers.x.y, else its parents
                        target = target.rpartition(".")[0]
                    if target:
                        edges.add(target)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = here
                    for _ in range(node.level - 1):
                        base = base.rpartition(".")[0]
                    base = f"{base}.{node.module}" if node.module else base
                else:
                    base = node.module or ""
                if base == package or base.startswith(package + "."):
                    edges |= resolve(base, [a.name for a in node.names])
        graph[name] = edges - {name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of ``graph`` as ``[a, b, …, a]``, or None when there is none."""
    state: dict[str, str] = {}  # "open" while on the path, "done" once every way out was explored
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        path.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def package_sources() -> dict[str, str]:
    return {module_name(p): p.read_text(encoding="utf-8") for p in sorted(PACKAGE.rglob("*.py"))}


def test_the_cycle_finder_sees_imports_inside_functions():
    """The circle the package once had: data imported mobilenet inside a function, mobilenet imports data."""
    sources = {
        "helpers": "",
        "helpers.download": "import os\n",
        "helpers.data": "from .download import atomic_path\n\ndef build():\n    from . import mobilenet\n",
        "helpers.mobilenet": "from . import data\nfrom .download import atomic_path\n",
        "helpers.tools": "",
        "helpers.tools.mirror": "from helpers import data, mobilenet\nfrom ..download import atomic_path\n",
    }
    graph = import_graph(sources)
    assert graph["helpers.tools.mirror"] == {"helpers.data", "helpers.mobilenet", "helpers.download"}
    assert find_cycle(graph) == ["helpers.data", "helpers.mobilenet", "helpers.data"]
    sources["helpers.data"] = "import helpers.download\n"  # the builder moved out: no circle
    assert find_cycle(import_graph(sources)) is None


def test_no_import_circle_among_helpers_modules():
    graph = import_graph(package_sources())
    assert "helpers.mobilenet" in graph and "helpers.tools.report" in graph
    assert "helpers.data" in graph["helpers.mobilenet"]  # the graph does see intra-package imports
    cycle = find_cycle(graph)
    assert cycle is None, "helpers modules import each other in a circle: " + " → ".join(cycle)


# --- notebooks ---------------------------------------------------------------------------------

FROM_HELPERS = re.compile(r"\bfrom\s+helpers\s+import\s+(\([^)]*\)|[^\n]*)")


def test_notebooks_never_import_the_tooling():
    bad = []
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert notebooks
    for path in notebooks:
        for i, cell in enumerate(json.loads(path.read_text(encoding="utf-8"))["cells"]):
            if cell["cell_type"] != "code":
                continue
            source = "".join(cell["source"])
            names = " ".join(m.group(1) for m in FROM_HELPERS.finditer(source))
            if re.search(r"\bhelpers\.tools\b", source) or re.search(r"\btools\b", names):
                bad.append(f"{path.name} cell {i}")
    assert not bad, f"notebooks import helpers.tools (tooling for instructors): {', '.join(bad)}"


def test_ruff_keeps_the_style():
    """``ruff check`` is clean on helpers, tests and notebooks, and ``ruff format`` on helpers and tests
    (notebook cells keep their hand layout): the rules are in pyproject.toml."""
    root = Path(__file__).resolve().parent.parent
    for args in (["check", "."], ["format", "--check", "helpers", "tests"]):
        run = subprocess.run([sys.executable, "-m", "ruff", *args], cwd=root, capture_output=True, text=True)
        assert "No module named ruff" not in run.stderr, "ruff is missing: pip install -r requirements.txt"
        assert run.returncode == 0, (
            f"ruff {' '.join(args)} (run it with --fix, or `ruff format`):\n{run.stdout}"
        )
