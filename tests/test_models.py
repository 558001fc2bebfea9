import pytest
import torch

from helpers import data, models, train


def test_resnet_shapes_and_depths():
    m = models.cifar_resnet(20)
    assert train.count_parameters(m) == 269_722
    assert m(torch.rand(2, 3, 32, 32)).shape == (2, 10) and m.features(torch.rand(2, 3, 32, 32)).shape == (2, 64)
    assert train.count_parameters(models.cifar_resnet(56)) == 853_018
    with pytest.raises(ValueError, match="6n\\+2"):
        models.cifar_resnet(21)


def test_pretrained_resnet20_on_real_cifar(mirror):
    model = models.cifar_resnet(20, pretrained=True)
    c = data.load_cifar10()
    x, y = data.to_tensor(c.x_test[:500]), torch.from_numpy(c.y_test[:500])
    _, acc = train.evaluate(model, (x, y))
    assert acc > 0.75  # 81.0% on all 10,000 test images of a JPEG re-encoded mirror
    # channel order matters: BGR input must do clearly worse
    _, acc_bgr = train.evaluate(model, (x.flip(1), y))
    assert acc_bgr < acc - 0.03
