"""Device choice and seeding.

``get_device()`` picks CUDA, then Apple MPS, then the CPU, prints which, and warns clearly when a
notebook that wants a GPU has to run on the CPU. ``WORKBOOK_DEVICE=cpu`` (or ``cuda``, ``mps``)
forces a choice.
"""

from __future__ import annotations

import os
import random
import warnings

import numpy as np
import torch

ENV_VAR = "WORKBOOK_DEVICE"


class CPUFallbackWarning(UserWarning):
    """A notebook that wants a GPU is running on the CPU (slower, but it works)."""


def _available(kind: str) -> bool:
    if kind == "cuda":
        return torch.cuda.is_available()
    if kind == "mps":
        return bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()
    return kind == "cpu"


def describe(device: torch.device) -> str:
    """A human-readable name for ``device``, e.g. ``'cuda (NVIDIA H100 80GB HBM3)'``."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "mps":
        return "mps (Apple GPU)"
    return f"cpu ({torch.get_num_threads()} threads)"


def get_device(wants_gpu: bool = False, verbose: bool = True) -> torch.device:
    """Choose the device to compute on: CUDA, then MPS, then CPU.

    Args:
        wants_gpu: the notebook is slow without a GPU; on the CPU a :class:`CPUFallbackWarning`
            says so and what to expect.
        verbose: print the choice.

    Raises:
        ValueError: ``WORKBOOK_DEVICE`` names an unknown or unavailable device.
    """
    forced = os.environ.get(ENV_VAR, "").strip().lower()
    if forced:
        if forced not in ("cuda", "mps", "cpu"):
            raise ValueError(f"{ENV_VAR}={forced!r}: use 'cuda', 'mps' or 'cpu', or unset it.")
        if not _available(forced):
            raise ValueError(
                f"{ENV_VAR}={forced!r} but that device is not available here; unset {ENV_VAR} "
                "to let the workbook choose."
            )
        kind = forced
    else:
        kind = next(k for k in ("cuda", "mps", "cpu") if _available(k))
    device = torch.device(kind)
    if verbose:
        print(f"Using device: {describe(device)}")
    if wants_gpu and device.type == "cpu":
        warnings.warn(
            "This notebook wants a GPU but none was found, so it runs on the CPU. Quick mode is "
            "sized for a CPU; full mode will be slow. On Colab: Runtime > Change runtime type > GPU.",
            CPUFallbackWarning,
            stacklevel=2,
        )
    return device


def seed_everything(seed: int = 0) -> None:
    """Seed Python's, NumPy's and PyTorch's (CPU and CUDA) random generators.

    Results on a GPU can still differ slightly run to run (non-deterministic kernels).
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
