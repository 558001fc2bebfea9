"""Reference for the tests: the mirror's 8-bit MobileNetV2 run node by node from its stored graph.

An independent implementation (no torchvision) that :mod:`helpers.mobilenet`'s conversion into
torchvision's architecture is checked against.

The mirror file holds Google's quantisation-aware-trained TFLite model repackaged as NumPy arrays:
uint8 weights with a scale and zero point per tensor, int32 biases with a scale, and the execution
graph (53 convolutions, 10 residual adds, average pool). We dequantise
``W = (W_q − zero_point) · scale``, ``b = b_q · bias_scale`` and run the graph in float, with
TensorFlow's SAME padding (asymmetric for stride-2 convolutions on even sizes).

Shapes: images (N, 3, H, W) RGB in [0, 1] → :func:`preprocess` → (N, 3, S, S) in [−1, 1];
``features`` (N, 1280); ``forward`` logits (N, 1001), index 0 = background, ImageNet class i = i + 1.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from helpers import data


def same_padding(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """Pad (N, C, H, W) as TensorFlow's 'SAME': output size ⌈size / stride⌉, extra pixel at the end."""
    pads = []
    for size in (x.shape[3], x.shape[2]):  # F.pad order: width first, then height
        total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads) if any(pads) else x


class QuantMobileNetV2(nn.Module):
    """MobileNetV2 built from the dequantised 8-bit weights; runs the stored graph node by node."""

    def __init__(self, arrays: dict[str, np.ndarray]):
        super().__init__()
        n_convs = len(arrays["conv_stride"])
        self.convs = nn.ModuleList()
        for k in range(n_convs):
            p = f"conv{k:02d}."
            wq = arrays[p + "weight_q"].astype(np.float32)
            weight = (wq - arrays[p + "weight_zero_point"][0]) * arrays[p + "weight_scale"][0]
            bias = arrays[p + "bias_q"].astype(np.float32) * arrays[p + "bias_scale"][0]
            groups = int(arrays["conv_groups"][k])
            out_c, in_per_group, kh, kw = weight.shape
            conv = nn.Conv2d(
                in_per_group * groups,
                out_c,
                (kh, kw),
                int(arrays["conv_stride"][k]),
                padding=0,
                groups=groups,
                bias=True,
            )
            conv.weight.data.copy_(torch.from_numpy(weight))
            conv.bias.data.copy_(torch.from_numpy(bias))
            self.convs.append(conv)
        self.relu6 = [str(a) == "relu6" for a in arrays["conv_activation"]]
        self.kinds = [str(k) for k in arrays["node_kind"]]
        self.inputs = arrays["node_inputs"].tolist()
        self.node_conv = arrays["node_conv_index"].tolist()
        self.class_names = [str(c) for c in arrays["class_names"]]
        self.pool_node = self.kinds.index("avgpool")

    def run_nodes(self, h: torch.Tensor, start: int = 0, stop: int | None = None) -> torch.Tensor:
        """Run graph nodes ``start … stop−1``; ``h`` is the output of node ``start − 1`` (the
        preprocessed image when ``start == 0``). Returns the output of node ``stop − 1``."""
        stop = len(self.kinds) if stop is None else stop
        outs = {start - 1: h}
        for i in range(start, stop):
            kind, (a, b) = self.kinds[i], self.inputs[i]
            if a not in outs or (kind == "add" and b not in outs):
                raise ValueError(f"node {i} needs node {a if a not in outs else b}, before start {start}")
            x = outs[a]
            if kind == "conv":
                k = self.node_conv[i]
                conv = self.convs[k]
                x = conv(same_padding(x, conv.kernel_size[0], conv.stride[0]))
                x = F.relu6(x) if self.relu6[k] else x
            elif kind == "add":
                x = x + outs[b]
            elif kind == "avgpool":
                x = F.adaptive_avg_pool2d(x, 1)
            elif kind == "reshape":
                x = x.flatten(1)
            # "softmax": logits are returned; apply softmax outside
            outs[i] = x
        return outs[stop - 1]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled 1280-d features of preprocessed images (N, 3, S, S) → (N, 1280)."""
        return self.run_nodes(x, 0, self.pool_node + 1).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """ImageNet logits (N, 1001) of preprocessed images."""
        return self.run_nodes(x)


def preprocess(images: torch.Tensor, size: int = 224) -> torch.Tensor:
    """RGB in [0, 1] (N, 3, H, W) → central 87.5% crop, bilinear resize to ``size``, scaled to [−1, 1]
    exactly as the model's 8-bit input: (255·x − 128) / 128."""
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"expected RGB images (N, 3, H, W) in [0, 1], got {tuple(images.shape)}")
    h, w = images.shape[2:]
    ch, cw = round(h * 0.875), round(w * 0.875)
    top, left = (h - ch) // 2, (w - cw) // 2
    x = images[:, :, top : top + ch, left : left + cw]
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return (x * 255 - 128) / 128


def load_graph_model() -> QuantMobileNetV2:
    """The graph runner on the mirror's 8-bit weights, in eval mode."""
    with np.load(data.weights_path("mobilenet_v2_quant"), allow_pickle=False) as z:
        return QuantMobileNetV2({k: z[k] for k in z.files}).eval()
