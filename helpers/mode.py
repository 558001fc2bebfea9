"""Quick vs full mode.

Every notebook runs in two modes that change *sizes*, never the code path:

- ``quick``: small real subsets and few epochs, so the whole test suite runs on a 2-core CPU in
  minutes. It is the default under ``pytest`` (``tests/conftest.py`` sets ``WORKBOOK_MODE=quick``
  for the notebook kernels it starts).
- ``full``: lecture settings (whole datasets, more epochs, a GPU when there is one). It is the
  default when a person opens a notebook.

Set ``WORKBOOK_MODE=quick`` or ``WORKBOOK_MODE=full`` in the environment to choose explicitly.
"""

from __future__ import annotations

import os
from typing import TypeVar

ENV_VAR = "WORKBOOK_MODE"
MODES = ("quick", "full")

T = TypeVar("T")


def get_mode() -> str:
    """Return ``"quick"`` or ``"full"`` from ``WORKBOOK_MODE`` (default ``"full"``).

    Raises:
        ValueError: if the variable holds anything else, naming the allowed values.
    """
    value = os.environ.get(ENV_VAR, "full").strip().lower() or "full"
    if value not in MODES:
        raise ValueError(
            f"{ENV_VAR}={value!r} is not a mode; set it to 'quick' or 'full' (or unset it for full)."
        )
    return value


def is_quick() -> bool:
    """True in quick mode."""
    return get_mode() == "quick"


def pick(quick: T, full: T) -> T:
    """Return ``quick`` in quick mode and ``full`` in full mode.

    Example: ``n_train = pick(quick=5_000, full=60_000)``.
    """
    return quick if is_quick() else full


def banner() -> str:
    """A one-line description of the current mode, for the top of a notebook."""
    mode = get_mode()
    what = (
        "small real subsets, few epochs (what the tests run)"
        if mode == "quick"
        else "lecture settings: full data, more epochs"
    )
    return f"Mode: {mode} — {what}. Change with the environment variable {ENV_VAR}=quick|full."
