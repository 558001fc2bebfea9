"""Convolution and pooling written by hand in NumPy: first with loops, then vectorised.

Shapes follow PyTorch: images ``x`` (N, C_in, H, W); kernels ``w`` (C_out, C_in, kh, kw); bias
(C_out,); output (N, C_out, H_out, W_out) with ``H_out = (H + 2·padding − kh) // stride + 1``.
Like every deep-learning library this computes a *cross-correlation* (the kernel is not flipped).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def output_size(n: int, k: int, padding: int = 0, stride: int = 1) -> int:
    """Output length along one axis: ``(n + 2·padding − k) // stride + 1``.

    Raises:
        ValueError: the kernel is larger than the padded input, or stride/padding are invalid.
    """
    if stride < 1 or padding < 0:
        raise ValueError(f"stride must be ≥ 1 and padding ≥ 0 (got stride={stride}, padding={padding})")
    if k > n + 2 * padding:
        raise ValueError(f"kernel size {k} is larger than the padded input ({n} + 2·{padding} = "
                         f"{n + 2 * padding}): use a smaller kernel or more padding")
    return (n + 2 * padding - k) // stride + 1


def _check(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride: int, padding: int):
    x, w = np.asarray(x), np.asarray(w)
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError(f"expected x (N, C_in, H, W) and w (C_out, C_in, kh, kw); got x {x.shape}, w {w.shape}")
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"x has {x.shape[1]} channels but the kernels expect {w.shape[1]}")
    if b is not None and np.shape(b) != (w.shape[0],):
        raise ValueError(f"bias must have shape ({w.shape[0]},), got {np.shape(b)}")
    h_out = output_size(x.shape[2], w.shape[2], padding, stride)
    w_out = output_size(x.shape[3], w.shape[3], padding, stride)
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    return xp, w, h_out, w_out


def conv2d_loops(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None,
                 stride: int = 1, padding: int = 0) -> np.ndarray:
    """Convolution layer with explicit loops: every output is the sum of an elementwise product.

    x (N, C_in, H, W), w (C_out, C_in, kh, kw), b (C_out,) → (N, C_out, H_out, W_out).
    """
    xp, w, h_out, w_out = _check(x, w, b, stride, padding)
    n, c_out, kh, kw = xp.shape[0], w.shape[0], w.shape[2], w.shape[3]
    out = np.zeros((n, c_out, h_out, w_out), dtype=np.result_type(xp, w, float))
    for i in range(n):                      # each image
        for o in range(c_out):              # each kernel (output channel)
            for r in range(h_out):          # each output row
                for c in range(w_out):      # each output column
                    window = xp[i, :, r * stride : r * stride + kh, c * stride : c * stride + kw]
                    out[i, o, r, c] = np.sum(window * w[o]) + (b[o] if b is not None else 0)
    return out


def conv2d(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None,
           stride: int = 1, padding: int = 0) -> np.ndarray:
    """Vectorised convolution layer: all windows at once, then one tensor contraction.

    Same shapes and result as :func:`conv2d_loops`.
    """
    xp, w, h_out, w_out = _check(x, w, b, stride, padding)
    kh, kw = w.shape[2], w.shape[3]
    windows = sliding_window_view(xp, (kh, kw), axis=(2, 3))  # (N, C_in, H', W', kh, kw)
    windows = windows[:, :, : h_out * stride : stride, : w_out * stride : stride]
    out = np.einsum("nchwij,ocij->nohw", windows, w, optimize=True)
    return out + (np.asarray(b)[None, :, None, None] if b is not None else 0)


def _pool_check(x: np.ndarray, size: int, stride: int | None):
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"expected x (N, C, H, W), got {x.shape}")
    stride = size if stride is None else stride
    return x, stride, output_size(x.shape[2], size, 0, stride), output_size(x.shape[3], size, 0, stride)


def pool2d_loops(x: np.ndarray, size: int = 2, stride: int | None = None, op: str = "max") -> np.ndarray:
    """Max or average pooling with loops, each channel separately: (N, C, H, W) → (N, C, H', W')."""
    x, stride, h_out, w_out = _pool_check(x, size, stride)
    reduce = {"max": np.max, "avg": np.mean}[op]
    out = np.zeros(x.shape[:2] + (h_out, w_out), dtype=np.result_type(x, float))
    for r in range(h_out):
        for c in range(w_out):
            window = x[:, :, r * stride : r * stride + size, c * stride : c * stride + size]
            out[:, :, r, c] = reduce(window, axis=(2, 3))
    return out


def pool2d(x: np.ndarray, size: int = 2, stride: int | None = None, op: str = "max") -> np.ndarray:
    """Vectorised max or average pooling; same result as :func:`pool2d_loops`."""
    x, stride, h_out, w_out = _pool_check(x, size, stride)
    windows = sliding_window_view(x, (size, size), axis=(2, 3))[:, :, : h_out * stride : stride,
                                                                 : w_out * stride : stride]
    return windows.max(axis=(4, 5)) if op == "max" else windows.mean(axis=(4, 5))


def max_pool2d(x: np.ndarray, size: int = 2, stride: int | None = None) -> np.ndarray:
    """Max pooling (vectorised), (N, C, H, W) → (N, C, H', W'); stride defaults to ``size``."""
    return pool2d(x, size, stride, "max")


def avg_pool2d(x: np.ndarray, size: int = 2, stride: int | None = None) -> np.ndarray:
    """Average pooling (vectorised), (N, C, H, W) → (N, C, H', W'); stride defaults to ``size``."""
    return pool2d(x, size, stride, "avg")
