"""The encoder -> decoder -> head model that pads any input to its stride and crops the logits back."""

import torch
import torch.nn.functional as F
from torch import nn


class SegmentationModel(nn.Module):
    """Logits (N, C, H, W) at the input size for any H and W (375x1242 included).

    Inputs are replicate-padded at the bottom and right to a multiple of ``pad_multiple`` (the
    network's total stride) and the logits cropped back, so no "divisible by 32" error reaches users.
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, head: nn.Module, pad_multiple: int = 32):
        super().__init__()
        self.encoder, self.decoder, self.head = encoder, decoder, head
        self.pad_multiple = pad_multiple

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        m = self.pad_multiple
        pad_h, pad_w = (h + m - 1) // m * m - h, (w + m - 1) // m * m - w
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
        logits = self.head(self.decoder(self.encoder(x)))
        return logits[..., :h, :w]
