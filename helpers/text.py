"""Text to integer sequences: a simple documented tokenizer, a vocabulary, padding.

Tokenizer: lower-case; HTML line breaks (``<br />``) become spaces; tokens are runs of letters and
digits, optionally with an apostrophe part (``don't``, ``film's``), and the punctuation marks
``! ? .`` as tokens of their own. Everything else is dropped. This matches GloVe's lower-case
vocabulary well (GloVe has "don't" as ``do`` + ``n't``; such words fall back to unknown).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

PAD, UNK = 0, 1
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[!?.]")
_BREAK = re.compile(r"<br\s*/?>", re.I)


def tokenize(text: str) -> list[str]:
    """Split a review into lower-case word and punctuation tokens (see the module docstring)."""
    return _TOKEN.findall(_BREAK.sub(" ", text).lower())


def build_vocab(token_lists: Iterable[Sequence[str]], max_size: int, min_count: int = 1) -> list[str]:
    """The ``max_size`` most frequent tokens (ties: first seen), after ``<pad>`` and ``<unk>``.

    Returns ``itos``: index → token; index 0 is padding, 1 is unknown.
    """
    counts = Counter(t for tokens in token_lists for t in tokens)
    words = [w for w, c in counts.most_common() if c >= min_count][: max(0, max_size - 2)]
    return ["<pad>", "<unk>"] + words


def encode(token_lists: Sequence[Sequence[str]], itos: Sequence[str], max_len: int) -> np.ndarray:
    """Token lists → int64 array (N, max_len): indices, truncated to the first ``max_len`` tokens
    and padded with 0 at the end. Unknown tokens map to 1."""
    stoi = {w: i for i, w in enumerate(itos)}
    out = np.zeros((len(token_lists), max_len), dtype=np.int64)
    for row, tokens in enumerate(token_lists):
        ids = [stoi.get(t, UNK) for t in tokens[:max_len]]
        out[row, : len(ids)] = ids
    return out


def lengths(encoded) -> np.ndarray:
    """Number of non-padding tokens per row of an encoded array (N, L) → (N,)."""
    return (np.asarray(encoded) != PAD).sum(axis=1)
