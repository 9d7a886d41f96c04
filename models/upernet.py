"""UPerNet (Xiao et al. 2018): a pyramid pooling module on the deepest map and an FPN over the others, fused at
stride 4; smp 0.6's decoder layer for layer, so that its state dicts load through :data:`models.smp_keys.SMP_KEYS`."""

import torch
import torch.nn.functional as F
from torch import nn


def conv_bn_relu(in_channels: int, out_channels: int, kernel_size: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


def resize(x: torch.Tensor, size) -> torch.Tensor:
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an (N, C, H, W) map."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class AdaptiveAvgPool(nn.Module):
    """``nn.AdaptiveAvgPool2d(bins)`` that also exports to ONNX for any input size: (N, C, h, w) -> (N, C, bins, bins).

    The dynamo exporter bakes the example's bin edges into AdaptiveAvgPool2d for bins > 1, and the graph then
    gives wrong numbers, or fails, at other sizes. While exporting, the bins are written as slices instead: bin i
    spans [floor(i * n / bins), ceil((i + 1) * n / bins)) on each axis, as PyTorch's, and the mean over a box is
    the mean over rows of the means over columns. export.py checks the graph against the eager model.
    """

    def __init__(self, bins: int):
        super().__init__()
        self.bins = bins

    def _pool(self, x: torch.Tensor, dim: int) -> torch.Tensor:
        n, b = x.shape[dim], self.bins
        edges = [(i * n // b, ((i + 1) * n + b - 1) // b) for i in range(b)]
        return torch.cat([x.narrow(dim, lo, hi - lo).mean(dim, keepdim=True) for lo, hi in edges], dim=dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.compiler.is_exporting():
            return self._pool(self._pool(x, 2), 3)
        return F.adaptive_avg_pool2d(x, self.bins)  # one kernel, and bit for bit smp's


class PyramidPooling(nn.Module):
    """PSPNet's module: (N, C, h, w) -> (N, channels, h, w) from the map and its averages over bins x bins grids."""

    def __init__(self, in_channels: int, channels: int, bins=(1, 2, 3, 6)):
        super().__init__()
        self.stages = nn.ModuleList(
            nn.Sequential(AdaptiveAvgPool(b), conv_bn_relu(in_channels, channels, 1)) for b in bins
        )
        self.bottleneck = conv_bn_relu(in_channels + len(bins) * channels, channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        return self.bottleneck(torch.cat([x] + [resize(stage(x), size) for stage in self.stages], dim=1))


class UPerNetDecoder(nn.Module):
    """Encoder maps at strides (2,) 4, 8, 16, 32 -> (N, channels, H/4, W/4).

    Each map from stride 4 on is layer-normalised over its channels (smp does so for every encoder). The
    stride-32 map goes through pyramid pooling; top-down, each finer map's 1x1 lateral is added to the coarser
    level upsampled, then a 3x3 conv; the four levels are upsampled to stride 4, concatenated finest first and
    fused by a 3x3 conv-BN-ReLU.

    Args:
        encoder_channels: widths of the encoder's five maps (the stride-2 one is not read).
        channels: width of every level and of the output (smp's ``decoder_channels``).
    """

    def __init__(self, encoder_channels, channels: int = 256):
        super().__init__()
        widths = list(encoder_channels[1:])  # strides 4, 8, 16, 32
        self.norms = nn.ModuleList(LayerNorm2d(c, eps=1e-6) for c in widths)
        self.ppm = PyramidPooling(widths[-1], channels)
        # Coarse to fine (16, 8, 4), the order smp's indices count in.
        self.laterals = nn.ModuleList(conv_bn_relu(c, channels, 1) for c in widths[-2::-1])
        self.fpn_convs = nn.ModuleList(conv_bn_relu(channels, channels, 3) for _ in widths[:-1])
        self.fuse = conv_bn_relu(len(widths) * channels, channels, 3)
        self.out_channels = channels

    def forward(self, features: list) -> torch.Tensor:
        maps = [norm(f) for norm, f in zip(self.norms, features[1:])]
        levels = [self.ppm(maps[-1])]
        for lateral, skip in zip(self.laterals, maps[-2::-1]):
            skip = lateral(skip)
            levels.append(resize(levels[-1], skip.shape[-2:]) + skip)
        levels = levels[:1] + [conv(level) for conv, level in zip(self.fpn_convs, levels[1:])]
        size = levels[-1].shape[-2:]
        return self.fuse(torch.cat([resize(level, size) for level in levels[::-1]], dim=1))
