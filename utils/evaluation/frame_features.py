"""One vector per image from the model's own forward pass, to tell near-duplicate frames apart.

A forward hook on the deepest feature map global-average-pools it while the model predicts, so the features
cost no second pass: the encoder's deepest map where the model has an ``encoder`` (every encoder-decoder
architecture), PIDNet's deepest backbone stage (``layer5``, stride 64, the input of its pyramid pooling) for
PIDNet, and the logits of any other model.
"""

import torch
import torch.nn.functional as F
from torch import nn


def feature_layer(model: nn.Module) -> tuple:
    """(module to hook, output -> the (N, D, h, w) map, what it is in words) for ``model``."""
    if isinstance(getattr(model, "encoder", None), nn.Module):
        return model.encoder, lambda out: out[-1], "the encoder's deepest feature map"
    backbone = getattr(getattr(model, "pidnet", None), "layer5", None)
    if isinstance(backbone, nn.Module):
        return backbone, lambda out: out, "PIDNet's deepest backbone stage (layer5)"
    return model, lambda out: out, "the logits (the model has no encoder)"


class PooledFeatures:
    """Collects the pooled deepest features of every model call while it is entered (a ``with`` block).

    Sliding windows and TTA views call the model several times per batch, each call with the batch's images in
    blocks of N (``slide_logits`` stacks window after window); :meth:`take` averages an image's rows over every
    call, then L2-normalises them, so cosine similarity is a dot product.
    """

    def __init__(self, model: nn.Module):
        self.module, self._pick, self.description = feature_layer(model)
        self._calls, self._handle = [], None

    def _hook(self, _module, _inputs, output) -> None:
        self._calls.append(self._pick(output).float().mean((2, 3)))

    def __enter__(self) -> "PooledFeatures":
        self._handle = self.module.register_forward_hook(self._hook)
        return self

    def __exit__(self, *exc) -> None:
        self._handle.remove()
        self._calls.clear()

    def take(self, n: int) -> torch.Tensor:
        """(n, D) L2-normalised features of the n images predicted since the last call, on the model's device."""
        if not self._calls:
            raise RuntimeError("the model was not called since the last take()")
        per_call = [rows.reshape(-1, n, rows.shape[1]).mean(0) for rows in self._calls]
        self._calls.clear()
        return F.normalize(torch.stack(per_call).mean(0), dim=1)
