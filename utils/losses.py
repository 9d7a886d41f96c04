"""Segmentation losses on logits and class-index targets. Ignored pixels count for nothing in any term.

Shapes, for every loss here:
    logits: (N, C, H, W) float, any dtype (computed in float32).
    target: (N, H, W) integer class indices; ``ignore_index`` marks pixels to skip.
    returns: a scalar tensor.

One-hot targets are built on the logits' device, never on the CPU, and only as a boolean mask.

OHEM (``ohem_thresh``) keeps only the hard pixels in the pixel term (CE or BCE); the dice term always
sees every labelled pixel.
"""

from collections.abc import Sequence
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from utils.config.errors import UserError
from utils.labels import IGNORE_INDEX


def _one_hot(target: torch.Tensor, num_classes: int, ignore_index: int):
    """(N, H, W) -> (N, C, H, W) float one-hot and (N, 1, H, W) float validity mask."""
    valid = target.ne(ignore_index)
    safe = torch.where(valid, target, torch.zeros_like(target)).long()
    one_hot = F.one_hot(safe, num_classes).permute(0, 3, 1, 2).float()
    return one_hot * valid.unsqueeze(1), valid.unsqueeze(1).float()


def soft_dice_loss(
    probs: torch.Tensor, one_hot: torch.Tensor, valid: torch.Tensor, weights: torch.Tensor, eps: float = 1.0
) -> torch.Tensor:
    """1 - weighted mean over classes of (2|P*T| + eps) / (|P| + |T| + eps), summed over the batch's valid pixels.

    Probabilities, not thresholded predictions, so the term has a gradient (the original's did not).
    """
    probs = probs * valid
    dims = (0, 2, 3)
    intersection = (probs * one_hot).sum(dims)
    denominator = probs.sum(dims) + one_hot.sum(dims)
    dice = (2.0 * intersection + eps) / (denominator + eps)
    return 1.0 - (dice * weights).sum() / weights.sum()


def ohem_keep(p_true: torch.Tensor, valid: torch.Tensor, thresh: float, min_kept: int) -> torch.Tensor:
    """The hard pixels, by HRNet's ``OhemCrossEntropy`` rule; no host-device sync, any number of labelled pixels.

    Among the n labelled pixels, sorted by ``p_true`` ascending, the threshold is the larger of ``thresh``
    and the value at position min(min_kept, n - 1); the pixels below it are kept. With no labelled pixel
    nothing is kept (HRNet's and PIDNet's implementations index an empty tensor there).

    Args:
        p_true: (N, H, W) the probability of each pixel's true class (any value where not ``valid``).
        valid: (N, H, W) bool, the labelled pixels.
    Returns:
        (N, H, W) bool: the labelled pixels the pixel term averages over.
    """
    p = torch.where(valid, p_true.detach().float(), torch.full_like(p_true, 2.0, dtype=torch.float32)).flatten()
    ranked = torch.sort(p).values  # unlabelled pixels (2.0) sort after every probability
    position = (valid.sum().clamp_max(min_kept + 1) - 1).clamp_min(0)
    threshold = ranked[position].clamp_min(thresh)
    return valid & (p_true.detach() < threshold)


class _PixelPlusDice(nn.Module):
    """``bce_weight`` * a pixel term + (1 - ``bce_weight``) * soft dice; ``class_weights`` scale both."""

    def __init__(
        self,
        num_classes: int,
        bce_weight: float = 0.8,
        class_weights: Optional[Sequence[float]] = None,
        ignore_index: int = IGNORE_INDEX,
        ohem_thresh: Optional[float] = None,
        ohem_min_kept: int = 100000,
    ):
        super().__init__()
        self.num_classes, self.bce_weight, self.ignore_index = num_classes, bce_weight, ignore_index
        self.ohem_thresh, self.ohem_min_kept = ohem_thresh, ohem_min_kept
        w = torch.ones(num_classes) if class_weights is None else torch.as_tensor(class_weights, dtype=torch.float32)
        self.register_buffer("class_weights", w, persistent=False)


class BCEDiceLoss(_PixelPlusDice):
    """``bce_weight`` * per-class BCE-with-logits + (1 - ``bce_weight``) * soft dice on sigmoid probabilities.

    The original's default loss: each class is an independent binary problem. ``class_weights``
    scale both terms per class; the BCE is averaged over valid pixels. With ``ohem_thresh`` the BCE
    keeps the hardest pixels by their summed per-class BCE, by :func:`ohem_keep` on exp(-summed BCE).
    """

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logits = logits.float()
        one_hot, valid = _one_hot(target, self.num_classes, self.ignore_index)
        w = self.class_weights.view(1, -1, 1, 1)
        bce = F.binary_cross_entropy_with_logits(logits, one_hot, reduction="none")
        keep = valid
        if self.ohem_thresh is not None:
            # A pixel's summed BCE is -log of the probability that every class's binary answer is right.
            p_right = torch.exp(-bce.detach().sum(1))
            keep = ohem_keep(p_right, valid[:, 0] > 0, self.ohem_thresh, self.ohem_min_kept).unsqueeze(1).float()
        bce = (bce * w * keep).sum() / (keep.sum() * w.mean() * self.num_classes).clamp_min(1e-12)
        dice = soft_dice_loss(torch.sigmoid(logits), one_hot, valid, self.class_weights)
        return self.bce_weight * bce + (1.0 - self.bce_weight) * dice


class CEDiceLoss(_PixelPlusDice):
    """``bce_weight`` * softmax cross-entropy + (1 - ``bce_weight``) * soft dice on softmax probabilities.

    For mutually exclusive classes. The CE is the class-weighted mean over valid pixels, as in
    ``F.cross_entropy(weight=..., ignore_index=...)``. With ``ohem_thresh`` it is the same mean over the
    pixels :func:`ohem_keep` picks by the softmax probability of their true class (HRNet's OHEM; HRNet
    divides by the pixel count instead of the weights, the same when the weights are 1).
    """

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logits = logits.float()
        target = target.long()
        # F.cross_entropy(weight=...) divides by the weights of the valid pixels: 0/0 when a crop holds
        # only zero-weight classes. The same mean, with a floor under the denominator.
        per_pixel = F.cross_entropy(
            logits, target, weight=self.class_weights, ignore_index=self.ignore_index, reduction="none"
        )
        valid = target.ne(self.ignore_index)
        safe = torch.where(valid, target, torch.zeros_like(target))
        keep = valid
        if self.ohem_thresh is not None:
            p_true = torch.softmax(logits.detach(), dim=1).gather(1, safe.unsqueeze(1))[:, 0]
            keep = ohem_keep(p_true, valid, self.ohem_thresh, self.ohem_min_kept)
        pixel_weights = self.class_weights[safe] * keep
        ce = (per_pixel * keep).sum() / pixel_weights.sum().clamp_min(1e-12)
        one_hot, valid = _one_hot(target, self.num_classes, self.ignore_index)
        dice = soft_dice_loss(torch.softmax(logits, dim=1), one_hot, valid, self.class_weights)
        return self.bce_weight * ce + (1.0 - self.bce_weight) * dice


LOSSES = {"bce_dice": BCEDiceLoss, "ce_dice": CEDiceLoss}


def build_loss(
    name: str,
    num_classes: int,
    bce_weight: float = 0.8,
    class_weights=None,
    ohem_thresh: Optional[float] = None,
    ohem_min_kept: int = 100000,
) -> nn.Module:
    """The loss for ``training.loss``; ``class_weights`` must have one entry per class; ``ohem_thresh`` None turns OHEM off."""
    if name not in LOSSES:
        raise UserError(f"Unknown training.loss '{name}'; allowed: {' | '.join(LOSSES)}.")
    if class_weights is not None and len(class_weights) != num_classes:
        raise UserError(
            f"training.class_weights has {len(class_weights)} entries but the labels have {num_classes} classes."
        )
    return LOSSES[name](num_classes, bce_weight, class_weights, ohem_thresh=ohem_thresh, ohem_min_kept=ohem_min_kept)


class WithAuxiliaryOutputs(nn.Module):
    """The training loss of a model with auxiliary heads: ``criterion(out) + sum(weight * criterion(aux))``.

    Takes what the model returns: logits (N, C, H, W), as in eval mode and for models without auxiliary heads, or
    in training ``{"out": logits, <name>: logits, ...}`` (models.base.SegmentationModel), every map at the
    target's size. ``weights`` is ``{name: loss weight}`` (models.registry.aux_weights).
    """

    def __init__(self, criterion: nn.Module, weights: dict):
        super().__init__()
        self.criterion, self.weights = criterion, dict(weights)

    def forward(self, outputs, target: torch.Tensor) -> torch.Tensor:
        if isinstance(outputs, torch.Tensor):
            return self.criterion(outputs, target)
        loss = self.criterion(outputs["out"], target)
        for name, weight in self.weights.items():
            loss = loss + weight * self.criterion(outputs[name], target)
        return loss


def loss_activation(loss_name: str) -> str:
    """The activation a loss trains its logits through: "sigmoid" for bce_dice (each class on its own),
    "softmax" for ce_dice (the classes share one distribution). model.json names it for other consumers."""
    return "sigmoid" if loss_name == "bce_dice" else "softmax"


def probabilities(logits: torch.Tensor, loss_name: str) -> torch.Tensor:
    """(N, C, H, W) logits -> float32 probabilities the way the loss trained them (:func:`loss_activation`)."""
    if loss_activation(loss_name) == "sigmoid":
        return torch.sigmoid(logits.float())
    return torch.softmax(logits.float(), dim=1)


def logits_from_probabilities(probs: torch.Tensor, activation: str) -> torch.Tensor:
    """(N, C, H, W) probabilities of ``activation`` (:func:`loss_activation`'s) -> float32 logits again.

    Logit for sigmoid; log for softmax, which is the logits up to a per-pixel constant that softmax ignores.
    """
    if activation == "sigmoid":
        # fp32 sigmoids saturate at 1 beyond logits of about 17: the clamp keeps the inverse finite.
        return torch.logit(probs.float(), eps=1e-6)
    return torch.log(probs.float().clamp_min(1e-30))
