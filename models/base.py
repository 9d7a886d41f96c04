"""The encoder -> decoder -> head model that pads any input to its stride, crops the logits back, and in training
also returns its auxiliary heads' logits."""

import torch
import torch.nn.functional as F
from torch import nn


def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """(N, C, H, W) replicate-padded at the bottom and right to H and W divisible by ``multiple``.

    Written as ``(h + m - 1) // m * m - h``: ``(-h) % m`` exported an ONNX graph onnxruntime rejected.
    """
    h, w = x.shape[-2:]
    pad_h, pad_w = (h + multiple - 1) // multiple * multiple - h, (w + multiple - 1) // multiple * multiple - w
    return F.pad(x, (0, pad_w, 0, pad_h), mode="replicate") if pad_h or pad_w else x


def upsample_logits(logits: torch.Tensor, size) -> torch.Tensor:
    """(N, C, h, w) logits bilinearly resized to ``size`` (H, W), as the losses and metrics read them."""
    if tuple(logits.shape[-2:]) == tuple(size):
        return logits
    return F.interpolate(logits, size=tuple(size), mode="bilinear", align_corners=False)


class SegmentationModel(nn.Module):
    """Logits (N, C, H, W) at the input size for any H and W (375x1242 included).

    Inputs are replicate-padded at the bottom and right to a multiple of ``pad_multiple`` (the
    network's total stride) and the logits cropped back, so no "divisible by 32" error reaches users.

    Args:
        encoder: (N, 3, H, W) -> a list of feature maps; decoder: that list -> features; head: features -> logits.
        aux_heads: ``{name: module}`` taking the encoder's feature list to logits at any stride (e.g. the FCN head
            on the stride-16 stage). In training mode the model then returns ``{"out": logits, name: logits, ...}``,
            every map upsampled to the input size; in eval mode (inference, export) only the logits.
    """

    def __init__(
        self, encoder: nn.Module, decoder: nn.Module, head: nn.Module, pad_multiple: int = 32, aux_heads: dict = None
    ):
        super().__init__()
        self.encoder, self.decoder, self.head = encoder, decoder, head
        self.pad_multiple = pad_multiple
        self.aux_heads = nn.ModuleDict(aux_heads or {})  # holds no weights when there are none: old checkpoints load

    def forward(self, x: torch.Tensor):
        h, w = x.shape[-2:]
        x = pad_to_multiple(x, self.pad_multiple)
        features = self.encoder(x)
        logits = self.head(self.decoder(features))[..., :h, :w]
        if not (self.training and self.aux_heads):
            return logits
        size = x.shape[-2:]
        aux = {name: upsample_logits(head(features), size)[..., :h, :w] for name, head in self.aux_heads.items()}
        return {"out": logits, **aux}


class SegmentationHead(nn.Sequential):
    """1x1 conv to class logits, then bilinear upsampling by ``upsampling`` (align_corners, as smp's
    ``SegmentationHead(kernel_size=1)``): (N, C, H/s, W/s) -> (N, num_classes, H, W) for s = ``upsampling``."""

    def __init__(self, in_channels: int, num_classes: int, upsampling: int = 4):
        super().__init__(
            nn.Conv2d(in_channels, num_classes, kernel_size=1),
            nn.Upsample(scale_factor=upsampling, mode="bilinear", align_corners=True),
        )
