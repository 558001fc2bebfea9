"""helpers.mobilenet: torchvision's MobileNetV2 from the mirror's 8-bit weights or torchvision's own."""

import pytest
import torch
import torchvision

from helpers import data, mobilenet

from . import mobilenet_graph


def test_tf_same_padding_output_sizes():
    conv = mobilenet.Conv2dTFSame(1, 1, 3, stride=2, padding=0, bias=False)
    torch.nn.init.ones_(conv.weight)
    assert conv(torch.zeros(1, 1, 224, 224)).shape[2:] == (112, 112)
    assert conv(torch.zeros(1, 1, 7, 7)).shape[2:] == (4, 4)
    # even size: nothing padded at the top/left, one row/column at the bottom/right
    y = conv(torch.ones(1, 1, 4, 4))
    assert y[0, 0].tolist() == [[9.0, 6.0], [6.0, 4.0]]
    # the same padding as the reference graph runner, on odd and even sizes
    conv3 = mobilenet.Conv2dTFSame(3, 4, 3, stride=2, padding=0, bias=False)
    for size in (9, 10):
        x = torch.randn(2, 3, size, size)
        with torch.no_grad():
            expected = torch.nn.functional.conv2d(
                mobilenet_graph.same_padding(x, 3, 2), conv3.weight, stride=2
            )
            assert torch.equal(conv3(x), expected)


def test_preprocess_ranges_and_shapes():
    ones = torch.ones(2, 3, 128, 128)
    x8 = mobilenet.preprocess_8bit(ones, size=160)
    assert x8.shape == (2, 3, 160, 160) and torch.allclose(x8, torch.full_like(x8, 127 / 128))
    xi = mobilenet.preprocess_imagenet(ones, size=224)
    expected = (1 - torch.tensor(mobilenet.IMAGENET_MEAN)) / torch.tensor(mobilenet.IMAGENET_STD)
    assert xi.shape == (2, 3, 224, 224) and torch.allclose(xi[0, :, 5, 5], expected, atol=1e-5)
    with pytest.raises(ValueError, match="to_tensor"):
        mobilenet.preprocess_8bit(ones[0])


def test_categories_are_imagenet_order():
    assert len(mobilenet.CATEGORIES) == 1000
    assert mobilenet.CATEGORIES[309] == "bee" and mobilenet.CATEGORIES[310] == "ant"


def test_converted_8bit_model_matches_the_graph_runner(mirror):
    """The conversion into torchvision's architecture computes what the stored TFLite graph computes:
    on the 153 ants/bees validation photos, max |Δlogit| 2.6e-5 (logits up to 17.7), measured."""
    pre = mobilenet.load_mobilenet_v2("8bit")
    assert isinstance(pre.model, torchvision.models.MobileNetV2) and "8-bit" in pre.source
    assert pre.model.classifier[1].out_features == 1000
    reference = mobilenet_graph.load_graph_model()
    bees = data.load_hymenoptera()
    x = mobilenet_graph.preprocess(data.to_tensor(bees.x_test), 224)
    with torch.no_grad():
        ours = torch.cat([pre.model(x[i : i + 51]) for i in range(0, len(x), 51)])
        theirs = torch.cat([reference(x[i : i + 51]) for i in range(0, len(x), 51)])[:, 1:]
    assert ours.shape == (153, 1000)
    assert (ours - theirs).abs().max().item() < 1e-3
    assert torch.equal(ours.argmax(1), theirs.argmax(1))
    # and the model's own preprocessing gives the same input as the reference's
    assert torch.allclose(pre.preprocess(data.to_tensor(bees.x_test), 224), x, atol=1e-5)
    # zero-shot: the "bee" logit vs the "ant" logit, no training (94.1% measured)
    says_bee = ours[:, 309] > ours[:, 310]
    acc = (says_bee.long() == torch.from_numpy(bees.y_test)).float().mean().item()
    assert acc > 0.92, acc


def test_converted_model_is_cached(mirror, tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBOOK_CACHE", str(tmp_path))
    first = mobilenet.load_mobilenet_v2()
    cached = list((tmp_path / "weights").glob("mobilenet_v2-from-8bit-*.pt"))
    assert len(cached) == 1
    second = mobilenet.load_mobilenet_v2()
    x = torch.rand(1, 3, 96, 96)
    with torch.no_grad():
        assert torch.equal(first.model(x), second.model(x))
    cached[0].write_bytes(b"damaged")  # a damaged cache file is rebuilt, not trusted
    with torch.no_grad():
        assert torch.equal(mobilenet.load_mobilenet_v2().model(x), first.model(x))


def test_8bit_without_a_mirror_names_the_fix(tmp_path, monkeypatch):
    monkeypatch.delenv("WORKBOOK_DATA", raising=False)
    monkeypatch.setenv("WORKBOOK_CACHE", str(tmp_path))
    with pytest.raises(data.DataNotFoundError, match="WORKBOOK_DATA"):
        mobilenet.load_mobilenet_v2("8bit")
    with pytest.raises(ValueError, match="torchvision"):
        mobilenet.load_mobilenet_v2("imagenet")
