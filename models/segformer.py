"""SegFormer's all-MLP decoder (Xie et al. 2021) on any hierarchical encoder; smp 0.6's ``SegformerDecoder`` layer
for layer, so that its state dicts load through :data:`models.smp_keys.SMP_KEYS`."""

import torch
import torch.nn.functional as F
from torch import nn


class TokenLinear(nn.Module):
    """A linear layer applied to every pixel: (N, C, h, w) -> (N, out_channels, h, w)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.linear = nn.Linear(in_channels, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        # A Linear over tokens, not a 1x1 conv: the same function, but smp's (and the paper's) weights are Linear's.
        return self.linear(x.flatten(2).transpose(1, 2)).transpose(1, 2).reshape(n, -1, h, w)


class SegformerDecoder(nn.Module):
    """Encoder maps -> (N, channels, H/4, W/4).

    Every map the encoder has (the stride-2 one too, where there is one: smp reads it on CNN encoders) is
    projected to ``channels`` by a per-pixel linear layer, resized to stride 4, concatenated deepest first and
    fused by a 1x1 conv-BN-ReLU.

    Args:
        encoder_channels: widths of the encoder's five maps; 0 where it has no stride-2 map (PVTv2, MiT).
        channels: width of the projections and the output (smp's ``decoder_segmentation_channels``).
    """

    def __init__(self, encoder_channels, channels: int = 256):
        super().__init__()
        widths = [c for c in encoder_channels if c][::-1]  # deepest first, as smp's indices count
        self.mlps = nn.ModuleList(TokenLinear(c, channels) for c in widths)
        self.fuse = nn.Sequential(
            nn.Conv2d(len(widths) * channels, channels, kernel_size=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
        )
        self.out_channels = channels

    def forward(self, features: list) -> torch.Tensor:
        size = features[1].shape[-2:]  # stride 4
        maps = [f for f in features if f is not None][::-1]
        resized = [
            F.interpolate(mlp(f), size=size, mode="bilinear", align_corners=False) for mlp, f in zip(self.mlps, maps)
        ]
        return self.fuse(torch.cat(resized, dim=1))
