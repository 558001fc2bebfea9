import re

import numpy as np
import pytest

from helpers import text


def test_tokenize_documented_rules():
    assert text.tokenize("Great film!<br /><br />I didn't LIKE the end...") == [
        "great",
        "film",
        "!",
        "i",
        "didn't",
        "like",
        "the",
        "end",
        ".",
        ".",
        ".",
    ]
    assert text.tokenize("  ") == []
    assert text.tokenize("8/10, 'tis (really) fine?") == ["8", "10", "tis", "really", "fine", "?"]


def test_vocab_and_encode():
    docs = [["a", "b", "a"], ["b", "c", "a"]]
    itos = text.build_vocab(docs, max_size=4)
    assert itos == ["<pad>", "<unk>", "a", "b"]
    enc = text.encode([["a", "c", "b"], ["b"], []], itos, max_len=2)
    assert enc.tolist() == [[2, 1], [3, 0], [0, 0]] and enc.dtype == np.int64
    assert text.lengths(enc).tolist() == [2, 1, 0]
    assert text.build_vocab(docs, max_size=10, min_count=2) == ["<pad>", "<unk>", "a", "b"]


def test_tokenize_keeps_words_of_any_script():
    assert text.tokenize("Amélie … café … don’t") == ["amélie", "café", "don't"]
    assert text.tokenize("It‘s Zoë’s ʼtis film_noir") == ["it's", "zoë's", "tis", "film", "noir"]
    assert text.tokenize("cafe\u0301 naïve Straße") == ["café", "naïve", "straße"]  # NFC
    assert text.tokenize("Ελληνικά, Русский; 中文!") == ["ελληνικά", "русский", "中文", "!"]
    assert text.tokenize("हिन्दी फ़िल्म") == ["हिन्दी", "फ़िल्म"]  # vowel signs stay in the word


@pytest.mark.parametrize(
    "bad, name", [(["a film", "another"], "list"), (None, "NoneType"), (b"a film", "bytes")]
)
def test_tokenize_wants_one_str(bad, name):
    with pytest.raises(TypeError, match=f"tokenize wants one str, got {name}"):
        text.tokenize(bad)
    if name == "list":
        with pytest.raises(TypeError, match=re.escape("[tokenize(t) for t in texts]")):
            text.tokenize(bad)


def test_vocab_and_encode_want_token_lists_not_strings():
    fix = re.escape("build_vocab wants a list of token lists, like [tokenize(t) for t in texts]")
    with pytest.raises(TypeError, match=fix + "; got a str at position 0"):
        text.build_vocab(["the movie"], max_size=10)
    with pytest.raises(TypeError, match=fix + "; got one str"):
        text.build_vocab("the movie", max_size=10)
    with pytest.raises(TypeError, match="got a str at position 1"):
        text.build_vocab(iter([["ok"], "the movie"]), max_size=10)  # any iterable, checked lazily
    with pytest.raises(TypeError, match="encode wants a list of token lists.*a str at position 1"):
        text.encode([["a"], "b c"], ["<pad>", "<unk>", "a"], max_len=3)
    with pytest.raises(TypeError, match="encode wants str tokens.*0 holds tokens of type int"):
        text.encode([[2, 3]], ["<pad>", "<unk>", "a"], max_len=3)
    # token lists as tuples are fine
    assert text.encode([("a", "b")], ["<pad>", "<unk>", "a"], max_len=3).tolist() == [[2, 1, 0]]
