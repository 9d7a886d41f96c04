"""DeepLabV3+ (Chen et al. 2018): ASPP on a dilated encoder, fused with the stride-4 map; smp 0.6's decoder layer for
layer, so that its state dicts load through :data:`models.smp_keys.SMP_KEYS`."""

import torch
import torch.nn.functional as F
from torch import nn


class SeparableConv2d(nn.Sequential):
    """Depthwise kxk conv then pointwise 1x1 conv: the 'atrous separable convolution' of the paper."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, padding: int = 1, dilation: int = 1):
        super().__init__(
            nn.Conv2d(
                in_channels,
                in_channels,
                kernel_size,
                padding=padding,
                dilation=dilation,
                groups=in_channels,
                bias=False,
            ),
            nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False),
        )


def conv_bn_relu(conv: nn.Module, channels: int) -> nn.Sequential:
    return nn.Sequential(conv, nn.BatchNorm2d(channels), nn.ReLU())


class ImagePooling(nn.Sequential):
    """The image-level branch: global average, 1x1 conv-BN-ReLU, spread back over the map."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Bilinear from 1x1 is a broadcast; written as smp writes it so both export alike.
        return F.interpolate(super().forward(x), size=x.shape[-2:], mode="bilinear", align_corners=False)


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling: (N, C, h, w) -> (N, out_channels, h, w).

    Five branches (1x1; three 3x3 at ``rates``, separable or not; image pooling), concatenated, projected by a
    1x1 conv-BN-ReLU and Dropout (smp's ``nn.Dropout``, elementwise).
    """

    def __init__(self, in_channels: int, out_channels: int, rates, separable: bool = True, dropout: float = 0.5):
        super().__init__()

        def atrous(rate: int) -> nn.Module:
            if separable:
                return SeparableConv2d(in_channels, out_channels, padding=rate, dilation=rate)
            return nn.Conv2d(in_channels, out_channels, 3, padding=rate, dilation=rate, bias=False)

        self.branches = nn.ModuleList(
            [conv_bn_relu(nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False), out_channels)]
            + [conv_bn_relu(atrous(rate), out_channels) for rate in rates]
            + [ImagePooling(in_channels, out_channels)]
        )
        self.project = nn.Sequential(
            nn.Conv2d(len(self.branches) * out_channels, out_channels, kernel_size=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
            nn.Dropout(dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.project(torch.cat([branch(x) for branch in self.branches], dim=1))


class DeepLabV3PlusDecoder(nn.Module):
    """Encoder maps (strides 2, 4, 8, os/2 or os, os) -> (N, channels, H/4, W/4).

    ASPP and a separable conv on the deepest map, upsampled x(os/4) (align_corners, as smp), concatenated with
    the stride-4 map projected to 48 channels (the paper's choice), then one separable conv-BN-ReLU.

    Args:
        encoder_channels: widths of the encoder's five maps.
        channels: width of ASPP and of the fused map (smp's ``decoder_channels``).
        rates: the three atrous rates (12, 24, 36 at output stride 16 in smp; the paper used 6, 12, 18).
        output_stride: the encoder's, 16 or 8.
        separable: separable convs in ASPP's atrous branches.
        dropout: after ASPP's projection.
    """

    LOW_LEVEL_CHANNELS = 48

    def __init__(
        self, encoder_channels, channels=256, rates=(12, 24, 36), output_stride=16, separable=True, dropout=0.5
    ):
        super().__init__()
        self.aspp = ASPP(encoder_channels[-1], channels, rates, separable, dropout)
        self.aspp_conv = conv_bn_relu(SeparableConv2d(channels, channels), channels)
        self.up = nn.Upsample(scale_factor=output_stride // 4, mode="bilinear", align_corners=True)
        low = self.LOW_LEVEL_CHANNELS
        self.low_level = conv_bn_relu(nn.Conv2d(encoder_channels[1], low, kernel_size=1, bias=False), low)
        self.fuse = conv_bn_relu(SeparableConv2d(channels + low, channels), channels)
        self.out_channels = channels

    def forward(self, features: list) -> torch.Tensor:
        deep = self.up(self.aspp_conv(self.aspp(features[-1])))
        return self.fuse(torch.cat([deep, self.low_level(features[1])], dim=1))
