"""The versions the workbook claims are the versions it installs and is tested with.

pyproject.toml declares the lower bounds; README, environment.yml and notebook 00 repeat the Python one;
``.ci/lowest-versions.txt`` pins the same lower bounds, and ``.ci/run`` tests the workbook with them.
"""

from __future__ import annotations

import json
import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _lowest(req: Requirement) -> Version:
    """The lower bound ``>=X`` of a requirement (each runtime dependency must have exactly one)."""
    bounds = [Version(s.version) for s in req.specifier if s.operator == ">="]
    assert len(bounds) == 1, f"{req}: give one lower bound (>=), so that it can be pinned and tested"
    return bounds[0]


def _min_python() -> Version:
    return _lowest(Requirement(f"python{PROJECT['requires-python']}"))


def test_every_place_names_the_same_minimum_python():
    py = _min_python()
    short = f"{py.major}.{py.minor}"
    assert f"python>={short}" in (ROOT / "environment.yml").read_text(encoding="utf-8")
    assert f"Python {short}+" in (ROOT / "README.md").read_text(encoding="utf-8")
    setup = json.loads((ROOT / "notebooks" / "00_setup.ipynb").read_text(encoding="utf-8"))
    code = "".join("".join(c["source"]) for c in setup["cells"] if c["cell_type"] == "code")
    assert f">= ({py.major}, {py.minor})" in code and f"Python {short} or newer" in code


@pytest.mark.parametrize("requirement", PROJECT["dependencies"])
def test_each_dependency_installs_on_the_minimum_python(requirement):
    """A dependency that needs a newer Python than we declare makes `pip install` fail there (GloVe's
    package needs 3.11). Its Requires-Python, as installed here, must admit our minimum."""
    req = Requirement(requirement)
    needs = metadata.metadata(req.name).get("Requires-Python")
    if needs:
        admitted = Requirement(f"python{needs}").specifier
        assert admitted.contains(_min_python(), prereleases=True), (
            f"{req.name} requires Python {needs}, but pyproject.toml declares {PROJECT['requires-python']}"
        )


def test_the_lowest_versions_ci_tests_are_the_declared_lower_bounds():
    pinned = {}
    for line in (ROOT / ".ci" / "lowest-versions.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"{line}: pin with =="
            pinned[re.sub(r"[-_.]+", "-", name.strip().lower())] = Version(version.strip())
    declared = {
        re.sub(r"[-_.]+", "-", Requirement(r).name.lower()): _lowest(Requirement(r))
        for r in PROJECT["dependencies"]
    }
    assert pinned == declared, "pin in .ci/lowest-versions.txt exactly the lower bounds of pyproject.toml"
    assert "lowest-versions.txt" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
