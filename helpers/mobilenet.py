"""A pretrained ImageNet MobileNetV2 as torchvision's model, online or offline.

``load_mobilenet_v2()`` always returns ``torchvision.models.mobilenet_v2`` (``model.features`` then
``model.classifier``, 1,000 ImageNet classes) together with the preprocessing its weights expect:

- **from your mirror folder** (``WORKBOOK_DATA`` holds ``weights/mobilenet_v2_1.0_224_quant.npz``):
  Google's 8-bit quantisation-aware-trained MobileNetV2, dequantised (``W = (W_q − zero_point) ·
  scale``) and converted once into torchvision's architecture, then cached. Its batch norm is already
  folded into the convolutions, so each ``BatchNorm2d`` is set to the identity plus the folded bias;
  TensorFlow's SAME padding (0 before, 1 after on even sizes) is reproduced on the stride-2
  convolutions; the class "background" (index 0 of its 1,001) is dropped. Input: (255·x − 128) / 128.
- **otherwise**: torchvision's published ``MobileNet_V2_Weights.IMAGENET1K_V1`` (14 MB, downloaded once
  into the cache and checked against the hash in its file name). Input: ImageNet mean/std.

Both take the central 87.5% of an image resized to ``size`` (torchvision's resize-256-crop-224).
Shapes: images (N, 3, H, W) RGB in [0, 1] → ``preprocess`` → (N, 3, size, size);
``model.features`` → (N, 1280, size/32, size/32); ``model`` → logits (N, 1000).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from . import data
from .download import CorruptDataError, atomic_path, cache_dir, download, file_hash, mirror_dir
from .models import IMAGENET_MEAN, IMAGENET_STD

WEIGHTS = torchvision.models.MobileNet_V2_Weights.IMAGENET1K_V1
#: The 1,000 ImageNet class names in the standard order (309 = "bee", 310 = "ant").
CATEGORIES: list[str] = list(WEIGHTS.meta["categories"])
#: torchvision's published weights; the 8 hex digits in the file name start the file's SHA-256.
TORCHVISION_URL = WEIGHTS.url


class Pretrained(NamedTuple):
    """What :func:`load_mobilenet_v2` returns."""

    model: torchvision.models.MobileNetV2
    preprocess: Callable[..., torch.Tensor]  # preprocess(images (N,3,H,W) in [0,1], size=224)
    categories: list[str]
    source: str


class Conv2dTFSame(nn.Conv2d):
    """``nn.Conv2d`` with TensorFlow's SAME padding: output size ⌈size / stride⌉, the odd pixel of
    padding at the end (bottom/right). Same parameters, so same state-dict keys, as ``nn.Conv2d``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, k, s in (
            (x.shape[3], self.kernel_size[1], self.stride[1]),
            (x.shape[2], self.kernel_size[0], self.stride[0]),
        ):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        return super().forward(F.pad(x, pads))


def crop_resize(images: torch.Tensor, size: int = 224) -> torch.Tensor:
    """(N, 3, H, W) in [0, 1] → the central 87.5%, bilinear-resized to (N, 3, size, size)."""
    if not torch.is_tensor(images) or images.ndim != 4 or images.shape[1] != 3:
        shape = tuple(images.shape) if hasattr(images, "shape") else type(images).__name__
        raise ValueError(
            f"expected RGB images as a tensor (N, 3, H, W) in [0, 1], got {shape}; see helpers.data.to_tensor"
        )
    h, w = images.shape[2:]
    ch, cw = round(h * 0.875), round(w * 0.875)
    top, left = (h - ch) // 2, (w - cw) // 2
    x = images[:, :, top : top + ch, left : left + cw]
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)


def preprocess_imagenet(images: torch.Tensor, size: int = 224) -> torch.Tensor:
    """Crop and resize, then normalise with the ImageNet mean and std (torchvision's weights)."""
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (crop_resize(images, size) - mean) / std


def preprocess_8bit(images: torch.Tensor, size: int = 224) -> torch.Tensor:
    """Crop and resize, then scale to [−1, 1] exactly as the 8-bit model's input: (255·x − 128) / 128."""
    return (crop_resize(images, size) * 255 - 128) / 128


def _conv_bn_pairs(model: nn.Module) -> list[tuple[nn.Module, str, nn.Conv2d, nn.BatchNorm2d]]:
    """Every convolution of torchvision's MobileNetV2 in order, with its parent, name and batch norm."""
    pairs, pending = [], None
    for full_name, module in model.named_modules():  # depth first, in execution order
        if isinstance(module, nn.Conv2d):
            parent_name, _, name = full_name.rpartition(".")
            pending = (model.get_submodule(parent_name), name, module)
        elif isinstance(module, nn.BatchNorm2d):
            pairs.append((*pending, module))
    return pairs


def convert_8bit(arrays: dict[str, np.ndarray]) -> torchvision.models.MobileNetV2:
    """The mirror's 8-bit arrays → ``torchvision.models.mobilenet_v2()`` with the same function.

    Raises:
        CorruptDataError: the arrays do not describe MobileNetV2 1.0 (wrong count or shapes).
    """
    model = convert_skeleton()  # stride-2 convolutions already pad as TensorFlow does
    pairs = _conv_bn_pairs(model)
    n_convs = len(arrays["conv_stride"])
    if n_convs != len(pairs) + 1:
        raise CorruptDataError(f"expected {len(pairs) + 1} convolutions, the file holds {n_convs}")

    def dequantised(k: int) -> tuple[torch.Tensor, torch.Tensor]:
        p = f"conv{k:02d}."
        w = (arrays[p + "weight_q"].astype(np.float32) - arrays[p + "weight_zero_point"][0]) * arrays[
            p + "weight_scale"
        ][0]
        b = arrays[p + "bias_q"].astype(np.float32) * arrays[p + "bias_scale"][0]
        return torch.from_numpy(w), torch.from_numpy(b)

    with torch.no_grad():
        for k, (_, _, conv, bn) in enumerate(pairs):
            weight, bias = dequantised(k)
            if weight.shape != conv.weight.shape or int(arrays["conv_stride"][k]) != conv.stride[0]:
                raise CorruptDataError(
                    f"convolution {k}: file has {tuple(weight.shape)} stride "
                    f"{arrays['conv_stride'][k]}, MobileNetV2 wants {tuple(conv.weight.shape)} "
                    f"stride {conv.stride[0]}"
                )
            conv.weight.copy_(weight)
            # batch norm folded into the convolution: make BN the identity plus the folded bias
            bn.weight.fill_(1.0)
            bn.bias.copy_(bias)
            bn.running_mean.zero_()
            bn.running_var.fill_(1.0 - bn.eps)
        weight, bias = dequantised(n_convs - 1)  # logits: a 1×1 conv 1280 → 1001, class 0 = background
        linear = model.classifier[1]
        linear.weight.copy_(weight[1:].reshape(linear.weight.shape))
        linear.bias.copy_(bias[1:])
    return model.eval()


def _from_mirror(npz: Path) -> torchvision.models.MobileNetV2:
    """Convert the mirror file once; later calls load the cached state dict."""
    cached = cache_dir() / "weights" / f"mobilenet_v2-from-8bit-{file_hash(npz)[:8]}.pt"
    if cached.exists():
        model = convert_skeleton()
        try:
            model.load_state_dict(torch.load(cached, map_location="cpu", weights_only=True))
            return model.eval()
        except Exception:  # a damaged cache file: rebuild it below
            cached.unlink(missing_ok=True)
    try:
        with np.load(npz, allow_pickle=False) as z:
            model = convert_8bit({k: z[k] for k in z.files})
    except (KeyError, ValueError, OSError) as exc:
        raise CorruptDataError(
            f"{npz} is not a valid MobileNetV2 weight file ({exc}); re-copy it into your mirror folder."
        ) from exc
    with atomic_path(cached) as tmp:
        torch.save(model.state_dict(), tmp)
    return model


def convert_skeleton() -> torchvision.models.MobileNetV2:
    """An untrained MobileNetV2 with the 8-bit model's padding (stride-2 convs as Conv2dTFSame)."""
    model = torchvision.models.mobilenet_v2(weights=None)
    for parent, name, conv, _ in _conv_bn_pairs(model):
        if conv.stride[0] == 2:
            setattr(
                parent,
                name,
                Conv2dTFSame(
                    conv.in_channels,
                    conv.out_channels,
                    conv.kernel_size,
                    conv.stride,
                    padding=0,
                    groups=conv.groups,
                    bias=False,
                ),
            )
    return model


def torchvision_weights_path(mirror: bool = True) -> Path:
    """torchvision's published MobileNetV2 weights: from your mirror folder (unless ``mirror=False``)
    or the cache, else downloaded once into the cache and checked against the hash in the file name."""
    name = TORCHVISION_URL.rsplit("/", 1)[1]  # mobilenet_v2-b0353104.pth: b0353104 starts its SHA-256

    def build(dest: Path) -> None:
        download(
            TORCHVISION_URL,
            dest,
            sha256=name.split("-")[1].split(".")[0],
            what="MobileNetV2 ImageNet weights",
        )

    return data.resolve(
        f"weights/{name}", build, "MobileNetV2 ImageNet weights", TORCHVISION_URL, mirror=mirror
    )


def load_mobilenet_v2(source: str = "auto") -> Pretrained:
    """A pretrained ImageNet MobileNetV2 (torchvision's architecture, eval mode, on the CPU).

    Args:
        source: ``"8bit"`` (the mirror's weights, converted), ``"torchvision"`` (the published
            weights, downloaded once) or ``"auto"``: the mirror's when your mirror folder has them,
            else torchvision's.

    Returns:
        ``Pretrained(model, preprocess, categories, source)``; call ``preprocess(images, size)`` on
        RGB tensors (N, 3, H, W) in [0, 1] before ``model``: the two weight sets expect different
        input scaling.
    """
    if source not in ("auto", "8bit", "torchvision"):
        raise ValueError(f"source={source!r}: use 'auto', '8bit' or 'torchvision'")
    mirror = mirror_dir()
    in_mirror = mirror is not None and (mirror / "weights" / data.WEIGHTS["mobilenet_v2_quant"][0]).exists()
    if source == "8bit" or (source == "auto" and in_mirror):
        model = _from_mirror(data.weights_path("mobilenet_v2_quant"))
        return Pretrained(
            model, preprocess_8bit, CATEGORIES, "8-bit ImageNet weights from your mirror folder, converted"
        )
    model = torchvision.models.mobilenet_v2(weights=None)
    path = torchvision_weights_path()
    try:
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    except Exception as exc:
        raise CorruptDataError(f"{path} cannot be loaded ({exc}); delete it and run again.") from exc
    return Pretrained(
        model.eval(), preprocess_imagenet, CATEGORIES, "torchvision MobileNet_V2_Weights.IMAGENET1K_V1"
    )
