"""PIDNet's building blocks (Xu, Xiong, Bhattacharyya, CVPR 2023), with the authors' module names and layer order.

Every attribute name and ``nn.Sequential`` index here is the one in the authors' ``models/model_utils.py``
(github XuJiacong/PIDNet), so that a state dict of theirs loads into ours key for key; tests/test_pidnet.py checks
the keys, shapes and logits against recorded outputs of their code. Shapes: (N, C, H, W) in, (N, C', H', W') out.
"""

import torch
import torch.nn.functional as F
from torch import nn


def resize_like(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``x`` bilinearly resized to ``like``'s H and W; the network resizes with align_corners=False throughout."""
    return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)


def conv_bn(cin: int, cout: int, kernel: int = 1, stride: int = 1) -> nn.Sequential:
    """Conv (no bias) then BN: keys ``0.weight`` and ``1.*``."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, bias=False), nn.BatchNorm2d(cout)
    )


def bn_relu_conv(cin: int, cout: int, kernel: int = 1, groups: int = 1, pool: nn.Module = None) -> nn.Sequential:
    """(optional pool,) BN, ReLU, conv: the pre-activation unit of the pyramid pooling modules and Bag."""
    layers = [pool] if pool is not None else []
    layers += [
        nn.BatchNorm2d(cin),
        nn.ReLU(inplace=True),
        nn.Conv2d(cin, cout, kernel, padding=kernel // 2, groups=groups, bias=False),
    ]
    return nn.Sequential(*layers)


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN with a residual; ``no_relu`` leaves the sum un-activated (the last block of a stage)."""

    expansion = 1

    def __init__(self, cin: int, planes: int, stride: int = 1, downsample: nn.Module = None, no_relu: bool = False):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample, self.no_relu = downsample, no_relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        out = out + (x if self.downsample is None else self.downsample(x))
        return out if self.no_relu else self.relu(out)


class Bottleneck(nn.Module):
    """1x1, 3x3 (strided), 1x1 conv-BN with a residual; output ``planes * 2`` channels. Un-activated by default,
    as the authors' (every Bottleneck they build leaves its sum un-activated)."""

    expansion = 2

    def __init__(self, cin: int, planes: int, stride: int = 1, downsample: nn.Module = None, no_relu: bool = True):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample, self.no_relu = downsample, no_relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn3(self.conv3(self.relu(self.bn2(self.conv2(out)))))
        out = out + (x if self.downsample is None else self.downsample(x))
        return out if self.no_relu else self.relu(out)


def make_stage(block, cin: int, planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
    """``blocks`` residual blocks, the first strided (with a 1x1 conv-BN shortcut when the shape changes), the last
    one un-activated: the authors' ``_make_layer``."""
    cout = planes * block.expansion
    downsample = conv_bn(cin, cout, 1, stride) if stride != 1 or cin != cout else None
    layers = [block(cin, planes, stride, downsample)]
    layers += [block(cout, planes, no_relu=i == blocks - 1) for i in range(1, blocks)]
    return nn.Sequential(*layers)


def make_single(block, cin: int, planes: int) -> nn.Module:
    """One un-activated block (the authors' ``_make_single_layer``)."""
    cout = planes * block.expansion
    return block(cin, planes, 1, conv_bn(cin, cout) if cin != cout else None, no_relu=True)


class SegmentHead(nn.Module):
    """BN-ReLU-3x3 conv, BN-ReLU-1x1 conv (with bias): features (N, cin, h, w) -> logits (N, cout, h, w)."""

    def __init__(self, cin: int, mid: int, cout: int):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, mid, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(mid)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(mid, cout, 1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.relu(self.bn2(self.conv1(self.relu(self.bn1(x))))))


class _PyramidPooling(nn.Module):
    """The four average-pooled scales (5/2, 9/4, 17/8 and global), the unpooled scale0 and the shortcut shared by
    DAPPM and PAPPM; they differ in how the scales are processed after upsampling."""

    def __init__(self, cin: int, branch: int, cout: int):
        super().__init__()
        self.scale1 = bn_relu_conv(cin, branch, pool=nn.AvgPool2d(5, stride=2, padding=2))
        self.scale2 = bn_relu_conv(cin, branch, pool=nn.AvgPool2d(9, stride=4, padding=4))
        self.scale3 = bn_relu_conv(cin, branch, pool=nn.AvgPool2d(17, stride=8, padding=8))
        self.scale4 = bn_relu_conv(cin, branch, pool=nn.AdaptiveAvgPool2d((1, 1)))
        self.scale0 = bn_relu_conv(cin, branch)

    def pooled(self, x: torch.Tensor) -> list:
        """The four pooled scales, each upsampled back to ``x``'s size: 4 x (N, branch, H, W)."""
        return [resize_like(scale(x), x) for scale in (self.scale1, self.scale2, self.scale3, self.scale4)]


class DAPPM(_PyramidPooling):
    """Deep Aggregation PPM (DDRNet's; PIDNet-L): each scale refined by a 3x3 conv after adding the previous one.

    (N, cin, H, W) -> (N, cout, H, W)."""

    def __init__(self, cin: int, branch: int, cout: int):
        super().__init__(cin, branch, cout)
        for k in range(1, 5):
            setattr(self, f"process{k}", bn_relu_conv(branch, branch, 3))
        # Registered after the scales and processes, as the authors' module: the same state-dict order.
        self.compression = bn_relu_conv(branch * 5, cout)
        self.shortcut = bn_relu_conv(cin, cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        levels = [self.scale0(x)]
        for k, scale in enumerate(self.pooled(x), start=1):
            levels.append(getattr(self, f"process{k}")(scale + levels[-1]))
        return self.compression(torch.cat(levels, 1)) + self.shortcut(x)


class PAPPM(_PyramidPooling):
    """Parallel Aggregation PPM (PIDNet-S and M): the four scales, each plus scale0, refined together by one grouped
    3x3 conv. (N, cin, H, W) -> (N, cout, H, W)."""

    def __init__(self, cin: int, branch: int, cout: int):
        super().__init__(cin, branch, cout)
        self.scale_process = bn_relu_conv(branch * 4, branch * 4, 3, groups=4)
        self.compression = bn_relu_conv(branch * 5, cout)
        self.shortcut = bn_relu_conv(cin, cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        base = self.scale0(x)
        scales = self.scale_process(torch.cat([s + base for s in self.pooled(x)], 1))
        return self.compression(torch.cat([base, scales], 1)) + self.shortcut(x)


class PagFM(nn.Module):
    """Pixel-attention-guided fusion: the P branch ``x`` (N, C, H, W) takes the I branch ``y`` (N, C, h, w) where
    their embeddings agree, sigma(<f_x(x), f_y(y)>) per pixel. Returns (N, C, H, W)."""

    def __init__(self, channels: int, mid: int):
        super().__init__()
        self.f_x = conv_bn(channels, mid)
        self.f_y = conv_bn(channels, mid)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        y_q = resize_like(self.f_y(y), x)
        similarity = torch.sigmoid((self.f_x(x) * y_q).sum(dim=1, keepdim=True))
        return (1 - similarity) * x + similarity * resize_like(y, x)


class LightBag(nn.Module):
    """Light boundary-attention-guided fusion (PIDNet-S and M): where the D branch sees a boundary (sigma(d) near 1)
    the detail branch p counts more, elsewhere the context branch i. p, i, d: (N, C, H, W) -> (N, cout, H, W)."""

    def __init__(self, channels: int, cout: int):
        super().__init__()
        self.conv_p = conv_bn(channels, cout)
        self.conv_i = conv_bn(channels, cout)

    def forward(self, p: torch.Tensor, i: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
        edge = torch.sigmoid(d)
        return self.conv_p((1 - edge) * i + p) + self.conv_i(i + edge * p)


class Bag(nn.Module):
    """Boundary-attention-guided fusion (PIDNet-L): sigma(d) * p + (1 - sigma(d)) * i, then BN-ReLU-3x3 conv."""

    def __init__(self, channels: int, cout: int):
        super().__init__()
        self.conv = bn_relu_conv(channels, cout, 3)

    def forward(self, p: torch.Tensor, i: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
        edge = torch.sigmoid(d)
        return self.conv(edge * p + (1 - edge) * i)
