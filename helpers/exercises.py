"""Self-checks for the students' exercises: each prints ``[PASS]`` or ``[FAIL] <why>``.

A check never raises, so an unfinished exercise does not stop the notebook; it returns True/False.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


def check(name: str, fn: Callable, cases: Sequence[tuple[tuple, Any]], atol: float = 1e-6,
          hint: str = "") -> bool:
    """Call ``fn(*args)`` for each ``(args, expected)`` and compare the answer with ``expected``.

    Integer (and bool) expected answers must match exactly; float ones within ``np.allclose``
    (``atol``, ``rtol=1e-5``). An answer may be a number, a NumPy array, a nested list or a torch
    tensor (even one that tracks gradients or lives on a GPU); a str, a ragged list or anything
    else that is not numbers fails with the reason. Prints ``[PASS] name`` or
    ``[FAIL] name: what went wrong`` (plus ``hint``); returns the verdict and never raises.
    """
    for k, (args, expected) in enumerate(cases, 1):
        try:
            got = fn(*[np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in args])
        except NotImplementedError:
            return _fail(name, "not done yet — fill in the function and run its cell again", hint)
        except Exception as exc:  # a student's bug: report it, don't crash the notebook
            return _fail(name, f"case {k} raised {type(exc).__name__}: {exc}", hint)
        if got is None:
            return _fail(name, "the function returned None — did you forget `return`?", hint)
        exp_arr = np.asarray(expected)
        want = "a number" if exp_arr.ndim == 0 else f"an array of shape {exp_arr.shape}"
        got_arr = _as_numbers(got)
        if isinstance(got_arr, str):
            return _fail(name, f"case {k}: returned {got_arr}; expected {want}", hint)
        if got_arr.shape != exp_arr.shape:
            return _fail(name, f"case {k}: shape {got_arr.shape}, expected {exp_arr.shape}", hint)
        if exp_arr.dtype.kind in "biu":  # counts, sizes, indices: exactly right or wrong
            if not np.array_equal(got_arr, exp_arr):
                return _fail(name, f"case {k}: got {got_arr.tolist()}, expected exactly "
                                   f"{exp_arr.tolist()}", hint)
        elif not np.allclose(got_arr, exp_arr, atol=atol, rtol=1e-5, equal_nan=False):
            return _fail(name, f"case {k}: got {np.round(got_arr, 4).tolist()}, "
                               f"expected {np.round(exp_arr, 4).tolist()}", hint)
    print(f"[PASS] {name}")
    return True


def _as_numbers(got: Any) -> np.ndarray | str:
    """``got`` as a NumPy array of numbers (bool, int or float), or a str saying what it is."""
    if isinstance(got, (str, bytes)):
        return f"a {type(got).__name__} ({got!r:.40})"
    try:
        if hasattr(got, "detach"):  # a torch tensor: drop the gradient tracking, copy to the CPU
            got = got.detach().cpu().numpy()
        arr = np.asarray(got)
    except Exception as exc:
        arr = None
        why = f"{type(exc).__name__}: {exc}"
    if arr is not None and arr.dtype.kind in "biuf":
        return arr
    if isinstance(got, (list, tuple)):
        rows = [len(r) if hasattr(r, "__len__") else "a number" for r in got]
        if len(set(map(str, rows))) > 1:
            return f"a ragged {type(got).__name__} (rows of lengths {rows})"
    if arr is None:
        return f"a {type(got).__name__}, not numbers ({why})"
    kind = "" if arr.dtype == object else f" of dtype {arr.dtype}"
    return f"a {type(got).__name__}{kind}, not numbers"


def _fail(name: str, why: str, hint: str) -> bool:
    print(f"[FAIL] {name}: {why}" + (f"\n       hint: {hint}" if hint else ""))
    return False


# --- 01: one-layer net --------------------------------------------------------------------------

def check_softmax_rows(fn: Callable[[np.ndarray], np.ndarray]) -> bool:
    """Exercise 01.1: a numerically stable softmax of each row of Z (N, K) → (N, K)."""
    slide = np.array([[4, 3.5, 4, -1, 0.5, 2, -4, 3, 0, 5]], dtype=float)
    e = np.exp(slide - slide.max())
    big = np.array([[1000.0, 1000.0], [-1000.0, 0.0]])
    return check("softmax_rows", fn, [
        ((slide,), e / e.sum()),
        ((big,), [[0.5, 0.5], [0.0, 1.0]]),
        ((np.zeros((3, 4)),), np.full((3, 4), 0.25)),
    ], hint="subtract each row's max before np.exp, then divide by the row sums (keepdims=True)")


def check_cross_entropy_loss(fn: Callable[[np.ndarray, np.ndarray], float]) -> bool:
    """Exercise 01.2: mean of log(1 / P(true class)) over rows; probs (N, K), labels (N,)."""
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.25, 0.5, 0.25]])
    return check("cross_entropy_loss", fn, [
        ((p, np.array([0, 2, 1])), np.mean(np.log(1 / np.array([0.7, 0.8, 0.5])))),
        ((np.full((2, 10), 0.1), np.array([3, 7])), np.log(10)),
    ], hint="pick probs[np.arange(N), labels], then average -log of those")


# --- 02: two-layer net --------------------------------------------------------------------------

def check_count_dense_params(fn: Callable[[Sequence[int]], int]) -> bool:
    """Exercise 02.1: parameters of a stack of dense layers with sizes like [784, 512, 10]."""
    return check("count_dense_params", fn, [
        (([784, 10],), 7_850), (([784, 512, 10],), 407_050), (([2, 2, 1],), 9), (([5],), 0),
    ], hint="each layer n_in → n_out has n_in * n_out weights and n_out biases")


def check_momentum_step(fn: Callable[..., tuple[np.ndarray, np.ndarray]]) -> bool:
    """Exercise 02.2: one SGD-with-momentum update, returns (new_w, new_velocity).

    v ← β·v + g;  w ← w − lr·v   (PyTorch's convention).
    """
    w, v, g = np.array([1.0, -2.0]), np.array([0.5, 0.0]), np.array([0.2, -0.4])

    def both(*args):
        out = fn(*args)
        if out is None:
            return None
        parts = [_as_numbers(o) for o in out]
        for part in parts:
            if isinstance(part, str):
                raise TypeError(f"new_w and new_velocity must be arrays, got {part}")
        return np.concatenate([part.ravel() for part in parts])

    return check("momentum_step", both, [
        ((w, v, g, 0.1, 0.9), np.concatenate([w - 0.1 * (0.9 * v + g), 0.9 * v + g])),
        ((w, np.zeros(2), g, 1.0, 0.0), np.concatenate([w - g, g])),
    ], hint="first update the velocity v = beta * v + grad, then w = w - lr * v")


# --- 03: convolution ----------------------------------------------------------------------------

def check_conv_output_size(fn: Callable[[int, int, int, int], int]) -> bool:
    """Exercise 03.1: output length of a convolution, ⌊(n + 2p − k)/s⌋ + 1."""
    return check("conv_output_size", fn, [
        ((5, 3, 0, 1), 3), ((4, 2, 1, 2), 3), ((28, 5, 0, 1), 24), ((9, 4, 0, 3), 2), ((32, 3, 1, 1), 32),
    ], hint="(n + 2*p - k) // s + 1 — integer division drops a last partial window")
