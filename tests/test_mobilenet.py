import torch

from helpers import data, mobilenet


def test_same_padding_matches_tensorflow_rule():
    x = torch.zeros(1, 1, 224, 224)
    # stride 2, 3×3, even size: 0 before, 1 after → 225 → conv gives 112
    assert mobilenet.same_padding(x, 3, 2).shape[2:] == (225, 225)
    assert mobilenet.same_padding(x, 3, 1).shape[2:] == (226, 226)
    assert mobilenet.same_padding(x, 1, 1).shape[2:] == (224, 224)
    odd = torch.zeros(1, 1, 7, 7)
    assert mobilenet.same_padding(odd, 3, 2).shape[2:] == (9, 9)


def test_preprocess_range_and_shape():
    x = mobilenet.preprocess(torch.ones(2, 3, 128, 128), size=224)
    assert x.shape == (2, 3, 224, 224) and torch.allclose(x, torch.full_like(x, 127 / 128))


def test_pretrained_mobilenet_tells_ants_from_bees(mirror):
    """ImageNet logits "bee" vs "ant" on the 153 val photos, no training: 94.1% measured here on the
    mirror's 128-px images (its README reports 98.7%, evidently from the full-size originals)."""
    model = mobilenet.load_mobilenet_v2()
    assert model.class_names[310] == "bee" and model.class_names[311].startswith("ant")
    bees = data.load_hymenoptera()
    x = mobilenet.preprocess(data.to_tensor(bees.x_test), 224)
    with torch.no_grad():
        logits = torch.cat([model(x[i : i + 32]) for i in range(0, len(x), 32)])
    assert logits.shape == (153, 1001)
    says_bee = logits[:, 310] > logits[:, 311]
    acc = (says_bee.long() == torch.from_numpy(bees.y_test)).float().mean().item()
    assert acc > 0.92, acc
    # a node range can be resumed from any cut that later nodes do not skip over
    with torch.no_grad():
        h = model.run_nodes(x[:4], 0, 58)
        assert torch.allclose(model.run_nodes(h, 58), logits[:4], atol=1e-4)
