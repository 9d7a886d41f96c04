"""How unsure a model is about an image, pixel by pixel: the maps frame selection ranks frames by.

Every map is (H, W) in [0, 1], 1 the most uncertain, so maps of different scores share one colour scale and an
image's score is its map's mean:

- ``entropy``: the pixel's entropy over the classes divided by log C. The probabilities are first divided by
  their sum, which changes nothing after a softmax and turns a sigmoid model's per-class probabilities (which
  need not sum to 1) into a distribution.
- ``low_confidence``: 1 where the highest class probability is below ``confidence``, else 0; the image's score
  is the share of such pixels.
- ``margin``: 1 - (top1 - top2), the two highest class probabilities.

``low_confidence`` and ``margin`` read the probabilities as the activation gives them (a sigmoid model's own
per-class probabilities), as a pseudo-label threshold reads them.
"""

import math

import torch

SCORES = ("entropy", "low_confidence", "margin")


def uncertainty_map(probs: torch.Tensor, score: str = "entropy", confidence: float = 0.9) -> torch.Tensor:
    """(C, H, W) probabilities after the model's activation -> (H, W) float32 uncertainty in [0, 1]."""
    p = probs.float()
    if score == "entropy":
        q = p / p.sum(0, keepdim=True).clamp_min(1e-12)
        entropy = -(q * torch.log(q.clamp_min(1e-12))).sum(0)
        return (entropy / math.log(max(p.shape[0], 2))).clamp(0, 1)
    if score == "low_confidence":
        return (p.max(0).values < confidence).float()
    if score == "margin":
        if p.shape[0] == 1:  # one class: nothing to be unsure between
            return torch.zeros(p.shape[1:], device=p.device)
        top = p.topk(2, dim=0).values
        return (1 - (top[0] - top[1])).clamp(0, 1)
    raise ValueError(f"unknown score {score!r}; allowed: {' | '.join(SCORES)}")
