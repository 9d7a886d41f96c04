"""The original project's heavier UNET: a TernausNet-style decoder with transposed-conv upsampling.

An extra max-pool and a centre block sit under the encoder; every decoder block is a 3x3 conv + ReLU
(optionally a residual block) and a 4x4 stride-2 transposed conv. Dropout2d acts on the encoder stages.
With resnext50 and num_filters 32 this is ~81.1M parameters (~92.0M with residual blocks).
"""

import torch
from torch import nn


class ConvRelu(nn.Sequential):
    def __init__(self, in_channels: int, out_channels: int, batch_norm: bool = False, activate: bool = True):
        layers = [nn.Conv2d(in_channels, out_channels, 3, padding=1)]
        if batch_norm:
            layers.append(nn.BatchNorm2d(out_channels))
        if activate:
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class ResidualBlock(nn.Module):
    """conv-BN-ReLU, conv-BN, BN, + input, ReLU: the original's decoder residual block."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            ConvRelu(channels, channels, batch_norm=True),
            ConvRelu(channels, channels, batch_norm=True, activate=False),
            nn.BatchNorm2d(channels),
        )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.body(x) + x)


class DecoderBlock(nn.Sequential):
    """3x3 conv + ReLU [+ residual block], then a 4x4 stride-2 transposed conv (+ ReLU without residual)."""

    def __init__(self, in_channels: int, middle_channels: int, out_channels: int, residual: bool = False):
        layers = [ConvRelu(in_channels, middle_channels)]
        if residual:
            layers.append(ResidualBlock(middle_channels))
        # Kernel 4, stride 2 divides evenly and avoids checkerboard artefacts (distill.pub/2016/deconv-checkerboard).
        layers.append(nn.ConvTranspose2d(middle_channels, out_channels, kernel_size=4, stride=2, padding=1))
        if not residual:
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class OriginalUnetDecoder(nn.Module):
    """Encoder features -> (N, num_filters, H, W). Needs inputs divisible by 64 (the model pads)."""

    def __init__(self, encoder_channels, num_filters: int = 32, residual: bool = False, dropout: float = 0.2):
        super().__init__()
        _, c2, c3, c4, c5 = encoder_channels
        nf = num_filters
        self.pool = nn.MaxPool2d(2, 2)
        self.dropout = nn.Dropout2d(p=dropout)
        self.center = DecoderBlock(c5, nf * 16, nf * 8)
        self.dec5 = DecoderBlock(c5 + nf * 8, nf * 16, nf * 8, residual)
        self.dec4 = DecoderBlock(c4 + nf * 8, nf * 16, nf * 8, residual)
        self.dec3 = DecoderBlock(c3 + nf * 8, nf * 8, nf * 2, residual)
        self.dec2 = DecoderBlock(c2 + nf * 2, nf * 4, nf * 4, residual)
        self.dec1 = DecoderBlock(nf * 4, nf * 4, nf)
        self.dec0 = ConvRelu(nf, nf)
        self.out_channels = nf

    def forward(self, features: list) -> torch.Tensor:
        _, c2, c3, c4, c5 = features
        center = self.center(self.pool(c5))
        d5 = self.dec5(torch.cat([center, c5], 1))
        d4 = self.dec4(torch.cat([d5, c4], 1))
        d3 = self.dec3(torch.cat([d4, c3], 1))
        d2 = self.dropout(self.dec2(torch.cat([d3, c2], 1)))
        return self.dec0(self.dec1(d2))


class OriginalUnetEncoder(nn.Module):
    """Runs an encoder the original's way: a 2x2 max-pool after the stem and Dropout2d after every stage."""

    def __init__(self, encoder: nn.Module, dropout: float = 0.2):
        super().__init__()
        self.encoder = encoder
        self.out_channels = encoder.out_channels
        self.pool = nn.MaxPool2d(2, 2)
        self.dropout = nn.Dropout2d(p=dropout)

    def forward(self, x: torch.Tensor) -> list:
        e, drop = self.encoder, self.dropout
        c1 = e.relu(e.bn1(e.conv1(x)))
        c2 = drop(e.layer1(self.pool(c1)))
        c3 = drop(e.layer2(c2))
        c4 = drop(e.layer3(c3))
        return [c1, c2, c3, c4, drop(e.layer4(c4))]
