"""Quick vs full mode.

Every notebook runs in two modes that change *sizes*, never the code path:

- ``quick``: small real subsets and few epochs, so a notebook runs on a laptop CPU in minutes
  and the whole test suite on a 2-core CPU. It is the default under ``pytest``
  (``tests/conftest.py`` sets ``WORKBOOK_MODE=quick`` for the notebook kernels it starts).
- ``full``: lecture settings (whole datasets, more epochs), sized for a GPU.

``WORKBOOK_MODE=quick`` or ``WORKBOOK_MODE=full`` chooses explicitly. When it is unset (or
empty) the default follows the hardware: **full on a CUDA or Apple MPS GPU, quick on a CPU**, so
opening a notebook on a laptop without a GPU never starts an hour-long run. ``WORKBOOK_DEVICE``
(see :mod:`helpers.device`) is respected: ``WORKBOOK_DEVICE=cpu`` makes the default quick even on
a GPU machine, ``cuda`` or ``mps`` make it full.

To switch in a notebook, run ``%env WORKBOOK_MODE=full`` in a cell before the imports (then run
the notebook from the top: sizes picked in earlier cells stay as they were); in a shell,
``WORKBOOK_MODE=full jupyter lab``.
"""

from __future__ import annotations

import os
from typing import TypeVar

ENV_VAR = "WORKBOOK_MODE"
DEVICE_ENV_VAR = "WORKBOOK_DEVICE"  # helpers.device.ENV_VAR, not imported to keep this module light
MODES = ("quick", "full")

T = TypeVar("T")


def default_mode() -> tuple[str, str]:
    """The mode to use when ``WORKBOOK_MODE`` is unset, and why: ``(mode, reason)``.

    Full on a CUDA or MPS GPU, quick on a CPU; ``WORKBOOK_DEVICE=cpu|cuda|mps`` decides instead
    of detection when set (an unknown value is left for :func:`helpers.device.get_device` to
    reject). Prints nothing.
    """
    import torch

    forced = os.environ.get(DEVICE_ENV_VAR, "").strip().lower()
    if forced == "cpu":
        return "quick", f"{ENV_VAR} is unset and {DEVICE_ENV_VAR}=cpu forces the CPU"
    if forced in ("cuda", "mps"):
        return "full", f"{ENV_VAR} is unset and {DEVICE_ENV_VAR}={forced} forces a GPU"
    if torch.cuda.is_available():
        return "full", f"{ENV_VAR} is unset and a CUDA GPU was found"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "full", f"{ENV_VAR} is unset and an Apple MPS GPU was found"
    return "quick", f"{ENV_VAR} is unset and no GPU was found"


def _mode_and_reason() -> tuple[str, str]:
    value = os.environ.get(ENV_VAR, "").strip().lower()
    if not value:
        return default_mode()
    if value not in MODES:
        raise ValueError(
            f"{ENV_VAR}={value!r} is not a mode; set it to 'quick' or 'full' (or unset it for "
            "the default: full on a GPU, quick on a CPU)."
        )
    return value, f"set by {ENV_VAR}={value}"


def get_mode() -> str:
    """Return ``"quick"`` or ``"full"``: ``WORKBOOK_MODE`` if set, else :func:`default_mode`.

    Raises:
        ValueError: if the variable holds anything else, naming the allowed values.
    """
    return _mode_and_reason()[0]


def is_quick() -> bool:
    """True in quick mode."""
    return get_mode() == "quick"


def pick(quick: T, full: T) -> T:
    """Return ``quick`` in quick mode and ``full`` in full mode.

    Example: ``n_train = pick(quick=5_000, full=60_000)``.
    """
    return quick if is_quick() else full


def banner() -> str:
    """Which mode, why, and how to switch, for the top of a notebook (two lines)."""
    mode, reason = _mode_and_reason()
    what = (
        "small real subsets, few epochs (what the tests run)"
        if mode == "quick"
        else "lecture settings (full data, more epochs)"
    )
    other = "full" if mode == "quick" else "quick"
    return (
        f"Mode: {mode} — {reason}, so {mode} mode: {what}.\n"
        f"Switch with {ENV_VAR}=full or {ENV_VAR}=quick, set before the imports: "
        f"`%env {ENV_VAR}={other}` in a notebook cell, then run the notebook from the top; "
        f"or `{ENV_VAR}={other} jupyter lab` in the shell."
    )
