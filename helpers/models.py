"""Model definitions that notebooks share and pretrained weights load into.

``cifar_resnet(depth)``: the CIFAR-10 ResNet of He et al. (2016), 6n+2 layers with the parameter-free
"option A" shortcut, matching the mirror's pretrained ResNet-20/56 checkpoints (keys and shapes).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from . import data

#: ImageNet's per-channel mean and standard deviation (RGB in [0, 1]): the input normalisation of
#: torchvision's ImageNet models, which the pretrained CIFAR ResNets were trained with too.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class BasicBlock(nn.Module):
    """3×3 conv → BN → ReLU → 3×3 conv → BN, plus the shortcut, then ReLU."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.pad = (c_out - c_in) // 2 if (stride != 1 or c_in != c_out) else None

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        if self.pad is None:
            return x
        # option A: subsample by 2 and zero-pad the new channels, no parameters
        return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    """ResNet-(6n+2) for 32×32 images: x (N, 3, 32, 32) → logits (N, classes).

    With ``normalize=True`` the model takes RGB in [0, 1] and standardises internally (so attacks and
    plots can work in pixel space).
    """

    def __init__(self, depth: int = 20, num_classes: int = 10, normalize: bool = True):
        super().__init__()
        if (depth - 2) % 6:
            raise ValueError(f"depth must be 6n+2 (20, 32, 44, 56, ...), got {depth}")
        n = (depth - 2) // 6
        self.normalize = normalize
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        layers, c_in = [], 16
        for c_out, stride in ((16, 1), (32, 2), (64, 2)):
            blocks = []
            for i in range(n):
                blocks.append(BasicBlock(c_in, c_out, stride if i == 0 else 1))
                c_in = c_out
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = layers
        self.linear = nn.Linear(64, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled 64-d features (N, 64) before the last layer."""
        if self.normalize:
            x = (x - self.mean) / self.std
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return F.adaptive_avg_pool2d(x, 1).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.features(x))


def cifar_resnet(depth: int = 20, pretrained: bool = False) -> CifarResNet:
    """A CIFAR ResNet; ``pretrained=True`` loads the ResNet-20/56 CIFAR-10 weights (strict)."""
    model = CifarResNet(depth)
    if pretrained:
        if depth not in (20, 56):
            raise ValueError("pretrained CIFAR weights exist for depth 20 and 56 only")
        model.load_state_dict(data.load_checkpoint(f"resnet{depth}"), strict=True)
    return model.eval()
