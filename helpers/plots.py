"""Plots the notebooks share: training curves, image grids with labels, confusion matrices."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from .train import History, eval_set_name

_SET_NAMES = {"val": "validation"}  # legend names of fit's history keys


def _numpy_images(images) -> np.ndarray:
    """Tensor (N, C, H, W) floats in [0, 1] or array (N, H, W[, C]) → array (N, H, W[, C])."""
    if torch.is_tensor(images):
        images = images.detach().cpu().float()
        if images.ndim == 4:
            images = images.permute(0, 2, 3, 1)
        images = images.numpy()
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim not in (3, 4):
        raise ValueError(f"expected a batch of images (N,H,W), (N,H,W,C) or (N,C,H,W); got {images.shape}")
    return images


def plot_history(
    histories: History | Mapping[str, History],
    metrics: Sequence[str] = ("loss", "acc"),
    title: str = "",
    axes=None,
):
    """Training (dashed) and validation or test (solid) curves per epoch, one panel per metric.

    Args:
        histories: one ``fit`` history, or ``{label: history}`` to compare runs. The legend names
            the second set as ``fit`` recorded it: "validation" (``val_*`` keys) or "test".
        metrics: any of ``"loss"``, ``"acc"``.

    Returns:
        the matplotlib Figure.
    """
    if "epoch" in histories:
        histories = {"": histories}
    if axes is None:
        fig, axes = plt.subplots(1, len(metrics), figsize=(5.2 * len(metrics), 3.6), squeeze=False)
        axes = axes[0]
    fig = axes[0].figure
    for (label, h), color in zip(histories.items(), plt.rcParams["axes.prop_cycle"].by_key()["color"] * 9):
        for ax, metric in zip(axes, metrics):
            second = eval_set_name(h)
            for split, style, name in (
                ("train", "--", "train"),
                (second, "-", _SET_NAMES.get(second, second)),
            ):
                values = np.asarray(h[f"{split}_{metric}"], dtype=float)
                if not np.all(np.isnan(values)):
                    ax.plot(
                        h["epoch"],
                        values,
                        style,
                        color=color,
                        marker="o",
                        markersize=3,
                        label=f"{label} {name}".strip(),
                    )
    for ax, metric in zip(axes, metrics):
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
        ax.set_ylabel({"loss": "loss", "acc": "accuracy"}.get(metric, metric))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def show_images(
    images,
    labels=None,
    preds=None,
    class_names: Sequence[str] | None = None,
    ncols: int = 8,
    size: float = 1.4,
    cmap: str = "gray",
    title: str = "",
):
    """A grid of images with optional true labels and predictions (wrong ones in red).

    Args:
        images: (N, H, W) or (N, H, W, 3) uint8/float array, or a (N, C, H, W) tensor in [0, 1].
        labels, preds: (N,) ints (or None).
        class_names: names to print instead of indices.
    """
    images = _numpy_images(images)
    n = len(images)
    nrows = max(1, int(np.ceil(n / ncols)))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows * 1.15), squeeze=False)
    name = (lambda i: class_names[int(i)]) if class_names is not None else (lambda i: str(int(i)))
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k >= n:
            continue
        img = images[k]
        ax.imshow(img, cmap=cmap if img.ndim == 2 else None, vmin=0, vmax=255 if img.dtype == np.uint8 else 1)
        text, color = "", "black"
        if labels is not None:
            text = name(labels[k])
        if preds is not None:
            text = f"{text} → {name(preds[k])}" if text else name(preds[k])
            if labels is not None and int(labels[k]) != int(preds[k]):
                color = "crimson"
        if text:
            ax.set_title(text, fontsize=8, color=color)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def confusion_matrix(y_true, y_pred, n_classes: int) -> np.ndarray:
    """Counts (n_classes, n_classes): row = true class, column = predicted class."""
    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    return np.bincount(y_true * n_classes + y_pred, minlength=n_classes**2).reshape(n_classes, n_classes)


def plot_confusion(y_true, y_pred, class_names: Sequence[str], normalize: bool = True, ax=None):
    """Plot the confusion matrix (rows normalised to recall when ``normalize``); return it.

    Returns:
        the count matrix (n_classes, n_classes).
    """
    cm = confusion_matrix(y_true, y_pred, len(class_names))
    shown = cm / np.maximum(cm.sum(1, keepdims=True), 1) if normalize else cm
    if ax is None:
        _, ax = plt.subplots(figsize=(0.55 * len(class_names) + 2, 0.55 * len(class_names) + 1.6))
    im = ax.imshow(shown, cmap="Blues", vmin=0)
    ax.set_xticks(range(len(class_names)), class_names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(class_names)), class_names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(len(class_names)):
        for j in range(len(class_names)):
            value = f"{shown[i, j]:.2f}" if normalize else str(cm[i, j])
            ax.text(
                j,
                i,
                value,
                ha="center",
                va="center",
                fontsize=7,
                color="white" if shown[i, j] > 0.5 * shown.max() else "black",
            )
    ax.figure.colorbar(im, ax=ax, fraction=0.046)
    ax.figure.tight_layout()
    return cm


def most_confused(cm: np.ndarray, class_names: Sequence[str], k: int = 5) -> list[tuple[str, str, int]]:
    """The ``k`` largest off-diagonal cells: ``(true name, predicted name, count)``."""
    off = cm.copy()
    np.fill_diagonal(off, 0)
    flat = np.argsort(off, axis=None)[::-1][:k]
    return [
        (class_names[i], class_names[j], int(off[i, j])) for i, j in zip(*np.unravel_index(flat, cm.shape))
    ]
