import pytest
import torch

from helpers import data, models, train


def test_resnet_shapes_and_depths():
    m = models.cifar_resnet(20)
    assert train.count_parameters(m) == 269_722
    assert m(torch.rand(2, 3, 32, 32)).shape == (2, 10) and m.features(torch.rand(2, 3, 32, 32)).shape == (
        2,
        64,
    )
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


def test_pretrained_resnet56_loads(mirror):
    """The deeper pretrained net loads strictly (its weights are pinned like ResNet-20's) and classifies
    real CIFAR-10 test images at least as well."""
    model = models.cifar_resnet(56, pretrained=True)
    c = data.load_cifar10()
    _, acc = train.evaluate(model, (data.to_tensor(c.x_test[:500]), torch.from_numpy(c.y_test[:500])))
    assert acc > 0.78, acc


def test_one_normalisation_constant():
    """The CIFAR ResNets and MobileNetV2 standardise with the same ImageNet statistics, defined once."""
    from helpers import mobilenet

    assert mobilenet.IMAGENET_MEAN is models.IMAGENET_MEAN and mobilenet.IMAGENET_STD is models.IMAGENET_STD
    assert torch.equal(models.cifar_resnet(20).mean.flatten(), torch.tensor(models.IMAGENET_MEAN))
