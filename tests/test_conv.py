"""Hand-written convolution and pooling agree with torch.nn.functional, and say what is wrong."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from helpers import conv

rng = np.random.default_rng(0)
CONFIGS = [  # (N, C_in, H, W, C_out, kh, kw, stride, padding)
    (1, 1, 5, 5, 1, 3, 3, 1, 0), (2, 3, 7, 6, 4, 3, 2, 2, 1), (1, 2, 8, 8, 3, 5, 5, 3, 2),
    (3, 1, 4, 9, 2, 1, 1, 1, 0), (1, 4, 6, 6, 2, 6, 6, 1, 0), (2, 2, 10, 7, 5, 3, 3, 4, 1),
    (1, 3, 5, 5, 1, 2, 4, 2, 3), (1, 1, 9, 9, 1, 4, 4, 3, 0),  # stride 3 does not divide 9 - 4
]


@pytest.mark.parametrize("cfg", CONFIGS, ids=str)
def test_conv2d_matches_torch(cfg):
    n, cin, h, w, cout, kh, kw, s, p = cfg
    x, k, b = rng.normal(size=(n, cin, h, w)), rng.normal(size=(cout, cin, kh, kw)), rng.normal(size=cout)
    expected = F.conv2d(torch.tensor(x), torch.tensor(k), torch.tensor(b), stride=s, padding=p).numpy()
    for fn in (conv.conv2d_loops, conv.conv2d):
        got = fn(x, k, b, stride=s, padding=p)
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, atol=1e-10)
    assert conv.conv2d(x, k, None, s, p).shape == expected.shape


@pytest.mark.parametrize("size,stride,h,w", [(2, None, 8, 8), (3, 2, 7, 9), (2, 1, 5, 4), (3, None, 10, 10)])
def test_pooling_matches_torch(size, stride, h, w):
    x = rng.normal(size=(2, 3, h, w))
    t = torch.tensor(x)
    exp_max = F.max_pool2d(t, size, stride).numpy()
    exp_avg = F.avg_pool2d(t, size, stride).numpy()
    for op, exp in (("max", exp_max), ("avg", exp_avg)):
        np.testing.assert_allclose(conv.pool2d_loops(x, size, stride, op), exp, atol=1e-12)
        np.testing.assert_allclose(conv.pool2d(x, size, stride, op), exp, atol=1e-12)
    np.testing.assert_allclose(conv.max_pool2d(x, size, stride), exp_max)
    np.testing.assert_allclose(conv.avg_pool2d(x, size, stride), exp_avg)


def test_worked_examples():
    image = np.array([[3, 3, 2, 1, 0], [0, 0, 1, 3, 1], [3, 1, 2, 2, 3], [2, 0, 0, 2, 2], [2, 0, 0, 0, 1]])
    kernel = np.array([[0, 1, 2], [2, 2, 0], [0, 1, 2]])
    out = conv.conv2d(image[None, None], kernel[None, None])[0, 0]
    assert out.tolist() == [[12, 12, 17], [10, 17, 19], [9, 6, 14]]
    poll = conv.conv2d(np.arange(1, 17).reshape(1, 1, 4, 4), np.array([[[[1, 1], [0, 2]]]]), stride=2, padding=1)
    assert poll[0, 0].tolist() == [[2, 6, 0], [23, 35, 8], [13, 29, 16]]


def test_kernel_larger_than_input_is_a_clear_error():
    with pytest.raises(ValueError, match="larger than the padded input"):
        conv.conv2d(np.zeros((1, 1, 3, 3)), np.zeros((1, 1, 5, 5)))
    with pytest.raises(ValueError, match="larger than the padded input"):
        conv.conv2d_loops(np.zeros((1, 1, 3, 3)), np.zeros((1, 1, 4, 2)))
    # padding makes it fit
    assert conv.conv2d(np.zeros((1, 1, 3, 3)), np.zeros((1, 1, 5, 5)), padding=1).shape == (1, 1, 1, 1)
    with pytest.raises(ValueError, match="larger"):
        conv.max_pool2d(np.zeros((1, 1, 2, 2)), 3)


def test_bad_shapes_are_clear_errors():
    with pytest.raises(ValueError, match="channels"):
        conv.conv2d(np.zeros((1, 3, 5, 5)), np.zeros((2, 1, 3, 3)))
    with pytest.raises(ValueError, match=r"\(N, C_in, H, W\)"):
        conv.conv2d(np.zeros((5, 5)), np.zeros((1, 1, 3, 3)))
    with pytest.raises(ValueError, match="bias"):
        conv.conv2d(np.zeros((1, 1, 5, 5)), np.zeros((2, 1, 3, 3)), b=np.zeros(3))
    with pytest.raises(ValueError, match="stride"):
        conv.output_size(5, 3, stride=0)


def test_output_size_floors_when_stride_does_not_divide():
    assert conv.output_size(9, 4, 0, 3) == 2  # (9 - 4) / 3 = 1.67 → 1, + 1
    assert conv.output_size(28, 5) == 24 and conv.output_size(4, 2, 1, 2) == 3
