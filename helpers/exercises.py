"""Self-checks for the students' exercises: each prints ``[PASS]`` or ``[FAIL] <why>``.

A check never raises and never hangs, so an unfinished or broken exercise does not stop the notebook:
whatever the student's function does (raises anything, ``SystemExit`` included, loops forever, returns
the wrong type) ends in ``[FAIL]`` with the reason, and the check returns False.

Hints come in tiers: the first ``[FAIL]`` of a checker prints its first hint (what to look at), each
further ``[FAIL]`` the next, more specific one; a ``[PASS]`` starts again at the first. No hint gives the
answer: that stays in the notebook's collapsed solution.

Where the lesson goes on with a function the student writes, :func:`use_or_reference` hands the lesson
the student's function once its check has passed, and the workbook's reference until then.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

#: Seconds a student's function may take for one case before the check gives up on it.
TIME_LIMIT_S = 10.0
_failures: dict[str, int] = {}  # checker name → [FAIL]s since its last [PASS]: which hint tier to print
_passed: dict[str, Callable] = {}  # checker name → the function that passed it last


class Wrong(Exception):
    """Raised by a checker's own comparison (not by the student's code): ``[FAIL] name: case k: <why>``."""


class _TimeUp(BaseException):
    """Raised in the student's function by the alarm when it runs past the time limit."""


def _call(fn: Callable, args: Sequence, limit_s: float) -> tuple[str, Any]:
    """``fn(*args)`` within ``limit_s`` seconds: ``("ok", answer)``, ``("raised", exception)``,
    ``("todo", None)`` for NotImplementedError, or ``("slow", None)``. Never raises.

    In the main thread on POSIX an alarm interrupts the function; elsewhere it runs in a daemon thread
    that is abandoned (left to finish in the background) when it runs past the limit.
    """

    def outcome(run: Callable[[], Any]) -> tuple[str, Any]:
        try:
            return "ok", run()
        except NotImplementedError:
            return "todo", None
        except _TimeUp:
            return "slow", None
        except BaseException as exc:  # noqa: BLE001 - SystemExit, KeyboardInterrupt too: a [FAIL], not a crash
            return "raised", exc

    run = lambda: fn(*args)  # noqa: E731
    if hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread():

        def alarm(signum, frame):
            raise _TimeUp

        previous = signal.signal(signal.SIGALRM, alarm)
        signal.setitimer(signal.ITIMER_REAL, limit_s)
        try:
            return outcome(run)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    result: list[tuple[str, Any]] = []
    worker = threading.Thread(target=lambda: result.append(outcome(run)), daemon=True)
    worker.start()
    worker.join(limit_s)
    return result[0] if result else ("abandoned", None)


def _hint_for(name: str, hints: str | Sequence[str]) -> str:
    """The hint tier for this [FAIL] of checker ``name``: the first, then each further one."""
    tiers = [hints] if isinstance(hints, str) else list(hints)
    tiers = [t for t in tiers if t]
    if not tiers:
        return ""
    level = _failures.get(name, 0)
    _failures[name] = level + 1
    return tiers[min(level, len(tiers) - 1)]


def check(
    name: str,
    fn: Callable,
    cases: Sequence[tuple[tuple, Any]],
    atol: float = 1e-6,
    hint: str | Sequence[str] = "",
    limit_s: float | None = None,
    student: Callable | None = None,
) -> bool:
    """Call ``fn(*args)`` for each ``(args, expected)`` and compare the answer with ``expected``.

    Integer (and bool) expected answers must match exactly; float ones within ``np.allclose``
    (``atol``, ``rtol=1e-5``). An answer may be a number, a NumPy array, a nested list or a torch
    tensor of any real dtype (bfloat16 too, even one that tracks gradients or lives on a GPU); a str, a
    ragged list or anything else that is not numbers fails with the reason. ``hint``: one hint, or a
    list of tiers (see the module docstring). ``limit_s``: seconds per case (default
    :data:`TIME_LIMIT_S`). ``student``: the student's function where ``fn`` wraps it (what
    :func:`use_or_reference` hands on once it passes). Prints ``[PASS] name`` or
    ``[FAIL] name: what went wrong`` (plus the hint); returns the verdict and never raises.
    """
    limit = TIME_LIMIT_S if limit_s is None else limit_s
    for k, (args, expected) in enumerate(cases, 1):
        copied = [np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in args]
        status, got = _call(fn, copied, limit)
        if status == "todo":
            return _fail(name, "not done yet — fill in the function and run its cell again", hint)
        if status in ("slow", "abandoned"):
            left = (
                " (it was abandoned and may still be running in the background)"
                if status == "abandoned"
                else ""
            )
            return _fail(name, f"case {k} took longer than {limit:g} s — an endless loop?{left}", hint)
        if status == "raised" and isinstance(got, Wrong):
            return _fail(name, f"case {k}: {got}", hint)
        if status == "raised":
            return _fail(name, f"case {k} raised {type(got).__name__}: {got}", hint)
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
                return _fail(
                    name, f"case {k}: got {got_arr.tolist()}, expected exactly {exp_arr.tolist()}", hint
                )
        elif not np.allclose(got_arr, exp_arr, atol=atol, rtol=1e-5, equal_nan=False):
            low = " (your answer is bfloat16: about 3 significant digits; compute in float32)"
            return _fail(
                name,
                f"case {k}: got {np.round(got_arr, 4).tolist()}, expected {np.round(exp_arr, 4).tolist()}"
                + (low if str(getattr(got, "dtype", "")) == "torch.bfloat16" else ""),
                hint,
            )
    return _pass(name, student or fn)


def _pass(name: str, fn: Callable) -> bool:
    _failures.pop(name, None)  # the next [FAIL] starts again at the first hint
    _passed[name] = fn
    print(f"[PASS] {name}")
    return True


def use_or_reference(fn: Callable, name: str | None = None) -> Callable:
    """The function the rest of the lesson runs: ``fn`` once its check has passed, else the reference.

    ``name`` defaults to ``fn.__name__`` (the exercise's name). Prints which one the lesson uses.
    """
    from . import references

    name = name or getattr(fn, "__name__", "")
    reference = getattr(references, name, None)
    if reference is None:
        raise ValueError(f"no exercise called {name!r}: pass name= one of {references.__all__}")
    if _passed.get(name) is fn:
        print(f"The lesson uses your {name}: it passed its check.")
        return fn
    print(f"The lesson uses the workbook's {name} (yours has not passed its check yet).")
    return reference


def _as_numbers(got: Any) -> np.ndarray | str:
    """``got`` as a NumPy array of numbers (bool, int or float), or a str saying what it is."""
    if isinstance(got, (str, bytes)):
        return f"a {type(got).__name__} ({got!r:.40})"
    try:
        if hasattr(got, "detach"):  # a torch tensor: drop the gradient tracking, copy to the CPU
            got = got.detach().cpu()
            if str(got.dtype) == "torch.bfloat16":
                got = got.float()  # NumPy has no bfloat16
            got = got.numpy()
        arr = np.asarray(got)
    except Exception as exc:
        arr = None
        why = f"{type(exc).__name__}: {exc}"
    if arr is not None and arr.dtype.kind in "biuf":
        return arr
    if (
        arr is not None
        and arr.dtype == object
        and all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in arr.flat)
    ):
        try:
            return arr.astype(np.float64)  # Python ints too large for int64: compared as floats
        except OverflowError:
            return f"a {type(got).__name__} holding a number too large for a float"
    if isinstance(got, (list, tuple)):
        rows = [len(r) if hasattr(r, "__len__") else "a number" for r in got]
        if len(set(map(str, rows))) > 1:
            return f"a ragged {type(got).__name__} (rows of lengths {rows})"
    if arr is None:
        return f"a {type(got).__name__}, not numbers ({why})"
    kind = "" if arr.dtype == object else f" of dtype {arr.dtype}"
    return f"a {type(got).__name__}{kind}, not numbers"


def _in_float64(answer: Any) -> Any:
    """A float32 answer as float64, so that a failure prints 0.5312, not 0.5311999917030334."""
    arr = _as_numbers(answer) if answer is not None else None
    return arr.astype(np.float64) if isinstance(arr, np.ndarray) and arr.dtype.kind == "f" else answer


def _fail(name: str, why: str, hint: str | Sequence[str]) -> bool:
    """Print ``[FAIL] name: why`` and this failure's hint tier; False."""
    _passed.pop(name, None)
    tip = _hint_for(name, hint)
    print(f"[FAIL] {name}: {why}" + (f"\n       hint: {tip}" if tip else ""))
    return False


# --- 01: what deep learning is -------------------------------------------------------------------


def check_matmul_flops(fn: Callable[[int, int, int], int]) -> bool:
    """Exercise 01.1: ``fn(n, m, p)`` → floating-point operations of (n×m) @ (m×p), the plain way.

    Each of the n·p entries is a dot product of length m: m multiplications and m − 1 additions,
    so n·p·(2m − 1) in all (about 2·n·m·p).
    """
    return check(
        "matmul_flops",
        fn,
        [
            ((1, 1, 1), 1),
            ((1, 2, 1), 3),
            ((2, 3, 4), 40),
            ((64, 48, 32), 64 * 32 * 95),
            ((1024, 1024, 1024), 1024 * 1024 * 2047),
        ],
        hint=[
            "count the operations of one entry of the result first, then how many entries there are. Case "
            "1 (1×1 @ 1×1) is one multiplication and no addition: 1; case 2 (1×2 @ 2×1) is 3",
            "adding up m products takes one addition fewer than m: counting only the multiplications, or m "
            "of each, gives 2 or 4 for case 2 instead of 3",
            "write the operations of one dot product of length m and check it gives 1 for m = 1 and 3 for "
            "m = 2; the result of (n×m) @ (m×p) has shape (n, p), one dot product per entry",
        ],
    )


def check_saliency_share(fn: Callable[[np.ndarray, np.ndarray], Any]) -> bool:
    """Exercise 01.2: ``fn(saliency, mask)``: maps (N, H, W) ≥ 0, bool mask (N, H, W) → (N,) shares.

    Entry i is the sum of map i inside mask i divided by the sum of map i.
    """
    s1 = np.array([[[1.0, 0.0], [0.0, 3.0]], [[2.0, 2.0], [2.0, 2.0]]])
    m1 = np.array([[[True, False], [False, False]], [[True, True], [False, False]]])
    rng = np.random.default_rng(0)
    s2 = rng.uniform(0, 1, (5, 6, 7))
    s2[0] *= 100  # one map far larger than the others: the ratio of totals would follow it
    m2 = rng.uniform(0, 1, (5, 6, 7)) < 0.2
    return check(
        "saliency_share",
        fn,
        [
            ((s1, m1), np.array([0.25, 0.5])),
            ((s2, m2), (s2 * m2).sum((1, 2)) / s2.sum((1, 2))),
            ((np.ones((3, 4, 4)), np.ones((3, 4, 4), bool)), np.ones(3)),
        ],
        hint=[
            "one share per map: the answer has shape (N,). Work case 1 by hand: map 1 puts 1 of its 4 "
            "inside its mask (0.25), map 2 puts 4 of its 8 inside (0.5)",
            "keep the N maps apart until the very end: a ratio of two totals over all maps is not the "
            "same. Case 2 makes one map 100 times larger than the others, so a total would follow that map "
            "alone",
            "multiplying a map by its boolean mask keeps what lies inside and zeroes the rest; a NumPy sum "
            "can run over several axes at once (a tuple of them): here H and W, never N",
        ],
    )


# --- 02: one-layer net --------------------------------------------------------------------------


def check_softmax_rows(fn: Callable[[np.ndarray], np.ndarray]) -> bool:
    """Exercise 02.1: a numerically stable softmax of each row of Z (N, K) → (N, K)."""
    slide = np.array([[4, 3.5, 4, -1, 0.5, 2, -4, 3, 0, 5]], dtype=float)
    e = np.exp(slide - slide.max())
    big = np.array([[1000.0, 1000.0], [-1000.0, 0.0]])
    return check(
        "softmax_rows",
        fn,
        [
            ((slide,), e / e.sum()),
            ((big,), [[0.5, 0.5], [0.0, 1.0]]),
            ((np.zeros((3, 4)),), np.full((3, 4), 0.25)),
        ],
        hint=[
            "softmax works row by row: each row of the answer sums to 1. Case 2 has entries of ±1000: "
            "np.exp(1000) is inf, and inf / inf is NaN",
            "a row's softmax does not change when you subtract the same number from all its entries: "
            "choose the number that makes the largest entry of each row 0, and no exp can overflow (a tiny "
            "one underflows to 0, which is fine)",
            "the row maxima and row sums must keep their axis, shape (N, 1) rather than (N,), to broadcast "
            "against Z (N, K): print the shapes of your intermediates for case 3, zeros of shape (3, 4)",
        ],
    )


def check_cross_entropy_loss(fn: Callable[[np.ndarray, np.ndarray], float]) -> bool:
    """Exercise 02.2: mean of log(1 / P(true class)) over rows; probs (N, K), labels (N,)."""
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.25, 0.5, 0.25]])
    return check(
        "cross_entropy_loss",
        fn,
        [
            ((p, np.array([0, 2, 1])), np.mean(np.log(1 / np.array([0.7, 0.8, 0.5])))),
            ((np.full((2, 10), 0.1), np.array([3, 7])), np.log(10)),
        ],
        hint=[
            "the loss is one number: the mean over the N rows of log(1 / p), where p is the probability a "
            "row gives its own label — one entry per row, not the whole row",
            "check case 2 by hand: every probability is 0.1, so every row adds log(1 / 0.1) = log 10 ≈ "
            "2.303, and so does the mean; np.log is the natural log, as the check expects",
            "first build the (N,) vector of each row's probability of its true class: for case 1 it is "
            "[0.7, 0.8, 0.5]. Indexing probs with an array of row numbers and an array of column numbers "
            "picks one entry per row, no loop needed",
        ],
    )


# --- 03: two-layer net --------------------------------------------------------------------------


def check_count_dense_params(fn: Callable[[Sequence[int]], int]) -> bool:
    """Exercise 03.1: parameters of a stack of dense layers with sizes like [784, 512, 10]."""
    return check(
        "count_dense_params",
        fn,
        [
            (([784, 10],), 7_850),
            (([784, 512, 10],), 407_050),
            (([2, 2, 1],), 9),
            (([5],), 0),
        ],
        hint=[
            "a list of L sizes makes L − 1 layers, one between each pair of neighbours: case 4, [5], has "
            "no layer and 0 parameters. Case 1, [784, 10], is 02's model: 7,850",
            "each layer has one weight per (input, output) pair and one bias per output neuron; the biases "
            "are the part most often forgotten (7,840 instead of 7,850 for case 1)",
            "walk over the neighbouring pairs (n_in, n_out) of the list — the list next to itself shifted "
            "by one gives them — and add up each layer's count. Check [2, 2, 1] by hand: 6 + 3 = 9",
        ],
    )


def check_momentum_step(fn: Callable[..., tuple[np.ndarray, np.ndarray]]) -> bool:
    """Exercise 03.2: one SGD-with-momentum update, returns (new_w, new_velocity).

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

    return check(
        "momentum_step",
        both,
        [
            ((w, v, g, 0.1, 0.9), np.concatenate([w - 0.1 * (0.9 * v + g), 0.9 * v + g])),
            ((w, np.zeros(2), g, 1.0, 0.0), np.concatenate([w - g, g])),
        ],
        hint=[
            "return two arrays, (new_w, new_v), in that order. Case 2 has v = 0 and beta = 0, plain SGD "
            "with lr = 1: there new_v is the gradient itself and new_w is w minus the gradient",
            "the order of the two updates matters: the weights move with the new velocity, the one you "
            "have just computed, not with the old v",
            "work case 1 by hand: v = [0.5, 0], grad = [0.2, −0.4] and beta = 0.9 give new_v = [0.65, "
            "−0.4]; with lr = 0.1, new_w = [0.935, −1.96]. Which of your two arrays differs?",
        ],
    )


# --- 04: convolution ----------------------------------------------------------------------------


def check_conv_output_size(fn: Callable[[int, int, int, int], int]) -> bool:
    """Exercise 04.1: output length of a convolution, ⌊(n + 2p − k)/s⌋ + 1."""
    return check(
        "conv_output_size",
        fn,
        [
            ((5, 3, 0, 1), 3),
            ((4, 2, 1, 2), 3),
            ((28, 5, 0, 1), 24),
            ((9, 4, 0, 3), 2),
            ((32, 3, 1, 1), 32),
        ],
        hint=[
            "count the positions where the kernel fits: case 1 (n = 5, k = 3, no padding, stride 1) has 3, "
            "starting at 0, 1 and 2. Padding adds p pixels on each side of the input",
            "with stride s only every s-th position is used, and a last window that would run past the end "
            "is dropped: case 4 (n = 9, k = 4, s = 3) fits at 0 and 3 but not at 6 — 2 windows, so "
            "rounding up is wrong",
            "find the last start where a window still fits in the padded input, then count the starts 0, "
            "s, 2s, … up to it with integer division (don't forget the one at 0). Case 2: padded length 6, "
            "k = 2, s = 2, starts 0, 2, 4 — 3 windows",
        ],
    )


# --- the lectures' core: 02–04 -----------------------------------------------------------------


def _arrays(got: Any, names: Sequence[str], shapes: Sequence[tuple[int, ...]]) -> list[np.ndarray]:
    """A tuple of answers, each numbers of the given shape, or :class:`Wrong` saying what is not."""
    if not isinstance(got, (tuple, list)) or len(got) != len(names):
        raise Wrong(f"return a tuple of {len(names)}: ({', '.join(names)}); got {type(got).__name__}")
    out = []
    for part, what, shape in zip(got, names, shapes):
        arr = _as_numbers(part)
        if isinstance(arr, str):
            raise Wrong(f"{what} is {arr}")
        if arr.shape != shape:
            raise Wrong(f"{what} has shape {arr.shape}, expected {shape}")
        out.append(arr.astype(np.float64))
    return out


def _compare(got: Sequence[np.ndarray], want: Sequence[np.ndarray], names: Sequence[str], tol: float) -> None:
    """:class:`Wrong` naming the parts that differ from the reference (relative error above ``tol``)."""
    off = []
    for g, w, what in zip(got, want, names):
        if not np.all(np.isfinite(g)):
            off.append(f"{what} holds NaN/inf")
            continue
        err = np.abs(g - w).max() / max(np.abs(w).max(), 1e-12)
        if err > tol:
            off.append(f"{what} is off (relative error {err:.1e})")
    if off:
        right = [w for w, g, v in zip(names, got, want) if not any(o.startswith(w + " ") for o in off)]
        raise Wrong("; ".join(off) + (f" — right: {', '.join(right)}" if right else ""))


def check_softmax_ce_grad(fn: Callable[..., tuple[float, np.ndarray, np.ndarray]]) -> bool:
    """Exercise 02 (core): ``fn(X, W, b, y)`` → ``(loss, dW, db)``, softmax cross-entropy and its gradients.

    Compared with the reference on small random problems, one with logits in the thousands (an unstable
    softmax overflows there) and one with a single example.
    """
    from .references import softmax_ce_grad

    rng = np.random.default_rng(2)
    problems = []
    for n, d, k, scale in ((6, 4, 3, 1.0), (5, 3, 4, 1000.0), (1, 5, 2, 1.0)):
        X, W, b = rng.normal(size=(n, d)) * scale, rng.normal(size=(d, k)), rng.normal(size=k)
        problems.append((X, W, b, rng.integers(0, k, n)))
    names = ("loss", "dW", "db")

    def answer(X, W, b, y):
        shapes = ((), W.shape, b.shape)
        got = _arrays(fn(X.copy(), W.copy(), b.copy(), y.copy()), names, shapes)
        _compare(got, [np.asarray(v, float) for v in softmax_ce_grad(X, W, b, y)], names, 1e-6)
        return 0

    return check(
        "softmax_ce_grad",
        answer,
        student=fn,
        cases=[(prob, 0) for prob in problems],
        hint=[
            "compare your three answers with the section above: which of loss, dW, db is off, and in "
            "which case? Case 2 has logits in the thousands",
            "the loss is a mean over the N examples, so every gradient carries the same 1/N; with "
            "logits in the thousands, exp overflows unless you shift each row first (as 02's stable "
            "softmax does)",
            "write the gradient with respect to the logits first (one row per example, shape (N, K)); "
            "dW and db follow from it by the chain rule through X @ W + b: check their shapes, (D, K) "
            "and (K,)",
        ],
    )


def check_numerical_gradient(fn: Callable[..., np.ndarray]) -> bool:
    """Exercise 03 (core): ``fn(f, x, eps=1e-5)`` → central differences of a scalar ``f``, shaped like x.

    Compared with exact gradients on functions whose curvature makes a forward difference visibly
    wrong; ``x`` must be left exactly as it was.
    """

    def cubic(v):
        return float(np.sum(5 * v**3) + v.ravel()[0] * v.ravel()[-1])

    def cubic_grad(v):
        g = 15 * v**2
        g.ravel()[0] += v.ravel()[-1]
        g.ravel()[-1] += v.ravel()[0]
        return g

    def softplus(v):
        return float(np.sum(np.logaddexp(0, 3 * v)))

    def softplus_grad(v):
        return 3 / (1 + np.exp(-3 * v))

    rng = np.random.default_rng(3)
    cases = [(cubic, cubic_grad, rng.normal(size=(2, 3))), (softplus, softplus_grad, rng.normal(size=5))]
    cases.append((cubic, cubic_grad, rng.normal(size=(2, 2, 2))))

    def answer(f, grad, x):
        before = x.copy()
        got = _as_numbers(fn(f, x))
        if not np.array_equal(x, before):
            raise Wrong("x was changed: put every entry back the way you found it")
        if isinstance(got, str):
            raise Wrong(f"returned {got}")
        if got.shape != x.shape:
            raise Wrong(f"the gradient has shape {got.shape}, expected x's shape {x.shape}")
        _compare([got.astype(float)], [grad(x)], ["the gradient"], 1e-7)
        return 0

    return check(
        "numerical_gradient",
        answer,
        student=fn,
        cases=[(c, 0) for c in cases],
        hint=[
            "nudge one entry of x at a time, evaluate f on both sides of it, and put the entry back; the "
            "result has one number per entry of x",
            "a one-sided difference is off by about eps times the curvature; the two-sided one by about "
            "eps² — and the step between the two points you evaluate is 2·eps, not eps",
            "np.ndindex(x.shape) visits every position of an array of any shape; keep the original value "
            "in a variable and write it back after the two evaluations",
        ],
    )


def check_mlp_backward(fn: Callable[..., tuple[float, tuple[np.ndarray, ...]]]) -> bool:
    """Exercise 03 (core): ``fn(X, y, W1, b1, W2, b2, W3, b3)`` → ``(loss, (dW1, db1, dW2, db2, dW3, db3))``.

    Compared with the reference on small nets; one case has hidden units whose input is exactly 0,
    where ReLU′(0) = 0 must hold.
    """
    from .references import mlp_backward

    rng = np.random.default_rng(4)
    cases = []
    for n, d, h1, h2, k in ((5, 4, 6, 5, 3), (3, 3, 4, 4, 2)):
        X, y = rng.normal(size=(n, d)), rng.integers(0, k, n)
        params = [rng.normal(size=(d, h1)), rng.normal(size=h1), rng.normal(size=(h1, h2)),
                  rng.normal(size=h2), rng.normal(size=(h2, k)), rng.normal(size=k)]  # fmt: skip
        cases.append((X, y, *params))
    X, y, W1, b1, *rest = cases[0]
    X0 = X.copy()
    X0[0] = 0.0  # the first example is all zeros: its first-layer inputs are b1 alone …
    b1z = b1.copy()
    b1z[::2] = 0.0  # … and half of them are exactly 0, where ReLU′(0) = 0
    cases.append((X0, y, W1, b1z, *rest))
    names = ("dW1", "db1", "dW2", "db2", "dW3", "db3")

    def answer(X, y, *params):
        got = fn(X.copy(), y.copy(), *[p.copy() for p in params])
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            raise Wrong("return (loss, (dW1, db1, dW2, db2, dW3, db3))")
        loss, grads = _arrays([got[0]], ["loss"], [()])[0], got[1]
        grads = _arrays(grads, names, [p.shape for p in params])
        want_loss, want = mlp_backward(X, y, *params)
        _compare([loss, *grads], [np.float64(want_loss), *want], ("loss", *names), 1e-6)
        return 0

    return check(
        "mlp_backward",
        answer,
        student=fn,
        cases=[(c, 0) for c in cases],
        hint=[
            "the message says which gradients are right: the mistake is at the first layer, going "
            "backwards, that is off. Case 3 has hidden units whose input is exactly 0",
            "each step back through a layer z = h @ W + b gives dW from h and the incoming gradient, "
            "and passes a gradient to h through W; a ReLU then lets it through only where its input "
            "was strictly positive",
            "compare with the two-layer version in section 2 of this notebook: the third layer adds one "
            "more step of the same kind; check each array's shape against its weight's shape",
        ],
    )


def check_conv2d(fn: Callable[..., np.ndarray]) -> bool:
    """Exercise 04 (core): ``fn(x, k, stride=1, padding=0)`` → (D, H′, W′), multi-channel cross-correlation.

    Compared with the reference on kernels that are not symmetric (a flipped kernel gives other
    numbers), more than one input and output channel, and a stride where rounding up and down differ.
    """
    from .references import conv2d

    rng = np.random.default_rng(5)
    cases = [
        (rng.normal(size=(1, 5, 5)), rng.normal(size=(1, 1, 3, 3)), 1, 0),
        (rng.normal(size=(3, 6, 7)), rng.normal(size=(2, 3, 3, 2)), 1, 1),
        (rng.normal(size=(2, 7, 6)), rng.normal(size=(4, 2, 3, 3)), 2, 1),
        (rng.normal(size=(2, 8, 8)), rng.normal(size=(3, 2, 2, 2)), 3, 0),
    ]

    def answer(x, k, stride, padding):
        want = conv2d(x, k, stride, padding)
        got = _as_numbers(fn(x.copy(), k.copy(), stride=stride, padding=padding))
        if isinstance(got, str):
            raise Wrong(f"returned {got}")
        if got.shape != want.shape:
            raise Wrong(
                f"x {x.shape}, k {k.shape}, stride {stride}, padding {padding}: output shape {got.shape}, "
                f"expected {want.shape}"
            )
        _compare([got.astype(float)], [want], ["the output"], 1e-9)
        return 0

    return check(
        "conv2d",
        answer,
        student=fn,
        cases=[(c, 0) for c in cases],
        hint=[
            "look at the case in the message: its shapes, stride and padding. Case 1 is section 1's "
            "setting (one channel, stride 1, no padding): check your loops there first",
            "each output value sums over all input channels and the whole window; the kernel is not "
            "flipped (cross-correlation), and zero padding goes on all four sides",
            "the output size along each axis is section 2's formula; the window of output (r, c) starts "
            "at row r·stride and column c·stride of the padded image",
        ],
    )


# --- 05: a CNN on CIFAR-10 ----------------------------------------------------------------------


def check_conv_block_output(fn: Callable[[int, int, int, int, int], tuple[int, int, int]]) -> bool:
    """Exercise 05.1: ``fn(c_in, c_out, k, padding, size)`` → ``(channels, side, n_params)``.

    The block is ``Conv2d(c_in, c_out, k, padding=padding)`` (stride 1, with bias) → ReLU →
    ``MaxPool2d(2)`` applied to a batch of shape (N, c_in, size, size); its output has shape
    (N, channels, side, side), and ``n_params`` counts the block's weights and biases. The expected
    answers were worked out by hand and agree with PyTorch's shapes and parameter counts.
    """
    return check(
        "conv_block_output",
        fn,
        [
            ((3, 16, 3, 1, 32), np.array([16, 16, 448])),  # the lecture CNN's first block, width 16
            ((16, 32, 3, 1, 16), np.array([32, 8, 4_640])),  # its second block
            ((1, 6, 5, 0, 28), np.array([6, 12, 156])),  # LeNet's first block on a 28×28 digit
            ((3, 8, 5, 0, 32), np.array([8, 14, 608])),
            ((4, 4, 3, 0, 9), np.array([4, 3, 148])),  # 9 → 7 → 3: the pool drops a last odd row
        ],
        hint=[
            "return three integers, (channels, side, n_params). The channels are the conv's c_out: ReLU "
            "and pooling keep them. Case 1 is the lecture CNN's first block: (16, 16, 448)",
            "stride 1: the conv's output side is the number of positions where a k×k kernel fits in the "
            "padded image; MaxPool2d(2) then halves it, and an odd side drops its last row (case 5: 9 → 7 "
            "→ 3)",
            "each of the c_out kernels spans all c_in input channels, k×k weights each, and each output "
            "channel has one bias: case 3 (1 → 6 channels, 5×5) has 150 weights + 6 biases = 156",
        ],
    )


def check_label_smoothing_targets(fn: Callable[[np.ndarray, int, float], Any]) -> bool:
    """Exercise 05.2: ``fn(labels, num_classes, eps)`` → the smoothed target rows (N, num_classes).

    ``labels`` is an integer array of shape (N,). PyTorch's ``label_smoothing=eps`` mixes the one-hot
    target with the uniform distribution: the true class gets 1 − ε + ε/K, every other class ε/K,
    and each row sums to 1 (for ε = 0.2 and K = 10: 0.82 and 0.02).
    """
    row = np.full(10, 0.02)
    row[3] = 0.82
    return check(
        "label_smoothing_targets",
        fn,
        [
            ((np.array([0, 2]), 3, 0.3), np.array([[0.8, 0.1, 0.1], [0.1, 0.1, 0.8]])),
            ((np.array([3]), 10, 0.2), row[None, :]),
            ((np.array([1, 0, 1]), 2, 0.0), np.array([[0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])),
            ((np.array([1, 1]), 4, 1.0), np.full((2, 4), 0.25)),
        ],
        hint=[
            "the answer is (N, K), one row per label, each row summing to 1. Two cases are extremes: case "
            "3 (ε = 0) wants plain one-hot rows, case 4 (ε = 1) every entry 1/K, whatever the label",
            "the true class gets its share ε/K too, on top of its 1 − ε: spreading ε over the other K − 1 "
            "classes only gives 0.15 instead of 0.1 in case 1",
            "start from the one-hot rows (rows of an identity matrix, picked by the labels) and change "
            "them all at once, no loop; check case 2: 0.82 at class 3, 0.02 elsewhere",
        ],
    )


# --- 06: RNNs for sentiment ---------------------------------------------------------------------


def check_masked_mean(fn: Callable[[Any, Any], Any]) -> bool:
    """Exercise 06.1: ``fn(outputs, lengths)`` → the mean over each sequence's real steps, (N, H).

    ``outputs`` is a float tensor (N, L, H), the RNN's output at every step; ``lengths`` an int64
    tensor (N,) with 1 ≤ lengths[i] ≤ L. Steps ``t >= lengths[i]`` are padding and may hold any
    values (an RNN run without packing keeps going over them): they must not count. ``outputs``
    itself must not be modified.
    """
    import torch

    def pooled(outputs, lengths):
        before = outputs.clone()
        got = fn(outputs, lengths)
        if not torch.equal(outputs, before):
            raise ValueError("the outputs were modified: compute on them without changing them in place")
        return _in_float64(got)

    g = torch.Generator().manual_seed(0)
    cases = [
        (
            torch.tensor([[[1.0], [3.0], [7.0], [9.0]]]),
            torch.tensor([2]),
        ),  # the mean of 1 and 3; 7, 9: padding
        (torch.randn(3, 5, 4, generator=g), torch.tensor([2, 5, 1])),
        (torch.randn(2, 4, 3, generator=g) + 5.0, torch.tensor([4, 4])),  # no padding at all
        (torch.randn(4, 7, 2, generator=g), torch.tensor([7, 3, 1, 6])),
    ]
    return check(
        "masked_mean",
        pooled,
        [
            ((out, n), np.stack([o[:k].numpy().astype(np.float64).mean(0) for o, k in zip(out, n.tolist())]))
            for out, n in cases
        ],
        atol=1e-5,
        hint=[
            "only the first lengths[i] steps of row i count: case 1 has outputs 1, 3, 7, 9 and length 2, "
            "so the answer is 2.0, the mean of 1 and 3 — not 5.0 (the padding counted)",
            "build a mask that is True at the real steps, shape (N, L), by comparing the step numbers 0 … "
            "L−1 with the lengths (broadcasting does all rows at once); don't write zeros into outputs, "
            "the check wants it unchanged",
            "to multiply outputs (N, L, H) by the mask it needs a trailing axis of size 1, (N, L, 1); sum "
            "over the steps (dim 1), then divide each row by its own length, as a column (N, 1)",
        ],
    )


def check_rnn_params(fn: Callable[[str, int, int], int]) -> bool:
    """Exercise 06.2: ``fn(cell, n_in, hidden)`` → parameters of one PyTorch recurrent layer.

    ``cell`` is ``"rnn"``, ``"lstm"`` or ``"gru"``: ``nn.RNN``, ``nn.LSTM`` or ``nn.GRU(n_in, hidden)``
    (one layer, one direction, with PyTorch's two bias vectors). The expected counts come from
    PyTorch itself.
    """
    from torch import nn

    layers = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
    cases = [
        ("rnn", 50, 64),
        ("lstm", 50, 64),
        ("gru", 50, 64),
        ("lstm", 1, 1),
        ("gru", 300, 128),
        ("rnn", 2, 8),
    ]
    return check(
        "rnn_params",
        fn,
        [
            ((cell, n_in, h), sum(p.numel() for p in layers[cell](n_in, h).parameters()))
            for cell, n_in, h in cases
        ],
        hint=[
            "count a plain RNN first: W maps the input to the state, U the state to itself, and PyTorch "
            'adds two bias vectors of the state\'s size. Case 6 ("rnn", 2 inputs, 8 hidden) has 96',
            "PyTorch keeps two biases per set (b_ih and b_hh), not one as in Keras: with one you get 7,360 "
            "instead of 7,424 for case 1",
            "an LSTM repeats the whole set — W, U and both biases — for each of its three gates and its "
            "candidate, a GRU for its two gates and candidate; check with sum(p.numel() for p in "
            "nn.LSTM(1, 1).parameters()), which is 16",
        ],
    )


# --- 07: transfer learning ----------------------------------------------------------------------


def check_freeze_all_but(fn: Callable[[Any, str], int]) -> bool:
    """Exercise 07.1: ``fn(model, name)`` freezes a model except its child ``model.<name>``.

    Afterwards exactly the parameters of ``getattr(model, name)`` have ``requires_grad=True``, even
    ones that were frozen before, and all others ``False``; ``fn`` returns the number of parameters
    that still train (an int). The check builds small models and inspects every flag.
    """
    from collections import OrderedDict

    from torch import nn

    def mini_net():  # the shape of a torchvision classifier: .features, then .classifier
        return nn.Sequential(
            OrderedDict(
                features=nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU()),
                pool=nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten()),
                classifier=nn.Linear(8, 3),
            )
        )

    def all_frozen():
        model = mini_net()
        model.requires_grad_(False)
        return model

    def frozen(make, name):
        model = make()
        got = fn(model, name)
        kept = {id(p) for p in getattr(model, name).parameters()}
        wrong = [n for n, p in model.named_parameters() if p.requires_grad != (id(p) in kept)]
        if wrong:
            raise ValueError(
                f"requires_grad is wrong for {', '.join(wrong[:3])}: only model.{name}'s "
                "parameters should train"
            )
        return got

    return check(
        "freeze_all_but",
        frozen,
        [
            ((lambda: nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)), "2"), 18),  # 8·2 + 2
            ((mini_net, "classifier"), 27),  # 8·3 + 3
            ((mini_net, "features"), 240),  # conv 3·8·3·3 + 8, batch norm 8 + 8
            ((all_frozen, "classifier"), 27),  # the kept part must train even if it was frozen
        ],
        hint=[
            "two jobs, then a count: every parameter outside model.<name> must stop training and every one "
            "inside must train. Case 4's model starts fully frozen, so the kept part must be switched back "
            "on, not just left alone",
            "the return value counts numbers, not tensors: Linear(8, 2) holds 2 tensors but 18 parameters. "
            "Count only those that still train (case 1: 18, not the model's 58)",
            "a module's .parameters() lists its tensors, each with its requires_grad flag and its numel(); "
            "freeze the whole model first, then unfreeze the child — the other order undoes your work",
        ],
    )


def check_majority_rate(fn: Callable[[np.ndarray], float]) -> bool:
    """Exercise 07.2: ``fn(labels)`` → the accuracy of always answering the most common class.

    ``labels`` is an integer array (N,) of class indices; the answer is (count of the most common
    class) / N, a float.
    """
    return check(
        "majority_rate",
        fn,
        [
            ((np.array([0, 1, 1]),), 2 / 3),
            ((np.array([0, 0, 0, 1]),), 0.75),
            ((np.array([2, 2, 1, 0, 2]),), 0.6),
            ((np.array([3, 3, 5]),), 2 / 3),
            ((np.array([1] * 50 + [0] * 50),), 0.5),
        ],
        hint=[
            "the answer is a fraction between 0 and 1: the labels of the most common class divided by all "
            "the labels. Case 1, [0, 1, 1]: class 1 has 2 of the 3",
            "the most common class need not be class 1 or the largest label, and the classes need not be "
            "balanced: case 3, [2, 2, 1, 0, 2], gives 3/5; case 4's classes are 3 and 5",
            "count how many labels each class has first (one NumPy call counts how often each integer 0, "
            "1, 2, … occurs), then take the largest count; return a float, not a count",
        ],
    )


# --- 08: adversarial examples -------------------------------------------------------------------


def check_fgsm_step(fn: Callable[[Any, Any, float], Any]) -> bool:
    """Exercise 08.1: one FGSM step, ``fn(x, grad, eps)`` → x_adv, a tensor of the shape of ``x``.

    ``x`` (pixels in [0, 1]) and ``grad`` (∂J/∂x) are float tensors of the same shape, for example a
    batch (N, 1, 28, 28); the answer is clamp(x + eps · sign(grad), 0, 1). A zero gradient leaves its
    pixel unchanged.
    """
    import torch

    x1 = np.array([[0.0, 0.5, 1.0], [0.95, 0.05, 0.3]])
    g1 = np.array([[-2.0, 0.3, 5.0], [1e-3, -0.7, 0.0]])  # near 0 and 1 a step leaves [0, 1]
    rng = np.random.default_rng(7)
    x2, g2 = rng.uniform(0, 1, (2, 1, 4, 4)), rng.normal(0, 1e-3, (2, 1, 4, 4))  # tiny gradients

    def t(a):
        return torch.tensor(a, dtype=torch.float32)

    def want(x, g, eps):  # rounded through float32 like the inputs
        return np.clip(x.astype(np.float32) + eps * np.sign(g), 0, 1)

    return check(
        "fgsm_step",
        lambda x, g, eps: _in_float64(fn(x, g, eps)),
        [
            ((t(x1), t(g1), 0.1), want(x1, g1, 0.1)),
            ((t(x1), t(g1), 0.0), x1),
            ((t(x2), t(g2), 0.2), want(x2, g2, 0.2)),
        ],
        hint=[
            "every pixel moves by exactly ε, up or down: only the direction of its gradient counts, not "
            "its size. Case 3's gradients are about 0.001, yet its pixels move by 0.2; a pixel whose "
            "gradient is 0 stays put",
            "pixels must stay in [0, 1]: case 1 has pixels at 0, 0.05, 0.95 and 1 whose step leaves that "
            "range. Clip after the step, not before",
            "torch has an elementwise sign (−1, 0 or +1) and a method that clips a tensor between two "
            "bounds; work on the whole tensor at once, no loop — the answer has x's shape",
        ],
    )


def check_project_linf(fn: Callable[[Any, Any, float], Any]) -> bool:
    """Exercise 08.2: PGD's projection, ``fn(x_adv, x, eps)`` → a tensor of the shape of ``x``.

    Each pixel of ``x_adv`` is moved to the nearest value that is both within ``eps`` of the same pixel
    of the original ``x`` (the L∞ ball of radius eps) and in [0, 1]; ``x`` and ``x_adv`` are float
    tensors of the same shape, with ``x`` in [0, 1].
    """
    import torch

    x1 = np.array([0.5, 0.5, 0.5, 0.05, 0.97, 0.3])
    a1 = np.array([0.9, 0.1, 0.55, -0.1, 1.2, 0.3])  # too far up, too far down, inside, below 0, above 1
    rng = np.random.default_rng(8)
    x2 = rng.uniform(0, 1, (2, 1, 4, 4))
    a2 = x2 + rng.uniform(-0.5, 0.5, x2.shape)

    def t(a):
        return torch.tensor(a, dtype=torch.float32)

    def want(a, x, eps):  # computed from the float32 inputs
        a, x = a.astype(np.float32).astype(float), x.astype(np.float32).astype(float)
        return np.clip(np.clip(a, x - eps, x + eps), 0, 1)

    return check(
        "project_linf",
        lambda a, x, eps: _in_float64(fn(a, x, eps)),
        [
            ((t(a1), t(x1), 0.1), want(a1, x1, 0.1)),
            ((t(a1), t(x1), 0.0), want(x1, x1, 0.0)),  # ε = 0: back to the original
            ((t(a2), t(x2), 0.2), want(a2, x2, 0.2)),
        ],
        hint=[
            "each pixel has its own interval, ε either side of the same pixel of the original x, and must "
            "also lie in [0, 1]. Case 1 has one pixel of each kind: too far up, too far down, inside, "
            "below 0, above 1 — where should each land?",
            "projecting onto an interval is clipping: below the lower end goes to the lower end, above the "
            "upper end to the upper end, inside stays. Here the ends differ from pixel to pixel (tensors, "
            "not numbers), and the [0, 1] clip comes after; ε = 0 (case 2) must give back x",
            "compute the two ends of each pixel's interval as tensors shaped like x; torch.maximum and "
            "torch.minimum compare two tensors entry by entry. Case 1 with ε = 0.1 should give [0.6, 0.4, "
            "0.55, 0.0, 1.0, 0.3]",
        ],
    )


# --- 09: MC dropout and uncertainty -------------------------------------------------------------


def _mc_cases() -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(probs (T, N, K), predictive entropy (N,), mutual information (N,)) with known answers."""
    ln2, ln10 = np.log(2.0), np.log(10.0)
    agree_or_not = np.array(
        [
            [[1.0, 0.0], [0.5, 0.5], [1.0, 0.0]],  # pass t = 1
            [[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]],
        ]
    )  # pass t = 2
    # image 1: both passes sure of class 0; image 2: both say 50/50; image 3: each pass sure, they disagree
    uniform = np.full((5, 1, 10), 0.1)  # every pass says "no idea": all of it is noise, none disagreement
    rng = np.random.default_rng(9)
    z = rng.normal(0, 2, (4, 3, 3))
    soft = np.exp(z) / np.exp(z).sum(-1, keepdims=True)
    soft = soft.astype(np.float32).astype(float)

    def h(p):  # entropy over the last axis, 0 · log 0 = 0
        return -np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0), -1)

    return [
        (agree_or_not, np.array([0.0, ln2, ln2]), np.array([0.0, 0.0, ln2])),
        (uniform, np.array([ln10]), np.array([0.0])),
        (soft, h(soft.mean(0)), h(soft.mean(0)) - h(soft).mean(0)),
    ]


def check_predictive_entropy(fn: Callable[[Any], Any]) -> bool:
    """Exercise 09.1: predictive entropy from MC samples, probs (T, N, K) → (N,), in nats.

    H[mean] = −Σ_k p̄_k log p̄_k with p̄ = the mean of the T softmax outputs; 0 · log 0 counts as 0.
    """
    import torch

    return check(
        "predictive_entropy",
        lambda p: _in_float64(fn(p)),
        [((torch.tensor(p, dtype=torch.float32),), h) for p, h, _ in _mc_cases()],
        atol=1e-5,
        hint=[
            "average the T passes first, then take the entropy of that mean prediction: one number per "
            "image, shape (N,). The mean of the T entropies is another quantity (case 1's third image: log "
            "2 against 0)",
            "case 1 has probabilities of exactly 0: log 0 is −inf, and 0 · (−inf) is NaN in floating "
            "point, while the entropy counts that term as 0. Keep the log away from 0, or drop those terms",
            "use the natural log, not bits: ten classes at 0.1 (case 2) give log 10 ≈ 2.303. The classes "
            "are the last axis, the T passes the first; a tiny floor under p (clamp_min) keeps the log "
            "finite",
        ],
    )


def check_mutual_information(fn: Callable[[Any], Any]) -> bool:
    """Exercise 09.2: mutual information from MC samples, probs (T, N, K) → (N,), in nats.

    MI = H[mean of the T outputs] − mean over t of H[output t]: never negative, 0 when all passes agree.
    """
    import torch

    return check(
        "mutual_information",
        lambda p: _in_float64(fn(p)),
        [((torch.tensor(p, dtype=torch.float32),), mi) for p, _, mi in _mc_cases()],
        atol=1e-5,
        hint=[
            "case 1 holds the exercise's three hand-worked images, two passes and two classes each: expect "
            "[0, 0, log 2]. MI is never negative: the entropy of the average is at least the average "
            "entropy",
            "you need two entropies: of the mean prediction, shape (N,) (your predictive_entropy), and of "
            "each single pass, shape (T, N), averaged over the passes. The other way round gives the right "
            "numbers with the wrong sign",
            "the entropy of each pass is the same sum over the class axis as before, on probs without "
            "averaging first; 0 · log 0 must count as 0 there too (case 1's passes are sure, with "
            "probabilities of exactly 0)",
        ],
    )


def check_calibration_error(fn: Callable[[np.ndarray, np.ndarray, int], float]) -> bool:
    """Exercise 09.3: expected calibration error, ``fn(confidence, correct, n_bins)`` → a number.

    ``confidence`` (N,) floats in (0, 1], ``correct`` (N,) bools. The M = ``n_bins`` equal-width bins
    are (m/M, (m+1)/M], so a confidence of 1.0 is in the last one. ECE = Σ over non-empty bins of
    (n_bin / N) · |accuracy in the bin − mean confidence in the bin|.
    """

    def case(conf, correct, n_bins):
        return np.array(conf), np.array(correct, dtype=bool), n_bins

    return check(
        "calibration_error",
        lambda c, y, m: _in_float64(fn(c, y, m)),
        [
            (case([0.95, 0.95, 0.95, 0.95], [1, 1, 1, 0], 10), 0.2),  # one bin: 95% sure, 75% right
            (case([0.75, 0.75, 0.75, 0.75], [1, 1, 1, 0], 10), 0.0),  # 75% sure, 75% right: calibrated
            (case([0.85, 0.85, 0.85, 0.25], [1, 1, 1, 0], 10), 0.175),  # 3/4 · 0.15 + 1/4 · 0.25
            (case([0.95, 0.95, 0.35, 0.35], [0, 1, 1, 1], 10), 0.55),  # over- and under-confident bins
            (case([1.0, 0.95, 0.65], [0, 1, 1], 10), 1.3 / 3),  # 1.0 shares the last bin with 0.95
            (case([0.95, 0.65, 0.45, 0.15], [1, 0, 1, 0], 2), 0.25),  # two bins: (0, 0.5] and (0.5, 1]
        ],
        atol=1e-6,
        hint=[
            "ECE is a weighted sum of gaps, one per non-empty bin: |accuracy − mean confidence| in that "
            "bin. Case 1 has a single bin, 95% sure and 3 of 4 right: 0.2",
            "take each bin's gap as an absolute value before adding (case 4: an over-confident bin must "
            "not cancel an under-confident one), and weigh it by the bin's share n_bin / N of all "
            "predictions, not equally (case 3: 0.175, not 0.2)",
            "the bins are (lo, hi]: open below, closed above, so a confidence of exactly 1.0 falls in the "
            "last bin (case 5); M + 1 evenly spaced edges from 0 to 1 give them, and a boolean mask per "
            "bin gives its size and its two means",
        ],
    )


# --- 10: XOR and universal approximation --------------------------------------------------------


def check_xor_relu_weights(fn: Callable[[], tuple[Any, Any, Any, Any]]) -> bool:
    """Exercise 10.1: weights ``(W1, b1, W2, b2)`` of a ReLU net that outputs XOR exactly.

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

    return check(
        "xor_relu_weights",
        outputs,
        [((), np.array([0.0, 1.0, 1.0, 0.0]))],
        hint=[
            "the net ends with no step, so its output must be exactly 0, 1, 1, 0. For your weights, "
            "compute the two hidden units on the four inputs by hand first: a table of 4 × 2 numbers",
            'XOR is "x₁ + x₂ equals 1": the sum is 0, 1, 1, 2 on the four inputs. A hidden unit can pass '
            "that sum on; the output then needs to take away something that is 0 everywhere except at (1, "
            "1)",
            "a ReLU unit with a negative bias stays at 0 until its input passes a threshold: give a second "
            "unit the same sum but a threshold that only (1, 1) passes, and choose its output weight so "
            "that 2 comes down to 0",
        ],
    )


def check_one_hidden_layer_params(fn: Callable[[int, int, int], int]) -> bool:
    """Exercise 10.2: parameters of Linear(n_in, h) → activation → Linear(h, n_out), biases included."""
    return check(
        "one_hidden_layer_params",
        fn,
        [
            ((2, 4, 1), 17),
            ((1, 32, 1), 97),
            ((1, 512, 1), 1_537),
            ((2, 2, 1), 9),
            ((784, 512, 10), 407_050),
            ((3, 1, 2), 8),
        ],
        hint=[
            "two Linear layers, each with a weight matrix and a bias vector; the tanh between them has no "
            "parameters. Case 1 is section 1's XOR net, 2 → 4 → 1: PyTorch counts 17",
            "each output neuron of a Linear layer has one weight per input plus one bias; the biases are "
            "what is most often forgotten (12 instead of 17 in case 1)",
            "count the two layers separately and add: into the hidden layer (n_in inputs, h outputs) and "
            "out of it (h inputs, n_out outputs). Case 6, 3 → 1 → 2, has 4 + 4 = 8",
        ],
    )


# --- 11: rethinking generalisation --------------------------------------------------------------


def check_randomise_labels(fn: Callable[[Any, float, int, int], Any]) -> bool:
    """Exercise 11.1: ``fn(labels, frac, num_classes, seed)`` → new labels (N,), a changed copy.

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
        if len(old) >= 100 and 1 < len(where) < len(old):  # enough labels that chance cannot look like this
            if len(set(np.diff(where).tolist())) == 1:
                raise ValueError(
                    "the changed positions form a block or an even stride (the first k, the last k, every "
                    "other one): pick them at random"
                )
            first_half = np.mean(where < len(old) // 2)
            if not 0.3 <= first_half <= 0.7:
                raise ValueError(
                    f"{first_half:.0%} of the changed positions lie in the first half of the labels: "
                    "pick them at random over all of them"
                )
        return np.array([len(where), len(np.unique(got[where]))])

    zeros = torch.zeros(1_000, dtype=torch.int64)
    cycle = torch.arange(1_000) % 10
    return check(
        "randomise_labels",
        changed,
        [
            ((zeros, 0.5, 10, 0), np.array([500, 9])),  # 500 changed; their new labels cover classes 1..9
            ((cycle, 1.0, 10, 1), np.array([1_000, 10])),
            ((cycle, 0.2, 10, 2), np.array([200, 10])),
            ((zeros, 0.0, 10, 3), np.array([0, 0])),
            ((zeros[:8], 0.5, 2, 4), np.array([4, 1])),  # two classes: a changed 0 can only become 1
        ],
        hint=[
            "three things are checked: exactly round(frac · N) labels change, each to a class different "
            "from its old one, and the new classes vary. Case 1: 500 of 1,000 zeros change, and together "
            "they should use all of the classes 1 … 9",
            "a fresh label drawn from all K classes equals the old one about 1 time in K, so fewer labels "
            "change than asked: draw from the other K − 1 classes only. Pick the positions without "
            "repeats, at random over all of them, and change a copy, never labels itself",
            "torch.randperm with your generator gives positions without repeats; for a class that is never "
            "the old one, think of a step of 1 … K − 1 around a clock of K classes, with its own random "
            "draw for each position",
        ],
    )


def check_shuffle_agreement(fn: Callable[[np.ndarray], float]) -> bool:
    """Exercise 11.2: expected fraction of labels a random shuffle leaves equal, from counts (K,).

    A shuffled label at a position is any of the N labels with equal probability, so it matches a
    label of class c with probability n_c / N: the answer is Σ_c (n_c / N)².
    """
    mnist_like = np.array([980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])  # sums to 10,000
    return check(
        "shuffle_agreement",
        fn,
        [
            ((np.full(10, 100),), 0.1),
            ((np.array([1, 1]),), 0.5),
            ((np.array([3, 1]),), 0.625),
            ((np.array([5, 0, 0]),), 1.0),
            ((mnist_like,), np.sum((mnist_like / 10_000) ** 2)),
        ],
        hint=[
            "the answer is a probability: ten equal classes (case 1) give 0.1, a single class (case 4) "
            "gives 1. Case 3, counts [3, 1], gives 0.625, so it is not 1 / K",
            "the expected fraction of agreeing positions is the probability that one position agrees; "
            "split that by the position's true class, since a shuffled label is of class c with "
            "probability n_c / N whatever was there before",
            "write case 3 out: a position is of class 0 with probability 3/4, and then its shuffled label "
            "matches with probability 3/4; class 1 likewise with 1/4 and 1/4: 9/16 + 1/16 = 0.625. Turn "
            "the counts into frequencies first",
        ],
    )


# --- 12: a tiny GAN -----------------------------------------------------------------------------


def _softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + eˣ), computed without overflow."""
    return np.logaddexp(0.0, x)


def check_discriminator_loss(fn: Callable[[Any, Any], Any]) -> bool:
    """Exercise 12.1: D's loss from its *logits* on real (N, 1) and fake (M, 1) images.

    BCE of σ(d_real) against 1, averaged over the batch, plus BCE of σ(d_fake) against 0, averaged:
    mean(−log σ(d_real)) + mean(−log(1 − σ(d_fake))). It must stay finite for confident logits.
    """
    import torch

    def t(values):
        return torch.tensor(values, dtype=torch.float32)[:, None]

    cases = [
        ([2.0, 0.5, -1.0], [-3.0, 0.0]),
        ([0.0], [0.0]),
        ([5.0, 4.0], [-6.0, -5.0, -4.0]),
        ([1.0, -2.0], [30.0, 1.0]),
    ]  # last: D is fooled, and confidently so, by one fake
    return check(
        "discriminator_loss",
        lambda r, f: _in_float64(fn(r, f)),
        [
            ((t(r), t(f)), np.mean(_softplus(-np.array(r))) + np.mean(_softplus(np.array(f))))
            for r, f in cases
        ],
        atol=1e-4,
        hint=[
            "the inputs are logits, before the sigmoid. The loss has two parts, each a mean over its own "
            "batch (N reals, M fakes): reals scored against 1, fakes against 0. Case 2, both logits 0, "
            "gives 2 · log 2 ≈ 1.386",
            "case 4 has a fake with logit 30: σ(30) is 1.0 in float32, so log(1 − σ(30)) is log 0 = −inf. "
            "Don't take the sigmoid and then the log; get the log of σ straight from the logit",
            'torch.nn.functional has stable losses that take logits: a binary cross-entropy "with logits" '
            "and a log-sigmoid. 1 − σ(z) = σ(−z), and a target must have the shape of its logits, (N, 1)",
        ],
    )


def check_generator_loss(fn: Callable[[Any], Any]) -> bool:
    """Exercise 12.2: G's non-saturating loss from D's logits on fakes (M, 1): mean(−log σ(logit)).

    That is BCE of σ(d_on_fake) against 1 ("D should call the fakes real"), averaged over the batch.
    """
    import torch

    cases = [[0.0], [-2.0, 1.0, 3.0], [-20.0, -10.0], [4.0, -0.5]]
    return check(
        "generator_loss",
        lambda d: _in_float64(fn(d)),
        [((torch.tensor(c, dtype=torch.float32)[:, None],), np.mean(_softplus(-np.array(c)))) for c in cases],
        atol=1e-4,
        hint=[
            "G wants D to call its fakes real: the loss is the binary cross-entropy of σ(d_on_fake) "
            "against 1, averaged over the batch into one number. Case 1, a logit of 0, gives log 2 ≈ 0.693",
            "this is the non-saturating loss, the mean of −log D(G(z)), not log(1 − D(G(z))): that one has "
            "the opposite sign (−0.693 in case 1) and little gradient where D rejects the fakes. Return "
            "one number, not shape (M, 1)",
            "work case 2 by hand, logits −2, 1 and 3: −log σ of each is 2.127, 0.313 and 0.049, and their "
            "mean 0.830. Compute log σ straight from the logit, as in discriminator_loss "
            "(torch.nn.functional has a log-sigmoid, and a BCE with logits)",
        ],
    )


# --- the lectures' core: 06, 09, 12 ------------------------------------------------------------


def check_lstm_cell(fn: Callable[..., tuple[Any, Any]]) -> bool:
    """Exercise 06 (core): ``fn(x, h, c, W_ih, W_hh, b_ih, b_hh)`` → ``(h_new, c_new)``, one LSTM step.

    Compared with ``nn.LSTMCell`` given the same weights, in float64 and float32, with an input size
    that differs from the hidden size (so transposed weights do not fit).
    """
    import torch

    cases = []
    for seed, (batch, d, hidden, dtype) in enumerate(((3, 5, 4, torch.float64), (2, 3, 6, torch.float32))):
        torch.manual_seed(seed)
        cell = torch.nn.LSTMCell(d, hidden).to(dtype)
        with torch.no_grad():
            for p in cell.parameters():
                p.normal_(0, 0.8)  # larger than the default init: every gate's nonlinearity shows
        x, h, c = (torch.randn(batch, n, dtype=dtype) for n in (d, hidden, hidden))
        cases.append((cell, x, h, c))

    def answer(cell, x, h, c):
        weights = [p.detach().clone() for p in (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)]
        with torch.no_grad():
            want_h, want_c = cell(x, (h, c))
            got = fn(x.clone(), h.clone(), c.clone(), *weights)
        shape = tuple(h.shape)
        h_new, c_new = _arrays(got, ("h_new", "c_new"), (shape, shape))
        tol = 1e-9 if x.dtype == torch.float64 else 1e-5
        _compare([h_new, c_new], [want_h.double().numpy(), want_c.double().numpy()], ("h_new", "c_new"), tol)
        return 0

    return check(
        "lstm_cell",
        answer,
        student=fn,
        cases=[(c, 0) for c in cases],
        hint=[
            "the message says which of h_new and c_new is off; case 1 is float64, case 2 float32 with an "
            "input size different from the hidden size",
            "one matrix product per input gives all four gates at once, (B, 4H); split it into four blocks "
            "in PyTorch's order: input, forget, cell candidate, output",
            "three gates squash to (0, 1) and one candidate to (−1, 1); the new cell state mixes the old "
            "one and the candidate, and the new hidden state reads the new cell state through a squash",
        ],
    )


def check_mc_dropout_predict(fn: Callable[..., tuple[Any, Any, Any]]) -> bool:
    """Exercise 09 (core): ``fn(model, x, T)`` → ``(mean_probs, entropy, mutual_info)`` by MC dropout.

    Checked by properties and against a many-pass reference within Monte Carlo tolerance, on a model
    with batch norm and dropout that arrives in training mode with one batch norm kept in eval: exactly
    T passes, dropout on, batch norm's statistics untouched, every module's mode restored, the mean of
    the probabilities (not of the logits), entropies in nats, mutual information ≥ 0.
    """
    import torch
    from torch import nn

    from .references import mc_dropout_predict

    def model_and_data(seed):
        torch.manual_seed(seed)
        model = nn.Sequential(
            nn.Linear(6, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(32, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 4),
        )  # fmt: skip
        with torch.no_grad():
            model(torch.randn(64, 6) * 2)  # batch norm learns running statistics in training mode
            for m in model.modules():
                if isinstance(m, nn.Linear):
                    m.weight.mul_(3)  # confident, varied outputs: the slips show
        model.train()
        model[5].eval()  # a model that keeps one batch norm in eval inside training mode
        return model, torch.randn(8, 6)

    estimates = {}  # seed → a 2,000-pass estimate, made before any student code runs (and not timed)
    for seed in (0, 1):
        ref_model, x = model_and_data(seed)
        torch.manual_seed(1000 + seed)
        estimates[seed] = [v.numpy().astype(np.float64) for v in mc_dropout_predict(ref_model, x, 2000)]

    def answer(seed, T):
        model, x = model_and_data(seed)
        modes = [m.training for m in model.modules()]
        stats = [b.clone() for b in model.buffers()]
        calls = []
        hook = model.register_forward_hook(lambda *_: calls.append(1))
        try:
            got = fn(model, x.clone(), T)
        finally:
            hook.remove()
        if len(calls) != T:
            raise Wrong(f"the model ran {len(calls)} times for T = {T}: run exactly T passes")
        if [m.training for m in model.modules()] != modes:
            raise Wrong("the modules' train/eval modes are not as they were: restore each module's own mode")
        if any(not torch.equal(a, b) for a, b in zip(stats, model.buffers())):
            raise Wrong(
                "batch norm's running statistics changed: it must stay in eval mode during the passes"
            )
        n, k = len(x), 4
        mean, ent, mi = _arrays(got, ("mean_probs", "entropy", "mutual_info"), ((n, k), (n,), (n,)))
        if not np.allclose(mean.sum(1), 1, atol=1e-5) or (mean < -1e-7).any():
            raise Wrong("each row of mean_probs must be probabilities that sum to 1")
        if (mi < -1e-6).any():
            raise Wrong(
                "mutual_info is negative somewhere: it is the entropy of the mean minus the mean entropy"
            )
        if T > 1 and np.abs(mi).max() < 1e-6:
            raise Wrong("mutual_info is 0 everywhere: were the dropout layers active during the passes?")
        if T < 100:
            return 0  # too few passes to compare with an estimate: the properties above must hold
        want = estimates[seed]
        off = [
            f"{what} differs from a 2,000-pass estimate by up to {np.abs(g - w).max():.3f}"
            for g, w, what in zip((mean, ent, mi), want, ("mean_probs", "entropy", "mutual_info"))
            if np.abs(g - w).max() > 0.2  # Monte Carlo: 400 passes stayed within 0.09 in 80 tries
        ]
        if off:
            raise Wrong("; ".join(off))
        return 0

    return check(
        "mc_dropout_predict",
        answer,
        student=fn,
        cases=[((0, 400), 0), ((1, 400), 0), ((2, 3), 0)],
        limit_s=60,
        hint=[
            "the message names the property that failed; the checker's model has batch norm and dropout, "
            "arrives in training mode, and keeps one batch norm in eval",
            "dropout must be on and batch norm off (eval) during the passes; afterwards every module must "
            "be back in its own mode — remember each module's flag before you change anything",
            "average the T softmax outputs, not the logits; the entropy of that average, minus the average "
            "of the T entropies, is the mutual information (natural log: nats)",
        ],
    )


def check_gan_step(fn: Callable[..., tuple[float, float]]) -> bool:
    """Exercise 12 (core): ``fn(G, D, opt_G, opt_D, real, z)`` → ``(d_loss, g_loss)``, one GAN step.

    Runs the step on small linear nets and compares the losses and every parameter after it with the
    reference step on identical copies. Stale gradients are planted in every parameter first: a step
    that does not zero them moves differently.
    """
    import copy

    import torch
    from torch import nn

    from .references import gan_step

    def nets(seed):
        torch.manual_seed(seed)
        G = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 5))
        D = nn.Sequential(nn.Linear(5, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1))
        real, z = torch.randn(16, 5), torch.randn(16, 3)
        return G, D, real, z

    def answer(seed):
        results = []
        for step in (fn, gan_step):
            G, D, real, z = nets(seed)
            G, D = copy.deepcopy(G), copy.deepcopy(D)
            for p in [*G.parameters(), *D.parameters()]:
                p.grad = torch.full_like(p, 0.5)  # stale gradients from an earlier step
            opt_G = torch.optim.SGD(G.parameters(), lr=0.1)
            opt_D = torch.optim.SGD(D.parameters(), lr=0.1)
            losses = step(G, D, opt_G, opt_D, real.clone(), z.clone())
            results.append((losses, [p.detach().clone() for p in G.parameters()],
                            [p.detach().clone() for p in D.parameters()]))  # fmt: skip
        (got, g_got, d_got), (want, g_want, d_want) = results
        d_loss, g_loss = _arrays(got, ("d_loss", "g_loss"), ((), ()))
        _compare([d_loss, g_loss], [np.float64(w) for w in want], ("d_loss", "g_loss"), 1e-5)
        if any(not torch.allclose(a, b, atol=1e-6) for a, b in zip(d_got, d_want)):
            raise Wrong("the losses are right, but D's weights after the step differ from the reference's")
        if any(not torch.allclose(a, b, atol=1e-6) for a, b in zip(g_got, g_want)):
            raise Wrong(
                "the losses and D are right, but G's weights after the step differ from the reference's"
            )
        return 0

    return check(
        "gan_step",
        answer,
        student=fn,
        cases=[((0,), 0), ((1,), 0)],
        hint=[
            "the message says what differs: a loss, D's weights after the step, or G's. The checker's "
            "parameters start with stale gradients in them",
            "D's loss has two parts, real images labelled 1 and fakes labelled 0, and must not send "
            "gradients into G; each optimizer's gradients are cleared before its own backward pass",
            "G's loss asks the *updated* D to call the fakes real (the non-saturating loss of section 1); "
            "D returns logits, so use the loss that takes logits",
        ],
    )


# --- the lectures' core: 05, 07, 08 ------------------------------------------------------------


def check_augment_batch(fn: Callable[..., Any]) -> bool:
    """Exercise 05 (core): ``fn(x, max_shift, generator)`` → the batch, each image flipped or not and shifted.

    Checked by properties, not one draw order: every output image is its input, flipped left–right or
    not, shifted by at most ``max_shift`` pixels each way with zeros filled in (no wrap-around); over a
    batch of 300 both flips, shifts of both signs up to ±max_shift and many different shifts occur, image
    by image; the same seed gives the same batch, another seed another; ``x`` is not modified.
    """
    import torch

    g = torch.Generator().manual_seed(5)
    x = torch.rand(300, 2, 9, 8, generator=g) + 0.1  # no zeros, no symmetry: each transform is unique

    def transforms(image: torch.Tensor, s: int) -> dict[tuple[int, int, int], torch.Tensor]:
        """Every allowed result for one image: (flipped, dy, dx) → the image flipped or not, then shifted."""
        h, w = image.shape[-2:]
        found = {}
        for flipped in (0, 1):
            src = image.flip(-1) if flipped else image
            for dy in range(-s, s + 1):
                for dx in range(-s, s + 1):
                    out = torch.zeros_like(src)
                    out[:, max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = src[
                        :, max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
                    ]
                    found[(flipped, dy, dx)] = out
        return found

    def answer(max_shift):
        batch = x.clone()
        got = fn(batch, max_shift, torch.Generator().manual_seed(11))
        if not torch.equal(batch, x):
            raise Wrong("x was modified: build a new batch (torch.zeros_like, or a clone)")
        if not torch.is_tensor(got) or got.shape != x.shape:
            raise Wrong(
                f"return a tensor shaped like x {tuple(x.shape)}, got {getattr(got, 'shape', type(got))}"
            )
        got = got.detach().float()
        seen = []
        for i in range(len(x)):
            match = [
                k for k, v in transforms(x[i], max_shift).items() if torch.allclose(got[i], v, atol=1e-6)
            ]
            if not match:
                rolled = any(
                    torch.allclose(got[i], x[i].flip(-1)[..., :, :].roll((dy, dx), (-2, -1)), atol=1e-6)
                    or torch.allclose(got[i], x[i].roll((dy, dx), (-2, -1)), atol=1e-6)
                    for dy in range(-max_shift, max_shift + 1)
                    for dx in range(-max_shift, max_shift + 1)
                )
                why = (
                    "it wraps around (like torch.roll): fill the uncovered border with zeros instead"
                    if rolled
                    else "it is not this image flipped left–right or not, then shifted within "
                    f"±{max_shift} pixels with zeros filled in"
                )
                raise Wrong(f"image {i}: {why}")
            seen.append(match[0])
        flips = np.mean([f for f, _, _ in seen])
        shifts = {(dy, dx) for _, dy, dx in seen}
        edges = {v for _, dy, dx in seen for v in (dy, dx)}
        if not 0.3 <= flips <= 0.7:
            raise Wrong(f"{flips:.0%} of the 300 images were flipped: each should be, with probability ½")
        if len(set(seen)) < 10:
            raise Wrong(f"only {len(set(seen))} different transformations in 300 images: draw one per image")
        if max_shift and not {-max_shift, max_shift} <= edges:
            raise Wrong(f"no image was shifted by the full ±{max_shift}: the range includes both ends")
        if max_shift and len(shifts) < (2 * max_shift + 1) ** 2 // 2:
            raise Wrong(
                f"only {len(shifts)} different (dy, dx) shifts in 300 images: draw dy and dx on their own"
            )
        again = fn(x.clone(), max_shift, torch.Generator().manual_seed(11))
        if not torch.equal(torch.as_tensor(again).float(), got):
            raise Wrong("the same seed gave another batch: draw every random number from `generator`")
        other = fn(x.clone(), max_shift, torch.Generator().manual_seed(12))
        if torch.equal(torch.as_tensor(other).float(), got):
            raise Wrong("another seed gave the same batch: draw the random numbers from `generator`")
        return 0

    return check(
        "augment_batch",
        answer,
        student=fn,
        cases=[((2,), 0), ((1,), 0)],
        limit_s=60,
        hint=[
            "the message names the image or the property that failed; the checker's 300 images are random "
            "noise, so each flip and shift gives a different result",
            "draw each image's flip and its two shifts on their own, with `generator`; a shift moves the "
            "content and leaves a border of zeros, nothing wraps around to the other side",
            "for a shift dy ≥ 0 the output's rows dy…H−1 come from the input's rows 0…H−1−dy (and the other "
            "way round for dy < 0); both ends of the range must be possible",
        ],
    )


def check_extract_features(fn: Callable[..., Any]) -> bool:
    """Exercise 07 (core): ``fn(backbone, x, batch_size)`` → the backbone's outputs for all of x.

    The backbone has batch norm and dropout and arrives in training mode with one batch norm kept in
    eval (as 07's fine-tuned model does). Checked: the outputs equal the backbone's in eval mode, on the
    CPU, without gradient tracking; at most ``batch_size`` images per call; every module's mode and every
    running statistic unchanged afterwards.
    """
    import torch
    from torch import nn

    from .references import extract_features

    def backbone_and_data(seed):
        torch.manual_seed(seed)
        net = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Dropout(0.5),
            nn.Conv2d(8, 6, 3, stride=2, padding=1), nn.BatchNorm2d(6), nn.ReLU(),
        )  # fmt: skip
        with torch.no_grad():
            net(torch.randn(16, 3, 8, 8) * 2)  # batch norm learns running statistics
        net.train()
        net[5].eval()
        return net, torch.randn(23, 3, 8, 8)

    def answer(seed, batch_size):
        net, x = backbone_and_data(seed)
        modes = [m.training for m in net.modules()]
        stats = [b.clone() for b in net.buffers()]
        sizes = []
        hook = net.register_forward_hook(lambda module, inputs, output: sizes.append(len(inputs[0])))
        try:
            got = fn(net, x.clone(), batch_size)
        finally:
            hook.remove()
        if any(not torch.equal(a, b) for a, b in zip(stats, net.buffers())):
            raise Wrong(
                "batch norm's running statistics changed: the backbone must be in eval mode while it runs"
            )
        if [m.training for m in net.modules()] != modes:
            raise Wrong("the modules' train/eval modes are not as they were: restore each module's own mode")
        if not sizes or max(sizes) > batch_size or sum(sizes) != len(x):
            raise Wrong(
                f"the backbone saw batches of {sizes} for {len(x)} images and batch_size {batch_size}"
            )
        if not torch.is_tensor(got):
            raise Wrong(f"return one tensor, got {type(got).__name__}")
        if got.requires_grad:
            raise Wrong("the features track gradients: compute them under torch.no_grad()")
        if got.device.type != "cpu":
            raise Wrong(f"the features are on {got.device}: bring them to the CPU")
        ref_net, _ = backbone_and_data(seed)
        want = extract_features(ref_net, x, len(x))
        if got.shape != want.shape:
            raise Wrong(
                f"the features have shape {tuple(got.shape)}, expected {tuple(want.shape)} (no pooling)"
            )
        _compare([got.double().numpy()], [want.double().numpy()], ["the features"], 1e-5)
        return 0

    return check(
        "extract_features",
        answer,
        student=fn,
        cases=[((0, 5), 0), ((1, 23), 0), ((2, 8), 0)],
        hint=[
            "the message names the property that failed; the checker's backbone has batch norm and "
            "dropout, arrives in training mode, and keeps one batch norm in eval",
            "inference behaviour means eval mode for the whole backbone while it runs; afterwards put "
            "every module back in its own mode — remember each module's flag first",
            "loop over x in slices of batch_size, run each slice without gradient tracking, move each "
            "result to the CPU, and join them along the first dimension",
        ],
    )


def check_pgd_attack(fn: Callable[..., Any]) -> bool:
    """Exercise 08 (core): ``fn(model, x, y, eps, alpha, steps)`` → x_adv by L∞ PGD from x (no random start).

    Compared with the reference on a small float64 model (exactly), with pixels near 0 and 1 (the clip
    shows), a step larger than ε (the projection shows), one step (FGSM) and several.
    """
    import torch
    from torch import nn

    from .references import pgd_attack

    torch.manual_seed(8)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 12), nn.Tanh(), nn.Linear(12, 3)).double().eval()
    x = torch.rand(10, 1, 4, 4, dtype=torch.float64)
    x[:, :, 0] = 0.0  # a row of black pixels and one of white ones: the clip to [0, 1] matters there
    x[:, :, 1] = 1.0
    y = torch.randint(0, 3, (10,))
    cases = [(0.1, 0.1, 1), (0.1, 0.03, 7), (0.05, 0.2, 3), (0.2, 0.05, 10)]

    def answer(eps, alpha, steps):
        got = fn(model, x.clone(), y.clone(), eps, alpha, steps)
        if not torch.is_tensor(got) or got.shape != x.shape:
            raise Wrong(
                f"return x_adv shaped like x {tuple(x.shape)}, got {getattr(got, 'shape', type(got))}"
            )
        got = got.detach().double()
        if (got - x).abs().max() > eps + 1e-9:
            raise Wrong(f"a pixel moved by {(got - x).abs().max():.3f}, more than ε = {eps}")
        if got.min() < 0 or got.max() > 1:
            raise Wrong("a pixel left [0, 1]")
        want = pgd_attack(model, x, y, eps, alpha, steps)
        _compare([got.numpy()], [want.numpy()], ["x_adv"], 1e-9)
        return 0

    return check(
        "pgd_attack",
        answer,
        student=fn,
        cases=[(c, 0) for c in cases],
        hint=[
            "case 1 is a single step (FGSM); the others take several steps, one with a step larger than ε",
            "each step goes *up* the loss by alpha in the direction of the gradient's sign, computed at the "
            "current x_adv; then every pixel is brought back within ε of the original x, and into [0, 1]",
            "start exactly at x (no random start); the gradient of each step needs a fresh x_adv that "
            "requires grad — gradients must not pile up from one step to the next",
        ],
    )
