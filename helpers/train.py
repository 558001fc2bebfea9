"""A plain training loop: ``fit`` → per-epoch history, ``evaluate``, ``predict``.

Data are tensors, ``x`` (N, ...) and ``y`` (N,) class indices. On a GPU a dataset that fits is
moved to the device once and batches are sliced there (no DataLoader round trips), and the
forward pass runs under mixed precision on CUDA (:func:`amp_dtype`): bf16 where the GPU does bf16
natively (Ampere and newer), otherwise fp16 with a gradient scaler (e.g. a T4, where bf16 would
only be emulated, slowly).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .device import get_device

Batch = tuple[torch.Tensor, torch.Tensor]
History = dict[str, list[float]]
#: Tensors above this size stay on the CPU and move to the GPU batch by batch.
MAX_ON_DEVICE_BYTES = 4 << 30


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (optionally only those with ``requires_grad``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _check_pair(data: Batch, name: str) -> Batch:
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise TypeError(f"{name} must be a pair (x, y) of tensors, got {type(data).__name__}")
    x, y = data
    if not (torch.is_tensor(x) and torch.is_tensor(y)):
        raise TypeError(f"{name}: x and y must be torch tensors (see helpers.data.to_tensor)")
    if len(x) != len(y):
        raise ValueError(f"{name}: x has {len(x)} rows but y has {len(y)}")
    return x, y


def _place(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Move ``t`` to ``device`` when it fits (whole small datasets live on the GPU)."""
    if device.type != "cpu" and t.element_size() * t.nelement() <= MAX_ON_DEVICE_BYTES:
        return t.to(device, non_blocking=True)
    return t


def _native_bf16() -> bool:
    """True where the current CUDA GPU computes in bf16 natively (not just by emulation)."""
    try:
        return torch.cuda.is_bf16_supported(including_emulation=False)
    except TypeError:  # an older torch without the keyword: its answer was the native one
        return torch.cuda.is_bf16_supported()


def amp_dtype(device: torch.device, amp: bool = True) -> torch.dtype | None:
    """The autocast dtype for ``device``: ``None`` when ``amp`` is off or ``device`` is not CUDA.

    ``torch.bfloat16`` where the GPU does bf16 natively, else ``torch.float16``, which needs a
    gradient scaler (:func:`fit` enables one exactly when this returns ``torch.float16``).
    """
    if not amp or torch.device(device).type != "cuda":
        return None
    return torch.bfloat16 if _native_bf16() else torch.float16


def _autocast(device: torch.device, amp: bool):
    """Autocast to :func:`amp_dtype` on CUDA when ``amp``; a no-op context elsewhere."""
    dtype = amp_dtype(device, amp)
    if dtype is not None:
        return torch.autocast("cuda", dtype=dtype)
    return torch.autocast(torch.device(device).type, enabled=False)


def _accuracy_count(out: torch.Tensor, y: torch.Tensor) -> float:
    if y.dtype.is_floating_point or out.ndim != 2:
        return math.nan
    return (out.argmax(1) == y).sum().item()


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 1024,
            device: torch.device | None = None, amp: bool = True) -> torch.Tensor:
    """Model outputs for all of ``x`` (N, ...), in eval mode, as a float32 CPU tensor (N, ...)."""
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    outs = []
    try:
        for i in range(0, len(x), batch_size):
            xb = x[i : i + batch_size].to(device, non_blocking=True)
            with _autocast(device, amp):
                outs.append(model(xb).float().cpu())
    finally:
        model.train(was_training)
    return torch.cat(outs) if outs else torch.empty(0)


@torch.no_grad()
def evaluate(model: nn.Module, data: Batch, batch_size: int = 1024,
             loss_fn: Callable = F.cross_entropy, device: torch.device | None = None,
             amp: bool = True) -> tuple[float, float]:
    """Mean loss and accuracy (0–1; NaN for non-class targets) of ``model`` on ``data = (x, y)``."""
    x, y = _check_pair(data, "data")
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    total_loss, correct = 0.0, 0.0
    try:
        for i in range(0, len(x), batch_size):
            xb = x[i : i + batch_size].to(device, non_blocking=True)
            yb = y[i : i + batch_size].to(device, non_blocking=True)
            with _autocast(device, amp):
                out = model(xb)
            out = out.float()
            total_loss += loss_fn(out, yb).item() * len(xb)
            correct += _accuracy_count(out, yb)
    finally:
        model.train(was_training)
    return total_loss / max(len(x), 1), correct / max(len(x), 1)


def fit(
    model: nn.Module,
    train: Batch,
    val: Batch | None = None,
    *,
    epochs: int = 5,
    batch_size: int = 128,
    optimizer: torch.optim.Optimizer | None = None,
    lr: float = 1e-3,
    loss_fn: Callable = F.cross_entropy,
    scheduler: Callable[[torch.optim.Optimizer, int], object] | None = None,
    augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
    device: torch.device | None = None,
    amp: bool = True,
    progress: bool = True,
    desc: str = "training",
    seed: int | None = None,
) -> History:
    """Train ``model`` with mini-batches and return its per-epoch history.

    Args:
        model: any ``nn.Module`` mapping a batch ``x`` (B, ...) to outputs (B, classes).
        train, val: ``(x, y)`` tensor pairs; ``y`` (N,) int64 class indices.
        epochs, batch_size: the budget; batches are reshuffled every epoch.
        optimizer: defaults to Adam with learning rate ``lr``.
        loss_fn: ``loss_fn(outputs, y)``, mean over the batch (default cross-entropy on logits).
        scheduler: ``scheduler(optimizer, total_steps)`` → an LR scheduler stepped every batch
            (e.g. ``lambda opt, n: torch.optim.lr_scheduler.OneCycleLR(opt, 0.01, total_steps=n)``).
        augment: applied to each training batch on the device, e.g. random flips.
        device: defaults to :func:`helpers.device.get_device` (quietly).
        amp: mixed precision on CUDA (ignored on CPU/MPS): bf16 autocast where the GPU does bf16
            natively, else fp16 autocast with a gradient scaler; see :func:`amp_dtype`.
        progress: show a ``tqdm`` bar over epochs (and batches).
        seed: seeds the batch shuffling for reproducible runs.

    Returns:
        ``{"epoch", "train_loss", "train_acc", "val_loss", "val_acc", "seconds", "lr"}``, one
        entry per epoch; ``train_*`` are averages over the epoch's batches (dropout on),
        ``val_*`` are NaN without ``val``; ``seconds`` is the training time of the epoch.
    """
    x, y = _check_pair(train, "train")
    if val is not None:
        _check_pair(val, "val")
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be ≥ 1 (got {epochs}, {batch_size})")
    device = device or get_device(verbose=False)
    model.to(device)
    optimizer = optimizer or torch.optim.Adam(model.parameters(), lr=lr)
    steps_per_epoch = math.ceil(len(x) / batch_size)
    sched = scheduler(optimizer, epochs * steps_per_epoch) if scheduler else None
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype(device, amp) == torch.float16)
    x, y = _place(x, device), _place(y, device)
    generator = torch.Generator(device="cpu")
    if seed is not None:
        generator.manual_seed(seed)
    else:
        generator.seed()

    history: History = {k: [] for k in
                        ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "seconds", "lr")}
    bar = tqdm(range(1, epochs + 1), desc=desc, unit="epoch", disable=not progress)
    for epoch in bar:
        model.train()
        start = time.perf_counter()
        order = torch.randperm(len(x), generator=generator).to(x.device)
        total_loss = torch.zeros((), device=device)
        correct = torch.zeros((), device=device)
        seen = 0
        for i in tqdm(range(steps_per_epoch), desc=f"epoch {epoch}", unit="batch", leave=False,
                      disable=not progress or steps_per_epoch < 20):
            idx = order[i * batch_size : (i + 1) * batch_size]
            xb = x[idx].to(device, non_blocking=True)
            yb = y[idx].to(device, non_blocking=True)
            if augment is not None:
                xb = augment(xb)
            with _autocast(device, amp):
                out = model(xb)
                loss = loss_fn(out.float(), yb)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            if sched is not None:
                sched.step()
            # accumulate on the device: no GPU→CPU sync inside the loop
            total_loss += loss.detach() * len(xb)
            if not yb.dtype.is_floating_point and out.ndim == 2:
                correct += (out.argmax(1) == yb).sum()
            seen += len(xb)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds = time.perf_counter() - start
        train_loss = total_loss.item() / seen
        train_acc = correct.item() / seen if not y.dtype.is_floating_point else math.nan
        val_loss, val_acc = (evaluate(model, val, loss_fn=loss_fn, device=device, amp=amp)
                             if val is not None else (math.nan, math.nan))
        for key, value in zip(history, (epoch, train_loss, train_acc, val_loss, val_acc, seconds,
                                        optimizer.param_groups[0]["lr"])):
            history[key].append(value)
        bar.set_postfix(loss=f"{train_loss:.3f}", acc=f"{train_acc:.3f}",
                        val_acc=f"{val_acc:.3f}", s=f"{seconds:.1f}")
    return history


def summarize(history: History) -> str:
    """One line on the last epoch: losses, accuracies and total training seconds."""
    last = {k: v[-1] for k, v in history.items()}
    return (f"{int(last['epoch'])} epochs, {sum(history['seconds']):.1f} s: train loss "
            f"{last['train_loss']:.4f} acc {last['train_acc']:.2%} | val loss {last['val_loss']:.4f} "
            f"acc {last['val_acc']:.2%}")
