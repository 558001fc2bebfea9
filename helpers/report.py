"""The headline line each notebook prints, and the pattern the notebook runner reads it with.

Each notebook prints one ``Headline: name = value`` line via :func:`headline`; the runner,
``python -m helpers.tools.report`` (for instructors and maintainers), puts it in its results table.
"""

from __future__ import annotations

import re

HEADLINE = re.compile(r"^Headline: (?P<name>.+?) = (?P<value>.+)$", re.M)  # what headline prints


def headline(name: str, value: float, percent: bool = True) -> None:
    """Print the notebook's headline metric in the form the report reads: ``Headline: name = value``."""
    print(f"Headline: {name} = {value:.2%}" if percent else f"Headline: {name} = {value:.4g}")
