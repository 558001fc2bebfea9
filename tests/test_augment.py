import pytest
import torch

from helpers.augment import flip_and_translate


def test_translation_is_a_shift_of_the_reflect_padded_image():
    torch.manual_seed(0)
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).reshape(2, 3, 8, 8)
    out = flip_and_translate(x, max_shift=2, flip=False)
    assert out.shape == x.shape
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2), mode="reflect")
    for i in range(2):  # each output is one of the 25 crops of its own padded image
        crops = [padded[i, :, dy : dy + 8, dx : dx + 8] for dy in range(5) for dx in range(5)]
        assert any(torch.equal(out[i], c) for c in crops)


def test_flip_only_and_statistics():
    torch.manual_seed(1)
    x = torch.rand(400, 1, 4, 4)
    out = flip_and_translate(x, max_shift=0)
    flipped = torch.tensor([torch.equal(o, xi.flip(2)) for o, xi in zip(out, x)])
    same = torch.tensor([torch.equal(o, xi) for o, xi in zip(out, x)])
    assert bool((flipped | same).all()) and 150 < int(flipped.sum()) < 250


def test_rejects_unbatched():
    with pytest.raises(ValueError, match="batch"):
        flip_and_translate(torch.zeros(3, 8, 8))
