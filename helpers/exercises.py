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


# --- 09: XOR and universal approximation --------------------------------------------------------

def check_xor_relu_weights(fn: Callable[[], tuple[Any, Any, Any, Any]]) -> bool:
    """Exercise 09.1: weights ``(W1, b1, W2, b2)`` of a ReLU net that outputs XOR exactly.

    The net is ``out = relu(X @ W1.T + b1) @ W2 + b2`` with no step at the end; for the 2-2-1 net of
    the exercise W1 is (2, 2), b1 (2,), W2 (2,) and b2 a number (any hidden width h works: W1 (h, 2),
    b1 (h,), W2 (h,)). On the four inputs X = [[0,0],[0,1],[1,0],[1,1]] it must give [0, 1, 1, 0].
    """
    x = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])

    def outputs():
        params = fn()
        if params is None:
            return None
        if not isinstance(params, (tuple, list)) or len(params) != 4:
            raise TypeError("return the four parts as a tuple (W1, b1, W2, b2)")
        parts = [_as_numbers(p) for p in params]
        for part in parts:
            if isinstance(part, str):
                raise TypeError(f"W1, b1, W2 and b2 must be numbers or arrays, got {part}")
        w1, b1, w2, b2 = (p.astype(float) for p in parts)
        return np.maximum(x @ w1.T + b1, 0.0) @ w2 + b2

    return check("xor_relu_weights", outputs, [((), np.array([0.0, 1.0, 1.0, 0.0]))],
                 hint="try two hidden units that both compute x₁ + x₂, with biases 0 and −1: what "
                      "are they on the four inputs? The output is a weighted sum of them")


def check_one_hidden_layer_params(fn: Callable[[int, int, int], int]) -> bool:
    """Exercise 09.2: parameters of Linear(n_in, h) → activation → Linear(h, n_out), biases included."""
    return check("one_hidden_layer_params", fn, [
        ((2, 4, 1), 17), ((1, 32, 1), 97), ((1, 512, 1), 1_537), ((2, 2, 1), 9), ((784, 512, 10), 407_050),
        ((3, 1, 2), 8),
    ], hint="n_in·h weights + h biases into the hidden layer, h·n_out weights + n_out biases out of it")


# --- 10: rethinking generalisation --------------------------------------------------------------

def check_randomise_labels(fn: Callable[[Any, float, int, int], Any]) -> bool:
    """Exercise 10.1: ``fn(labels, frac, num_classes, seed)`` → new labels (N,), a changed copy.

    Exactly ``round(frac * N)`` positions, chosen at random, get a label *different* from their old
    one (a random one of the other ``num_classes − 1`` classes); the others keep theirs, and
    ``labels`` (an int64 tensor of shape (N,)) itself is not modified. The check compares the number
    of changed labels, and how many different classes the changed ones received.
    """
    import torch

    def changed(labels, frac, num_classes, seed):
        before = labels.clone()
        got = _as_numbers(fn(labels, frac, num_classes, seed))
        if isinstance(got, str):
            raise TypeError(f"return the new labels as a tensor or array, got {got}")
        if not torch.equal(labels, before):
            raise ValueError("the input labels were modified: change a copy (labels.clone())")
        old = before.numpy()
        if got.shape != old.shape:
            raise ValueError(f"the new labels have shape {got.shape}, expected {old.shape}")
        if got.dtype.kind == "f" and not np.array_equal(got, np.round(got)):
            raise ValueError("the new labels are not whole numbers")
        if got.min(initial=0) < 0 or got.max(initial=0) >= num_classes:
            raise ValueError(f"a new label lies outside 0..{num_classes - 1}")
        where = np.flatnonzero(got != old)
        if 0 < len(where) < len(old) and np.array_equal(where, np.arange(len(where))):
            raise ValueError("the changed positions are the first ones: pick them at random")
        return np.array([len(where), len(np.unique(got[where]))])

    zeros = torch.zeros(1_000, dtype=torch.int64)
    cycle = torch.arange(1_000) % 10
    return check("randomise_labels", changed, [
        ((zeros, 0.5, 10, 0), np.array([500, 9])),  # 500 changed; their new labels cover classes 1..9
        ((cycle, 1.0, 10, 1), np.array([1_000, 10])),
        ((cycle, 0.2, 10, 2), np.array([200, 10])),
        ((zeros, 0.0, 10, 3), np.array([0, 0])),
        ((zeros[:8], 0.5, 2, 4), np.array([4, 1])),  # two classes: a changed 0 can only become 1
    ], hint="k = round(frac * N); idx = torch.randperm(N)[:k]; add a random shift in 1..K−1 to those "
            "labels, modulo K, in a clone")


def check_shuffle_agreement(fn: Callable[[np.ndarray], float]) -> bool:
    """Exercise 10.2: expected fraction of labels a random shuffle leaves equal, from counts (K,).

    A shuffled label at a position is any of the N labels with equal probability, so it matches a
    label of class c with probability n_c / N: the answer is Σ_c (n_c / N)².
    """
    mnist_like = np.array([980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])  # sums to 10,000
    return check("shuffle_agreement", fn, [
        ((np.full(10, 100),), 0.1), ((np.array([1, 1]),), 0.5), ((np.array([3, 1]),), 0.625),
        ((np.array([5, 0, 0]),), 1.0), ((mnist_like,), np.sum((mnist_like / 10_000) ** 2)),
    ], hint="turn the counts into class frequencies p = counts / counts.sum(), then sum p²")


# --- 11: a tiny GAN -----------------------------------------------------------------------------

def _softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + eˣ), computed without overflow."""
    return np.logaddexp(0.0, x)


def _in_float64(answer: Any) -> Any:
    """A float32 answer as float64, so that a failure prints 0.5312, not 0.5311999917030334."""
    arr = _as_numbers(answer) if answer is not None else None
    return arr.astype(np.float64) if isinstance(arr, np.ndarray) and arr.dtype.kind == "f" else answer


def check_discriminator_loss(fn: Callable[[Any, Any], Any]) -> bool:
    """Exercise 11.1: D's loss from its *logits* on real (N, 1) and fake (M, 1) images.

    BCE of σ(d_real) against 1, averaged over the batch, plus BCE of σ(d_fake) against 0, averaged:
    mean(−log σ(d_real)) + mean(−log(1 − σ(d_fake))). It must stay finite for confident logits.
    """
    import torch

    def t(values):
        return torch.tensor(values, dtype=torch.float32)[:, None]

    cases = [([2.0, 0.5, -1.0], [-3.0, 0.0]), ([0.0], [0.0]), ([5.0, 4.0], [-6.0, -5.0, -4.0]),
             ([1.0, -2.0], [30.0, 1.0])]  # last: D is fooled, and confidently so, by one fake
    return check("discriminator_loss", lambda r, f: _in_float64(fn(r, f)), [
        ((t(r), t(f)), np.mean(_softplus(-np.array(r))) + np.mean(_softplus(np.array(f))))
        for r, f in cases
    ], atol=1e-4, hint="F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real)) + the same "
                       "for d_fake against zeros; log(1 − sigmoid(30)) is log 0 in float32, the logits "
                       "version is not")


def check_generator_loss(fn: Callable[[Any], Any]) -> bool:
    """Exercise 11.2: G's non-saturating loss from D's logits on fakes (M, 1): mean(−log σ(logit)).

    That is BCE of σ(d_on_fake) against 1 ("D should call the fakes real"), averaged over the batch.
    """
    import torch

    cases = [[0.0], [-2.0, 1.0, 3.0], [-20.0, -10.0], [4.0, -0.5]]
    return check("generator_loss", lambda d: _in_float64(fn(d)), [
        ((torch.tensor(c, dtype=torch.float32)[:, None],), np.mean(_softplus(-np.array(c))))
        for c in cases
    ], atol=1e-4, hint="F.binary_cross_entropy_with_logits(d_on_fake, torch.ones_like(d_on_fake)); "
                       "not log(1 − D), the saturating loss, which has the opposite sign and little "
                       "gradient where D rejects the fakes")
