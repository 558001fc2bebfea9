"""A plain training loop: ``train_epoch`` (one pass), ``evaluate``, and ``fit``, which loops over
epochs and records a per-epoch history; ``predict`` for outputs.

Data are tensors, ``x`` (N, ...) and ``y`` (N,) class indices. On a GPU a dataset that fits is
moved to the device once and batches are sliced there (no DataLoader round trips), and the
forward pass runs under mixed precision on CUDA (:func:`amp_dtype`): bf16 where the GPU does bf16
natively (Ampere and newer), otherwise fp16 with a gradient scaler (e.g. a T4, where bf16 would
only be emulated, slowly).

Bad input fails loudly rather than giving a wrong number: an empty set or a label outside 0…C−1
raises ``ValueError``, a NaN/inf loss :class:`NonFiniteLossError` (naming the epoch and step).
"""

from __future__ import annotations

import math
import time
import warnings
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


class NonFiniteLossError(FloatingPointError):
    """A loss became NaN or ±inf: ``epoch`` (from 1; ``None`` in :func:`evaluate`) and ``step``
    (the batch, from 1) say where; :func:`evaluate` also sets ``reason``: what was not finite first
    (``"inputs"``, ``"targets"``, ``"outputs"``, or ``"loss"`` when all three were finite)."""

    def __init__(self, message: str, epoch: int | None, step: int, reason: str | None = None):
        super().__init__(message)
        self.epoch, self.step, self.reason = epoch, step, reason


def _check_pair(data: Batch, name: str, if_empty: str = "") -> Batch:
    """``(x, y)`` checked: tensors, same number of rows, not empty; integer ``y`` as int64."""
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise TypeError(f"{name} must be a pair (x, y) of tensors, got {type(data).__name__}")
    x, y = data
    if not (torch.is_tensor(x) and torch.is_tensor(y)):
        raise TypeError(f"{name}: x and y must be torch tensors (see helpers.data.to_tensor)")
    if len(x) != len(y):
        raise ValueError(f"{name}: x has {len(x)} rows but y has {len(y)}")
    if len(x) == 0:
        raise ValueError(f"{name} is empty: x has shape {tuple(x.shape)}, no rows{if_empty}")
    if _is_integer(y) and y.dtype != torch.int64:
        y = y.long()  # e.g. uint8 or int32 class indices: the loss functions want int64
    return x, y


def _is_integer(y: torch.Tensor) -> bool:
    return not (y.dtype.is_floating_point or y.dtype.is_complex or y.dtype == torch.bool)


def _check_labels(out: torch.Tensor, **labels: torch.Tensor | None) -> None:
    """For outputs (B, C) and class-index targets ``name=y`` (N,): every label must be in 0…C−1."""
    for name, y in labels.items():
        if y is None or not (_is_integer(y) and y.ndim == 1 and out.ndim == 2):
            continue  # not class indices (e.g. float regression targets): nothing to check
        n_classes = out.shape[1]
        bad = (y < 0) | (y >= n_classes)
        if bad.any():
            i, n_bad = int(bad.nonzero()[0, 0]), int(bad.sum())
            raise ValueError(
                f"{name} labels must be class indices 0…{n_classes - 1} for a model with "
                f"{n_classes} outputs; found {int(y[i])} at index {i} ({n_bad} out of range in "
                f"all). Relabel them to 0…{n_classes - 1}, or give the model's last layer as many "
                "outputs as there are classes"
            )


def _check_every_step(device: torch.device) -> bool:
    """Check the loss for NaN/inf at every step? Free on the CPU; a sync per step on a GPU."""
    return device.type == "cpu"


def _non_finite(
    epoch: int,
    step: int,
    steps: int,
    x: torch.Tensor,
    y: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    epoch_ran: bool,
) -> NonFiniteLossError:
    """The error for a NaN/inf training loss, with a diagnosis: bad inputs, or divergence.
    ``epoch_ran``: the rest of the epoch was trained on (the GPU way); the weights may be NaN."""
    found = ""
    for name, t in (("x", x), ("y", y)):
        if t.dtype.is_floating_point and not (finite := torch.isfinite(t)).all():
            row = int((~finite).reshape(len(t), -1).any(1).nonzero()[0, 0])
            found += (
                f" The training {name} holds {int((~finite).sum())} NaN/inf value(s), the "
                f"first in row {row}: fix or drop those rows (check with "
                f"torch.isfinite({name}).all())."
            )
    if not found:
        found = (
            " The training x and y hold no NaN/inf, so it most likely diverged: try a lower "
            f"learning rate (now {optimizer.param_groups[0]['lr']:g}) or gradient clipping; "
            "if that does not help, check augment and the model's weights."
        )
    if epoch_ran:
        found += " The epoch ran to its end: build the model afresh, its weights may be NaN."
    return NonFiniteLossError(
        f"the training loss became NaN or infinite at epoch {epoch}, step {step} of {steps}; no "
        f"accuracy is reported for a run like this.{found}",
        epoch,
        step,
    )


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


def _has_non_finite(x: torch.Tensor) -> bool:
    return bool(x.dtype.is_floating_point and not torch.isfinite(x).all())


def _accuracy_count(out: torch.Tensor, y: torch.Tensor) -> float:
    if y.dtype.is_floating_point or out.ndim != 2:
        return math.nan
    return (out.argmax(1) == y).sum().item()


@torch.no_grad()
def predict(
    model: nn.Module,
    x: torch.Tensor,
    batch_size: int = 1024,
    device: torch.device | None = None,
    amp: bool = True,
) -> torch.Tensor:
    """Model outputs for all of ``x`` (N, ...), in eval mode, as a float32 CPU tensor (N, ...).

    An empty ``x`` (0 rows) gives an empty result of the model's output shape, e.g. (0, 10),
    from one forward pass on the empty batch; a model that cannot run on an empty batch gets a
    ``ValueError`` instead of a result of the wrong shape.
    """
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    outs = []
    try:
        for i in range(0, max(len(x), 1), batch_size):  # an empty x: one empty batch
            xb = x[i : i + batch_size].to(device, non_blocking=True)
            with _autocast(device, amp):
                try:
                    outs.append(model(xb).float().cpu())
                except Exception as exc:
                    if len(x):
                        raise
                    raise ValueError(
                        f"predict got an empty x (shape {tuple(x.shape)}) and the "
                        "model cannot run on an empty batch to give the output "
                        "shape; skip the call when len(x) == 0"
                    ) from exc
    finally:
        model.train(was_training)
    return torch.cat(outs)


@torch.no_grad()
def evaluate(
    model: nn.Module,
    data: Batch,
    batch_size: int = 1024,
    loss_fn: Callable = F.cross_entropy,
    device: torch.device | None = None,
    amp: bool = True,
) -> tuple[float, float]:
    """Mean loss and accuracy (0–1; NaN for non-class targets) of ``model`` on ``data = (x, y)``.

    ``x`` (N, ...), ``y`` (N,) class indices (any integer dtype) or float targets. Raises
    ``ValueError`` for an empty ``data`` or a class index outside 0…C−1 (C: the model's outputs),
    and :class:`NonFiniteLossError` when a batch's loss is NaN/inf (e.g. NaN inputs).
    """
    x, y = _check_pair(data, "data")
    _check_inputs(model, x, "data")
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
            loss = (_first_loss(loss_fn, out, yb, {"data": y}) if i == 0 else loss_fn(out, yb)).item()
            if not math.isfinite(loss):
                step = i // batch_size + 1
                if _has_non_finite(xb):
                    reason, why = "inputs", "its inputs hold NaN/inf: find them with torch.isfinite(x).all()"
                elif _has_non_finite(yb):
                    reason, why = (
                        "targets",
                        "its targets hold NaN/inf: find them with torch.isfinite(y).all()",
                    )
                elif _has_non_finite(out):
                    reason, why = (
                        "outputs",
                        (
                            "its inputs are finite but the model's outputs are NaN/inf: its weights are "
                            "NaN/inf or so large that the outputs overflow (a training run that diverged?)"
                        ),
                    )
                else:
                    reason, why = (
                        "loss",
                        "its inputs, targets and the model's outputs are finite: check the loss",
                    )
                raise NonFiniteLossError(
                    f"evaluate: the loss is {loss} on batch {step} (rows {i}…{i + len(xb) - 1}) "
                    f"of the evaluation data; {why}",
                    None,
                    step,
                    reason,
                )
            total_loss += loss * len(xb)
            correct += _accuracy_count(out, yb)
    finally:
        model.train(was_training)
    return total_loss / len(x), correct / len(x)


def _first_loss(
    loss_fn: Callable, out: torch.Tensor, yb: torch.Tensor, labels: dict[str, torch.Tensor | None]
) -> torch.Tensor:
    """``loss_fn(out, yb)`` for the first batch, once the model's output shape is known, with checks
    made before any step: class indices in range (for every set in ``labels``), and a loss that does
    not broadcast the targets against the output (torch only warns; here it is an error)."""
    _check_labels(out, **labels)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            loss = loss_fn(out, yb)
        except RuntimeError as exc:
            raise _label_error(out, yb, exc) from exc
    for w in caught:
        if "broadcast" in str(w.message):
            raise ValueError(
                f"the model's output has shape {tuple(out.shape)} but the targets have shape "
                f"{tuple(yb.shape)}, and the loss broadcast them to each other: it would train on a "
                "meaningless number. Give the targets the output's shape (e.g. y.unsqueeze(1) for one "
                "output per example) or the output the targets' (e.g. model(x).squeeze(1))"
            )
        warnings.warn(w.message, w.category, stacklevel=2)  # the loss's other warnings, shown as usual
    return loss


def _label_error(out: torch.Tensor, yb: torch.Tensor, exc: RuntimeError) -> Exception:
    """A sentence for a loss that rejected the targets: class labels of the wrong dtype or shape."""
    if out.ndim == 2 and yb.ndim == 1 and (yb.dtype.is_floating_point or yb.dtype == torch.bool):
        return ValueError(
            f"the labels y are {yb.dtype} but a classification loss (here for a model with "
            f"{out.shape[1]} outputs) wants class indices 0…{out.shape[1] - 1} as integers: pass "
            "y.long() (for a regression, use a loss like F.mse_loss and targets shaped like the output)"
        )
    if out.ndim == 2 and yb.ndim == 2 and yb.shape[1] == 1 and _is_integer(yb):
        return ValueError(
            f"the labels y have shape {tuple(yb.shape)}: class indices must be one per example, "
            "shape (N,): pass y.squeeze(1)"
        )
    return exc


def _check_inputs(model: nn.Module, x: torch.Tensor, name: str) -> None:
    """Inputs the model cannot take, caught before training with the fix: raw uint8 pixels, or
    floats of another precision than the model's weights."""
    if x.dtype == torch.uint8:
        raise ValueError(
            f"{name}: x is uint8 (raw pixels 0…255?); the model computes in floats: convert the "
            "images with helpers.data.to_tensor (float32 in [0, 1], shape (N, C, H, W))"
        )
    weights = [p.dtype for p in model.parameters() if p.dtype.is_floating_point]
    if x.dtype.is_floating_point and weights and x.dtype != weights[0]:
        raise ValueError(
            f"{name}: x is {x.dtype} but the model's weights are {weights[0]}: pass "
            f"x.to({weights[0]}) (or convert the model with model.to({x.dtype}))"
        )


def train_epoch(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    *,
    batch_size: int = 128,
    loss_fn: Callable = F.cross_entropy,
    generator: torch.Generator | None = None,
    scheduler=None,
    scaler: torch.amp.GradScaler | None = None,
    augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
    device: torch.device | None = None,
    amp: bool = True,
    epoch: int = 1,
    progress: bool = False,
    check: dict[str, torch.Tensor | None] | None = None,
    check_each_step: bool | None = None,
) -> tuple[float, float]:
    """One pass over ``(x, y)`` in shuffled mini-batches; returns the epoch's mean loss and accuracy.

    The loop of notebook 03, section 2, plus bookkeeping: ``x`` (N, ...) and ``y`` (N,) on the CPU or
    already on ``device``; ``scheduler`` (an LR scheduler) is stepped after every batch; ``scaler``
    scales fp16 losses (see :func:`fit`). The accuracy (0–1) is NaN for non-class targets.
    ``check``: ``{name: labels}`` to check at the first batch (see :func:`fit`). A NaN/inf loss
    raises :class:`NonFiniteLossError`, naming its step: at once with ``check_each_step`` (the
    default on the CPU), else at the end of the epoch (the default on a GPU: no sync per step).
    """
    device = device or next(model.parameters()).device
    scaler = scaler or torch.amp.GradScaler("cuda", enabled=False)
    steps = math.ceil(len(x) / batch_size)
    if check_each_step is None:
        check_each_step = _check_every_step(device)  # a check per step costs a GPU a sync per step
    model.train()
    order = torch.randperm(len(x), generator=generator).to(x.device)
    total_loss = torch.zeros((), device=device)  # sums stay on the device: no GPU→CPU sync per step
    correct = torch.zeros((), device=device)
    first_bad = torch.full((), steps, device=device)  # the first step with a NaN/inf loss (steps: none)
    for i in tqdm(
        range(steps), desc=f"epoch {epoch}", unit="batch", leave=False, disable=not progress or steps < 20
    ):
        idx = order[i * batch_size : (i + 1) * batch_size]
        xb = x[idx].to(device, non_blocking=True)
        yb = y[idx].to(device, non_blocking=True)
        if augment is not None:
            xb = augment(xb)
        with _autocast(device, amp):
            out = model(xb)  # 1. forward pass
            if i == 0 and check is not None:  # 2. loss (the first batch's checked)
                loss = _first_loss(loss_fn, out.float(), yb, check)
            else:
                loss = loss_fn(out.float(), yb)
        if check_each_step and not torch.isfinite(loss):
            raise _non_finite(epoch, i + 1, steps, x, y, optimizer, False)
        if not check_each_step:
            first_bad.masked_fill_(~torch.isfinite(loss.detach()) & (first_bad > i), i)
        optimizer.zero_grad(set_to_none=True)  # 3. clear the previous step's gradients
        scaler.scale(loss).backward()  # 4. backprop: p.grad for every parameter
        scaler.step(optimizer)  # 5. update: one optimizer step
        scaler.update()
        if scheduler is not None:
            scheduler.step()
        total_loss += loss.detach() * len(xb)
        if not yb.dtype.is_floating_point and out.ndim == 2:
            correct += (out.argmax(1) == yb).sum()
    if not check_each_step and (bad := int(first_bad)) < steps:
        raise _non_finite(epoch, bad + 1, steps, x, y, optimizer, True)
    train_acc = correct.item() / len(x) if not y.dtype.is_floating_point else math.nan
    return total_loss.item() / len(x), train_acc


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
    eval_name: str = "val",
    check_each_step: bool | None = None,
) -> History:
    """Train ``model`` for ``epochs`` epochs (:func:`train_epoch`), evaluating after each one
    (:func:`evaluate`); return the per-epoch history.

    Args:
        model: any ``nn.Module`` mapping a batch ``x`` (B, ...) to outputs (B, classes).
        train, val: ``(x, y)`` tensor pairs, ``x`` (N, ...) and ``y`` (N,) class indices 0…C−1
            (any integer dtype, used as int64) or, for other losses, float targets.
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
        eval_name: what the second set is, naming its history keys: ``"val"`` (a validation
            split, the default) or ``"test"`` where it really is the test set.
        check_each_step: look for a NaN/inf loss after every step (stop there) or once per epoch;
            default: every step on the CPU (free), once per epoch on a GPU (no sync per step).

    Returns:
        ``{"epoch", "train_loss", "train_acc", "<eval_name>_loss", "<eval_name>_acc", "seconds",
        "lr"}``, one entry per epoch; ``train_*`` are averages over the epoch's batches (dropout on),
        ``<eval_name>_*`` are NaN without ``val``; ``seconds`` is the training time of the epoch.

    Raises:
        ValueError: an empty ``train`` or ``val``; a class index outside 0…C−1, where C is the
            width of the model's (B, C) output, or a loss that broadcasts the targets against the
            output (e.g. mse_loss of (B, 1) against (B,)), checked at the first batch before any step.
        NonFiniteLossError: the training loss became NaN/inf (a learning rate too high, NaN
            inputs), naming the epoch and step: at that step, or at the end of that epoch
            (see ``check_each_step``).
    """
    if not (isinstance(eval_name, str) and eval_name.isidentifier() and eval_name != "train"):
        raise ValueError(
            f'eval_name names the second set\'s history keys: "val" or "test", got {eval_name!r}'
        )
    x, y = _check_pair(train, "train", "; pass at least one example")
    if val is not None:
        val = _check_pair(val, eval_name, f"; pass val=None to train without a {eval_name} set")
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be ≥ 1 (got {epochs}, {batch_size})")
    _check_inputs(model, x, "train")
    if val is not None:
        _check_inputs(model, val[0], eval_name)
    device = device or get_device(verbose=False)
    model.to(device)
    optimizer = optimizer or torch.optim.Adam(model.parameters(), lr=lr)
    sched = scheduler(optimizer, epochs * math.ceil(len(x) / batch_size)) if scheduler else None
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype(device, amp) == torch.float16)
    x, y = _place(x, device), _place(y, device)
    generator = torch.Generator(device="cpu")
    if seed is not None:
        generator.manual_seed(seed)
    else:
        generator.seed()

    keys = ("epoch", "train_loss", "train_acc", f"{eval_name}_loss", f"{eval_name}_acc", "seconds", "lr")
    history: History = {k: [] for k in keys}
    bar = tqdm(range(1, epochs + 1), desc=desc, unit="epoch", disable=not progress)
    for epoch in bar:
        start = time.perf_counter()
        check = {"train": y, eval_name: None if val is None else val[1]} if epoch == 1 else None
        train_loss, train_acc = train_epoch(
            model,
            x,
            y,
            optimizer,
            batch_size=batch_size,
            loss_fn=loss_fn,
            generator=generator,
            scheduler=sched,
            scaler=scaler,
            augment=augment,
            device=device,
            amp=amp,
            epoch=epoch,
            progress=progress,
            check=check,
            check_each_step=check_each_step,
        )
        seconds = time.perf_counter() - start  # train_epoch ends with a sync (.item()): the GPU is done
        eval_loss, eval_acc = math.nan, math.nan
        if val is not None:
            try:
                eval_loss, eval_acc = evaluate(model, val, loss_fn=loss_fn, device=device, amp=amp)
            except NonFiniteLossError as exc:
                if exc.reason != "outputs":
                    raise  # the evaluation set's inputs or targets, or the loss: evaluate's error says which
                raise NonFiniteLossError(
                    f"training diverged in epoch {epoch}: the model's outputs on the {eval_name} set are "
                    f"NaN/inf although its inputs are finite (the {eval_name} inputs are not to blame); "
                    "the weights are NaN/inf or so large that they overflow. Try a lower learning rate (now "
                    f"{optimizer.param_groups[0]['lr']:g}) or gradient clipping, and build the model afresh",
                    epoch,
                    math.ceil(len(x) / batch_size),
                ) from exc
        row = (epoch, train_loss, train_acc, eval_loss, eval_acc, seconds, optimizer.param_groups[0]["lr"])
        for key, value in zip(keys, row):
            history[key].append(value)
        bar.set_postfix(
            loss=f"{train_loss:.3f}",
            acc=f"{train_acc:.3f}",
            **{f"{eval_name}_acc": f"{eval_acc:.3f}"},
            s=f"{seconds:.1f}",
        )
    return history


def eval_set_name(history: History) -> str:
    """The name ``fit`` gave its second set in ``history``: ``"val"`` or ``"test"`` (or another)."""
    names = [k[: -len("_loss")] for k in history if k.endswith("_loss") and k != "train_loss"]
    if len(names) != 1:
        raise ValueError(
            f"not a fit history: expected train_loss and one more *_loss key, got {list(history)}"
        )
    return names[0]


def summarize(history: History) -> str:
    """One line on the last epoch: losses, accuracies and total training seconds.

    The second set's columns appear only if ``fit`` was given one, under the name it recorded
    (``validation`` for ``val``, ``test`` for ``eval_name="test"``).
    """
    name = eval_set_name(history)
    last = {k: v[-1] for k, v in history.items()}
    line = (
        f"{int(last['epoch'])} epochs, {sum(history['seconds']):.1f} s: train loss "
        f"{last['train_loss']:.4f} acc {last['train_acc']:.2%}"
    )
    if not math.isnan(last[f"{name}_loss"]):  # NaN without a second set
        label = "validation" if name == "val" else name
        line += f" | {label} loss {last[f'{name}_loss']:.4f} acc {last[f'{name}_acc']:.2%}"
    return line
