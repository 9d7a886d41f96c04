"""PIDNet's training loss, the authors' ``FullModel`` (utils/utils.py of github XuJiacong/PIDNet): the semantic,
boundary and boundary-aware terms over the P, I and D outputs.

Shapes: ``outputs`` is the training dict of :class:`models.pidnet.PIDNetModel`, ``{"out": (N, C, H, W) logits of the
I branch, "p": (N, C, H, W) P-branch logits, "d": (N, 1, H, W) boundary logits}`` at the target's size (or, in eval
mode, the logits tensor alone); ``target`` is (N, H, W) class indices with ``ignore_index``; the loss is a scalar.

The boundary targets are the authors' rule, ``dilate(Canny(label, 0.1, 0.2), 4x4 ones) > 50``, computed here on the
device from the label map the loss receives, i.e. after scaling, cropping and flipping; the authors compute them once
per image before augmentation (docs/models.md, PIDNet, says what differs).
"""

import copy

import torch
import torch.nn.functional as F
from torch import nn

from utils.labels import IGNORE_INDEX

# OpenCV's Canny (imgproc/src/canny.cpp) compares directions in fixed point: tan(22.5 deg) * 2^15, rounded.
_SHIFT = 15
_TG22 = int(0.4142135623730950488 * (1 << _SHIFT) + 0.5)


def _window(padded: torch.Tensor, dy: int, dx: int, h: int, w: int) -> torch.Tensor:
    """The (N, h, w) view of a map padded by 1 on each side, shifted by (dy, dx)."""
    return padded[:, 1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]


def canny_label_edges(label: torch.Tensor) -> torch.Tensor:
    """``cv2.Canny(label, 0.1, 0.2) > 0`` for (N, H, W) integer label maps with values 0..255, on their device.

    OpenCV's algorithm on integers, step for step: 3x3 Sobel gradients with replicated borders, the L1 magnitude,
    non-maximum suppression along the gradient's direction sector (a zero magnitude outside the image). With
    thresholds below 1 every non-zero integer magnitude is a strong edge, so hysteresis keeps all that survive the
    suppression. Integer arithmetic throughout, so autocast cannot round it. Returns (N, H, W) bool.
    """
    n, h, w = label.shape
    padded = F.pad(label.float().unsqueeze(1), (1, 1, 1, 1), mode="replicate")[:, 0].int()

    def at(dy, dx):
        return _window(padded, dy, dx, h, w)

    gx = at(-1, 1) + 2 * at(0, 1) + at(1, 1) - at(-1, -1) - 2 * at(0, -1) - at(1, -1)
    gy = at(1, -1) + 2 * at(1, 0) + at(1, 1) - at(-1, -1) - 2 * at(-1, 0) - at(-1, 1)
    mag = gx.abs() + gy.abs()
    mag_padded = F.pad(mag, (1, 1, 1, 1))

    def m(dy, dx):
        return _window(mag_padded, dy, dx, h, w)

    ax, ay = gx.abs(), gy.abs() * (1 << _SHIFT)
    tg22x = ax * _TG22
    horizontal = ay < tg22x
    vertical = ~horizontal & (ay > tg22x + ax * (1 << (_SHIFT + 1)))
    diagonal = ~horizontal & ~vertical
    # OpenCV's tie rule: strictly above the neighbour before, at least the neighbour after (diagonals: strictly both).
    keep_h = (mag > m(0, -1)) & (mag >= m(0, 1))
    keep_v = (mag > m(-1, 0)) & (mag >= m(1, 0))
    opposite = (gx < 0) != (gy < 0)
    keep_d = torch.where(opposite, (mag > m(-1, 1)) & (mag > m(1, -1)), (mag > m(-1, -1)) & (mag > m(1, 1)))
    return (mag > 0) & ((horizontal & keep_h) | (vertical & keep_v) | (diagonal & keep_d))


def boundary_targets(target: torch.Tensor, ignore_index: int = IGNORE_INDEX, dilate: int = 4) -> torch.Tensor:
    """The authors' boundary map of (N, H, W) labels: Canny edges dilated by a ``dilate`` x ``dilate`` square
    (cv2.dilate's anchor: the window reaches ``dilate // 2`` pixels up and left, the rest down and right).

    Ignored pixels are never boundary pixels: the authors' padding of a crop carries no edge, and ours pads with
    ignore, so the edge a crop's padding would draw stays on its labelled side only. Returns (N, H, W) float 0/1.
    """
    edges = canny_label_edges(target).float().unsqueeze(1)
    before = dilate // 2
    edges = F.max_pool2d(F.pad(edges, (before, dilate - 1 - before, before, dilate - 1 - before)), dilate, stride=1)
    return edges[:, 0] * target.ne(ignore_index)


def balanced_bce(logits: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
    """The authors' ``weighted_bce``: BCE-with-logits averaged over every pixel of the batch, boundary pixels weighted
    by the share of non-boundary pixels and the others by the share of boundary pixels (0 without boundaries).

    Args:
        logits: (N, 1, H, W) or (N, H, W) boundary logits; edges: (N, H, W) 0/1 targets.
    """
    logits, edges = logits.float().reshape(edges.shape), edges.float()
    positives = edges.sum()
    total = torch.tensor(float(edges.numel()), device=edges.device)
    weight = torch.where(edges > 0, (total - positives) / total, positives / total)
    return F.binary_cross_entropy_with_logits(logits, edges, weight=weight)


def without_ohem(criterion: nn.Module) -> nn.Module:
    """A copy of ``criterion`` with OHEM off: the authors' P branch takes plain CE, only the I branch OHEM."""
    if getattr(criterion, "ohem_thresh", None) is None:
        return criterion
    plain = copy.copy(criterion)
    plain.ohem_thresh = None
    return plain


class PIDNetLoss(nn.Module):
    """aux_weight x criterion(P) + criterion(I) + boundary_weight x balanced BCE(D, edges) + bas_weight x criterion(I,
    the label where sigmoid(D) > 0.8, ignore elsewhere): the authors' FullModel with their weights 0.4, 20 and 1.

    ``criterion`` is the configured loss (OHEM CE in the recipe); the P term takes it without OHEM, as the authors'
    (their OhemCrossEntropy uses plain CE on every output but the last); the boundary-aware term takes it with OHEM,
    as their ``sem_loss(outputs[-2], bd_label)`` does. In eval mode (validation) the model returns the logits only:
    the loss is then ``criterion(logits)``.
    """

    def __init__(
        self,
        criterion: nn.Module,
        aux_weight: float = 0.4,
        boundary_weight: float = 20.0,
        bas_weight: float = 1.0,
        bas_thresh: float = 0.8,
    ):
        super().__init__()
        self.criterion, self.aux_criterion = criterion, without_ohem(criterion)
        self.aux_weight, self.boundary_weight, self.bas_weight = aux_weight, boundary_weight, bas_weight
        self.bas_thresh = bas_thresh
        self.ignore_index = getattr(criterion, "ignore_index", IGNORE_INDEX)

    def forward(self, outputs, target: torch.Tensor) -> torch.Tensor:
        if isinstance(outputs, torch.Tensor):
            return self.criterion(outputs, target)
        logits, boundary = outputs["out"], outputs["d"]
        # Every term is computed even at weight 0: DDP needs a gradient, if zero, for every head's parameters.
        semantic = self.criterion(logits, target) + self.aux_weight * self.aux_criterion(outputs["p"], target)
        edges = boundary_targets(target, self.ignore_index)
        on_boundary = torch.sigmoid(boundary[:, 0].detach().float()) > self.bas_thresh
        bas_target = torch.where(on_boundary, target, torch.full_like(target, self.ignore_index))
        return (
            semantic
            + self.boundary_weight * balanced_bce(boundary, edges)
            + self.bas_weight * self.criterion(logits, bas_target)
        )
