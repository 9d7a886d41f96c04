"""U-Net decoder: nearest x2 upsampling, skip concatenation, two conv-BN-ReLU per block (smp's Unet decoder)."""

import torch
import torch.nn.functional as F
from torch import nn


def conv_bn_relu(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class UnetBlock(nn.Module):
    def __init__(self, in_channels: int, skip_channels: int, out_channels: int):
        super().__init__()
        self.conv1 = conv_bn_relu(in_channels + skip_channels, out_channels)
        self.conv2 = conv_bn_relu(out_channels, out_channels)

    def forward(self, x: torch.Tensor, skip: torch.Tensor = None) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        if skip is not None:
            x = torch.cat([x, skip], dim=1)
        return self.conv2(self.conv1(x))


class UnetDecoder(nn.Module):
    """Five blocks from stride 32 up to full resolution; ``decoder_channels`` lists their widths, deepest first.

    An encoder without a stride-2 map (ConvNeXt, PVTv2) gives 0 channels and ``None`` there: that block
    upsamples without a skip, like the last one.
    """

    def __init__(self, encoder_channels, decoder_channels=(256, 128, 64, 32, 16)):
        super().__init__()
        if len(decoder_channels) != 5:
            raise ValueError("decoder_channels needs five widths")
        skips = list(encoder_channels[:-1][::-1]) + [0]  # c4, c3, c2, c1, then none at full size
        ins = [encoder_channels[-1]] + list(decoder_channels[:-1])
        self.blocks = nn.ModuleList(UnetBlock(i, s, o) for i, s, o in zip(ins, skips, decoder_channels))
        self.out_channels = decoder_channels[-1]

    def forward(self, features: list) -> torch.Tensor:
        skips = features[:-1][::-1] + [None]
        x = features[-1]
        for block, skip in zip(self.blocks, skips):
            x = block(x, skip)
        return x
