import numpy as np

from helpers import text


def test_tokenize_documented_rules():
    assert text.tokenize("Great film!<br /><br />I didn't LIKE the end...") == [
        "great", "film", "!", "i", "didn't", "like", "the", "end", ".", ".", "."]
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
