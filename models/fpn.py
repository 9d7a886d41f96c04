"""Panoptic-FPN semantic head (Kirillov et al. 2019), as in the original project and smp's FPN."""

import torch
import torch.nn.functional as F
from torch import nn


class FPNBlock(nn.Module):
    """Top-down step: upsample the coarser pyramid level x2 and add the lateral 1x1 projection."""

    def __init__(self, pyramid_channels: int, skip_channels: int):
        super().__init__()
        self.skip_conv = nn.Conv2d(skip_channels, pyramid_channels, kernel_size=1)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=2.0, mode="nearest") + self.skip_conv(skip)


def conv3x3_gn_relu(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.GroupNorm(32, out_channels),
        nn.ReLU(inplace=True),
    )


class SegmentationBlock(nn.Sequential):
    """conv3x3-GN-ReLU (+ x2 bilinear upsampling) repeated until the level reaches stride 4."""

    def __init__(self, in_channels: int, out_channels: int, n_upsamples: int):
        layers = [conv3x3_gn_relu(in_channels, out_channels)]
        if n_upsamples:
            layers.append(nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True))
        for _ in range(1, n_upsamples):
            layers += [
                conv3x3_gn_relu(out_channels, out_channels),
                nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True),
            ]
        super().__init__(*layers)


class FPNDecoder(nn.Module):
    """Encoder features at strides 4..32 -> (N, segmentation_channels [x4 for cat], H/4, W/4)."""

    def __init__(self, encoder_channels, pyramid_channels=256, segmentation_channels=128, dropout=0.2, merge="add"):
        super().__init__()
        c2, c3, c4, c5 = encoder_channels[1:]
        self.p5 = nn.Conv2d(c5, pyramid_channels, kernel_size=1)
        self.p4 = FPNBlock(pyramid_channels, c4)
        self.p3 = FPNBlock(pyramid_channels, c3)
        self.p2 = FPNBlock(pyramid_channels, c2)
        self.seg_blocks = nn.ModuleList(
            SegmentationBlock(pyramid_channels, segmentation_channels, n) for n in (3, 2, 1, 0)
        )
        self.merge = merge
        self.dropout = nn.Dropout2d(p=dropout)
        self.out_channels = segmentation_channels * (4 if merge == "cat" else 1)

    def forward(self, features: list) -> torch.Tensor:
        _, c2, c3, c4, c5 = features
        p5 = self.p5(c5)
        p4 = self.p4(p5, c4)
        p3 = self.p3(p4, c3)
        p2 = self.p2(p3, c2)
        levels = [block(p) for block, p in zip(self.seg_blocks, (p5, p4, p3, p2))]
        x = torch.cat(levels, dim=1) if self.merge == "cat" else torch.stack(levels).sum(dim=0)
        return self.dropout(x)


class FPNHead(nn.Sequential):
    """1x1 conv to class logits at stride 4, then x4 bilinear upsampling to the input size."""

    def __init__(self, in_channels: int, num_classes: int):
        super().__init__(
            nn.Conv2d(in_channels, num_classes, kernel_size=1),
            nn.Upsample(scale_factor=4, mode="bilinear", align_corners=True),
        )
