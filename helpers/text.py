"""Text to integer sequences: a simple documented tokenizer, a vocabulary, padding.

Tokenizer: Unicode NFC, then lower-case; HTML line breaks (``<br />``) become spaces; curly
apostrophes (’ ‘ ʼ) become ``'``. Tokens are runs of letters and digits of any script (with their
combining accents and vowel signs), optionally with an apostrophe part of letters (``don't``,
``film's``; ``don’t`` → ``don't``), and the punctuation marks ``! ? .`` as tokens of their own.
Everything else is dropped, underscores included: ``"Amélie’s café_bar"`` → ``["amélie's",
"café", "bar"]``. This matches GloVe's lower-case vocabulary well (GloVe has "don't" as ``do`` +
``n't``; such words fall back to unknown). Only a str is tokenized: other input raises TypeError.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

PAD, UNK = 0, 1
#: Combining marks of the Basic Multilingual Plane (accents, Devanagari vowel signs, ...): not
#: ``\w`` in Python's ``re``, yet part of a word.
_MARKS = re.escape("".join(c for c in map(chr, range(0x10000)) if unicodedata.category(c).startswith("M")))
# underscores become spaces first, so \w here is a letter or digit of any script
_TOKEN = re.compile(rf"\w[\w{_MARKS}]*(?:'[^\W\d](?:[^\W\d]|[{_MARKS}])*)?|[!?.]")
_BREAK = re.compile(r"<br\s*/?>", re.I)


def tokenize(text: str) -> list[str]:
    """Split one review (a str) into lower-case word and punctuation tokens (see the module
    docstring); raises ``TypeError`` for anything but a str."""
    if not isinstance(text, str):
        how = (
            "decode it first, e.g. text.decode('utf-8')"
            if isinstance(text, bytes)
            else "for many texts use [tokenize(t) for t in texts]"
        )
        raise TypeError(f"tokenize wants one str, got {type(text).__name__}; {how}")
    text = unicodedata.normalize("NFC", _BREAK.sub(" ", text)).replace("_", " ")
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u02bc", "'")  # ’ ‘ ʼ
    return _TOKEN.findall(text.lower())


def _check_token_lists(token_lists, fn: str) -> None:
    if isinstance(token_lists, (str, bytes)):
        raise TypeError(
            f"{fn} wants a list of token lists, like [tokenize(t) for t in texts]; "
            f"got one {type(token_lists).__name__}"
        )


def _check_tokens(tokens, position: int, fn: str) -> None:
    """One entry of ``token_lists`` must be a list (or tuple) of str tokens."""
    if not isinstance(tokens, (list, tuple)):
        raise TypeError(
            f"{fn} wants a list of token lists, like [tokenize(t) for t in texts]; "
            f"got a {type(tokens).__name__} at position {position}"
        )
    if tokens and not isinstance(tokens[0], str):
        raise TypeError(
            f"{fn} wants str tokens; the token list at position {position} holds "
            f"tokens of type {type(tokens[0]).__name__}"
        )


def build_vocab(token_lists: Iterable[Sequence[str]], max_size: int, min_count: int = 1) -> list[str]:
    """The ``max_size`` most frequent tokens (ties: first seen), after ``<pad>`` and ``<unk>``.

    ``token_lists``: one list of str tokens per text, e.g. ``[tokenize(t) for t in texts]``;
    raw strings raise ``TypeError`` (they would give a vocabulary of characters).
    Returns ``itos``: index → token; index 0 is padding, 1 is unknown.
    """
    _check_token_lists(token_lists, "build_vocab")
    counts: Counter[str] = Counter()
    for position, tokens in enumerate(token_lists):
        _check_tokens(tokens, position, "build_vocab")
        counts.update(tokens)
    words = [w for w, c in counts.most_common() if c >= min_count][: max(0, max_size - 2)]
    return ["<pad>", "<unk>"] + words


def encode(token_lists: Sequence[Sequence[str]], itos: Sequence[str], max_len: int) -> np.ndarray:
    """Token lists (N lists of str) → int64 array (N, max_len): indices, truncated to the first
    ``max_len`` tokens and padded with 0 at the end. Unknown tokens map to 1. Raw strings instead
    of token lists raise ``TypeError``."""
    _check_token_lists(token_lists, "encode")
    stoi = {w: i for i, w in enumerate(itos)}
    out = np.zeros((len(token_lists), max_len), dtype=np.int64)
    for row, tokens in enumerate(token_lists):
        _check_tokens(tokens, row, "encode")
        ids = [stoi.get(t, UNK) for t in tokens[:max_len]]
        out[row, : len(ids)] = ids
    return out


def lengths(encoded) -> np.ndarray:
    """Number of non-padding tokens per row of an encoded array (N, L) → (N,)."""
    return (np.asarray(encoded) != PAD).sum(axis=1)
