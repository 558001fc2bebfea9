"""Batched image augmentation on tensors, on whatever device the batch lives (no per-image loop)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def flip_and_translate(x: torch.Tensor, max_shift: int = 4, flip: bool = True) -> torch.Tensor:
    """Random horizontal flips and random translations of up to ``max_shift`` pixels.

    Each image of the batch ``x`` (N, C, H, W) gets its own flip (probability ½) and its own shift
    (reflect-padded, so no black borders). Returns a new tensor of the same shape.
    """
    if x.ndim != 4:
        raise ValueError(f"expected a batch (N, C, H, W), got shape {tuple(x.shape)}")
    n, c, h, w = x.shape
    if flip:
        mask = torch.rand(n, device=x.device) < 0.5
        x = torch.where(mask[:, None, None, None], x.flip(3), x)
    if max_shift <= 0:
        return x
    padded = F.pad(x, (max_shift,) * 4, mode="reflect")
    dy = torch.randint(0, 2 * max_shift + 1, (n,), device=x.device)
    dx = torch.randint(0, 2 * max_shift + 1, (n,), device=x.device)
    rows = (dy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]  # (N, 1, H, 1)
    cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, None, :]  # (N, 1, 1, W)
    batch = torch.arange(n, device=x.device)[:, None, None, None]
    chans = torch.arange(c, device=x.device)[None, :, None, None]
    return padded[batch, chans, rows, cols]
