"""The workbook's own answers to the core exercises: the lesson runs on these until the student's pass.

Each function here has the name and signature of its exercise (see the notebook named in its docstring);
:func:`helpers.exercises.use_or_reference` hands it to the lesson while the student's version has not
passed its check, and the checkers compare the student's answers with it. The notebooks' collapsed
solutions show the same code.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = [
    "augment_batch",
    "conv2d",
    "extract_features",
    "gan_step",
    "lstm_cell",
    "mc_dropout_predict",
    "mlp_backward",
    "numerical_gradient",
    "pgd_attack",
    "softmax_ce_grad",
]


def softmax_ce_grad(
    X: np.ndarray, W: np.ndarray, b: np.ndarray, y: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray]:
    """Notebook 02: mean softmax cross-entropy of ``X @ W + b`` and its gradients.

    X (N, D), W (D, K), b (K,), y (N,) int labels → ``(loss, dW (D, K), db (K,))``. Stable for logits in
    the thousands (the row maximum is subtracted before ``exp``).
    """
    z = X @ W + b
    z = z - z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    n = len(X)
    loss = -log_p[np.arange(n), y].mean()
    dz = np.exp(log_p)
    dz[np.arange(n), y] -= 1  # p − one-hot(y)
    dz /= n
    return float(loss), X.T @ dz, dz.sum(axis=0)


def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """Notebook 03: central differences ``(f(x + eps·e_i) − f(x − eps·e_i)) / (2·eps)``, one entry at a time.

    ``x`` any shape (float64); returns an array shaped like ``x``. ``x`` is left exactly as it was.
    """
    grad = np.zeros_like(x, dtype=np.float64)
    for i in np.ndindex(x.shape):
        kept = x[i]
        x[i] = kept + eps
        up = f(x)
        x[i] = kept - eps
        down = f(x)
        x[i] = kept
        grad[i] = (up - down) / (2 * eps)
    return grad


def mlp_backward(
    X: np.ndarray,
    y: np.ndarray,
    W1: np.ndarray,
    b1: np.ndarray,
    W2: np.ndarray,
    b2: np.ndarray,
    W3: np.ndarray,
    b3: np.ndarray,
) -> tuple[float, tuple[np.ndarray, ...]]:
    """Notebook 03: forward and backward by hand through a 3-layer ReLU net with softmax cross-entropy.

    X (N, D), y (N,) int labels, W1 (D, H1), b1 (H1,), W2 (H1, H2), b2 (H2,), W3 (H2, K), b3 (K,) →
    ``(loss, (dW1, db1, dW2, db2, dW3, db3))``, the loss a mean over the batch; ReLU′(0) = 0.
    """
    z1 = X @ W1 + b1  # forward, keeping what the backward pass needs
    h1 = np.maximum(z1, 0)
    z2 = h1 @ W2 + b2
    h2 = np.maximum(z2, 0)
    loss, dW3, db3 = softmax_ce_grad(h2, W3, b3, y)  # the last layer is 02's softmax regression on h2
    z3 = h2 @ W3 + b3
    p = np.exp(z3 - z3.max(axis=1, keepdims=True))
    dz3 = p / p.sum(axis=1, keepdims=True)
    dz3[np.arange(len(X)), y] -= 1
    dz3 /= len(X)  # ∂loss/∂z3 = (p − one-hot) / N
    dz2 = (dz3 @ W3.T) * (z2 > 0)  # back through W3, then the ReLU (0 where z2 ≤ 0)
    dz1 = (dz2 @ W2.T) * (z1 > 0)
    return loss, (X.T @ dz1, dz1.sum(0), h1.T @ dz2, dz2.sum(0), dW3, db3)


def conv2d(x: np.ndarray, k: np.ndarray, stride: int = 1, padding: int = 0) -> np.ndarray:
    """Notebook 04: multi-channel cross-correlation with zero padding and stride, by loops.

    x (C, H, W), k (D, C, kh, kw) → (D, H′, W′) with H′ = (H + 2·padding − kh) // stride + 1.
    """
    d, _, kh, kw = k.shape
    xp = np.pad(x, ((0, 0), (padding, padding), (padding, padding)))
    h_out = (x.shape[1] + 2 * padding - kh) // stride + 1
    w_out = (x.shape[2] + 2 * padding - kw) // stride + 1
    out = np.zeros((d, h_out, w_out))
    for o in range(d):
        for r in range(h_out):
            for c in range(w_out):
                window = xp[:, r * stride : r * stride + kh, c * stride : c * stride + kw]
                out[o, r, c] = np.sum(window * k[o])
    return out


def lstm_cell(x, h, c, W_ih, W_hh, b_ih, b_hh):
    """Notebook 06: one LSTM step in PyTorch's layout (torch tensors, float32 or float64).

    x (B, D), h and c (B, H), W_ih (4H, D), W_hh (4H, H), b_ih and b_hh (4H,), gates in the order
    i, f, g, o → ``(h_new, c_new)``, each (B, H).
    """
    import torch

    gates = x @ W_ih.T + b_ih + h @ W_hh.T + b_hh  # (B, 4H): the four gates' pre-activations
    i, f, g, o = gates.chunk(4, dim=1)
    c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h_new = torch.sigmoid(o) * torch.tanh(c_new)
    return h_new, c_new


def mc_dropout_predict(model, x, T: int):
    """Notebook 09: MC dropout: exactly ``T`` passes with dropout on and everything else in eval mode.

    x (N, ...) → ``(mean_probs (N, K), entropy (N,), mutual_info (N,))`` in nats, on the CPU; ``x`` is
    moved to the model's device. Every module's training flag is as it was afterwards.
    """
    import torch
    from torch import nn

    x = x.to(next(model.parameters()).device)  # the model's device; the results come back on the CPU
    before = {m: m.training for m in model.modules()}
    model.eval()
    for m in model.modules():
        if isinstance(m, nn.modules.dropout._DropoutNd):
            m.train()  # dropout on; batch norm keeps its running statistics (eval)
    try:
        with torch.no_grad():
            probs = torch.stack(
                [torch.softmax(model(x).float(), dim=-1).cpu() for _ in range(T)]
            )  # (T, N, K)
    finally:
        for m, was in before.items():
            m.training = was  # module by module: a model may keep some parts in eval on purpose

    def entropy(p):
        return -(p * torch.log(p.clamp_min(1e-12))).sum(-1)

    mean = probs.mean(0)
    return mean, entropy(mean), entropy(mean) - entropy(probs).mean(0)


def gan_step(G, D, opt_G, opt_D, real, z) -> tuple[float, float]:
    """Notebook 12: one training step of a GAN whose discriminator D returns logits.

    ``fake = G(z)`` once; D's loss, BCE with logits on ``real`` (label 1) and ``fake.detach()`` (label 0),
    the two batch means summed, then D's step; then G's non-saturating loss BCE(D(fake), 1) with the
    updated D, then G's step. Returns ``(d_loss, g_loss)``, the values before each step.
    """
    import torch
    import torch.nn.functional as F

    fake = G(z)
    d_real, d_fake = D(real), D(fake.detach())  # detach: D's loss must not reach G
    d_loss = F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real)) + (
        F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake))
    )
    opt_D.zero_grad()
    d_loss.backward()
    opt_D.step()
    d_on_fake = D(fake)  # the updated D
    g_loss = F.binary_cross_entropy_with_logits(d_on_fake, torch.ones_like(d_on_fake))
    opt_G.zero_grad()
    g_loss.backward()
    opt_G.step()
    return d_loss.item(), g_loss.item()


def augment_batch(x, max_shift: int, generator):
    """Notebook 05: a random horizontal flip (probability ½), then a random shift by (dy, dx) in
    [−max_shift, max_shift]² with zero fill, each image on its own; every random number from ``generator``.

    x (N, C, H, W) float → the same shape. ``x`` is not modified.
    """
    import torch

    n, _, h, w = x.shape
    flip = torch.rand(n, generator=generator) < 0.5
    shifts = torch.randint(-max_shift, max_shift + 1, (n, 2), generator=generator).tolist()
    out = torch.zeros_like(x)
    for i in range(n):
        image = x[i].flip(-1) if flip[i] else x[i]
        dy, dx = shifts[i]
        out[i, :, max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = image[
            :, max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
        ]
    return out


def extract_features(backbone, x, batch_size: int):
    """Notebook 07: ``backbone(x)`` batch by batch, concatenated, on the CPU, without gradients, with batch
    norm and dropout in inference behaviour; every submodule's mode is restored afterwards.

    x (N, ...) → (N, ...) whatever the backbone outputs (no pooling, no flattening).
    """
    import torch

    before = {m: m.training for m in backbone.modules()}
    device = next(backbone.parameters()).device
    backbone.eval()
    try:
        with torch.no_grad():
            parts = [backbone(x[i : i + batch_size].to(device)).cpu() for i in range(0, len(x), batch_size)]
    finally:
        for m, was in before.items():
            m.training = was
    return torch.cat(parts)


def pgd_attack(model, x, y, eps: float, alpha: float, steps: int):
    """Notebook 08: L∞ projected gradient descent from x (no random start), ascending the mean cross-entropy.

    Each step adds ``alpha · sign(∇ₓ loss)``, then projects into the ε-ball around x and clips to [0, 1].
    x (N, C, H, W) in [0, 1], y (N,) → x_adv, the same shape, detached.
    """
    import torch
    import torch.nn.functional as F

    x_adv = x.clone().detach()
    for _ in range(steps):
        x_adv.requires_grad_(True)
        loss = F.cross_entropy(model(x_adv), y)
        (grad,) = torch.autograd.grad(loss, x_adv)
        with torch.no_grad():
            x_adv = x_adv + alpha * grad.sign()
            x_adv = torch.min(torch.max(x_adv, x - eps), x + eps).clamp(0, 1)
    return x_adv.detach()
