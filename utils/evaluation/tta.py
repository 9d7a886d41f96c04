"""Test-time augmentation: views of a batch, their predictions mapped back, and merged as probabilities.

The merge divides by the number of views (the original divided by the batch size), and the
vertical flip flips height (the original's "vflip" flipped width). ``hvflip`` is the four views
identity, h, v and h+v: the same set ttach's ``Compose([HorizontalFlip(), VerticalFlip()])`` gives.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class View:
    scale: float = 1.0
    hflip: bool = False
    vflip: bool = False


def tta_views(mode: str, scales=(0.75, 1.0, 1.25), flip: bool = True) -> list:
    """none | hflip | vflip | hvflip | multiscale -> the list of views, identity first."""
    if mode == "none":
        return [View()]
    if mode == "hflip":
        return [View(), View(hflip=True)]
    if mode == "vflip":
        return [View(), View(vflip=True)]
    if mode == "hvflip":  # every combination, as ttach's Compose([HorizontalFlip(), VerticalFlip()])
        return [View(), View(hflip=True), View(vflip=True), View(hflip=True, vflip=True)]
    if mode == "multiscale":
        views = [View(scale=float(s)) for s in scales]
        return views + [View(scale=float(s), hflip=True) for s in scales] if flip else views
    raise ValueError(f"unknown TTA mode {mode!r}")


def _flip(x: torch.Tensor, view: View) -> torch.Tensor:
    dims = ([-1] if view.hflip else []) + ([-2] if view.vflip else [])
    return torch.flip(x, dims) if dims else x


class Merger:
    """Running merge of view probabilities: one accumulator, never all views in memory at once.

    mean: (p_1 + ... + p_A) / A; gmean: (p_1 * ... * p_A) ** (1 / A);
    tsharpen: (p_1^t + ... + p_A^t) / A, the original's temperature sharpening.
    """

    def __init__(self, method: str = "mean", t: float = 0.5):
        if method not in ("mean", "gmean", "tsharpen"):
            raise ValueError(f"unknown merge {method!r}")
        self.method, self.t, self.total, self.count = method, t, None, 0

    def add(self, p: torch.Tensor) -> None:
        p = p.float()
        if self.method == "gmean":
            p = torch.log(p.clamp_min(1e-12))
        elif self.method == "tsharpen":
            p = p.clamp_min(0).pow(self.t)
        # The first view is copied: it may be an inference-mode tensor, which cannot be updated in place.
        self.total = p.clone() if self.total is None else self.total.add_(p)
        self.count += 1

    def result(self) -> torch.Tensor:
        out = self.total / self.count
        return torch.exp(out) if self.method == "gmean" else out


def merge_probabilities(probs: torch.Tensor, method: str = "mean", t: float = 0.5) -> torch.Tensor:
    """(A, N, C, H, W) probabilities of A views -> (N, C, H, W), merged as :class:`Merger` describes."""
    merger = Merger(method, t)
    for p in probs:
        merger.add(p)
    return merger.result()


def predict_with_tta(predict, images: torch.Tensor, views: list, merge: str = "mean", t: float = 0.5) -> torch.Tensor:
    """Runs ``predict`` on every view and merges.

    Args:
        predict: (N, 3, h, w) images -> (N, C, h, w) probabilities.
        images: (N, 3, H, W).
        views: from :func:`tta_views`.
    Returns:
        (N, C, H, W) merged probabilities.
    """
    size = images.shape[-2:]
    merger = Merger(merge, t)
    for view in views:
        x = images
        if view.scale != 1.0:
            scaled = [max(32, round(s * view.scale)) for s in size]
            x = F.interpolate(x, size=scaled, mode="bilinear", align_corners=False)
        p = _flip(predict(_flip(x, view)), view)
        if p.shape[-2:] != size:
            p = F.interpolate(p, size=size, mode="bilinear", align_corners=False)
        merger.add(p)
    return merger.result()
